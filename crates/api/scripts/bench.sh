#!/usr/bin/env bash
# The endpoint's load benchmark side by side with moto server (installed from PyPI into a
# virtualenv): the same pre-built requests drive both in one run, and the ratio is printed.
# Run from anywhere: bash crates/api/scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."

venv=target/venv-moto
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi
port=45700
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > /dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
BENCH_MOTO_URL="http://127.0.0.1:$port" cargo bench -p api --bench endpoint

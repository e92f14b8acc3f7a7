#!/usr/bin/env bash
# Development shortcut: builds the Triton environment if needed, then runs `mediakg triton serve`
# (fixed ports from settings: MEDIAKG_TRITON_HTTP_PORT/GRPC_PORT/METRICS_PORT, default
# 8100/8101/8102; log under the data dir). Arguments pass through, e.g. `--model NAME`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/triton-env.sh
exec "${VENV:-.venv}/bin/mediakg" triton serve "$@"

#!/usr/bin/env bash
# Runs the bundled tritonserver with inference/model_repository on free loopback ports until
# Ctrl-C or SIGTERM (development; production runs Triton as its own deployment).
# MODELS="all-MiniLM-L6-v2__fp32-1 ..." loads only those Triton models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/triton-env.sh
exec "${VENV:-.venv}/bin/python" - <<'PY'
import os
import signal
import sys
from pathlib import Path

from app.core.settings import get_settings
from app.entrypoints.bootstrap import triton_environment
from inference.triton.launcher import TritonServer

models = tuple(os.environ.get("MODELS", "").split()) or None
settings = get_settings()
# Under the data dir (MEDIAKG_DATA_DIR), like the service's other state, not in the checkout.
log_path = Path(settings.data_dir).resolve() / "tritonserver.log"
log_path.parent.mkdir(parents=True, exist_ok=True)
server = TritonServer(triton_environment(settings), models=models, log_path=log_path)
server.start(timeout_s=600)
sys.stdout.write(
    f"tritonserver ready: grpc://{server.grpc_url} http://{server.http_url} {server.metrics_url}\n"
    f"MEDIAKG_INFERENCE_URL=grpc://{server.grpc_url}\n"
    f"MEDIAKG_TRITON_METRICS_URL={server.metrics_url}\n"
    f"log: {log_path}; Ctrl-C stops it\n"
)
sys.stdout.flush()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    signal.pause()
except (KeyboardInterrupt, SystemExit):
    pass
finally:
    server.stop()
PY

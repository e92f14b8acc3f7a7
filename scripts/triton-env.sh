#!/usr/bin/env bash
# Builds the Triton server environment (.venv-triton): tritonserver 2.51.0 from the
# nvidia-pytriton wheel, its python-backend stub for this Python, and the model runtimes the
# stub imports (NumPy 1.x: see inference/model_repository/requirements-server.txt for why).
#
# Idempotent: a stamp named after the hash of every input skips the work when nothing changed.
# Exits non-zero when the build fails; `make test` then runs on and the Triton tests skip,
# naming the log (var/triton-env.log) in their reason.
set -euo pipefail
cd "$(dirname "$0")/.."
# The same variable as the service reads (triton_env_dir): one name for the one environment.
ENV=${MEDIAKG_TRITON_ENV_DIR:-.venv-triton}
PYTHON=${PYTHON:-python3}
REQ=inference/model_repository/requirements-server.txt
NODEPS=inference/model_repository/requirements-server-nodeps.txt
inputs_hash=$(cat "$REQ" "$NODEPS" constraints.txt "$0" | sha256sum | cut -c1-16)
stamp="$ENV/.built-$inputs_hash"
if [ -f "$stamp" ]; then
  exit 0
fi
mkdir -p var
log=var/triton-env.log
started=$(date +%s)
echo "triton-env: building $ENV (log: $log)"
{
  rm -rf "$ENV"
  "$PYTHON" -m venv "$ENV"
  # The service's lock minus the packages this environment pins differently.
  constraints="$ENV/constraints.txt"
  overridden=$(grep -E '^[A-Za-z0-9_.-]+==' "$REQ" | cut -d= -f1 | paste -sd'|')
  grep -viE "^($overridden)==" constraints.txt >"$constraints"
  "$ENV/bin/python" -m pip install -q --upgrade "pip==26.3"
  "$ENV/bin/python" -m pip install -q -c "$constraints" -r "$REQ"
  "$ENV/bin/python" -m pip install -q --no-deps -r "$NODEPS"

  sp=$("$ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  pyv=$("$ENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  pylib=$("$ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
  # A copy, not the installed tree: the stub for this Python must sit in backends/python, and
  # pip's record of the wheel's files should stay true.
  rm -rf "$ENV/tritonserver"
  cp -r "$sp/pytriton/tritonserver" "$ENV/tritonserver"
  cp "$ENV/tritonserver/python_backend_stubs/$pyv/triton_python_backend_stub" "$ENV/tritonserver/backends/python/"
  # What inference/triton/launcher.py needs to start it. The copied binaries lose the wheel's
  # relative RPATH, so the bundled libraries (and pyenv's libpython) go on LD_LIBRARY_PATH.
  "$ENV/bin/python" - "$ENV" "$sp" "$pylib" <<'PY'
import json, os, sys
env, sp, pylib = (os.path.abspath(p) for p in sys.argv[1:])
server = os.path.join(env, "tritonserver")
json.dump(
    {
        "tritonserver": os.path.join(server, "bin", "tritonserver"),
        "backend_directory": os.path.join(server, "backends"),
        "cache_directory": os.path.join(server, "caches"),
        "ld_library_path": [os.path.join(sp, "nvidia_pytriton.libs"), pylib],
        "python_bin": os.path.join(env, "bin"),
        "server_version": "2.51.0",
    },
    open(os.path.join(env, "triton-env.json"), "w"),
    indent=2,
)
PY
  # Fail the build, not the first test, if the runtimes do not import together.
  "$ENV/bin/python" -W error -c '
import numpy, torch, cv2, onnxruntime, ctranslate2, faster_whisper, rapidocr, transformers, tokenizers
assert numpy.__version__.startswith("1."), numpy.__version__
'
} >"$log" 2>&1 || { echo "triton-env: build failed, see $log" >&2; tail -n 20 "$log" >&2; exit 1; }
touch "$stamp"
echo "triton-env: built $ENV in $(( $(date +%s) - started ))s"

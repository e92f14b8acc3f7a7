# syntax=docker/dockerfile:1
# Images for deploy/k8s (docs/deploy.md):
#   --target runtime  the service: `mediakg serve`, `mediakg worker`, `mediakg db upgrade`
#   --target triton   Triton Inference Server with inference/model_repository baked in
# (the runtime image also carries the explorer, built from web/ in a Node stage).
# Both run as uid 10001 on a read-only root; the only writable paths are /tmp and
# /var/lib/mediakg (emptyDir volumes in the pods). Model weights come from pinned pip
# packages and are checked against scripts/weight_hashes.json during the build.
#
# Not built in CI (no Docker engine on the build machines); tests/deploy checks what it can:
# the weight check against the installed packages, the entry points under uid 10001 with
# only the declared paths writable, and the paths this file names.
#
# The base image is pinned by version (the Python the suite runs on). Pin its digest too
# where you build: FROM python:3.11.7-slim-bookworm@sha256:<digest your registry shows>.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
# The Node.js the explorer is built and tested with (web/).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG PIP_VERSION=26.3

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN groupadd --gid 10001 mediakg \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin mediakg

# --- the explorer (web/): a static build `mediakg serve` serves at / -----------------------------
# Node only builds it; the runtime image carries the files, not Node. The generated GraphQL
# types are committed (web/src/gql), so the build needs no schema from outside web/.
FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web ./
RUN npm run build

# --- the service ----------------------------------------------------------------------------
FROM base AS build
ARG PIP_VERSION
# cpu (default) or the CUDA build of your torch release, e.g. cu128, for GPU workers. The CPU
# wheel comes from PyTorch's own index: PyPI's torch for Linux is the multi-GB CUDA build.
ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_VARIANT}
RUN python -m venv /opt/mediakg \
 && /opt/mediakg/bin/python -m pip install "pip==${PIP_VERSION}"
WORKDIR /src
# torch first, alone: constraints.txt pins torch==2.13.0, which the +cpu / +cuXXX local
# version satisfies, so the install below keeps it instead of fetching PyPI's.
RUN /opt/mediakg/bin/pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0
COPY pyproject.toml constraints.txt requirements-nodeps.txt README.md ./
COPY app app
COPY jobs jobs
COPY inference inference
COPY search search
# A regular (not editable) install: the image carries no source tree.
RUN /opt/mediakg/bin/pip install -c constraints.txt . \
 && /opt/mediakg/bin/pip install --no-deps -r requirements-nodeps.txt
# app/core/migrate.py finds the Alembic scripts two directories above its package, i.e.
# beside the installed packages in site-packages.
COPY migrations /opt/mediakg/lib/python3.11/site-packages/migrations
# app/api/explorer.py serves web/dist two directories above its package, like the migrations.
COPY --from=web /src/web/dist /opt/mediakg/lib/python3.11/site-packages/web/dist
COPY scripts/weight_hashes.py scripts/weight_hashes.json scripts/
RUN /opt/mediakg/bin/python scripts/weight_hashes.py check \
 && /opt/mediakg/bin/python -m compileall -q /opt/mediakg/lib/python3.11/site-packages/migrations \
 && /opt/mediakg/bin/mediakg --help >/dev/null

FROM base AS runtime
# Haar face cascades (inference.models.faces reads /usr/share/opencv4/haarcascades); fpcalc
# (libchromaprint-tools) fingerprints audio for audio near-duplicates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends opencv-data libchromaprint-tools libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/mediakg /opt/mediakg
RUN install -d -o 10001 -g 10001 -m 0750 /var/lib/mediakg
# HOME and every cache live under /tmp: the root filesystem is read-only in the pods.
ENV PATH=/opt/mediakg/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    MEDIAKG_DATA_DIR=/var/lib/mediakg
WORKDIR /var/lib/mediakg
USER 10001:10001
EXPOSE 8000 9464
ENTRYPOINT ["mediakg"]
CMD ["serve"]

# --- Triton -----------------------------------------------------------------------------------
FROM base AS triton-build
# scripts/triton-env.sh builds the server's own environment (NumPy 1.x for the python-backend
# stub: inference/model_repository/requirements-server.txt says why), as `make triton-env`
# does; torch resolves from the CPU index, everything else from PyPI.
WORKDIR /src
COPY constraints.txt ./
COPY scripts/triton-env.sh scripts/
COPY inference/model_repository/requirements-server.txt inference/model_repository/requirements-server-nodeps.txt inference/model_repository/
RUN MEDIAKG_TRITON_ENV_DIR=/opt/triton PYTHON=python \
    PIP_INDEX_URL=https://download.pytorch.org/whl/cpu PIP_EXTRA_INDEX_URL=https://pypi.org/simple \
    bash scripts/triton-env.sh || { cat var/triton-env.log; exit 1; }
COPY scripts/weight_hashes.py scripts/weight_hashes.json scripts/
RUN /opt/triton/bin/python scripts/weight_hashes.py check
# The model code the python-backend stubs import (MEDIAKG_SOURCE_ROOT below) and the
# repository: the checked-in CPU one, or KIND_GPU instance groups rendered from the registry.
ARG TRITON_INSTANCE_KIND=KIND_CPU
COPY inference /opt/mediakg-src/inference
RUN if [ "$TRITON_INSTANCE_KIND" = KIND_CPU ]; then \
      cp -r /opt/mediakg-src/inference/model_repository /models; \
    else \
      cd /opt/mediakg-src && /opt/triton/bin/python -m inference.triton.model_repository --instance-kind "$TRITON_INSTANCE_KIND" --out /models; \
    fi

FROM base AS triton
COPY --from=triton-build /opt/triton /opt/triton
COPY --from=triton-build /opt/mediakg-src /opt/mediakg-src
COPY --from=triton-build /models /models
# The stub imports from the python3 first on PATH; the copied server finds its bundled
# libraries and libpython through LD_LIBRARY_PATH (scripts/triton-env.sh).
ENV PATH=/opt/triton/bin:$PATH \
    LD_LIBRARY_PATH=/opt/triton/lib/python3.11/site-packages/nvidia_pytriton.libs:/usr/local/lib \
    MEDIAKG_SOURCE_ROOT=/opt/mediakg-src \
    HOME=/tmp \
    TMPDIR=/tmp
USER 10001:10001
EXPOSE 8000 8001 8002
ENTRYPOINT ["/opt/triton/tritonserver/bin/tritonserver", \
            "--backend-directory=/opt/triton/tritonserver/backends", \
            "--cache-directory=/opt/triton/tritonserver/caches"]
CMD ["--model-repository=/models"]

# Image for deploy/k8s (api, worker and migration job share it). Not built in CI here (no
# Docker engine on the build machines); the same pinned install as `make install`.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends opencv-data libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/mediakg
COPY pyproject.toml constraints.txt requirements-nodeps.txt README.md alembic.ini ./
COPY app app
COPY jobs jobs
COPY inference inference
COPY search search
COPY migrations migrations
# torch==2.13.0 CPU build: the CUDA build is several GB and the Triton pods hold the GPUs.
# TORCH_INDEX_URL names the CPU wheel index of your mirror (set at build time).
ARG TORCH_INDEX_URL
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0 \
 && pip install --no-cache-dir -c constraints.txt -e . \
 && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt
USER 10001
ENTRYPOINT ["mediakg"]
CMD ["serve"]

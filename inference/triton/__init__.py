"""Triton Inference Server: everything this service knows about it, one module per part.

- ``client``: :class:`~inference.triton.client.TritonBackend`, the gRPC backend the router
  sends model calls to (contract validation, warm-up, GPU time of each call);
- ``model_repository``: generates ``inference/model_repository`` (``config.pbtxt`` and the
  ``model.py`` stubs) from the model registry;
- ``python_backend``: the server side, the python-backend model every ``model.py`` re-exports
  (runs inside Triton, in the server's own environment);
- ``launcher``: starts and stops a local tritonserver process (tests, benchmarks);
- ``metrics_scrape``: scrapes Triton's Prometheus endpoint and re-exports GPU and queue
  metrics through the OpenTelemetry API.

Nothing is re-exported here: the python backend imports ``model_repository`` inside Triton,
where the client's packages are not installed.
"""

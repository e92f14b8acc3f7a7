"""Model layer: registry, backends (local models in this process, Triton: ``inference.triton``),
batching, caching, routing and fallback, plus the pure media-analysis functions the pipeline
stages call. A library: it imports nothing of the service and reports spans and metrics through
the OpenTelemetry API (``inference.telemetry``).

Pipeline stages talk to :class:`inference.router.InferenceRouter` only; it picks a model version
and backend per task and stamps every output with the model that actually produced it.
"""

"""Model layer: registry, backends (local now, Triton later), batching, caching and routing,
plus the pure media-analysis functions the pipeline stages call.

Pipeline stages talk to :class:`inference.router.InferenceRouter` only; it picks a model version
and backend per task and stamps every output with the model that actually produced it.
"""

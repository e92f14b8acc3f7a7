"""Builds the router the settings ask for: local only for ``local://``, Triton-first with the
local backend as fallback otherwise, with shadow candidates when configured.

The composition root calls :func:`build_router` with the service's settings; ``inference`` reads
them by attribute (:class:`RoutingSettings`) and never imports the service.
"""

from __future__ import annotations

from typing import Protocol

from inference.breaker import BreakerConfig
from inference.cache import EmbeddingCache
from inference.config import InferenceConfig
from inference.fallback import InferenceMetrics, ResilientRouter, RoutingConfig
from inference.local import ModelPool
from inference.router import InferenceRouter
from inference.shadow import ShadowConfig, enable_shadow
from inference.triton.client import TritonConfig


class RoutingSettings(Protocol):
    """The fields of ``app.core.settings.Settings`` routing reads (``inference`` does not import ``app``)."""

    inference_url: str
    triton_timeout_seconds: float
    triton_timeouts: dict[str, float]
    triton_retries: int
    triton_startup_timeout_seconds: float
    triton_models: list[str]
    breaker_failure_threshold: int
    breaker_open_seconds: float
    breaker_half_open_probes: int
    inference_fallback_models: dict[str, str]
    shadow_models: dict[str, str]
    shadow_sample_rate: float


def routing_config(settings: RoutingSettings) -> RoutingConfig:
    """Routing configuration from the service settings."""
    return RoutingConfig(
        triton=TritonConfig(
            url=settings.inference_url,
            timeout_s=settings.triton_timeout_seconds,
            timeouts=dict(settings.triton_timeouts),
            retries=settings.triton_retries,
            startup_timeout_s=settings.triton_startup_timeout_seconds,
        ),
        breaker=BreakerConfig(
            failure_threshold=settings.breaker_failure_threshold,
            open_seconds=settings.breaker_open_seconds,
            half_open_probes=settings.breaker_half_open_probes,
        ),
        fallback_models=dict(settings.inference_fallback_models),
        triton_models=frozenset(settings.triton_models) or None,
    )


def build_router(
    config: InferenceConfig,
    settings: RoutingSettings,
    *,
    pool: ModelPool | None = None,
    cache: EmbeddingCache | None = None,
    metrics: InferenceMetrics | None = None,
) -> InferenceRouter:
    """The router ``settings`` ask for: local only for ``local://``, Triton-first otherwise,
    with shadow candidates when configured. Call ``await router.start()`` on a
    :class:`ResilientRouter` before serving (validation and warm-up)."""
    router: InferenceRouter
    if settings.inference_url.startswith("local://"):
        router = InferenceRouter(config, pool=pool, cache=cache)
    else:
        router = ResilientRouter(
            config, routing=routing_config(settings), pool=pool, cache=cache, metrics=metrics
        )
    if settings.shadow_models:
        enable_shadow(
            router,
            ShadowConfig(candidates=dict(settings.shadow_models), sample_rate=settings.shadow_sample_rate),
        )
    return router

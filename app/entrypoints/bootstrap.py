"""Builds the services of one process from settings."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.blobs import create_blob_store
from app.core.container import Services
from app.core.db import create_engine, create_read_engine, create_session_factory
from app.core.pubsub import create_publisher
from app.core.ratelimit import create_rate_limiter
from app.core.settings import Settings
from app.core.telemetry.sqlalchemy import instrument_engine
from search.factory import open_backend

if TYPE_CHECKING:
    from inference.triton.launcher import TritonEnvironment
    from inference.triton.metrics_scrape import TritonScraper

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    """Engine, sessions, blobs, pub/sub and search as the settings' URLs say (no I/O yet but
    creating the embedded search index file; models load on first use: ``inference_for``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        settings.database_url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        write_lock_timeout_s=settings.database_write_timeout_seconds,
    )
    instrument_engine(engine)  # a span and a duration sample per statement batch
    read_engine = create_read_engine(
        settings.database_url,
        write_engine=engine,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
    )
    if read_engine is not engine:
        instrument_engine(read_engine)
    return Services(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine),
        read_engine=read_engine,
        read_sessions=create_session_factory(read_engine) if read_engine is not engine else None,
        blobs=create_blob_store(settings),
        publisher=create_publisher(settings.pubsub_url, prefix=settings.redis_key_prefix),
        rate_limiter=create_rate_limiter(settings.rate_limit_url, prefix=settings.redis_key_prefix),
        # One backend per process (and per event loop: the job runtime builds its own), so the
        # embedded index keeps one in-memory matrix and Elasticsearch one connection pool.
        search=open_backend(
            settings.search_url,
            data_dir=settings.data_dir,
            index_prefix=settings.search_index_prefix,
            ann_threshold=settings.search_ann_threshold or None,
        ),
        inference_factory=inference_for,
    )


_INFERENCE_LOCK = "inference_lock"
# Loaded local models per runner options, shared by every router of the process: the embedded
# serve's API (query embeddings) and its job runtime (stages) run on different event loops and
# so have their own routers, but must not load MiniLM twice.
_POOLS: dict[Any, Any] = {}
_POOLS_GUARD = threading.Lock()
# What the stages call (jobs/stages): warmed at worker start with local:// models.
STAGE_MODEL_TASKS = (
    "transcribe",
    "ocr",
    "labels",
    "faces",
    "face_descriptors",
    "embed_text",
    "embed_image",
    "embed_bridge",
)


def _shared_pool(config: Any) -> Any:
    from inference.local import ModelPool

    options = config.local_options()
    with _POOLS_GUARD:
        pool = _POOLS.get(options)
        if pool is None:
            pool = _POOLS[options] = ModelPool(options)
        return pool


async def inference_for(services: Services) -> Any:
    """The process's inference router (``inference.router.InferenceRouter``), built on first
    use: the API needs it only to embed search queries, a worker for its stages."""
    if services.inference is not None:
        return services.inference
    lock: asyncio.Lock = services.extras.setdefault(_INFERENCE_LOCK, asyncio.Lock())
    async with lock:
        if services.inference is None:
            from inference.config import InferenceConfig
            from inference.factory import build_router

            settings = services.settings
            config = InferenceConfig.from_settings(settings)
            router = build_router(config, settings, pool=_shared_pool(config))
            start = getattr(router, "start", None)
            if start is not None:
                # Triton-first routers validate the served models and warm them up.
                try:
                    await start()
                except BaseException:
                    await router.aclose()
                    raise
            services.inference = router
    return services.inference


class InferenceStartupError(RuntimeError):
    """The model server serves something other than the registry's contract: the process
    must not start (every model call would fail)."""


async def start_inference(services: Services) -> Any:
    """At process start: build the router now when the settings name Triton, so its
    readiness wait, contract validation and warm-up happen before any request or job.

    Raises :class:`InferenceStartupError` when Triton serves a model that disagrees with the
    registry. An unreachable Triton does not stop the start: the router's breaker starts
    open and the models run locally until Triton answers (``inference.fallback``). Returns
    the router, or None for ``local://`` (local models load on first use; a worker warms
    them: :func:`start_worker_inference`)."""
    settings = services.settings
    if settings.inference_url.startswith("local://"):
        return None
    from inference.triton.client import ModelContractMismatchError

    try:
        router = await inference_for(services)
    except ModelContractMismatchError as exc:
        raise InferenceStartupError(
            f"refusing to start: Triton at {settings.inference_url} does not serve the models "
            f"this version expects (deploy the matching inference/model_repository or fix "
            f"MEDIAKG_TRITON_MODELS): {exc}"
        ) from exc
    breaker = getattr(router, "breaker", None)
    if breaker is not None and str(breaker.state) != "closed":
        log.warning(
            "Triton at %s did not answer at start-up: starting with its circuit breaker %s, "
            "models run locally until it answers",
            settings.inference_url,
            breaker.state,
        )
    return router


async def start_worker_inference(services: Services) -> Any:
    """At the start of a process that runs stages: :func:`start_inference`, and with
    ``local://`` models and ``warm_models`` on, the stage models loaded and warmed and the
    label-name vectors read or computed, so the first job does not pay for them (its embed
    stage used to spend seconds embedding the 1,000 label names)."""
    router = await start_inference(services)
    settings = services.settings
    if router is not None or not settings.warm_models:
        return router
    started = time.perf_counter()
    router = await inference_for(services)
    await router.warmup(STAGE_MODEL_TASKS)
    log.info("local stage models warmed up in %.1f s", time.perf_counter() - started)
    return router


def triton_environment(settings: Settings) -> TritonEnvironment:
    """The Triton server environment ``triton_env_dir`` names (``.venv-triton`` in the checkout
    by default), for starting a local tritonserver (tests, benchmarks)."""
    from inference.triton.launcher import DEFAULT_ENV, TritonEnvironment

    return TritonEnvironment.load(Path(settings.triton_env_dir) if settings.triton_env_dir else DEFAULT_ENV)


def start_triton_scraper(settings: Settings) -> TritonScraper | None:
    """In a process that calls the models on Triton: scrape Triton's metrics every
    ``triton_scrape_interval_seconds`` and re-export them (``None`` for ``local://``)."""
    from inference.triton.metrics_scrape import TritonScraper, resolve_metrics_url

    served = (
        settings.triton_host,
        (settings.triton_http_port, settings.triton_grpc_port),
        settings.triton_metrics_port,
    )
    url = resolve_metrics_url(settings.inference_url, settings.triton_metrics_url, served=served)
    if url is None:
        return None
    scraper = TritonScraper(url)
    scraper.start(settings.triton_scrape_interval_seconds)
    return scraper

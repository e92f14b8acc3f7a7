"""Done means (issue 6): the Triton server is killed while the real pipeline runs; every job
still completes through the fallback, the rows say which model made them, the fallbacks are
counted, and once the server is back the breaker re-closes and Triton serves the next job.

One job runtime (in-process broker, every production stage) whose router is built from
settings the way a worker builds it (``inference_for``: grpc URL, ``triton_models``,
``inference_fallback_models``). Three phases:

A. Triton up: an image and a text run; everything Triton deploys is served by Triton.
B. Three images and three texts are queued; the server is SIGKILLed as soon as Triton has
   answered the first of their calls. Stages that start after the breaker opened embed text
   with the configured substitute (MiniLM int8, and the bridge over it); detection runs the
   same model versions locally (no smaller labels or faces model exists to substitute).
C. The server restarts on the same ports; one more image runs; the breaker is closed and
   Triton served it.

Every title, chunk, image and bridge vector is recomputed locally with the model it is stamped
with and must match: a stamp that names one model over another model's output fails here.

The server is the test's own (function scope, only the models the pipeline sends to Triton:
8-15 s to start on 2 busy cores) because the test kills it; OCR runs locally (``triton_models``
leaves it out) to keep the start short.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.db import utcnow
from app.core.enums import DetectionKind, JobStatus, Modality, OwnerType
from app.core.settings import Settings
from app.core.telemetry import metrics as telemetry_metrics
from app.entrypoints.bootstrap import inference_for
from app.entrypoints.job_system import job_runtime
from app.jobs.models import JobStage
from app.media.models import Detection, Embedding, TranscriptSegment
from app.media.service import vector_from_bytes
from app.tenancy.models import Tenant
from inference.breaker import BreakerState
from inference.cache import EmbeddingCache, content_hash
from inference.config import InferenceConfig
from inference.fallback import ResilientRouter
from inference.models.vision import imagenet_class_names
from inference.registry import (
    DLIB_FACE_DESCRIPTOR,
    DLIB_HOG_FACES,
    IMAGENET_BRIDGE,
    IMAGENET_BRIDGE_INT8,
    MINILM_FP32,
    MINILM_INT8,
    MOBILENET_FEATURES_SPEC,
    MOBILENET_LABELS,
    RAPIDOCR,
    ModelSpec,
)
from inference.router import InferenceRouter
from inference.triton.launcher import TritonEnvironment, TritonServer
from inference.triton.model_repository import triton_model_name
from jobs.runtime import JobRuntime
from tests.fixtures.media import image_bytes, photo
from tests.jobs.conftest import job_statuses, stages_by_name, wait_jobs, with_runtime
from tests.telemetry.helpers import fresh_metrics

pytestmark = [pytest.mark.triton, pytest.mark.models, pytest.mark.slow]

log = logging.getLogger(__name__)

# What the pipeline sends to Triton: int8 MiniLM too, because while the breaker is half-open
# the substitute's calls are the probes that find the server back (as in production, where
# every model of the repository is deployed).
TRITON_MODELS = (MINILM_FP32, MINILM_INT8, MOBILENET_LABELS, MOBILENET_FEATURES_SPEC, DLIB_HOG_FACES)
# The bridge follows its text half (docs/inference.md): mapping MiniLM alone would leave
# fp32-bridge vectors beside int8 text vectors of the same outage.
FALLBACK_MODELS = {MINILM_FP32.key: MINILM_INT8.key, IMAGENET_BRIDGE.key: IMAGENET_BRIDGE_INT8.key}
OPEN_SECONDS = 1.0
# Triton and local MobileNet/MiniLM agree within 1e-4 (test_parity); the bridge mixes ten of
# those probabilities, so twice that.
ATOL = 2e-4

PHASE_A = {"coffee.png": "coffee", "garden.txt": "The roses in the walled garden bloom in early June."}
PHASE_B = {
    "chelsea.png": "chelsea",
    "astronaut.png": "astronaut",
    "rocket.png": "rocket",
    "ferry.txt": "The ferry leaves the harbour at seven in the evening, weather permitting.",
    "bakery.md": "# Bakery\n\nShe sells fresh bread at the market every morning before dawn.",
    "storm.txt": "Storm warnings were issued for the northern coast tonight; boats stay in port.",
}
PHASE_C = {"motorcycle.png": "motorcycle"}


@dataclass
class RouterEvents:
    """The router's events as they happen (its listener runs on the job runtime's loop)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    triton_calls: int = 0
    # Wall clock, to compare with the JobStage timestamps the runner writes.
    first_open: datetime | None = None

    def __call__(self, event: str, labels: Mapping[str, str]) -> None:
        with self.lock:
            if event == "served" and labels["backend"] == "triton":
                self.triton_calls += 1
            elif event == "breaker" and labels["state"] == "open" and self.first_open is None:
                self.first_open = utcnow()

    def calls(self) -> int:
        with self.lock:
            return self.triton_calls


@dataclass(frozen=True)
class RouterView:
    """A consistent copy of the router's counters (read on the runtime's loop)."""

    served: Counter[tuple[str, str]]
    fallbacks: Counter[tuple[str, str, str, str]]
    substitutions: Counter[tuple[str, str, str]]
    states: list[str]
    breaker: BreakerState
    last_served: dict[str, str]


@dataclass(frozen=True)
class Processed:
    """One ingested file: its asset, job and what it was made from."""

    name: str
    asset_id: uuid.UUID
    job_id: uuid.UUID
    image: npt.NDArray[np.uint8] | None


@pytest.fixture
def server(triton_env: TritonEnvironment, tmp_path: Path) -> Iterator[TritonServer]:
    """A server of this test's own: it gets killed."""
    triton = TritonServer(
        triton_env,
        models=tuple(triton_model_name(spec) for spec in TRITON_MODELS),
        log_path=tmp_path / "tritonserver.log",
    )
    triton.start(timeout_s=300)
    try:
        yield triton
    finally:
        triton.stop()


@pytest.fixture
def exported() -> Iterator[telemetry_metrics.Metrics]:
    """The process's metrics, fresh for this test (fallbacks are counted here)."""
    with fresh_metrics() as fresh:
        yield fresh


async def on_loop(runtime: JobRuntime, coro: Any) -> Any:
    """Run ``coro`` on the runtime's loop, where the router lives (its breaker is not
    thread-safe by design), without blocking this test's loop."""
    return await asyncio.to_thread(runtime.call, coro)


async def view(runtime: JobRuntime, router: ResilientRouter) -> RouterView:
    async def read() -> RouterView:
        m = router.metrics
        return RouterView(
            served=Counter(m.served),
            fallbacks=Counter(m.fallbacks),
            substitutions=Counter(m.substitutions),
            states=[str(t.new) for t in m.transitions],
            breaker=router.breaker.state,
            last_served={k: s.backend for k, s in router.fallback_backend.last_served.items()},
        )

    result: RouterView = await on_loop(runtime, read())
    return result


async def ingest(
    services: Services, tenant: Tenant, media_root: Path, files: Mapping[str, str]
) -> list[Processed]:
    """Write the files (a photo name or a text) and ingest them; jobs start at once."""
    out = []
    for name, content in files.items():
        image = photo(content) if name.endswith(".png") else None
        path = media_root / name
        path.write_bytes(image_bytes(image) if image is not None else content.encode())
        async with services.session_factory() as session:
            result = await ingest_path(
                session, services=services, tenant_id=tenant.id, path=path, actor="test"
            )
            await session.commit()
        assert result.job is not None
        out.append(Processed(name, result.asset.id, result.job.id, image))
    return out


async def finish(services: Services, processed: list[Processed], *, within: float) -> None:
    """Wait for the jobs; every one must have succeeded."""
    ids = [p.job_id for p in processed]
    await wait_jobs(services.session_factory, ids, within=within)
    statuses = await job_statuses(services.session_factory, ids)
    failed = {}
    for p, status in zip(processed, statuses, strict=True):
        if status is not JobStatus.SUCCEEDED:
            stages = await stages_by_name(services.session_factory, p.job_id)
            failed[p.name] = {n: (s.status, s.error_code, s.error_message) for n, s in stages.items()}
    assert failed == {}


@dataclass
class Outputs:
    """What one asset's job wrote, as the checks need it."""

    embeddings: list[Embedding]
    detections: list[Detection]
    segments: list[TranscriptSegment]
    stages: dict[str, JobStage]

    def stamps(self, modality: Modality) -> set[str]:
        return {f"{r.model_name}:{r.model_version}" for r in self.embeddings if r.modality is modality}


async def outputs_of(services: Services, p: Processed) -> Outputs:
    factory = services.session_factory
    async with factory() as session:
        embeddings = list(await session.scalars(select(Embedding).where(Embedding.asset_id == p.asset_id)))
        detections = list(await session.scalars(select(Detection).where(Detection.asset_id == p.asset_id)))
        segments = list(
            await session.scalars(select(TranscriptSegment).where(TranscriptSegment.asset_id == p.asset_id))
        )
    return Outputs(embeddings, detections, segments, await stages_by_name(factory, p.job_id))


def versions(*specs: ModelSpec) -> dict[str, str]:
    return {spec.name: spec.version for spec in specs}


def expected_model_versions(p: Processed, text: ModelSpec, bridge: ModelSpec) -> dict[str, dict[str, str]]:
    """JobStage.model_versions of the model stages, for the given text and bridge models."""
    if p.image is None:
        return {"embed": versions(text)}
    return {
        "detect": versions(MOBILENET_LABELS, DLIB_HOG_FACES, DLIB_FACE_DESCRIPTOR),
        "embed": versions(text, MOBILENET_FEATURES_SPEC, bridge),
    }


def assert_stamped(p: Processed, out: Outputs, text: ModelSpec, bridge: ModelSpec) -> None:
    """Rows and stage records of ``p`` name ``text``/``bridge`` for text and bridge vectors and
    the (only) label, face and feature models for the rest."""
    assert out.stamps(Modality.TEXT) == {text.key}, p.name
    model_stages = expected_model_versions(p, text, bridge)
    assert {n: out.stages[n].model_versions for n in model_stages} == model_stages, p.name
    if p.image is not None:
        assert out.stamps(Modality.IMAGE) == {MOBILENET_FEATURES_SPEC.key}, p.name
        assert out.stamps(Modality.BRIDGE) == {bridge.key}, p.name
        detected = {(d.kind, f"{d.model_name}:{d.model_version}") for d in out.detections}
        assert detected <= {
            (DetectionKind.LABEL, MOBILENET_LABELS.key),
            (DetectionKind.FACE, DLIB_HOG_FACES.key),
            (DetectionKind.TEXT, RAPIDOCR.key),
        }, p.name


class Recompute:
    """Local routers per text model, to check each row against the model it is stamped with.

    Text vectors are recomputed from scratch. The bridge's 1000 label-name vectors come from the
    pipeline router's cache, copied per model key: they are keyed by the model that computed
    them, and recomputing 2 x 1000 of them would add ~30 s on 2 cores. A bridge stamped int8
    but mixed from fp32 label names misses the int8 entries and is recomputed properly: the
    check still fails on it.
    """

    def __init__(self, pipeline: InferenceRouter) -> None:
        names = imagenet_class_names()
        self.routers: dict[str, InferenceRouter] = {}
        for choice, text in (("fp32", MINILM_FP32), ("int8", MINILM_INT8)):
            labels = EmbeddingCache()
            for name in names:
                digest = content_hash(name)
                vector = pipeline.cache.get(text.key, digest)
                if vector is not None:
                    labels.put(text.key, digest, vector)
            # A fresh cache apart from the label names: nothing else is taken on trust.
            self.routers[text.key] = InferenceRouter(
                InferenceConfig(text_embedding="fp32" if choice == "fp32" else "int8"),
                pool=pipeline.pool,
                cache=labels,
            )
        self.by_bridge = {IMAGENET_BRIDGE.key: MINILM_FP32.key, IMAGENET_BRIDGE_INT8.key: MINILM_INT8.key}

    async def check(self, p: Processed, out: Outputs, title: str) -> int:
        """Compare every text/image/bridge vector of ``p`` with a local recomputation; rows checked."""
        texts = {content_hash(title.strip()): title.strip()}
        texts.update({content_hash(s.text.strip()): s.text.strip() for s in out.segments})
        checked = 0
        for row in out.embeddings:
            stamp = f"{row.model_name}:{row.model_version}"
            got = vector_from_bytes(row.vector)
            if row.modality is Modality.TEXT:
                if row.owner_type is OwnerType.SCENE:
                    continue  # OCR lines of a photo: same stamp as the asset's other text rows
                assert row.content_sha256 in texts, (p.name, row.owner_type)
                want = (await self.routers[stamp].embed_text([texts[row.content_sha256]])).vectors[0]
            elif row.modality is Modality.BRIDGE:
                assert p.image is not None
                bridge = await self.routers[self.by_bridge[stamp]].embed_bridge([p.image])
                assert bridge.model.version == row.model_version
                want = bridge.vectors[0]
            else:
                assert p.image is not None
                want = (await self.routers[MINILM_FP32.key].embed_image([p.image])).vectors[0]
            np.testing.assert_allclose(
                got, want, atol=ATOL, rtol=0, err_msg=f"{p.name} {row.modality} {stamp}"
            )
            checked += 1
        return checked

    async def bridges_differ(self, image: npt.NDArray[np.uint8]) -> float:
        """Largest difference between the fp32 and int8 bridge of ``image`` (the check above can
        only tell them apart if it is well above ATOL)."""
        fp32 = (await self.routers[MINILM_FP32.key].embed_bridge([image])).vectors[0]
        int8 = (await self.routers[MINILM_INT8.key].embed_bridge([image])).vectors[0]
        return float(np.abs(fp32 - int8).max())

    async def aclose(self) -> None:
        for router in self.routers.values():
            await router.aclose()


def exported_fallbacks(m: telemetry_metrics.Metrics) -> Counter[str]:
    """mediakg_model_fallbacks_total by reason, as Prometheus would scrape it."""
    from prometheus_client.parser import text_string_to_metric_families

    by_reason: Counter[str] = Counter()
    for family in text_string_to_metric_families(m.render().decode()):
        for sample in family.samples:
            if sample.name == "mediakg_model_fallbacks_total":
                by_reason[sample.labels["mediakg_fallback_reason"]] += int(sample.value)
    return by_reason


async def test_killing_triton_mid_pipeline_jobs_complete_via_fallback(
    server: TritonServer,
    services: Services,
    settings: Settings,
    tenant: Tenant,
    media_root: Path,
    exported: telemetry_metrics.Metrics,
) -> None:
    run_settings = settings.model_copy(
        update={
            "pubsub_url": "memory://",
            "inference_url": f"grpc://{server.grpc_url}",
            "triton_metrics_url": server.metrics_url,
            "triton_models": [spec.key for spec in TRITON_MODELS],
            "inference_fallback_models": FALLBACK_MODELS,
            # A deadline for a batch of 64 label names on a busy 2-core machine; a dead server
            # refuses connections at once, so it does not slow the fallback down.
            "triton_timeout_seconds": 30.0,
            "triton_retries": 1,
            "breaker_failure_threshold": 2,
            "breaker_open_seconds": OPEN_SECONDS,
            # Models load inside the stages (first use): leases outlive the longest call.
            "stage_lease_seconds": 120.0,
            "sweeper_interval_seconds": 1.0,
            "retry_min_backoff_ms": 100,
            "retry_max_backoff_ms": 1000,
        }
    )
    timings: dict[str, float] = {}
    summary: dict[str, Any] = {}  # for the log line docs/inference.md quotes
    runtime = job_runtime(run_settings, host_services=services)
    await asyncio.to_thread(runtime.start)
    try:
        assert runtime.services is not None
        # The router every stage will get, built now as a worker builds it (validated and
        # warmed up on Triton), so the test can listen to it from the first call.
        router = await on_loop(runtime, inference_for(runtime.services))
        assert isinstance(router, ResilientRouter)
        events = RouterEvents()
        router.metrics.listeners.append(events)
        svc = with_runtime(services, run_settings, runtime)

        # --- A: Triton up ------------------------------------------------------------------
        started = time.monotonic()
        before = await ingest(svc, tenant, media_root, PHASE_A)
        await finish(services, before, within=300)
        timings["A"] = time.monotonic() - started
        after_a = await view(runtime, router)
        assert after_a.states == []
        assert after_a.fallbacks == Counter()
        for spec in TRITON_MODELS:
            if spec is not MINILM_INT8:  # not configured: never asked for while Triton is up
                assert after_a.served[(spec.key, "local")] == 0, spec.key
                assert after_a.served[(spec.key, "triton")] > 0, spec.key

        # --- B: the server is killed while the jobs run ------------------------------------
        calls_before = events.calls()
        started = time.monotonic()
        during = await ingest(svc, tenant, media_root, PHASE_B)
        deadline = time.monotonic() + 120
        while events.calls() == calls_before:
            assert time.monotonic() < deadline, "Triton served none of the queued jobs' calls"
            await asyncio.sleep(0.02)
        killed_at = utcnow()
        await asyncio.to_thread(server.stop, sig=signal.SIGKILL)
        statuses = await job_statuses(services.session_factory, [p.job_id for p in during])
        assert any(s in (JobStatus.QUEUED, JobStatus.RUNNING) for s in statuses), "killed too late"
        await finish(services, during, within=300)
        timings["B"] = time.monotonic() - started
        after_b = await view(runtime, router)
        opened = events.first_open
        assert opened is not None
        assert opened >= killed_at
        assert after_b.breaker is not BreakerState.CLOSED  # nothing has answered since

        # Rows of the outage: a stage that started after the breaker opened ran the substitute
        # (text, bridge) or the same version locally (labels, faces); one that started before
        # may have ended either way, which the recomputation below checks.
        substituted: list[Processed] = []
        labelled_locally = 0
        for p in during:
            out = await outputs_of(services, p)
            embed_started = out.stages["embed"].started_at
            if embed_started is not None and embed_started > opened:
                assert_stamped(p, out, MINILM_INT8, IMAGENET_BRIDGE_INT8)
                substituted.append(p)
                labelled_locally += sum(d.kind is DetectionKind.LABEL for d in out.detections)
        # At least one image and one text ran wholly in the outage (the kill came early).
        assert {p.image is None for p in substituted} == {True, False}, [p.name for p in substituted]
        assert labelled_locally > 0  # the photos have labels above the floor
        for p in before:
            assert_stamped(p, await outputs_of(services, p), MINILM_FP32, IMAGENET_BRIDGE)

        # Counted: by the router, and in the exported metric (the same events, both paths).
        text_subs = after_b.substitutions[("embed_text", MINILM_FP32.key, MINILM_INT8.key)]
        bridge_subs = after_b.substitutions[("embed_bridge", IMAGENET_BRIDGE.key, IMAGENET_BRIDGE_INT8.key)]
        assert text_subs >= len(substituted)
        assert bridge_subs >= sum(p.image is not None for p in substituted)
        reasons: Counter[str] = Counter()
        for (_model, source, target, reason), n in after_b.fallbacks.items():
            assert (source, target) == ("triton", "local")
            reasons[reason] += n
        assert reasons["unavailable"] + reasons["timeout"] >= 1  # calls in flight or sent before it opened
        assert reasons["circuit_open"] >= 1
        assert exported_fallbacks(exported) == Counter(
            {**reasons, "substitution": sum(after_b.substitutions.values())}
        )
        for spec in (MINILM_INT8, MOBILENET_LABELS, MOBILENET_FEATURES_SPEC, DLIB_HOG_FACES):
            assert after_b.served[(spec.key, "local")] > 0, spec.key
        summary.update(
            substituted_jobs=f"{len(substituted)}/{len(during)}",
            fallbacks=dict(reasons),
            substitutions=sum(after_b.substitutions.values()),
            local_calls=sum(n for (_, backend), n in after_b.served.items() if backend == "local"),
            breaker_transitions=len(after_b.states),
        )

        # --- C: the server comes back on the same ports ------------------------------------
        started = time.monotonic()
        await asyncio.to_thread(server.start, timeout_s=300)
        timings["restart"] = time.monotonic() - started
        started = time.monotonic()
        again = await ingest(svc, tenant, media_root, PHASE_C)
        await finish(services, again, within=300)
        timings["C"] = time.monotonic() - started
        after_c = await view(runtime, router)
        assert after_c.breaker is BreakerState.CLOSED
        assert after_c.states[0] == "open"
        assert after_c.states[-2:] == ["half_open", "closed"]
        for spec in (MINILM_FP32, MOBILENET_LABELS, MOBILENET_FEATURES_SPEC, DLIB_HOG_FACES):
            assert after_c.served[(spec.key, "triton")] > after_b.served[(spec.key, "triton")], spec.key
            assert after_c.served[(spec.key, "local")] == after_b.served[(spec.key, "local")], spec.key
            assert after_c.last_served[spec.key] == "triton", spec.key
        (recovered,) = again
        assert_stamped(recovered, await outputs_of(services, recovered), MINILM_FP32, IMAGENET_BRIDGE)
    finally:
        await asyncio.to_thread(runtime.stop, 5.0)

    # Every vector of every phase is what the model on its stamp computes (the runtime is
    # stopped: the pipeline router's pool and cache are this loop's now).
    recompute = Recompute(router)
    try:
        checked = 0
        for p in [*before, *during, *again]:
            rows = await recompute.check(p, await outputs_of(services, p), Path(p.name).stem)
            # An image: its title, scene and asset feature and bridge vectors; a text: its
            # title and at least one chunk.
            assert rows >= (5 if p.image is not None else 2), p.name
            checked += rows
        # Measured 0.004: a bridge mixed from the other MiniLM's label names cannot pass above.
        assert await recompute.bridges_differ(photo("chelsea")) > 10 * ATOL
    finally:
        await recompute.aclose()
    summary.update({f"{phase}_s": round(seconds, 1) for phase, seconds in timings.items()}, checked=checked)
    log.info("pipeline failover: %s", summary)

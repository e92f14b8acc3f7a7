"""One ingest is one trace: the GraphQL mutation, its SQL, every enqueue, every stage run (in
the worker threads of the embedded default, via the message's trace context), every model
call and the search index write hang together under the operation's span."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from app.core.container import Services
from app.core.enums import JobStatus
from app.core.settings import Settings
from app.core.telemetry.tracing import capture_spans
from app.entrypoints.asgi import create_app, default_start_hooks
from app.entrypoints.bootstrap import build_services
from app.jobs.models import Job
from tests.api.conftest import operation
from tests.fixtures.keys import admin_headers
from tests.fixtures.media import image_bytes, photo

pytestmark = [pytest.mark.models, pytest.mark.slow]

# probe -> scenes -> {ocr, detect} -> embed -> similarity -> index; transcribe and text are
# skipped for an image (recorded SKIPPED by the job, never run, so no span).
IMAGE_STAGES = ["probe", "scenes", "ocr", "detect", "embed", "similarity", "index"]


def _job_id(gid: str) -> uuid.UUID:
    return uuid.UUID(base64.b64decode(gid).decode().split(":", 1)[1])


async def _wait_job(services: Services, job_id: uuid.UUID, *, within: float) -> Job:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with services.session_factory() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            return job
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"job still {job.status} after {within} s")
        await asyncio.sleep(0.2)


async def test_an_ingest_through_the_whole_pipeline_is_one_connected_trace(
    settings: Settings, media_root: Path
) -> None:
    # The schema exists already (the database fixture made it); no migrations at start-up.
    settings = settings.model_copy(
        update={"pubsub_url": "memory://", "broker_url": "memory://", "auto_migrate": False}
    )
    services = build_services(settings)
    app = create_app(settings, services=services, start_hooks=default_start_hooks(settings))
    path = media_root / "astronaut.png"
    path.write_bytes(image_bytes(photo("astronaut")))

    with capture_spans() as exporter:
        # The app's own lifespan: prepare, the in-process job runtime (memory broker, worker
        # threads), shutdown after the block.
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://localhost", headers=await admin_headers(services)
            ) as client:
                response = await client.post(
                    "/graphql",
                    json={
                        "query": operation("IngestAsset"),
                        "variables": {"input": {"source": {"path": str(path)}}},
                    },
                )
                body = response.json()
                assert body["data"]["ingestAsset"]["__typename"] == "IngestAssetSuccess", body
                job_id = _job_id(body["data"]["ingestAsset"]["job"]["id"])
                job = await _wait_job(services, job_id, within=240)
        spans = list(exporter.get_finished_spans())
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)

    (operation_span,) = [s for s in spans if s.name == "mutation IngestAsset"]
    assert operation_span.kind == SpanKind.SERVER
    assert operation_span.parent is None  # no traceparent sent: the operation is the root
    assert operation_span.attributes is not None
    assert operation_span.attributes["graphql.operation.name"] == "IngestAsset"
    assert operation_span.attributes["graphql.operation.type"] == "mutation"
    trace_id = operation_span.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}

    # Connected: every span but the root has its parent in the same trace.
    orphans = [
        s.name
        for s in in_trace
        if s is not operation_span and (s.parent is None or s.parent.span_id not in by_id)
    ]
    assert orphans == []

    def ancestors(span: ReadableSpan) -> list[ReadableSpan]:
        chain = []
        while span.parent is not None:
            span = by_id[span.parent.span_id]
            chain.append(span)
        return chain

    # Every stage of this job ran once, inside the trace, as a child of the send that queued it.
    stage_spans = [
        s
        for s in spans
        if s.name.startswith("stage ") and (s.attributes or {}).get("mediakg.job_id") == str(job_id)
    ]
    assert sorted(s.name for s in stage_spans) == sorted(f"stage {n}" for n in IMAGE_STAGES)
    for stage in stage_spans:
        assert stage.context.trace_id == trace_id, stage.name
        assert stage.kind == SpanKind.CONSUMER
        parent = by_id[stage.parent.span_id] if stage.parent else None
        assert parent is not None
        assert parent.kind == SpanKind.PRODUCER
        assert parent.name == "send realtime"
    # The first send is the mutation's own (after its commit); later ones come from stages.
    sends = [s for s in in_trace if s.kind == SpanKind.PRODUCER]
    assert len(sends) >= len(IMAGE_STAGES)
    assert operation_span in ancestors(min(sends, key=lambda s: s.start_time or 0))

    # Model calls (model, version, backend, batch size) inside stage spans.
    model_spans = [s for s in in_trace if s.name.startswith("infer ")]
    models = Counter(str((s.attributes or {})["mediakg.model.name"]) for s in model_spans)
    assert {"mobilenet_v2-imagenet", "dlib-hog-frontalface", "dlib-resnet-face", "rapidocr-ppocr"} <= set(
        models
    ), models
    for span in model_spans:
        attributes = span.attributes or {}
        assert attributes["mediakg.model.backend"] == "local"
        assert attributes["mediakg.model.version"]
        assert int(str(attributes["mediakg.model.batch.size"])) >= 1
        assert any(a.name.startswith("stage ") for a in ancestors(span)), span.name

    # The index stage's write to the search index, and SQL statements of request and stages.
    (index_span,) = [s for s in in_trace if s.name == "index embedded"]
    assert by_id[index_span.parent.span_id if index_span.parent else 0].name == "stage index"
    # The suite runs on SQLite and (the PostgreSQL pass) on PostgreSQL.
    sql = [s for s in in_trace if (s.attributes or {}).get("db.system.name") in {"sqlite", "postgresql"}]
    assert any(
        operation_span in ancestors(s) and not any(a.name.startswith("stage ") for a in ancestors(s))
        for s in sql
    )
    assert any(a.name == "stage probe" for s in sql for a in ancestors(s))
    # Statements are parametrised: the ingested path never reaches a span.
    assert all(str(path) not in str(s.attributes) for s in in_trace)

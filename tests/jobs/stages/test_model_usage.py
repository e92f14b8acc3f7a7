"""Which models ran, their CPU and their estimated quality, measured on real models (issue 16
item 4): routed transcription books each Whisper model its own calls and audio, and a speech
clip's job stores them on its stage rows and shows them through the API.

CPU time is asserted only as "> 0" for a model that ran (its call thread is charged by its own
clock) and as "no more than the stage's (the job's)": never against wall time.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import JobStatus, StageStatus
from app.core.routing_policy import TranscribeRouting
from app.core.settings import Settings
from app.core.telemetry import cost
from app.core.telemetry import spans as ts
from app.core.telemetry.model_usage import ModelUsage
from app.core.telemetry.setup import connect_inference, disconnect_inference
from app.jobs.models import Job, JobStage
from app.tenancy.models import Tenant
from inference import media
from inference.cache import EmbeddingCache
from inference.registry import SAMPLE_RATE, WHISPER_BASE, WHISPER_TINY_EN, default_registry
from inference.routing import route_for_queue, transcribe_routed
from jobs.registry import build_registry
from tests.api.conftest import BASE_URL, operation
from tests.fixtures.keys import auth, issue_key
from tests.fixtures.media import SpeechClip
from tests.jobs.conftest import RuntimeFactory, wait_jobs, with_runtime
from tests.jobs.stages.conftest import make_router

PRICES = cost.Prices(cpu_second=1.0, gpu_second=0.0, storage_gb=0.0)


@pytest.fixture
def booked() -> Iterator[None]:
    """The inference library's model uses booked to the stages' meters, as serve and worker do."""
    connect_inference()
    try:
        yield
    finally:
        disconnect_inference()


@pytest.mark.models
@pytest.mark.usefixtures("booked")
async def test_routed_transcription_books_each_whisper_model_its_calls_and_audio(
    settings: Settings, speech_clip: SpeechClip, stage_cache: EmbeddingCache
) -> None:
    # Every segment escalates: both models run, base on padded spans of the clip.
    policy = TranscribeRouting(escalate_below_logprob=0.0)
    route = route_for_queue(default_registry(), policy, "realtime", default_model="tiny.en")
    router = make_router(settings, stage_cache)
    try:
        with ts.stage_run("transcribe", job_id="j", asset_id="a", prices=PRICES) as run:
            routed = await transcribe_routed(router, speech_clip.audio, route)
            for key, model_run in routed.runs.items():
                cost.keep_weighted(key, total=model_run.confidence_sum, weight=model_run.confidence_weight)
    finally:
        await router.aclose()

    booked = {usage.model: usage for usage in run.models}
    assert sorted(booked) == sorted([WHISPER_TINY_EN.key, WHISPER_BASE.key])
    # The model-use records count what routing counted itself, call for call.
    for key, model_run in routed.runs.items():
        usage = booked[key]
        assert (usage.task, usage.input_unit, usage.calls) == ("transcribe", "audio_seconds", model_run.calls)
        assert usage.inputs == pytest.approx(model_run.audio_s, abs=1e-9)
        assert usage.mean_confidence == pytest.approx(model_run.mean_confidence)
        assert usage.cpu_seconds > 0, key
    assert booked[WHISPER_TINY_EN.key].calls == 1
    assert booked[WHISPER_TINY_EN.key].inputs == pytest.approx(speech_clip.duration, abs=1e-9)
    assert sum(u.cpu_seconds for u in run.models) <= run.cost["cpu_seconds"] + 1e-9


async def _graphql(services: Services, tenant: Tenant, document: str, variables: dict[str, Any]) -> Any:
    from app.api.http import create_graphql_app

    key = await issue_key(services.session_factory, tenant=tenant.slug, name="usage", scopes=["read"])
    transport = httpx.ASGITransport(app=create_graphql_app(services))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=auth(key)
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.models
@pytest.mark.slow
@pytest.mark.usefixtures("booked")
async def test_a_speech_clip_job_records_and_shows_the_whisper_model_it_ran(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    speech_clip: SpeechClip,
) -> None:
    # The fast model alone (no escalation): one call over the whole track.
    routing = job_settings.routing.model_copy(deep=True)
    routing.transcribe.escalate_to = ""
    settings = job_settings.model_copy(update={"stage_lease_seconds": 120.0, "routing": routing})
    runtime = start_runtime(settings, registry=build_registry(), host_services=services)
    path = media_root / "speech.wav"
    shutil.copyfile(speech_clip.path, path)
    async with services.session_factory() as session:
        result = await ingest_path(
            session,
            services=with_runtime(services, settings, runtime),
            tenant_id=tenant.id,
            path=path,
            actor="t",
        )
        await session.commit()
    assert result.job is not None
    job_id = result.job.id
    await wait_jobs(services.session_factory, [job_id], within=240)

    async with services.session_factory() as session:
        job = await session.get(Job, job_id)
        rows = list(await session.scalars(select(JobStage).where(JobStage.job_id == job_id)))
    assert job is not None
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    stages = {row.name: row for row in rows}
    assert stages["transcribe"].status == StageStatus.SUCCEEDED
    (whisper,) = [ModelUsage.from_dict(entry) for entry in stages["transcribe"].model_usage]
    heard = media.decode_audio(path).size / SAMPLE_RATE
    assert (whisper.model, whisper.task, whisper.input_unit, whisper.calls) == (
        WHISPER_TINY_EN.key,
        "transcribe",
        "audio_seconds",
        1,
    )
    assert whisper.inputs == pytest.approx(heard, abs=1e-9)
    assert whisper.cpu_seconds > 0
    assert whisper.wall_seconds > 0
    assert whisper.mean_confidence is not None
    assert 0 < whisper.mean_confidence <= 1
    # The transcript's text was embedded: a text model, counted in texts, with no confidence.
    embedded = [ModelUsage.from_dict(entry) for entry in stages["embed"].model_usage]
    assert [(u.task, u.input_unit, u.mean_confidence) for u in embedded] == [("embed_text", "texts", None)]
    assert embedded[0].calls >= 1
    # The models' CPU is part of the job's, never more.
    every = [ModelUsage.from_dict(entry) for row in rows for entry in row.model_usage]
    assert sum(u.cpu_seconds for u in every) <= job.cost["cpu_seconds"] + 1e-9

    gid = base64.b64encode(f"Job:{job_id}".encode()).decode()
    data = await _graphql(services, tenant, operation("ModelUsage"), {"id": gid})
    shown = {
        "name": WHISPER_TINY_EN.name,
        "version": WHISPER_TINY_EN.version,
        "task": "transcribe",
        "stages": ["transcribe"],
        "calls": 1,
        "inputs": pytest.approx(heard),
        "inputUnit": "AUDIO_SECONDS",
        "wallSeconds": pytest.approx(whisper.wall_seconds),
        "cpuSeconds": pytest.approx(whisper.cpu_seconds),
        "gpuSeconds": 0.0,
        "meanConfidence": pytest.approx(whisper.mean_confidence),
    }
    assert data["job"]["models"][0] == shown
    by_stage = {edge["node"]["name"]: edge["node"]["modelUsage"] for edge in data["job"]["stages"]["edges"]}
    assert by_stage["transcribe"] == [shown]
    assert by_stage["probe"] == []
    # One job so far: the asset's usage is the job's.
    assert data["job"]["asset"]["modelUsage"] == data["job"]["models"]

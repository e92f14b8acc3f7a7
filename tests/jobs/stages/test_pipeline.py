"""The talking video through the whole pipeline: a real job runtime (in-process broker) with the
production registry, every stage's rows stamped with model and version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import DetectionKind, JobStatus, StageStatus
from app.core.settings import Settings
from app.jobs.models import Job
from app.media.models import Detection, Embedding, Scene, TranscriptSegment
from app.tenancy.models import Tenant
from jobs.registry import build_registry
from tests.fixtures.media import VideoClip
from tests.jobs.conftest import RuntimeFactory, count, stages_by_name, wait_jobs, with_runtime

pytestmark = [pytest.mark.models, pytest.mark.slow]

ANALYSIS = ("probe", "scenes", "transcribe", "ocr", "detect", "embed", "similarity")


async def test_talking_video_runs_every_stage_through_the_job_system(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    talking_video: VideoClip,
) -> None:
    # Models load inside the stages (first use): leases must outlive the longest model call
    # on a busy 2-core machine, as in production (300 s), not the job tests' 2 s.
    settings = job_settings.model_copy(update={"stage_lease_seconds": 120.0})
    runtime = start_runtime(settings, registry=build_registry(), host_services=services)
    path = media_root / "talking.mp4"
    shutil.copyfile(talking_video.path, path)
    async with services.session_factory() as session:
        result = await ingest_path(
            session,
            services=with_runtime(services, settings, runtime),
            tenant_id=tenant.id,
            path=path,
            actor="test",
        )
        await session.commit()
    assert result.job is not None
    job_id, asset_id = result.job.id, result.asset.id
    await wait_jobs(services.session_factory, [job_id], within=240)

    stages = await stages_by_name(services.session_factory, job_id)
    for name in ANALYSIS:
        stage = stages[name]
        assert (name, stage.status, stage.error_message) == (name, StageStatus.SUCCEEDED, None)
        assert stage.model_versions, name
        assert stage.duration_s is not None
    assert stages["text"].status == StageStatus.SKIPPED
    # The index stage is another module's; with it the whole job succeeds.
    assert stages["index"].status == StageStatus.SUCCEEDED, stages["index"].error_message
    async with services.session_factory() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    assert job.status == JobStatus.SUCCEEDED

    factory = services.session_factory
    assert await count(factory, Scene, Scene.asset_id == asset_id) == 3
    assert await count(factory, TranscriptSegment, TranscriptSegment.asset_id == asset_id) >= 1
    # The caption; no labels: MobileNet's top classes for flat colour fields stay under the
    # 0.25 floor (the cat photo test covers labels).
    assert (
        await count(factory, Detection, Detection.asset_id == asset_id, Detection.kind == DetectionKind.TEXT)
        == 1
    )
    assert await count(factory, Embedding, Embedding.asset_id == asset_id) >= 10
    for model in (Scene, TranscriptSegment, Detection, Embedding):
        unstamped = await count(
            factory, model, model.asset_id == asset_id, (model.model_name == "") | (model.model_version == "")
        )
        assert unstamped == 0

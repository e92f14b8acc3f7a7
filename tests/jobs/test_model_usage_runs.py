"""The runner keeps each stage's per-model usage on its row (jobs/runner/outcomes.py): every run
counts (retried and failed runs too, as in Job.cost), the quality only of the run whose outputs
were kept. The test stages mark model uses as the router does (tests/jobs/stagelib.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.container import Services
from app.core.enums import StageStatus
from app.core.settings import Settings
from app.core.telemetry.model_usage import ModelUsage
from app.core.telemetry.setup import connect_inference, disconnect_inference
from app.tenancy.models import Tenant
from jobs.registry import StageRegistry
from tests.jobs.conftest import RuntimeFactory, ingest_video, stages_by_name, wait_jobs, with_runtime


@pytest.fixture(autouse=True)
def booked() -> Iterator[None]:
    """Model uses booked to the stages' meters, as serve and worker do."""
    connect_inference()
    try:
        yield
    finally:
        disconnect_inference()


def _usage(entries: list[dict[str, object]]) -> list[tuple[str, int, float, float | None]]:
    return [(u.model, u.calls, u.inputs, u.mean_confidence) for u in map(ModelUsage.from_dict, entries)]


async def test_a_retried_stage_counts_every_run_and_the_quality_of_the_kept_one(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(job_settings, registry=test_registry, host_services=services)
    test = {"stages": {"ocr": {"model_uses": 2, "transient_failures": 1}, "detect": {"model_uses": 1}}}
    job = await ingest_video(
        with_runtime(services, job_settings, runtime), tenant, media_root, shade=3, test=test
    )
    await wait_jobs(services.session_factory, [job.id], within=30)
    stages = await stages_by_name(services.session_factory, job.id)
    assert (stages["ocr"].status, stages["ocr"].attempts) == (StageStatus.SUCCEEDED, 2)
    # Two runs of two uses each; the first run's outputs (confidence 0.25) were not kept.
    assert _usage(stages["ocr"].model_usage) == [("test-model:1", 4, 4.0, 0.5)]
    assert _usage(stages["detect"].model_usage) == [("test-model:1", 1, 1.0, 0.25)]
    assert stages["scenes"].model_usage == []


async def test_a_failed_stage_keeps_the_usage_of_its_runs_without_quality(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    settings = job_settings.model_copy(update={"max_retries": 1})
    runtime = start_runtime(settings, registry=test_registry, host_services=services)
    test = {"stages": {"detect": {"model_uses": 1, "transient_failures": 99}}}
    job = await ingest_video(
        with_runtime(services, settings, runtime), tenant, media_root, shade=4, test=test
    )
    await wait_jobs(services.session_factory, [job.id], within=30)
    detect = (await stages_by_name(services.session_factory, job.id))["detect"]
    assert (detect.status, detect.attempts) == (StageStatus.FAILED, 2)
    assert _usage(detect.model_usage) == [("test-model:1", 2, 2.0, None)]

"""The job system on RabbitMQ (``amqp://``), against the real server on this machine.

Each test gets a virtual host of its own (RabbitMQ queues carry no key prefix), created
with ``rabbitmqctl`` and deleted afterwards, so runs sharing the server never meet.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services
from app.enums import JobStatus, StageStatus
from app.jobs.models import Job
from app.settings import Settings
from app.tenancy.models import Tenant
from jobs.registry import StageRegistry
from tests.fixtures.required import skip_unless_required
from tests.jobs.conftest import RuntimeFactory, ingest_video, stages_by_name, wait_jobs, with_runtime

pytestmark = pytest.mark.slow


def _rabbitmq_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def rabbitmq_settings(job_settings: Settings) -> Iterator[Settings]:
    """``job_settings`` on a fresh RabbitMQ virtual host of this test."""
    if shutil.which("rabbitmqctl") is None or not _rabbitmq_reachable():
        skip_unless_required("RabbitMQ not available on 127.0.0.1:5672 (with rabbitmqctl)")
    vhost = f"mkgtest_{uuid.uuid4().hex[:10]}"
    try:
        _ctl("add_vhost", vhost)
        _ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (subprocess.CalledProcessError, OSError) as exc:
        skip_unless_required(f"cannot create a RabbitMQ virtual host: {exc}")
    try:
        yield job_settings.model_copy(update={"broker_url": f"amqp://guest:guest@127.0.0.1:5672/{vhost}"})
    finally:
        _ctl("delete_vhost", vhost)


async def test_job_completes_over_rabbitmq_with_a_transient_retry(
    services: Services,
    rabbitmq_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    test_registry: StageRegistry,
) -> None:
    runtime = start_runtime(rabbitmq_settings, registry=test_registry, host_services=services)
    svc = with_runtime(services, rabbitmq_settings, runtime)
    test = {"stages": {"ocr": {"transient_failures": 1}}}
    jobs = [
        await ingest_video(svc, tenant, media_root, shade=1, test=test),
        await ingest_video(svc, tenant, media_root, shade=2, queue="batch"),
    ]
    await wait_jobs(services.session_factory, [job.id for job in jobs], within=60)
    for job in jobs:
        stages = await stages_by_name(services.session_factory, job.id)
        assert {name: stage.status for name, stage in stages.items()} == {
            name: StageStatus.SKIPPED if name == "text" else StageStatus.SUCCEEDED
            for name in [
                "probe",
                "text",
                "scenes",
                "transcribe",
                "ocr",
                "detect",
                "embed",
                "similarity",
                "index",
            ]
        }
    first = await stages_by_name(services.session_factory, jobs[0].id)
    assert first["ocr"].attempts == 2
    async with services.session_factory() as session:
        statuses = [(await session.get(Job, job.id)) for job in jobs]
    assert [job.status if job else None for job in statuses] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]

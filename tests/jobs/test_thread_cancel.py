"""Interrupting a stage stops the decoding threads it started, not only its asyncio task.

The scenes stage decodes in ``asyncio.to_thread`` threads; cancelling the task leaves such a
thread running. The runner sets ``ctx.cancelled`` and the decode loops of ``inference.media``
stop on it: observed here on the threads themselves (their Python stacks), with a video long
enough that decoding it to the end takes many seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import FrameType

import av
import pytest

from app.assets.service import ingest_path
from app.core.container import Services
from app.core.enums import JobStatus, StageStatus
from app.core.settings import Settings
from app.jobs import service as jobs
from app.jobs.errors import STAGE_TIME_LIMIT
from app.jobs.models import Job
from app.tenancy.models import Tenant
from inference import media
from jobs.registry import StageRegistry, build_registry
from jobs.stages.scenes import DETECTION_SHARE, run_scenes
from tests.jobs.conftest import (
    TEST_MODULES,
    RuntimeFactory,
    stages_by_name,
    wait_for,
    wait_jobs,
    with_runtime,
)
from tests.jobs.media import make_video

# 40 copies of a 10 s clip: 10 000 frames, 10-20 s of shot detection on a test machine.
CLIP_S = 10.0
COPIES = 40


def make_long_video(path: Path, *, copies: int = COPIES) -> Path:
    """A long H.264 video made in a fraction of a second: one short clip encoded once and its
    packets muxed ``copies`` times with shifted timestamps (decoding costs the full length)."""
    clip = make_video(path.with_suffix(".clip.mp4"), seconds=CLIP_S, audio=False)
    with av.open(str(clip)) as source, av.open(str(path), "w") as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(stream)
        packets = [p for p in source.demux(stream) if p.size]
        assert all(p.pts is not None and p.dts is not None for p in packets)
        span = max(int(p.pts) + int(p.duration or 0) for p in packets)  # type: ignore[arg-type]
        for copy in range(copies):
            for packet in packets:
                pts, dts = packet.pts, packet.dts
                packet.stream = out
                packet.pts, packet.dts = int(pts) + copy * span, int(dts) + copy * span  # type: ignore[arg-type]
                target.mux(packet)
                packet.pts, packet.dts = pts, dts
    clip.unlink()
    return path


def threads_in(function: str) -> list[str]:
    """Names of the threads whose Python stack is inside ``inference.media.<function>`` now."""
    names = {t.ident: t.name for t in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        current: FrameType | None = frame
        while current is not None:
            code = current.f_code
            if code.co_name == function and code.co_filename == media.__file__:
                found.append(names.get(ident, str(ident)))
                break
            current = current.f_back
    return found


@pytest.fixture
def scenes_registry() -> StageRegistry:
    """The real probe and scenes stages, test stages after them."""
    registry = build_registry(TEST_MODULES)
    registry.register("scenes", run_scenes, replace=True, time_limit_s=2.0)
    return registry


async def ingest_long_video(services: Services, tenant: Tenant, media_root: Path) -> Job:
    path = make_long_video(media_root / "long.mp4")
    async with services.session_factory() as session:
        result = await ingest_path(session, services=services, tenant_id=tenant.id, path=path, actor="test")
        await session.commit()
    assert result.job is not None
    return result.job


async def detecting(services: Services, job: Job) -> None:
    """Wait until the scenes stage is in shot detection and has reported progress from it."""

    async def check() -> bool:
        scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
        return (
            scenes.status == StageStatus.RUNNING and scenes.progress > 0 and bool(threads_in("detect_shots"))
        )

    await wait_for(check, within=20, what="shot detection to run and report progress")


async def test_cancel_stops_the_decoding_thread(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    scenes_registry: StageRegistry,
) -> None:
    # A time limit far away: only the cancellation stops it. A long lease: its heartbeat
    # (every 20 s) is too slow to notice the cancellation, the decoding thread's progress
    # reports (every few hundred frames) notice it.
    scenes_registry.register("scenes", run_scenes, replace=True, time_limit_s=600.0)
    settings = job_settings.model_copy(update={"stage_lease_seconds": 60.0})
    runtime = start_runtime(settings, registry=scenes_registry, host_services=services)
    job = await ingest_long_video(with_runtime(services, settings, runtime), tenant, media_root)
    await detecting(services, job)
    # Far from done: decoding the rest would take many more seconds.
    progress = (await stages_by_name(services.session_factory, job.id))["scenes"].progress
    assert 0 < progress < DETECTION_SHARE / 2

    async with services.session_factory() as session:
        await jobs.cancel_job(session, services=services, tenant_id=tenant.id, job_id=job.id, actor="test")
        await session.commit()
    cancelled_at = time.monotonic()

    async def stopped() -> bool:
        return not threads_in("detect_shots")

    # Decoding the whole video takes 12-18 s on 2 cores (more under load); the thread stops
    # within a progress report of the cancellation (measured 0.6 s). The bound leaves room
    # for a loaded CI machine, the progress check below shows detection did not run on.
    waited = await wait_for(stopped, within=8.0, what="the shot-detection thread to stop")
    await wait_jobs(services.session_factory, [job.id], within=5)
    async with services.session_factory() as session:
        cancelled = await session.get(Job, job.id)
    assert cancelled is not None
    assert cancelled.status == JobStatus.CANCELLED
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert scenes.progress < DETECTION_SHARE, "detection ran to its end"
    print(f"decoding thread stopped {waited:.2f} s after cancelJob ({time.monotonic() - cancelled_at:.2f} s)")  # noqa: T201


async def test_time_limit_stops_the_decoding_thread(
    services: Services,
    job_settings: Settings,
    tenant: Tenant,
    media_root: Path,
    start_runtime: RuntimeFactory,
    scenes_registry: StageRegistry,
) -> None:
    runtime = start_runtime(job_settings, registry=scenes_registry, host_services=services)
    job = await ingest_long_video(with_runtime(services, job_settings, runtime), tenant, media_root)
    await wait_jobs(services.session_factory, [job.id], within=20)
    failed_at = time.monotonic()
    scenes = (await stages_by_name(services.session_factory, job.id))["scenes"]
    assert (scenes.status, scenes.error_code) == (StageStatus.FAILED, STAGE_TIME_LIMIT)
    # The limit struck while detection ran (it had reported progress), not before it began.
    assert 0 < scenes.progress < DETECTION_SHARE

    async def stopped() -> bool:
        return not threads_in("detect_shots")

    await wait_for(stopped, within=8.0, what="the shot-detection thread to stop")
    print(f"decoding thread stopped {time.monotonic() - failed_at:.2f} s after the time limit")  # noqa: T201


@pytest.mark.parametrize("function", ["detect_shots", "extract_keyframes", "decode_audio"])
def test_decode_loops_stop_when_cancel_is_set(function: str, tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", seconds=2.0)
    shots = [media.Shot(0, 0.0, 2.0, 0, 50)]

    def call(cancel: threading.Event) -> int:
        """How much the function produced (shots, keyframes, samples)."""
        if function == "detect_shots":
            return len(media.detect_shots(path, cancel=cancel))
        if function == "extract_keyframes":
            return len(media.extract_keyframes(path, shots, cancel=cancel))
        return int(media.decode_audio(path, cancel=cancel).size)

    # Unset, the event changes nothing; set, the loop stops at its first frame.
    assert call(threading.Event()) >= (16000 if function == "decode_audio" else 1)
    stop = threading.Event()
    stop.set()
    with pytest.raises(media.DecodeCancelled, match="cancelled"):
        call(stop)


def test_shot_detection_reports_progress_per_chunk_of_frames(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", seconds=10.0, audio=False)  # 250 frames
    fractions: list[float] = []
    media.detect_shots(path, progress=fractions.append)
    every = media.PROGRESS_EVERY_FRAMES
    assert fractions == [pytest.approx(n * every / 250) for n in range(1, 250 // every + 1)]

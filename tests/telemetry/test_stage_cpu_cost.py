"""A stage is charged the CPU it burnt, alone and beside other stages (issue 13 item 5).

Each stage burns real CPU (SHA-256 over a buffer) in a thread of its own, as a stage's
``run_sync`` does, and the charge is compared with the CPU that thread actually used (its
own clock), not with wall time: on a loaded machine a burn takes longer, never more CPU.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from app.core.telemetry import cost
from app.core.telemetry import spans as ts
from app.core.telemetry.metrics import Metrics
from inference import telemetry as inference_telemetry

PRICES = cost.Prices(cpu_second=1.0, gpu_second=2.0, storage_gb=0.0)
BLOCK = bytes(64 * 1024)


def _burn(cpu_seconds: float) -> float:
    """Hash until this thread used ``cpu_seconds`` of CPU; returns the CPU it used."""
    started = time.thread_time()
    digest = hashlib.sha256()
    while time.thread_time() - started < cpu_seconds:
        digest.update(BLOCK)
    return time.thread_time() - started


async def _stage(name: str, *, burn_s: float, gpu_s: float = 0.0) -> tuple[float, float, float]:
    """One stage run on this loop: (CPU burnt by its thread, CPU charged, GPU charged)."""
    with ts.stage_run(name, job_id="j", asset_id=name, asset_kind="video", prices=PRICES) as run:
        burnt = await asyncio.to_thread(cost.charged_to_stage(_burn), burn_s)
        if gpu_s:
            with inference_telemetry.model_call("clip", "1", "triton", batch_size=1) as call:
                call.gpu_seconds = gpu_s
    return burnt, run.cost["cpu_seconds"], run.cost["gpu_seconds"]


async def _idle_stage(until: asyncio.Event) -> float:
    with ts.stage_run("idle", job_id="j", asset_id="idle", prices=PRICES) as run:
        await until.wait()
    return float(run.cost["cpu_seconds"])


@pytest.mark.usefixtures("metrics")
async def test_a_stage_running_alone_is_charged_its_cpu_and_gpu() -> None:
    burnt, charged, gpu = await _stage("ocr", burn_s=0.4, gpu_s=0.25)
    assert charged == pytest.approx(burnt, rel=0.2)
    assert gpu == pytest.approx(0.25)


@pytest.mark.usefixtures("metrics")
async def test_concurrent_stages_are_each_charged_their_own_cpu() -> None:
    (burnt_a, charged_a, _), (burnt_b, charged_b, _) = await asyncio.gather(
        _stage("ocr", burn_s=0.3), _stage("transcribe", burn_s=0.6)
    )
    assert charged_a == pytest.approx(burnt_a, rel=0.2)
    assert charged_b == pytest.approx(burnt_b, rel=0.2)


async def test_a_stage_beside_an_idle_one_is_charged_all_of_its_cpu(metrics: Metrics) -> None:
    done = asyncio.Event()

    async def busy() -> tuple[float, float, float]:
        try:
            return await _stage("ocr", burn_s=0.4)
        finally:
            done.set()

    (burnt, charged, _), idle_charged = await asyncio.gather(busy(), _idle_stage(done))
    assert charged == pytest.approx(burnt, rel=0.2)
    assert idle_charged < 0.2 * burnt

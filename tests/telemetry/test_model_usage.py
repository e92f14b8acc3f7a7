"""Per-model usage inside a stage run (issue 16 item 4): each use of a model the inference library
marks is booked to that model's meter, whose charges count into the stage's as well.

CPU is compared with what the burning thread used by its own clock (never with wall time), with
the tolerance of tests/telemetry/test_stage_cpu_cost.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time

import pytest

from app.core.telemetry import cost
from app.core.telemetry import spans as ts
from app.core.telemetry.model_usage import ModelUsage, accumulated, stored
from inference import telemetry as inference_telemetry

PRICES = cost.Prices(cpu_second=1.0, gpu_second=2.0, storage_gb=0.0)
BLOCK = bytes(64 * 1024)

pytestmark = pytest.mark.usefixtures("metrics")  # connects the library's listeners, as serve does


def _burn(cpu_seconds: float) -> float:
    """Hash until this thread used ``cpu_seconds`` of CPU; returns the CPU it used."""
    started = time.thread_time()
    digest = hashlib.sha256()
    while time.thread_time() - started < cpu_seconds:
        digest.update(BLOCK)
    return time.thread_time() - started


async def _model_call(model: str, burn_s: float, *, inputs: float, gpu_s: float = 0.0) -> float:
    """A use of ``model`` whose call burns ``burn_s`` on a thread of its own, as LocalBackend runs
    an unbatched model; returns the CPU that thread used."""
    with inference_telemetry.model_use(model, "1", "ocr", inputs=inputs, unit="images"):
        loop = asyncio.get_running_loop()
        burn = inference_telemetry.on_call_thread(_burn)
        burnt = await loop.run_in_executor(None, contextvars.copy_context().run, burn, burn_s)
        if gpu_s:
            with inference_telemetry.model_call(model, "1", "triton", batch_size=1) as call:
                call.gpu_seconds = gpu_s
    return burnt


async def test_a_model_is_charged_its_call_thread_and_counts_into_the_stage() -> None:
    with ts.stage_run("ocr", job_id="j", asset_id="a", prices=PRICES) as run:
        burnt = await _model_call("reader", 0.3, inputs=1, gpu_s=0.25)
        await _model_call("reader", 0.0, inputs=2)
        # Stage work outside any model: its own thread, charged to the stage alone.
        stage_only = await asyncio.to_thread(cost.charged_to_stage(_burn), 0.2)
    (usage,) = run.models
    assert (usage.model, usage.task, usage.input_unit, usage.calls, usage.inputs) == (
        "reader:1",
        "ocr",
        "images",
        2,
        3.0,
    )
    assert usage.cpu_seconds == pytest.approx(burnt, rel=0.2)
    assert usage.gpu_seconds == pytest.approx(0.25)
    assert run.cost["gpu_seconds"] == pytest.approx(0.25)
    # The stage's total holds the model's CPU and its own: nothing counted twice.
    assert run.cost["cpu_seconds"] == pytest.approx(burnt + stage_only, rel=0.2)
    assert usage.cpu_seconds <= run.cost["cpu_seconds"]
    assert usage.mean_confidence is None  # the stage kept no output of it


async def test_each_model_of_a_stage_is_charged_its_own_thread() -> None:
    with ts.stage_run("detect", job_id="j", asset_id="a", prices=PRICES) as run:
        burnt_a, burnt_b = await asyncio.gather(
            _model_call("a", 0.2, inputs=1), _model_call("b", 0.4, inputs=1)
        )
        cost.keep_outputs("a:1", [0.5, 0.75, 1.0])
        cost.keep_outputs("nobody:1", [0.1])  # no call in this run: no record to hold it
    by_model = {usage.model: usage for usage in run.models}
    assert sorted(by_model) == ["a:1", "b:1"]
    assert by_model["a:1"].cpu_seconds == pytest.approx(burnt_a, rel=0.2)
    assert by_model["b:1"].cpu_seconds == pytest.approx(burnt_b, rel=0.2)
    assert sum(u.cpu_seconds for u in run.models) <= run.cost["cpu_seconds"] + 1e-9
    assert by_model["a:1"].mean_confidence == pytest.approx(0.75)
    assert by_model["b:1"].mean_confidence is None


async def test_outside_a_stage_a_model_use_books_nothing() -> None:
    await _model_call("reader", 0.01, inputs=1, gpu_s=0.5)  # no error, nobody charged
    with ts.stage_run("ocr", job_id="j", asset_id="a", prices=PRICES) as run:
        pass
    assert run.models == []
    assert run.cost["gpu_seconds"] == 0.0


def test_runs_accumulate_on_the_row_and_sum_per_model_across_stages() -> None:
    first = ModelUsage("whisper:1", "transcribe", "audio_seconds", calls=1, inputs=6.0, cpu_seconds=2.0)
    kept = ModelUsage(
        "whisper:1",
        "transcribe",
        "audio_seconds",
        calls=1,
        inputs=6.0,
        cpu_seconds=1.5,
        confidence_sum=4.0,
        confidence_weight=5.0,
    )
    # A failed attempt, then the kept run: resources of both, the quality of the kept one.
    row = accumulated(accumulated([], [first.unkept()]), [kept])
    assert row == [
        {
            "model": "whisper:1",
            "task": "transcribe",
            "calls": 2,
            "inputs": 12.0,
            "input_unit": "audio_seconds",
            "wall_seconds": 0.0,
            "cpu_seconds": 3.5,
            "gpu_seconds": 0.0,
            "mean_confidence": 0.8,
            "confidence_weight": 5.0,
        }
    ]
    labels = {
        **row[0],
        "model": "labels:2",
        "task": "labels",
        "mean_confidence": 0.5,
        "confidence_weight": 1.0,
    }
    total = stored(
        [("transcribe", row), ("detect", [labels]), ("embed", [{**labels, "mean_confidence": None}])]
    )
    assert [(u.model, u.stages, u.calls) for u in total] == [
        ("whisper:1", ("transcribe",), 2),
        ("labels:2", ("detect", "embed"), 4),
    ]
    # The weighted mean over both stages: the embed stage's entry carried no confidence.
    assert total[1].mean_confidence == pytest.approx(0.5)

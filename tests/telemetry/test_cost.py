"""Cost per item: CPU measured around a stage, GPU and storage charged from inside it,
priced, merged into the job, exported per asset kind."""

from __future__ import annotations

import threading
import time

import pytest

from app.core.telemetry import cost
from app.core.telemetry import spans as ts
from app.core.telemetry.metrics import Metrics
from inference import telemetry as inference_telemetry
from tests.telemetry.helpers import sample_value

PRICES = cost.Prices(cpu_second=0.5, gpu_second=2.0, storage_gb=0.25, currency="EUR")


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_price_arithmetic() -> None:
    priced = cost.price({"cpu_seconds": 3.0, "gpu_seconds": 0.5, "stored_bytes": 4_000_000_000}, PRICES)
    assert priced == {
        "cpu_seconds": 3.0,
        "gpu_seconds": 0.5,
        "stored_bytes": 4_000_000_000,
        "cpu_cost": 1.5,
        "gpu_cost": 1.0,
        "storage_cost": 1.0,
        "total": 3.5,
        "currency": "EUR",
    }


def test_track_measures_cpu_of_the_stage() -> None:
    with cost.track(PRICES) as meter:
        _burn(0.3)
    # Process CPU includes this thread's 0.3 s plus whatever else ran meanwhile.
    assert 0.28 <= meter.cpu_seconds < 0.6
    assert meter.as_dict()["cpu_cost"] == pytest.approx(meter.cpu_seconds * 0.5)


def test_concurrent_stages_share_cpu_fairly() -> None:
    meters: list[cost.CostMeter] = []

    def stage() -> None:
        with cost.track(PRICES) as meter:
            _burn(0.2)
        meters.append(meter)

    before = time.process_time()
    threads = [threading.Thread(target=stage) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = time.process_time() - before
    total = sum(m.cpu_seconds for m in meters)
    # Nothing is counted twice, and each stage gets a share of the 0.4 s burnt.
    assert 0.38 <= total <= spent + 1e-6
    assert all(m.cpu_seconds >= 0.1 for m in meters)


def test_gpu_and_storage_are_charged_to_the_running_stage(metrics: Metrics) -> None:
    # The metrics fixture connects the inference library's GPU time to the stage's meter, as
    # configure_telemetry does.
    cost.add_stored_bytes(10**9)  # outside a stage: charged to nobody
    with ts.stage_run("embed", job_id="j", asset_id="a", asset_kind="image", prices=PRICES) as run:
        with inference_telemetry.model_call("clip", "1", "triton", batch_size=8) as call:
            call.gpu_seconds = 0.25
        with inference_telemetry.model_call("clip", "1", "triton", batch_size=8) as call:
            call.gpu_seconds = 0.5
        cost.add_stored_bytes(2_000_000)
    assert run.cost["gpu_seconds"] == pytest.approx(0.75)
    assert run.cost["stored_bytes"] == 2_000_000
    assert run.cost["gpu_cost"] == pytest.approx(1.5)
    assert run.cost["total"] == pytest.approx(run.cost["cpu_cost"] + 1.5 + 2_000_000 / 1e9 * 0.25)


def test_job_cost_accumulates_and_is_exported_per_kind(metrics: Metrics) -> None:
    job_cost: dict[str, object] = {}
    for stage_cost in (
        {"cpu_seconds": 2.0, "gpu_seconds": 0.0, "stored_bytes": 1_000_000},
        {"cpu_seconds": 1.0, "gpu_seconds": 1.5, "stored_bytes": 0},
    ):
        job_cost = cost.merge(job_cost, stage_cost, PRICES)
    assert job_cost["cpu_seconds"] == 3.0
    assert job_cost["gpu_seconds"] == 1.5
    assert job_cost["total"] == pytest.approx(1.5 + 3.0 + 0.001 * 0.25)

    cost.record_item_cost("video", job_cost)
    kind = {"mediakg_asset_kind": "video"}
    assert sample_value(metrics, "mediakg_item_cost_count", mediakg_cost_currency="EUR", **kind) == 1.0
    assert sample_value(metrics, "mediakg_item_cost_sum", **kind) == pytest.approx(job_cost["total"])
    assert sample_value(metrics, "mediakg_item_cpu_time_seconds_total", **kind) == 3.0
    assert sample_value(metrics, "mediakg_item_gpu_time_seconds_total", **kind) == 1.5
    assert sample_value(metrics, "mediakg_item_stored_size_bytes_total", **kind) == 1_000_000


def test_a_model_call_books_no_gpu_time_unless_the_service_connected_it() -> None:
    # Booking is explicit: the library reports GPU time to its listeners, nothing else.
    with ts.stage_run("embed", job_id="j", asset_id="a", prices=PRICES) as run:
        with inference_telemetry.model_call("clip", "1", "triton", batch_size=1) as call:
            call.gpu_seconds = 0.5
    assert run.cost["gpu_seconds"] == 0.0

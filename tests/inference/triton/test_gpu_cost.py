"""GPU time of Triton calls: the server's compute seconds of each request are charged to the
running stage's cost when the model runs on GPU instances, and nothing when it runs on CPU.

This machine has no GPU, so the GPU case fakes one thing only: the ``instance_group`` kind in
the model config the server returns. Everything else (the calls, the compute seconds the
server reports, the stage's cost meter) is real. How the server splits a merged batch's time
between its requests is also tested on its own, without a server (hence the marks per test).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from app.core.telemetry import cost
from app.core.telemetry import spans as ts
from inference.backend import strings
from inference.registry import MINILM_INT8, RAPIDOCR, ModelSpec, Tensors
from inference.triton.client import TritonBackend, TritonConfig
from inference.triton.launcher import TritonServer
from inference.triton.model_repository import triton_model_name
from inference.triton.python_backend import compute_tensor, request_seconds
from tests.fixtures.media import text_image
from tests.inference.triton.conftest import CALL_TIMEOUT_S

# The service books a call's GPU time to the running stage (the fixture connects the two).
pytestmark = pytest.mark.usefixtures("metrics")

PRICES = cost.Prices(cpu_second=0.0, gpu_second=2.0, storage_gb=0.0, currency="EUR")


def _backend(server: TritonServer) -> TritonBackend:
    return TritonBackend(
        TritonConfig(url=f"grpc://{server.grpc_url}", timeout_s=CALL_TIMEOUT_S, warmup=False)
    )


@pytest.fixture
async def cpu_backend(triton_server: TritonServer) -> AsyncIterator[TritonBackend]:
    backend = _backend(triton_server)
    await backend.start([RAPIDOCR, MINILM_INT8])
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture
async def gpu_backend(
    triton_server: TritonServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TritonBackend]:
    """The real server, with model configs that report KIND_GPU instances."""
    backend = _backend(triton_server)
    client = backend.client
    real_config = client.config

    async def gpu_config(name: str, deadline_s: float) -> dict[str, Any]:
        config = await real_config(name, deadline_s)
        for group in config["instance_group"]:
            assert group["kind"] == "KIND_CPU"  # what the real server says
            group["kind"] = "KIND_GPU"
        return config

    monkeypatch.setattr(client, "config", gpu_config)
    await backend.start([RAPIDOCR, MINILM_INT8])
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.mark.triton
@pytest.mark.models
@pytest.mark.slow
async def test_a_cpu_model_charges_no_gpu_time(cpu_backend: TritonBackend) -> None:
    assert cpu_backend.on_gpu == {RAPIDOCR.key: False, MINILM_INT8.key: False}
    with ts.stage_run("ocr", job_id="j", asset_id="a", asset_kind="image", prices=PRICES) as run:
        out = await cpu_backend.infer(RAPIDOCR, {"image": text_image("Total 318")})
    assert out["text"].tolist() == ["Total 318"]
    assert run.cost["gpu_seconds"] == 0.0
    assert run.cost["gpu_cost"] == 0.0
    # The server did report its compute time; it is just not GPU time.
    assert cpu_backend.stats[RAPIDOCR.key].compute_seconds > 0


@pytest.mark.triton
@pytest.mark.models
@pytest.mark.slow
async def test_a_gpu_model_charges_the_servers_compute_time(gpu_backend: TritonBackend) -> None:
    assert gpu_backend.on_gpu == {RAPIDOCR.key: True, MINILM_INT8.key: True}
    assert RAPIDOCR.key not in gpu_backend.stats  # a fresh backend, no warm-up: no calls yet
    with ts.stage_run("ocr", job_id="j", asset_id="a", asset_kind="image", prices=PRICES) as run:
        started = time.perf_counter()
        for line in ("Invoice 2024", "Total 318"):
            await gpu_backend.infer(RAPIDOCR, {"image": text_image(line)})
        wall = time.perf_counter() - started
    charged = gpu_backend.stats[RAPIDOCR.key].compute_seconds
    assert run.cost["gpu_seconds"] > 0
    assert run.cost["gpu_seconds"] == pytest.approx(charged, rel=1e-6)
    # Execution time only: less than the calls' wall time (which adds transfer and queueing).
    assert run.cost["gpu_seconds"] < wall
    assert run.cost["gpu_cost"] == pytest.approx(run.cost["gpu_seconds"] * 2.0)


def test_a_merged_batch_is_split_between_its_requests_by_items() -> None:
    assert request_seconds(0.9, [1, 2, 6]) == pytest.approx([0.1, 0.2, 0.6])
    assert request_seconds(0.3, [4]) == pytest.approx([0.3])
    assert sum(request_seconds(0.25, [3, 5, 1, 7])) == pytest.approx(0.25)


def test_a_batched_response_reports_its_share_per_item() -> None:
    outputs: Tensors = {MINILM_INT8.outputs[0].name: np.zeros((4, 384), dtype=np.float32)}
    tensor = compute_tensor(MINILM_INT8, outputs, 0.2)
    assert tensor.shape == (4, 1)  # one row per item, as the output's batch dim
    np.testing.assert_allclose(tensor, 0.05)
    # The client sums the rows: the request is charged exactly its share.
    assert float(np.sum(tensor, dtype=np.float64)) == pytest.approx(0.2)


def test_a_one_item_response_reports_its_execution_time() -> None:
    outputs: Tensors = {t.name: np.zeros(0) for t in RAPIDOCR.outputs}
    tensor = compute_tensor(RAPIDOCR, outputs, 0.125)
    assert tensor.shape == (1, 1)  # wrapped in the leading batch dim of 1 like every output
    assert float(tensor[0, 0]) == 0.125


async def _executions(backend: TritonBackend, spec: ModelSpec) -> dict[int, tuple[int, int]]:
    """Executions per batch size as (count, compute_infer ns), once they stop changing: the
    server records an execution just after its responses are sent."""

    async def read() -> dict[int, tuple[int, int]]:
        stats = await backend.client.statistics(triton_model_name(spec), 5.0)
        sizes: dict[int, tuple[int, int]] = {}
        for model in stats.get("model_stats", []):
            for entry in model.get("batch_stats", []):
                infer = entry.get("compute_infer") or {}
                sizes[int(entry["batch_size"])] = (int(infer.get("count", 0)), int(infer.get("ns", 0)))
        return sizes

    last = await read()
    for _ in range(40):
        await asyncio.sleep(0.05)
        current = await read()
        if current == last:
            break
        last = current
    return last


@pytest.mark.triton
@pytest.mark.models
@pytest.mark.slow
async def test_batched_requests_share_the_batchs_gpu_time(gpu_backend: TritonBackend) -> None:
    texts = [f"caption {i} of the evening news" for i in range(32)]
    before = await _executions(gpu_backend, MINILM_INT8)
    with ts.stage_run("embed", job_id="j", asset_id="a", asset_kind="image", prices=PRICES) as run:
        started = time.perf_counter()
        await asyncio.gather(*(gpu_backend.infer(MINILM_INT8, {"text": strings([t])}) for t in texts))
        wall = time.perf_counter() - started
    after = await _executions(gpu_backend, MINILM_INT8)
    ran = {
        size: (count - before.get(size, (0, 0))[0], ns - before.get(size, (0, 0))[1])
        for size, (count, ns) in after.items()
        if count > before.get(size, (0, 0))[0]
    }
    assert sum(size * count for size, (count, _) in ran.items()) == len(texts)
    assert max(ran) > 1, f"no request was batched: {ran}"
    server_seconds = sum(ns for _, ns in ran.values()) / 1e9
    charged = run.cost["gpu_seconds"]
    assert charged == pytest.approx(gpu_backend.stats[MINILM_INT8.key].compute_seconds, rel=1e-6)
    # The requests of a batch share its runner time: together they are charged at most the
    # server's execution time (which adds the stub's overhead to the runner's). Charging each
    # request the whole batch's time would charge up to the batch size times more.
    assert 0 < charged <= server_seconds
    assert charged < wall

"""GPU time of Triton calls: the server's compute seconds of each request are charged to the
running stage's cost when the model runs on GPU instances, and nothing when it runs on CPU.

This machine has no GPU, so the GPU case fakes one thing only: the ``instance_group`` kind in
the model config the server returns. Everything else (the calls, the compute seconds the
server reports, the stage's cost meter) is real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.telemetry import cost
from app.telemetry import spans as ts
from inference.backend import strings
from inference.registry import MINILM_INT8, RAPIDOCR
from inference.triton import TritonBackend, TritonConfig
from inference.triton_server import TritonServer
from tests.fixtures.media import text_image
from tests.inference.triton.conftest import CALL_TIMEOUT_S

pytestmark = [pytest.mark.triton, pytest.mark.models, pytest.mark.slow]

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


async def test_a_cpu_model_charges_no_gpu_time(cpu_backend: TritonBackend) -> None:
    assert cpu_backend.on_gpu == {RAPIDOCR.key: False, MINILM_INT8.key: False}
    with ts.stage_run("ocr", job_id="j", asset_id="a", asset_kind="image", prices=PRICES) as run:
        out = await cpu_backend.infer(RAPIDOCR, {"image": text_image("Total 318")})
    assert out["text"].tolist() == ["Total 318"]
    assert run.cost["gpu_seconds"] == 0.0
    assert run.cost["gpu_cost"] == 0.0
    # The server did report its compute time; it is just not GPU time.
    assert cpu_backend.stats[RAPIDOCR.key].compute_seconds > 0


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


async def test_batched_requests_share_the_batchs_gpu_time(gpu_backend: TritonBackend) -> None:
    texts = [f"caption {i} of the evening news" for i in range(32)]
    with ts.stage_run("embed", job_id="j", asset_id="a", asset_kind="image", prices=PRICES) as run:
        started = time.perf_counter()
        await asyncio.gather(*(gpu_backend.infer(MINILM_INT8, {"text": strings([t])}) for t in texts))
        wall = time.perf_counter() - started
    # One instance runs the batches one after another, so their compute seconds add up to less
    # than the wall time; charging each request its call's duration would charge ~batch-size
    # times that.
    assert 0 < run.cost["gpu_seconds"] < wall

"""The Triton families of /metrics against a real Triton: model calls through the Triton
backend are measured (backend "triton"), and the scraper re-exports Triton's own view
(reachable, CPU, per-model compute time and server-side batch size).

GPU families (``hw_gpu_*``) appear only when Triton sees a GPU; on a CPU-only machine Triton
exports no GPU metrics and the scraper exports none either (asserted below either way).
``mediakg_triton_pending_requests`` is exported but is non-zero only while requests wait at
the moment of a scrape, which this test cannot arrange deterministically.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.telemetry import metrics as telemetry_metrics
from app.telemetry.triton_scrape import TritonScraper
from inference.registry import MINILM_FP32
from inference.triton import TritonBackend, warmup_inputs
from inference.triton_repo import triton_model_name
from inference.triton_server import TritonServer

pytestmark = [pytest.mark.triton, pytest.mark.models, pytest.mark.slow]

CALLS = 8


@pytest.fixture
def metrics() -> Iterator[telemetry_metrics.Metrics]:
    """Fresh process metrics for the test."""
    fresh = telemetry_metrics.Metrics.create(process_collectors=False, shutdown_on_exit=False)
    previous = telemetry_metrics.use_metrics(fresh)
    try:
        yield fresh
    finally:
        telemetry_metrics.use_metrics(previous)
        fresh.shutdown()


async def test_triton_calls_and_triton_metrics_reach_metrics(
    triton_server: TritonServer, triton_grpc: TritonBackend, metrics: telemetry_metrics.Metrics
) -> None:
    scraper = TritonScraper(triton_server.metrics_url)
    # Interval gauges (compute time, batch size) are differences between two scrapes.
    assert await asyncio.to_thread(scraper.scrape_once) is not None
    inputs = warmup_inputs(MINILM_FP32)
    await asyncio.gather(*(triton_grpc.infer(MINILM_FP32, inputs) for _ in range(CALLS)))
    assert await asyncio.to_thread(scraper.scrape_once) is not None

    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}

    def values(family: str, suffix: str = "", **labels: str) -> list[float]:
        return [
            s.value
            for s in families[family].samples
            if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    model = {"mediakg_model_name": MINILM_FP32.name, "mediakg_model_version": MINILM_FP32.version}
    assert values(
        "mediakg_model_call_duration_seconds", "_count", mediakg_model_backend="triton", **model
    ) == [float(CALLS)]
    assert values("mediakg_model_batch_size", "_sum", mediakg_model_backend="triton", **model) == [
        float(CALLS)
    ]
    assert values("mediakg_triton_up") == [1.0]
    assert values("mediakg_triton_cpu_utilization")[0] >= 0.0
    # Triton labels its metrics by its own model name (the registry key, ':' replaced).
    served = {"mediakg_model_name": triton_model_name(MINILM_FP32), "mediakg_model_version": "1"}
    (compute,) = values("mediakg_triton_compute_time_seconds", **served)
    (batch,) = values("mediakg_triton_batch_size", **served)
    assert compute > 0
    assert 1.0 <= batch <= CALLS  # dynamic batching may have merged the concurrent calls
    gpu_families = [name for name in families if name.startswith("hw_gpu_")]
    if scraper.gpu_count == 0:
        assert all(not families[name].samples for name in gpu_families)
    else:
        assert all(v >= 0 for v in values("hw_gpu_memory_limit_bytes"))

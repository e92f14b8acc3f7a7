"""The Triton families of /metrics against a real Triton: model calls through the Triton
backend are measured (backend "triton"), and the scraper re-exports Triton's own view under
the registry's model names and versions, like every other model metric.

Under concurrent load every ``mediakg_triton_*`` family must carry a non-zero sample: the
service-level end-to-end test (tests/test_metrics_e2e.py) runs with Triton down, so this is
where those families are shown to work. Pending requests are instantaneous: the scraper polls
while 16 requests queue for the single instance of the Haar face model (seconds of work on a
2-core machine; the test saw 13 waiting at once).

GPU families (``hw_gpu_*``) appear only when Triton sees a GPU; on a CPU-only machine Triton
exports no GPU metrics and the scraper exports none either (asserted below either way).
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.core.telemetry import metrics as telemetry_metrics
from inference.registry import HAAR_FACES, MINILM_FP32, ModelSpec
from inference.triton.client import TritonBackend, warmup_inputs
from inference.triton.launcher import TritonServer
from inference.triton.metrics_scrape import TritonScraper
from inference.triton.model_repository import triton_model_name
from tests.deploy.promql import render_every_instrument
from tests.fixtures.media import photo

pytestmark = [pytest.mark.triton, pytest.mark.models, pytest.mark.slow]

CALLS = 16


def _labels(spec: ModelSpec) -> dict[str, str]:
    return {"mediakg_model_name": spec.name, "mediakg_model_version": spec.version}


def _values(text: str, family: str, suffix: str = "", **labels: str) -> list[float]:
    return [
        s.value
        for f in text_string_to_metric_families(text)
        if f.name == family
        for s in f.samples
        if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    ]


async def test_triton_families_under_load_carry_registry_labels(
    triton_server: TritonServer, triton_grpc: TritonBackend, metrics: telemetry_metrics.Metrics
) -> None:
    scraper = TritonScraper(triton_server.metrics_url)
    # Interval gauges (queue, compute time, batch size) are differences between two scrapes.
    assert await asyncio.to_thread(scraper.scrape_once) is not None

    text_inputs = warmup_inputs(MINILM_FP32)
    image_inputs = {"image": photo("astronaut")}
    done = asyncio.Event()

    async def load() -> None:
        try:
            await asyncio.gather(
                *(triton_grpc.infer(MINILM_FP32, text_inputs) for _ in range(CALLS)),
                *(triton_grpc.infer(HAAR_FACES, image_inputs) for _ in range(CALLS)),
            )
        finally:
            done.set()

    async def highest_pending() -> float:
        """The largest exported pending-requests value of the face model while the load runs."""
        highest = 0.0
        while not done.is_set():
            await asyncio.to_thread(scraper.scrape_once)
            text = metrics.render().decode()
            highest = max([highest, *_values(text, "mediakg_triton_pending_requests", **_labels(HAAR_FACES))])
            await asyncio.sleep(0.01)
        return highest

    _, pending = await asyncio.gather(load(), highest_pending())
    assert await asyncio.to_thread(scraper.scrape_once) is not None
    text = metrics.render().decode()

    # The client side: every call measured, on the Triton backend, under registry labels.
    for spec in (MINILM_FP32, HAAR_FACES):
        calls = _values(
            text,
            "mediakg_model_call_duration_seconds",
            "_count",
            mediakg_model_backend="triton",
            **_labels(spec),
        )
        assert calls == [float(CALLS)], spec.key

    # Triton's side, under the same labels.
    assert _values(text, "mediakg_triton_up") == [1.0]
    (cpu,) = _values(text, "mediakg_triton_cpu_utilization")
    assert 0.0 < cpu <= 1.0  # Triton reads the host's /proc/stat; this machine is never idle
    assert pending >= 1.0  # requests waited for the face model's single instance
    for spec in (MINILM_FP32, HAAR_FACES):
        (queue,) = _values(text, "mediakg_triton_queue_time_seconds", **_labels(spec))
        (compute,) = _values(text, "mediakg_triton_compute_time_seconds", **_labels(spec))
        (batch,) = _values(text, "mediakg_triton_batch_size", **_labels(spec))
        assert queue > 0, spec.key
        assert compute > 0, spec.key
        # Triton may hand several queued requests to one execution (the python backend's
        # execute takes a list), so the mean is anywhere from 1 to all of them.
        assert 1.0 <= batch <= CALLS, spec.key

    # No sample anywhere carries Triton's own model names or its integer version.
    triton_names = {triton_model_name(spec) for spec in (MINILM_FP32, HAAR_FACES)}
    model_samples = [
        s
        for f in text_string_to_metric_families(text)
        if f.name.startswith("mediakg_triton_")
        for s in f.samples
        if "mediakg_model_name" in s.labels
    ]
    assert model_samples
    assert not [s for s in model_samples if s.labels["mediakg_model_name"] in triton_names]
    assert not [s for s in model_samples if s.labels["mediakg_model_version"] == "1"]

    # Every mediakg_triton_* family the service defines had a non-zero sample in this test.
    triton_families = {f for f in render_every_instrument().families if f.startswith("mediakg_triton_")}
    nonzero = {
        f.name for f in text_string_to_metric_families(text) if any(s.value > 0 for s in f.samples)
    } | ({"mediakg_triton_pending_requests"} if pending > 0 else set())
    assert triton_families - nonzero == set()

    families = {f.name: f for f in text_string_to_metric_families(text)}
    gpu_families = [name for name in families if name.startswith("hw_gpu_")]
    if scraper.gpu_count == 0:
        assert all(not families[name].samples for name in gpu_families)
    else:
        assert all(v > 0 for v in _values(text, "hw_gpu_memory_limit_bytes"))

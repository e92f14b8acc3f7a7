"""The record_* calls and the inference library's OpenTelemetry-API instruments, rendered to
Prometheus text and parsed back; the /metrics endpoint on a Starlette app and the worker's
metrics server, both over real HTTP."""

from __future__ import annotations

import urllib.request

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route

import inference.telemetry as it
from app.core.telemetry import exposition, instruments
from app.core.telemetry import metrics as tm
from app.core.telemetry.metrics import Metrics, QueueStat, StageRunOutcome
from tests.telemetry.helpers import sample_value, samples


def test_stage_runs_failures_and_attempts(metrics: Metrics) -> None:
    tm.record_stage(
        "transcribe", status=StageRunOutcome.RETRYING, duration_s=2.0, attempt=1, error_code="timeout"
    )
    tm.record_stage(
        "transcribe", status=StageRunOutcome.RETRYING, duration_s=3.0, attempt=2, error_code="timeout"
    )
    tm.record_stage("transcribe", status="succeeded", duration_s=4.0, attempt=3)

    runs = "mediakg_stage_runs_total"
    assert sample_value(metrics, runs, mediakg_stage_status="retrying", error_type="timeout") == 2.0
    assert sample_value(metrics, runs, mediakg_stage_status="succeeded", error_type="") == 1.0
    # Attempts are observed once per finished stage, not once per retry.
    assert sample_value(metrics, "mediakg_stage_attempts_count", mediakg_stage_status="succeeded") == 1.0
    assert sample_value(metrics, "mediakg_stage_attempts_sum", mediakg_stage_status="succeeded") == 3.0
    assert sample_value(metrics, "mediakg_stage_attempts_count", mediakg_stage_status="retrying") is None
    assert sample_value(
        metrics,
        "mediakg_stage_duration_seconds_sum",
        mediakg_stage="transcribe",
        mediakg_stage_status="retrying",
    ) == pytest.approx(5.0)
    assert (
        sample_value(
            metrics, "mediakg_stage_duration_seconds_bucket", mediakg_stage_status="succeeded", le="2.5"
        )
        == 0.0
    )
    assert (
        sample_value(
            metrics, "mediakg_stage_duration_seconds_bucket", mediakg_stage_status="succeeded", le="5.0"
        )
        == 1.0
    )


def test_unknown_stage_status_is_rejected(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="finished"):
        tm.record_stage("probe", status="finished", duration_s=1.0, attempt=1)


def test_model_calls_errors_fallbacks_and_confidences(metrics: Metrics) -> None:
    with it.model_call("minilm", "2", "triton", batch_size=16):
        pass
    with pytest.raises(TimeoutError), it.model_call("minilm", "2", "triton", batch_size=8):
        raise TimeoutError
    it.record_fallback("minilm", "2", "triton", to_backend="local", to_model="minilm", reason="breaker_open")
    it.record_confidences("mobilenet", "1", [0.12, 0.97, 0.98])

    labels = {"mediakg_model_name": "minilm", "mediakg_model_version": "2", "mediakg_model_backend": "triton"}
    count = "mediakg_model_call_duration_seconds_count"
    assert sample_value(metrics, count, error_type="", **labels) == 1.0
    assert sample_value(metrics, count, error_type="TimeoutError", **labels) == 1.0
    assert sample_value(metrics, "mediakg_model_batch_size_sum", **labels) == 24.0
    assert (
        sample_value(metrics, "mediakg_model_fallbacks_total", mediakg_fallback_reason="breaker_open") == 1.0
    )
    confidence = {"mediakg_model_name": "mobilenet", "mediakg_model_version": "1"}
    assert sample_value(metrics, "mediakg_model_confidence_bucket", le="0.15", **confidence) == 1.0
    assert sample_value(metrics, "mediakg_model_confidence_bucket", le="0.95", **confidence) == 1.0
    assert sample_value(metrics, "mediakg_model_confidence_count", **confidence) == 3.0


def test_graphql_operation_label_is_capped(metrics: Metrics) -> None:
    # A client inventing a new operation name per request must not grow the series count
    # without bound: past the cap, new names share one "other" series.
    metrics.operation_names = tm._BoundedLabel(3)
    for i in range(10):
        tm.record_graphql(f"Op{i}", 0.01)
    tm.record_graphql("Op0", 0.01)
    names = {
        s.labels["graphql_operation_name"]
        for s in samples(metrics, "mediakg_graphql_operation_duration_seconds_count")
    }
    assert names == {"Op0", "Op1", "Op2", "other"}
    assert (
        sample_value(
            metrics, "mediakg_graphql_operation_duration_seconds_count", graphql_operation_name="other"
        )
        == 7.0
    )


def test_queue_probe_feeds_the_gauges_and_a_broken_probe_does_not_break_scrapes(metrics: Metrics) -> None:
    depth = {"realtime": 3}

    def probe() -> list[QueueStat]:
        return [QueueStat("realtime", depth["realtime"], oldest_age_s=42.5, dead_letters=2)]

    def broken() -> list[QueueStat]:
        raise ConnectionError("redis down")

    unregister = tm.register_queue_probe(probe)
    tm.register_queue_probe(broken)
    assert sample_value(metrics, "mediakg_queue_depth", messaging_destination_name="realtime") == 3.0
    assert sample_value(metrics, "mediakg_queue_oldest_message_age_seconds") == 42.5
    assert sample_value(metrics, "mediakg_queue_dead_letters") == 2.0

    unregister()
    metrics._queue_cache = (0.0, [])  # skip the 1 s snapshot cache
    assert samples(metrics, "mediakg_queue_depth") == []


def test_db_and_enqueue(metrics: Metrics) -> None:
    # Search metrics are the search library's own: tests/search/test_telemetry.py.
    tm.record_db_operation("postgresql", "SELECT", 0.002)
    tm.record_enqueue("batch", system="redis")
    tm.record_enqueue("batch", system="redis")

    assert (
        sample_value(metrics, "db_client_operation_duration_seconds_count", db_operation_name="SELECT") == 1.0
    )
    assert (
        sample_value(metrics, "messaging_client_sent_messages_total", messaging_destination_name="batch")
        == 2.0
    )


async def test_metrics_endpoint_serves_prometheus_text(metrics: Metrics) -> None:
    tm.record_stage("probe", status="succeeded", duration_s=0.2, attempt=1)
    app = Starlette(routes=[Route("/metrics", exposition.metrics_endpoint)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["mediakg_stage_runs"].type == "counter"
    assert families["mediakg_stage_duration_seconds"].type == "histogram"
    # The resource travels as target_info, so Prometheus can join service.version.
    assert families["target_info"].samples[0].labels["service_name"] == "mediakg"


def test_worker_metrics_server_on_loopback(metrics: Metrics) -> None:
    with it.model_call("whisper", "tiny.en", "local", batch_size=1):
        pass
    server = exposition.start_metrics_server("127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.stop()
    found = [
        s
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "mediakg_model_call_duration_seconds_count"
    ]
    assert [(s.labels["mediakg_model_name"], s.value) for s in found] == [("whisper", 1.0)]


def test_every_instrument_is_documented() -> None:
    # docs/observability.md is the operator's reference: a metric missing there is one
    # nobody will find.
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "observability.md").read_text(encoding="utf-8")
    missing = [spec.name for spec in instruments.INSTRUMENTS if f"`{spec.name}`" not in doc]
    assert missing == []

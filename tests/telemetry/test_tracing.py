"""Trace context across a message, the span helpers the layers use, and the OTLP exporter
against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.core.settings import Settings
from app.core.telemetry import cost, tracing
from app.core.telemetry import spans as ts
from app.core.telemetry.metrics import Metrics
from inference import telemetry as inference_telemetry
from search import telemetry as search_telemetry
from search.query import SearchQuery
from tests.telemetry.helpers import sample_value


class PermanentError(Exception):
    code = "unsupported_media"


def test_context_travels_in_message_options(spans: InMemorySpanExporter) -> None:
    with tracing.tracer().start_as_current_span("ingest request") as request_span:
        carrier = tracing.inject_context()
    assert carrier["traceparent"].split("-")[1] == f"{request_span.get_span_context().trace_id:032x}"

    # Later, in another thread (a worker), with no ambient context:
    result: dict[str, object] = {}

    def worker() -> None:
        with tracing.attached_context(carrier), tracing.tracer().start_as_current_span("stage"):
            result["ids"] = tracing.current_ids()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    finished = {s.name: s for s in spans.get_finished_spans()}
    stage = finished["stage"]
    assert stage.parent is not None
    assert stage.parent.span_id == request_span.get_span_context().span_id
    assert stage.context is not None
    assert result["ids"] == (f"{stage.context.trace_id:032x}", f"{stage.context.span_id:016x}")


def test_empty_carrier_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with tracing.attached_context({}), tracing.tracer().start_as_current_span("orphan"):
        pass
    assert spans.get_finished_spans()[0].parent is None
    assert tracing.current_ids() == (None, None)


def test_enqueue_stage_model_and_search_form_one_trace(spans: InMemorySpanExporter, metrics: Metrics) -> None:
    with (
        tracing.tracer().start_as_current_span("mutation IngestAsset"),
        ts.enqueue("media.probe", queue="realtime", system="memory") as carrier,
    ):
        pass
    # The stage runs elsewhere: only the carrier links it to the request.
    with ts.stage_run(
        "embed",
        job_id="j1",
        asset_id="a1",
        asset_kind="video",
        attempt=1,
        carrier=carrier,
        prices=cost.Prices(1, 1, 1),
    ) as run:
        with inference_telemetry.model_call("minilm", "1", "local", batch_size=4):
            pass
        with search_telemetry.search_request("embedded", SearchQuery(tenant_id="t", text="ferry")) as req:
            req.hits = 3

    finished = {s.name: s for s in spans.get_finished_spans()}
    assert set(finished) == {
        "mutation IngestAsset",
        "send realtime",
        "stage embed",
        "infer minilm",
        "search embedded",
    }
    trace_ids = {s.context.trace_id for s in finished.values() if s.context is not None}
    assert len(trace_ids) == 1

    def parent_of(name: str) -> str:
        parent = finished[name].parent
        assert parent is not None
        return next(
            n for n, s in finished.items() if s.context is not None and s.context.span_id == parent.span_id
        )

    assert parent_of("send realtime") == "mutation IngestAsset"
    assert parent_of("stage embed") == "send realtime"
    assert parent_of("infer minilm") == "stage embed"
    assert parent_of("search embedded") == "stage embed"
    assert finished["send realtime"].kind is SpanKind.PRODUCER
    assert finished["stage embed"].kind is SpanKind.CONSUMER
    model_attrs = dict(finished["infer minilm"].attributes or {})
    assert model_attrs["mediakg.model.name"] == "minilm"
    assert model_attrs["mediakg.model.batch.size"] == 4
    assert finished["search embedded"].attributes is not None
    assert finished["search embedded"].attributes["mediakg.search.hits"] == 3
    assert run.status.value == "succeeded"
    assert (
        sample_value(metrics, "messaging_client_sent_messages_total", messaging_destination_name="realtime")
        == 1.0
    )
    assert sample_value(metrics, "mediakg_stage_runs_total", mediakg_stage="embed") == 1.0


def test_stage_run_failures(spans: InMemorySpanExporter, metrics: Metrics) -> None:
    with pytest.raises(PermanentError), ts.stage_run("probe", job_id="j", asset_id="a", attempt=2):
        raise PermanentError("not a media file")

    def transient_stage() -> None:
        with ts.stage_run("ocr", job_id="j", asset_id="a", attempt=1) as run:
            try:
                raise TimeoutError
            except TimeoutError:
                run.retrying("timeout")  # what the job system does before Dramatiq retries
                raise

    with pytest.raises(TimeoutError):
        transient_stage()

    finished = {s.name: s for s in spans.get_finished_spans()}
    probe = finished["stage probe"]
    assert probe.status.status_code is StatusCode.ERROR
    assert probe.attributes is not None
    assert probe.attributes["error.type"] == "unsupported_media"
    assert [e.name for e in probe.events] == ["exception"]
    runs = "mediakg_stage_runs_total"
    assert (
        sample_value(
            metrics,
            runs,
            mediakg_stage="probe",
            mediakg_stage_status="failed",
            error_type="unsupported_media",
        )
        == 1.0
    )
    assert (
        sample_value(
            metrics, runs, mediakg_stage="ocr", mediakg_stage_status="retrying", error_type="timeout"
        )
        == 1.0
    )
    assert sample_value(metrics, "mediakg_stage_attempts_sum", mediakg_stage="probe") == 2.0


def test_model_call_error_is_counted_and_marked(spans: InMemorySpanExporter, metrics: Metrics) -> None:
    with (
        pytest.raises(ConnectionError),
        inference_telemetry.model_call("whisper", "base", "triton", batch_size=1),
    ):
        raise ConnectionError("unavailable")
    span = spans.get_finished_spans()[0]
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.ERROR
    assert (
        sample_value(
            metrics,
            "mediakg_model_call_duration_seconds_count",
            mediakg_model_name="whisper",
            error_type="ConnectionError",
        )
        == 1.0
    )


class _OtlpReceiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # silence the stdlib access log
        return


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A collector stand-in on a free loopback port that keeps every OTLP request."""
    received: list[tuple[str, bytes]] = []
    handler = type("Receiver", (_OtlpReceiver,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_otlp_exporter_ships_spans(
    otlp_receiver: tuple[str, list[tuple[str, bytes]]], tmp_path: Path
) -> None:
    url, received = otlp_receiver
    settings = Settings(data_dir=tmp_path, telemetry_url=url, telemetry_service_name="mediakg-test")
    try:
        tracing.configure_tracing(settings, role="worker")
        tracing.configure_tracing(settings, role="worker")  # idempotent: one exporter, not two
        with tracing.tracer().start_as_current_span("exported"):
            pass
    finally:
        tracing.shutdown_tracing()  # flushes the batch processor
    assert [path for path, _ in received] == ["/v1/traces"]
    request = ExportTraceServiceRequest()
    request.ParseFromString(received[0][1])
    names = [span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert names == ["exported"]


def test_console_exporter_prints_spans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path, telemetry_console=True)
    try:
        tracing.configure_tracing(settings, role="cli")
        with tracing.tracer().start_as_current_span("printed"):
            pass
    finally:
        tracing.shutdown_tracing()
    assert '"name": "printed"' in capsys.readouterr().out


def test_adopts_a_provider_someone_else_made_global() -> None:
    # The global provider can be set once per process; if another component got there
    # first, its spans must still reach our exporters. A fresh interpreter, since this
    # process's provider is already set.
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "from app.core.telemetry.tracing import capture_spans, tracer\n"
        "with capture_spans() as exp:\n"
        "    with tracer().start_as_current_span('ours'):\n"
        "        with trace.get_tracer('x').start_as_current_span('theirs'):\n"
        "            pass\n"
        "print(sorted(s.name for s in exp.get_finished_spans()))\n"
    )
    cmd = [sys.executable, "-c", code]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "['ours', 'theirs']"

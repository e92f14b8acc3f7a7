"""Scraping Triton's metrics endpoint.

The peer is faked here: a real HTTP server on 127.0.0.1 serves text in the format Triton
2.x exposes (families and labels as in Triton's metrics documentation). The check against a
real tritonserver belongs with the Triton fixture of the inference tests.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from app.core.telemetry.metrics import Metrics
from inference.triton.metrics_scrape import (
    TritonScraper,
    interval_stats,
    parse_triton_metrics,
    registry_model_names,
    resolve_metrics_url,
)
from tests.telemetry.helpers import sample_value

GPU = "GPU-7c2b6d1e-93f1-4bd0-8d2a-5e3f3c0e9a11"
# The Triton model name of the registry's all-MiniLM-L6-v2:fp32-1 (inference/model_repository).
SERVED = "all-MiniLM-L6-v2__fp32-1"
REGISTRY_LABELS = {"mediakg_model_name": "all-MiniLM-L6-v2", "mediakg_model_version": "fp32-1"}


def triton_text(
    success: int, infer: int, execs: int, queue_us: int, compute_us: int, pending: int, served: str = SERVED
) -> str:
    """Metrics text shaped like Triton's: counters without a _total suffix, per-model labels."""
    # HELP texts shortened; families, types and labels as Triton 2.x exposes them.
    model = f'model="{served}",version="1"'
    return f"""\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{{{model}}} {success}
# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{{{model},reason="OTHER"}} 0
# HELP nv_inference_count Number of inferences performed (does not include cached requests)
# TYPE nv_inference_count counter
nv_inference_count{{{model}}} {infer}
# HELP nv_inference_exec_count Number of model executions performed (does not include cached requests)
# TYPE nv_inference_exec_count counter
nv_inference_exec_count{{{model}}} {execs}
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{{{model}}} {queue_us}
# HELP nv_inference_compute_infer_duration_us Cumulative compute inference duration in microseconds
# TYPE nv_inference_compute_infer_duration_us counter
nv_inference_compute_infer_duration_us{{{model}}} {compute_us}
# HELP nv_inference_pending_request_count Instantaneous number of pending requests
# TYPE nv_inference_pending_request_count gauge
nv_inference_pending_request_count{{{model}}} {pending}
# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{{gpu_uuid="{GPU}"}} 0.73
# HELP nv_gpu_memory_total_bytes GPU total memory, in bytes
# TYPE nv_gpu_memory_total_bytes gauge
nv_gpu_memory_total_bytes{{gpu_uuid="{GPU}"}} 16000000000
# HELP nv_gpu_memory_used_bytes GPU used memory, in bytes
# TYPE nv_gpu_memory_used_bytes gauge
nv_gpu_memory_used_bytes{{gpu_uuid="{GPU}"}} 4000000000
# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]
# TYPE nv_cpu_utilization gauge
nv_cpu_utilization 0.25
"""


@pytest.fixture
def triton_peer() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on a free loopback port serving the next text of ``bodies`` per GET."""
    bodies: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.pop(0).encode() if bodies else b""
            self.send_response(200 if body else 503)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_scrapes_reexport_gpu_and_interval_means(
    triton_peer: tuple[str, list[str]], metrics: Metrics
) -> None:
    url, bodies = triton_peer
    bodies.append(
        triton_text(success=100, infer=400, execs=50, queue_us=200_000, compute_us=1_000_000, pending=0)
    )
    # 15 s later: 40 more requests carrying 160 inferences in 10 executions (batch 16),
    # 0.4 s more queueing (10 ms per request), 0.5 s more compute (50 ms per execution).
    bodies.append(
        triton_text(success=140, infer=560, execs=60, queue_us=600_000, compute_us=1_500_000, pending=3)
    )
    scraper = TritonScraper(url)

    assert scraper.scrape_once() is not None
    assert sample_value(metrics, "mediakg_triton_up") == 1.0
    assert sample_value(metrics, "hw_gpu_utilization", hw_id=GPU) == 0.73
    assert sample_value(metrics, "hw_gpu_memory_usage_bytes", hw_id=GPU) == 4e9
    assert sample_value(metrics, "hw_gpu_memory_limit_bytes", hw_id=GPU) == 16e9
    assert sample_value(metrics, "mediakg_triton_cpu_utilization") == 0.25
    assert sample_value(metrics, "mediakg_triton_queue_time_seconds") is None  # needs two scrapes
    assert scraper.gpu_count == 1

    scraper.scrape_once()
    # Labelled like every other model metric: registry name and version, not Triton's.
    model = REGISTRY_LABELS
    assert sample_value(metrics, "mediakg_triton_pending_requests", mediakg_model_name=SERVED) is None
    assert sample_value(metrics, "mediakg_triton_pending_requests", **model) == 3.0
    assert sample_value(metrics, "mediakg_triton_queue_time_seconds", **model) == pytest.approx(0.01)
    assert sample_value(metrics, "mediakg_triton_compute_time_seconds", **model) == pytest.approx(0.05)
    assert sample_value(metrics, "mediakg_triton_batch_size", **model) == pytest.approx(16.0)

    # Triton answering 503 (not ready, or shutting down): up drops to 0.
    assert scraper.scrape_once() is None
    assert sample_value(metrics, "mediakg_triton_up") == 0.0


def test_unreachable_triton_sets_up_to_zero(metrics: Metrics) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert TritonScraper(f"http://127.0.0.1:{port}/metrics", timeout_s=1).scrape_once() is None
    assert sample_value(metrics, "mediakg_triton_up") == 0.0


def test_background_scraping(triton_peer: tuple[str, list[str]], metrics: Metrics) -> None:
    url, bodies = triton_peer
    bodies.extend([triton_text(success=1, infer=1, execs=1, queue_us=1, compute_us=1, pending=5)] * 3)
    scraper = TritonScraper(url)
    scraper.start(interval_s=0.05)
    try:
        for _ in range(100):
            if scraper.last is not None:
                break
            threading.Event().wait(0.02)
    finally:
        scraper.stop()
    assert scraper.last is not None
    assert sample_value(metrics, "mediakg_triton_pending_requests", **REGISTRY_LABELS) == 5.0


def test_triton_model_names_map_to_registry_names() -> None:
    names = registry_model_names()
    assert names[SERVED] == ("all-MiniLM-L6-v2", "fp32-1")
    assert names["whisper-tiny.en__ct2-int8-1"] == ("whisper-tiny.en", "ct2-int8-1")
    assert parse_triton_metrics(triton_text(1, 1, 1, 1, 1, 2), names).pending == {
        ("all-MiniLM-L6-v2", "fp32-1"): 2.0
    }
    # A model the registry does not know keeps Triton's name and version.
    assert parse_triton_metrics(triton_text(1, 1, 1, 1, 1, 4, served="other"), names).pending == {
        ("other", "1"): 4.0
    }


def test_counter_reset_gives_no_interval() -> None:
    key = ("all-MiniLM-L6-v2", "fp32-1")
    names = registry_model_names()
    before = parse_triton_metrics(triton_text(100, 400, 50, 200_000, 1_000_000, 0), names).counters[key]
    after = parse_triton_metrics(triton_text(3, 3, 3, 900, 900, 0), names).counters[key]
    assert interval_stats(before, after) is None  # Triton restarted between the scrapes
    assert interval_stats(before, before) is None  # idle: nothing to average


@pytest.mark.parametrize(
    ("inference_url", "triton_metrics_url", "expected"),
    [
        ("local://", "", None),
        ("grpc://triton.ml.svc:8001", "", "http://triton.ml.svc:8002/metrics"),
        ("http://10.1.2.3:8000", "", "http://10.1.2.3:8002/metrics"),
        ("grpc://triton:8001", "http://metrics-proxy:9000/triton", "http://metrics-proxy:9000/triton"),
    ],
)
def test_metrics_url(inference_url: str, triton_metrics_url: str, expected: str | None) -> None:
    assert resolve_metrics_url(inference_url, triton_metrics_url) == expected


@pytest.mark.parametrize(
    ("inference_url", "expected"),
    [
        # `mediakg triton serve`'s own gRPC or HTTP port: its metrics port, not Triton's 8002.
        ("grpc://127.0.0.1:8101", "http://127.0.0.1:8102/metrics"),
        ("http://127.0.0.1:8100", "http://127.0.0.1:8102/metrics"),
        # Another server (another host or port): Triton's default.
        ("grpc://127.0.0.1:8001", "http://127.0.0.1:8002/metrics"),
        ("grpc://triton:8101", "http://triton:8002/metrics"),
    ],
)
def test_metrics_url_of_the_served_triton(inference_url: str, expected: str) -> None:
    served = ("127.0.0.1", (8100, 8101), 8102)
    assert resolve_metrics_url(inference_url, "", served=served) == expected

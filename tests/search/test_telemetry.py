"""The search library's spans and metrics go through the OpenTelemetry API to whatever SDK the
process configures, with the names, units, buckets and labels dashboards and alerts read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from app.core.telemetry import metrics as telemetry_metrics
from app.core.telemetry.instruments import SPECS
from search import telemetry
from search.query import SearchQuery
from tests.telemetry.helpers import sample_value

ROOT = Path(__file__).resolve().parents[2]

# A process that configures the SDK the way a service does (a global MeterProvider and
# TracerProvider), runs one embedded search that finds a document and one that fails, and
# prints what the SDK collected.
_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import UTC, datetime
    from pathlib import Path

    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from search.backend import GenerationError, GenerationSpec
    from search.documents import AssetDocument, DocType
    from search.embedded import EmbeddedBackend
    from search.query import SearchQuery

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)

    async def main() -> None:
        backend = EmbeddedBackend(Path(sys.argv[1]))
        await backend.create_generation(GenerationSpec(name="g1", vectors={}))
        await backend.upsert([AssetDocument(
            tenant_id="t1", asset_id="a1", version=1, kind="text", title="harbour ferry",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )])
        await backend.search(SearchQuery(tenant_id="t1", text="ferry", scope=DocType.ASSET))
        try:
            await backend.search(SearchQuery(tenant_id="t1", text="ferry", generation="missing"))
        except GenerationError:
            pass
        await backend.aclose()

    asyncio.run(main())
    points = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points[metric.name] = {
                    "scope": scope_metrics.scope.name,
                    "unit": metric.unit,
                    "points": [
                        {"attributes": dict(p.attributes), "count": p.count, "sum": p.sum,
                         "bounds": list(p.explicit_bounds)}
                        for p in metric.data.data_points
                    ],
                }
    finished = [
        {"name": s.name, "kind": s.kind.name, "attributes": dict(s.attributes or {}),
         "status": s.status.status_code.name}
        for s in spans.get_finished_spans()
    ]
    print(json.dumps({"metrics": points, "spans": finished}))
    """
)


def collected(tmp_path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "index.sqlite3")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_an_sdk_the_process_configures_collects_search_spans_and_metrics(tmp_path: Path) -> None:
    got = collected(tmp_path)
    duration = got["metrics"]["mediakg.search.duration"]
    assert (duration["scope"], duration["unit"]) == ("mediakg", "s")
    by_labels = {json.dumps(p["attributes"], sort_keys=True): p for p in duration["points"]}
    assert set(by_labels) == {
        '{"mediakg.search.backend": "embedded"}',
        '{"error.type": "GenerationError", "mediakg.search.backend": "embedded"}',
    }
    assert all(p["count"] == 1 for p in duration["points"])
    assert duration["points"][0]["bounds"] == list(telemetry.DURATION_BUCKETS)
    hits = got["metrics"]["mediakg.search.hits"]
    # A failed search records no hit count.
    assert hits["points"] == [
        {
            "attributes": {"mediakg.search.backend": "embedded"},
            "count": 1,
            "sum": 1,
            "bounds": list(telemetry.HITS_BUCKETS),
        }
    ]
    assert hits["unit"] == "{hit}"

    assert [(s["name"], s["kind"], s["status"]) for s in got["spans"]] == [
        ("index embedded", "INTERNAL", "UNSET"),
        ("search embedded", "INTERNAL", "UNSET"),
        ("search embedded", "INTERNAL", "ERROR"),
    ]
    index, found, failed = got["spans"]
    assert index["attributes"] == {"mediakg.search.backend": "embedded", "mediakg.search.documents": 1}
    assert found["attributes"] == {
        "mediakg.search.backend": "embedded",
        "mediakg.search.mode": "text",
        "mediakg.search.hits": 1,
    }
    assert failed["attributes"]["error.type"] == "GenerationError"


def test_the_instruments_are_the_ones_the_service_documents() -> None:
    # The service's table (app/core/telemetry/instruments.py) renders dashboards and docs; the
    # library makes the instruments: they must agree on everything an exporter shows.
    duration, hits = SPECS[telemetry.DURATION], SPECS[telemetry.HITS]
    assert (duration.unit, duration.description, duration.buckets, duration.attributes) == (
        "s",
        telemetry.DURATION_DESCRIPTION,
        telemetry.DURATION_BUCKETS,
        (telemetry.BACKEND, telemetry.ERROR_TYPE),
    )
    assert (hits.unit, hits.description, hits.buckets, hits.attributes) == (
        "{hit}",
        telemetry.HITS_DESCRIPTION,
        telemetry.HITS_BUCKETS,
        (telemetry.BACKEND,),
    )


def value(m: telemetry_metrics.Metrics, name: str, backend: str, **labels: str) -> float | None:
    return sample_value(m, name, mediakg_search_backend=backend, **labels)


def test_the_service_exports_them_also_after_it_replaces_its_metrics() -> None:
    # The service makes a stand-in the global MeterProvider (app/core/telemetry/library_meters.py)
    # that hands out the meters of its current Metrics, which tests replace per test.
    previous = telemetry_metrics.get_metrics()
    query = SearchQuery(tenant_id="t1", text="ferry")
    try:
        for hits in (3, 4):
            fresh = telemetry_metrics.Metrics.create(process_collectors=False, shutdown_on_exit=False)
            telemetry_metrics.use_metrics(fresh)
            with telemetry.search_request("embedded", query) as request:
                request.hits = hits
            with pytest.raises(TimeoutError), telemetry.search_request("elasticsearch", query):
                raise TimeoutError
            assert value(fresh, "mediakg_search_hits_sum", "embedded") == hits
            assert value(fresh, "mediakg_search_duration_seconds_count", "embedded") == 1.0
            duration = "mediakg_search_duration_seconds_count"
            assert value(fresh, duration, "elasticsearch", error_type="TimeoutError") == 1.0
            assert value(fresh, "mediakg_search_hits_count", "elasticsearch") is None
            fresh.shutdown()
    finally:
        telemetry_metrics.use_metrics(previous)

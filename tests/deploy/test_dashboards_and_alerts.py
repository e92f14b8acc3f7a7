"""deploy/grafana and deploy/prometheus are valid and only name metrics (and labels) that
the service really exports; every alert links a runbook that exists."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.telemetry.instruments import INSTRUMENTS
from tests.deploy.promql import (
    Exported,
    grafana_to_promql,
    metric_names,
    render_every_instrument,
    selector_labels,
)
from tests.fixtures.required import services_required

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "mediakg.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not services_required(),
    reason="promtool not installed (Debian package `prometheus`; scripts/install-system-deps.sh)",
)


@pytest.fixture(scope="module")
def exported() -> Exported:
    return render_every_instrument()


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _recorded(rules: list[dict[str, Any]]) -> set[str]:
    return {rule["record"] for rule in rules if "record" in rule}


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    exprs = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(metric, label): the metric is a reference too
            query = variable["query"]["query"]
            inner = query[query.index("(") + 1 : query.rindex(")")]
            exprs.append((f"${variable['name']}", inner.split(",")[0]))
    return exprs


def test_every_instrument_is_rendered(exported: Exported) -> None:
    ours = {name for name in exported.families if not name.startswith(("process_", "python_", "target"))}
    assert len(ours) == len(INSTRUMENTS)
    # The families Prometheus users expect from the Python client are there too.
    assert {"process_cpu_seconds", "process_resident_memory_bytes"} <= set(exported.families)


def test_dashboard_is_a_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "mediakg-overview"
    assert dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] < grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert ref_ids, panel["title"]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
    # Every question of the observability issue has its row.
    rows = " ".join(panel["title"] for panel in dashboard["panels"] if panel["type"] == "row")
    for topic in ("API", "Queues", "Stages", "Models", "drift", "GPUs", "Cost"):
        assert topic in rows


def test_dashboard_queries_name_exported_metrics_and_labels(
    dashboard: dict[str, Any], exported: Exported, rules: list[dict[str, Any]]
) -> None:
    known = set(exported.labels) | _recorded(rules)
    problems = []
    for title, expr in _dashboard_exprs(dashboard):
        names = metric_names(expr)
        if not names:
            problems.append(f"{title}: no metric in {expr!r}")
        problems += [f"{title}: {name} is not exported" for name in names - known]
        for name, labels in selector_labels(expr).items():
            unknown = labels - exported.labels.get(name, labels)
            problems += [f"{title}: {name} has no label {label}" for label in sorted(unknown)]
    assert problems == []


def test_rules_parse_and_reference_exported_metrics(rules: list[dict[str, Any]], exported: Exported) -> None:
    known = set(exported.labels) | _recorded(rules)
    problems = []
    for rule in rules:
        name = rule.get("alert") or rule["record"]
        names = metric_names(rule["expr"])
        if not names:
            problems.append(f"{name}: no metric in its expression")
        problems += [f"{name}: {metric} is not exported" for metric in names - known]
        for metric, labels in selector_labels(rule["expr"]).items():
            unknown = labels - exported.labels.get(metric, labels)
            problems += [f"{name}: {metric} has no label {label}" for label in sorted(unknown)]
    assert problems == []


def test_every_alert_links_a_runbook_that_answers_the_three_questions(rules: list[dict[str, Any]]) -> None:
    alerts = [rule for rule in rules if "alert" in rule]
    assert {a["alert"] for a in alerts} >= {
        "MediakgQueueGrowing",
        "MediakgDeadLetters",
        "MediakgModelErrorRate",
        "MediakgModelDrift",
        "MediakgApiLatencyBudgetBurnFast",
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}, alert["alert"]
        url = alert["annotations"]["runbook_url"]
        assert url.startswith("docs/runbooks/"), alert["alert"]
        assert url.endswith(".md"), alert["alert"]
        text = (ROOT / url).read_text(encoding="utf-8")
        for heading in ("## What it means", "## How to confirm", "## What to do"):
            assert heading in text, f"{url} lacks {heading!r}"
        assert alert["alert"] in text, f"{url} does not name {alert['alert']}"


def test_metric_name_extraction() -> None:
    # The checker itself: it must see through functions, groupings, matchers and durations.
    expr = (
        "histogram_quantile(0.95, sum by (le, mediakg_stage)"
        ' (rate(a_bucket{le="0.5",x=~"$q"}[$__rate_interval])))'
        " / on (mediakg_stage) group_left b_total offset 5m > 1e-3 and c:recorded"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:recorded"}
    assert selector_labels(expr) == {"a_bucket": {"le", "x"}}
    assert metric_names("max(mediakg_triton_up) == 0") == {"mediakg_triton_up"}


def _promtool(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


@needs_promtool
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    check = _promtool("check", "rules", str(ALERTS))
    assert check.returncode == 0, check.stdout + check.stderr
    # tests/deploy/alerts_test.yaml: each alert fires on its situation, not on the healthy twin.
    unit = _promtool("test", "rules", "alerts_test.yaml", cwd=Path(__file__).parent)
    assert unit.returncode == 0, unit.stdout + unit.stderr


@needs_promtool
def test_promtool_parses_every_dashboard_query(dashboard: dict[str, Any], tmp_path: Path) -> None:
    # promtool has no "parse this expression" command; a recording rule per query is the
    # same parser Prometheus itself runs.
    exprs = [grafana_to_promql(expr) for _, expr in _dashboard_exprs(dashboard)]
    rules = [{"record": f"dashboard:query{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    check = _promtool("check", "rules", str(path))
    assert check.returncode == 0, check.stdout + check.stderr


@needs_promtool
def test_promtool_accepts_the_exposition(exported: Exported) -> None:
    lint = _promtool("check", "metrics", stdin=exported.text)
    assert lint.returncode == 0, lint.stdout + lint.stderr

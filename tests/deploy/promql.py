"""What the service really exports, and which metric names and labels a PromQL expression
refers to: the two halves of the dashboards-and-alerts check."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from app.core.telemetry.instruments import INSTRUMENTS
from app.core.telemetry.metrics import Metrics, QueueStat


@dataclass
class Exported:
    """Sample names (``..._bucket``, ``..._total``...) with the label names each carries."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    families: dict[str, str] = field(default_factory=dict)  # family name -> type
    text: str = ""


def render_every_instrument() -> Exported:
    """Record one sample on every instrument of the table, with every attribute set, render
    /metrics and parse it back: the names come from the exporter, not from our guesses."""
    m = Metrics.create(shutdown_on_exit=False)
    try:
        for spec in INSTRUMENTS:
            attrs = {key: "x" for key in spec.attributes}
            if spec.kind == "counter":
                m.counters[spec.name].add(1, attrs)
            elif spec.kind == "histogram":
                m.histograms[spec.name].record(1.0, attrs)
            elif spec.kind == "gauge":
                m.gauges[spec.name].set(1.0, attrs)
        m.queue_probes.append(lambda: [QueueStat("q", depth=1, oldest_age_s=1.0, dead_letters=1)])
        text = m.render().decode()
    finally:
        m.shutdown()
    exported = Exported(text=text)
    for family in text_string_to_metric_families(text):
        exported.families[family.name] = family.type
        for sample in family.samples:
            exported.labels.setdefault(sample.name, set()).update(sample.labels)
    return exported


_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GRAFANA_VAR = re.compile(r"\$\{?\w+\}?")
# An identifier not preceded by a word character, digit or dot (so "5m", "1e-3", "0.5"
# are not taken for names) and not followed by "(" (a function or aggregation).
_NAME = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"inf", "nan", "Inf", "NaN"}
)
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords, labels and durations excluded)."""
    text = _STRING.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GRAFANA_VAR.sub(" ", text)
    return {name for name in _NAME.findall(text) if name not in _KEYWORDS}


def selector_labels(expr: str) -> dict[str, set[str]]:
    """For each ``metric{...}`` selector, the label names its matchers use."""
    found: dict[str, set[str]] = {}
    for name, body in _SELECTOR.findall(expr):
        found.setdefault(name, set()).update(_MATCHER.findall(body))
    return found


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced by values Prometheus accepts."""
    return (
        expr.replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$queue", ".*")
        .replace("$model", ".*")
    )

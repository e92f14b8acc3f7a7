"""docs/runbooks/*.md and deploy/prometheus/*.yaml name only metrics, labels and label values
the processes export: an operator following a runbook must find what it tells them to look
for (the model-fallback runbook once named a reason, ``breaker_open``, that never occurs)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml

from app.core.telemetry.instruments import FALLBACK_REASON
from app.jobs.service import QUEUES
from inference.fallback import FallbackReason
from tests.deploy.promql import Exported, render_every_instrument

ROOT = Path(__file__).parents[2]
RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
ALERT_FILES = sorted((ROOT / "deploy" / "prometheus").glob("*.yaml"))

# Labels whose values form a closed set in the code, by exported label name.
LABEL_VALUES: dict[str, set[str]] = {
    FALLBACK_REASON.replace(".", "_"): set(typing.get_args(FallbackReason)),
    "messaging_destination_name": set(QUEUES),
}

_NAME = re.compile(r"\bmediakg_[a-z0-9_]+\b")
# `label="value"` (or =~, !=) in a PromQL snippet.
_MATCHER = re.compile(r'\b([a-z_]+)\s*(?:=~|!~|=|!=)\s*"([^"]*)"')
# Prose: "label `name`, e.g. `v1`, `v2`" lists example values.
_EXAMPLES = re.compile(r"`(mediakg_[a-z0-9_]+)`,?\s+e\.g\.\s+((?:`[^`]+`[,\s]*(?:or\s+|and\s+)?)+)")


@pytest.fixture(scope="module")
def exported() -> Exported:
    return render_every_instrument()


def _recorded() -> set[str]:
    names = set()
    for path in ALERT_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8")).get("groups", []):
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def _label_values(text: str) -> list[tuple[str, str]]:
    found = _MATCHER.findall(text)
    for label, values in _EXAMPLES.findall(text):
        found += [(label, value) for value in re.findall(r"`([^`]+)`", values)]
    return found


def test_every_mediakg_name_in_a_runbook_is_exported(exported: Exported) -> None:
    labels = set().union(*exported.labels.values())
    known = set(exported.labels) | set(exported.families) | labels | _recorded()
    problems = [
        f"{path.name}: {name} is neither an exported metric nor a label"
        for path in RUNBOOKS
        for name in sorted(set(_NAME.findall(path.read_text(encoding="utf-8"))))
        if name not in known
    ]
    assert problems == []


def test_label_values_in_runbooks_and_alerts_occur(exported: Exported) -> None:
    labels = set().union(*exported.labels.values())
    assert set(LABEL_VALUES) <= labels  # the table above names real labels
    problems = []
    for path in [*RUNBOOKS, *ALERT_FILES]:
        for label, value in _label_values(path.read_text(encoding="utf-8")):
            allowed = LABEL_VALUES.get(label)
            if allowed is not None and not set(value.split("|")) <= allowed:
                problems.append(f"{path.name}: {label}={value!r}, not one of {sorted(allowed)}")
    assert problems == []


def test_the_value_parsers_read_what_runbooks_write() -> None:
    prose = "label `mediakg_fallback_reason`, e.g. `breaker_open`,\n`timeout`, `unavailable`)"
    assert _label_values(prose) == [
        ("mediakg_fallback_reason", "breaker_open"),
        ("mediakg_fallback_reason", "timeout"),
        ("mediakg_fallback_reason", "unavailable"),
    ]
    promql = 'rate(x{messaging_destination_name="realtime"}[5m])'
    assert _label_values(promql) == [("messaging_destination_name", "realtime")]

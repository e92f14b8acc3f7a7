"""The search library knows nothing of the service: importing a backend (or the document
renderer) loads no ``app`` module, no web framework or ORM, and only the OpenTelemetry API (the
service configures the SDK)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("app", "starlette", "sqlalchemy", "opentelemetry.sdk")


def imported_modules(module: str) -> list[str]:
    """Every module a fresh interpreter loads to import ``module`` (``-X importtime`` lists
    each on stderr as ``import time: self | cumulative | name``)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return [line.rsplit("|", 1)[1].strip() for line in lines[1:]]  # the first line is the header


@pytest.mark.parametrize("module", ["search.embedded", "search.elasticsearch", "search.render"])
def test_a_search_module_loads_nothing_of_the_service(module: str) -> None:
    loaded = imported_modules(module)
    assert module in loaded
    assert "numpy" in loaded  # the parse works: a dependency every one of them has is listed
    offending = [name for name in loaded if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)]
    assert offending == []

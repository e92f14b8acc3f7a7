"""The inference library stands alone: importing its entry points loads nothing of the service,
of the web framework or of the OpenTelemetry SDK (the library uses the OpenTelemetry API; the
service configures the SDK). Checked in a fresh interpreter with ``-X importtime``, which lists
every module an import loads, including those pulled in indirectly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("app", "starlette", "opentelemetry.sdk", "sqlalchemy", "strawberry", "dramatiq")


def loaded_modules(module: str) -> list[str]:
    """Every module ``import module`` loads in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Lines read "import time: <self us> | <cumulative us> | <indented module name>".
    names = [
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    ]
    return [name for name in names if name != "imported package"]


def _forbidden(names: list[str]) -> list[str]:
    return sorted({n for n in names for f in FORBIDDEN if n == f or n.startswith(f + ".")})


@pytest.mark.parametrize(
    "module",
    ["inference.router", "inference.fallback", "inference.triton.client", "inference.triton.metrics_scrape"],
)
def test_the_library_loads_nothing_of_the_service(module: str) -> None:
    names = loaded_modules(module)
    assert module in names  # the listing is real: the module itself is in it
    assert _forbidden(names) == []


def test_the_check_sees_an_import_of_the_service() -> None:
    # The same listing for a module of the service shows what the check looks for.
    assert "app.core.telemetry" in _forbidden(loaded_modules("app.core.telemetry"))

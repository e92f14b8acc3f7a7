"""What an operator meets on the command line: refusals of broken configurations, what
`mediakg db upgrade` prints, and a clean `mediakg serve` start on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.serve import ServeProcess


def _mediakg(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", *args],
        env={**os.environ, "MEDIAKG_DATA_DIR": str(data), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_rabbitmq_without_a_redis_for_pubsub_refuses_to_start(tmp_path: Path, command: list[str]) -> None:
    # Nothing listens there: the refusal comes before any connection.
    result = _mediakg(tmp_path, *command, MEDIAKG_BROKER_URL="amqp://guest:guest@127.0.0.1:9/")
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "MEDIAKG_PUBSUB_URL" in message
    assert "amqp://" in message


def test_db_upgrade_and_downgrade_print_the_revision_reached(tmp_path: Path) -> None:
    upgraded = _mediakg(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database at revision" in upgraded.stdout
    assert "(head)" in upgraded.stdout
    downgraded = _mediakg(tmp_path, "db", "downgrade", "base")
    assert downgraded.returncode == 0, downgraded.stderr
    assert "database at revision base" in downgraded.stdout


def test_serve_starts_without_an_error_line(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, disposing of the start-up pool from a second event loop logged
    'Event loop is closed' tracebacks at every start."""
    monkeypatch.setenv("MEDIAKG_DATABASE_URL", database_url)
    monkeypatch.setenv("MEDIAKG_AUTO_MIGRATE", "false")
    with ServeProcess.start(tmp_path) as serve:
        log = serve.log_path.read_text()
    assert "Event loop is closed" not in log
    assert "Traceback" not in log
    assert '"ERROR"' not in log, log

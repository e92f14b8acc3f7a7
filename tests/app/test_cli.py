"""`mediakg ingest` end to end in a subprocess: good files, bad paths, a missing database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", *args],
        env={**os.environ, "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ingest_reports_each_file_and_exits_nonzero_on_failures(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "talk.txt").write_text("A transcript of a talk about media graphs.")
    (media / "empty.txt").write_text("")
    outside = tmp_path / "outside.txt"
    outside.write_text("not allowed")
    env = {"MEDIAKG_DATA_DIR": str(tmp_path / "data"), "MEDIAKG_ALLOWED_ROOTS": str(media)}

    result = _run(
        ["ingest", str(media / "talk.txt"), str(media / "empty.txt"), str(outside), str(media / "gone.mp4")],
        env,
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("✓", "✗"))]
    assert len(lines) == 4, result.stderr
    assert lines[0].startswith(f"✓ {media / 'talk.txt'}: registered asset ")
    assert lines[0].rstrip().endswith(")") or " job " in lines[0]
    assert lines[1] == f"✗ {media / 'empty.txt'}: the content is empty (EMPTY_FILE)"
    assert lines[2].startswith(f"✗ {outside}: ")
    assert lines[2].endswith("(PATH_NOT_ALLOWED)")
    assert lines[3] == f"✗ {media / 'gone.mp4'}: no such file (UNREADABLE_FILE)"

    again = _run(["ingest", str(media / "talk.txt")], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert ": already registered asset " in again.stderr


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/nodb", "Connect call failed"),
        ("sqlite+aiosqlite:////nonexistent-dir/sub/x.db", "unable to open database file"),
    ],
)
def test_ingest_with_unreachable_database_prints_one_clear_error(
    tmp_path: Path, url: str, needle: str
) -> None:
    (tmp_path / "a.txt").write_text("hello")
    result = _run(
        ["ingest", str(tmp_path / "a.txt")],
        {
            "MEDIAKG_DATABASE_URL": url,
            "MEDIAKG_DATA_DIR": str(tmp_path / "d"),
            "MEDIAKG_ALLOWED_ROOTS": str(tmp_path),
        },
        tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error: database " in result.stderr
    assert "is unreachable" in result.stderr
    assert needle in result.stderr


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/nodb", "Connect call failed"),
        ("sqlite+aiosqlite:////nonexistent-dir/sub/x.db", "unable to open database file"),
    ],
)
def test_serve_with_unreachable_database_prints_one_clear_error(
    tmp_path: Path, url: str, needle: str
) -> None:
    # Port 0: should the check ever let it through, the server binds somewhere harmless (and the
    # run's timeout fails the test) rather than on the default port.
    result = _run(
        ["serve", "--host", "127.0.0.1", "--port", "0"],
        {"MEDIAKG_DATABASE_URL": url, "MEDIAKG_DATA_DIR": str(tmp_path / "d"), "MEDIAKG_LOG_JSON": "false"},
        tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: database {url} is unreachable: ")
    assert needle in errors[0]
    assert "Uvicorn running" not in result.stderr + result.stdout


def test_blobs_sweep_deletes_orphans_and_keeps_what_rows_reference(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "talk.txt").write_text("A transcript.")
    env = {"MEDIAKG_DATA_DIR": str(tmp_path / "data"), "MEDIAKG_ALLOWED_ROOTS": str(media)}
    assert _run(["ingest", str(media / "talk.txt")], env, tmp_path).returncode == 0
    blobs = tmp_path / "data" / "blobs"
    (kept,) = [path for path in (blobs / "sha256").rglob("*") if path.is_file()]
    orphan = blobs / "sha256" / "00" / "00" / ("0" * 64 + ".jpg")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"no row references this")
    staged = blobs / "staging" / "left-by-a-killed-upload"
    staged.parent.mkdir(exist_ok=True)
    staged.write_bytes(b"half an upload")
    day_ago = staged.stat().st_mtime - 86400
    os.utime(staged, (day_ago, day_ago))

    result = _run(["blobs", "sweep", "--grace-minutes", "0"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 staged and 1 orphaned blobs deleted, 36 bytes freed" in result.stdout
    assert kept.is_file()
    assert not orphan.exists()
    assert not staged.exists()

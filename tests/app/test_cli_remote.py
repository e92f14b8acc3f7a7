"""The CLI over the API: `mediakg ingest --server URL` with a write key works against a server
whose data directory and database are not the ones the CLI would have defaulted to, and the
API-only commands (search query, jobs, reprocess, dead-letters) read the same server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.serve import ServeProcess

pytestmark = [pytest.mark.slow]


def _cli(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _create_key(serve: ServeProcess, tmp_path: Path, *, name: str, scopes: str) -> str:
    # `mediakg keys create` is an admin task on the server's own database (direct mode).
    created = _cli(
        ["keys", "create", "--tenant", "default", "--name", name, "--scopes", scopes],
        env=serve.env,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_cli_works_through_the_api_of_another_data_directory(tmp_path: Path) -> None:
    media = tmp_path / "elsewhere"
    media.mkdir()
    note = media / "ferry-notes.md"
    note.write_text("# Ferry notes\n\nThe night ferry to Vienna leaves at nine.\n", encoding="utf-8")
    client_home = tmp_path / "client"
    client_home.mkdir()
    server_home = tmp_path / "server-home"
    server_home.mkdir()
    with ServeProcess.start(server_home) as serve:
        writer = _create_key(serve, tmp_path, name="cli-writer", scopes="read,write")
        reader = _create_key(serve, tmp_path, name="cli-reader", scopes="read")
        # The CLI's own defaults point at a data directory and database the server never uses;
        # no MEDIAKG_ALLOWED_ROOTS either: the file is uploaded, not read by the server.
        env = {key: value for key, value in os.environ.items() if not key.startswith("MEDIAKG_")} | {
            "MEDIAKG_DATA_DIR": str(client_home / "var"),
            "MEDIAKG_API_KEY": writer,
        }
        ingested = _cli(
            ["ingest", "--server", serve.base, str(note), "--tag", "ferry", "--wait"],
            env=env,
            cwd=client_home,
        )
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        assert f"mode: remote ({serve.base}, with an API key)" in ingested.stderr
        assert "registered asset" in ingested.stderr
        assert ingested.stdout.strip().endswith("SUCCEEDED")
        asset_id = ingested.stderr.split("registered asset ")[1].split()[0]

        found = _cli(
            ["search", "query", "night ferry", "--mode", "TEXT", "--server", serve.base],
            env=env,
            cwd=client_home,
        )
        assert found.returncode == 0, found.stderr
        assert found.stdout.splitlines()[0].startswith("ferry-notes"), found.stdout

        listed = _cli(["jobs", "--server", serve.base], env=env, cwd=client_home)
        assert listed.returncode == 0, listed.stderr
        [job_line] = listed.stdout.strip().splitlines()
        assert " SUCCEEDED 100% ferry-notes" in job_line

        none_failed = _cli(["dead-letters", "--server", serve.base], env=env, cwd=client_home)
        assert (none_failed.returncode, none_failed.stdout) == (0, ""), none_failed.stderr

        # A read key may search but not reprocess: the server's typed refusal is shown.
        read_env = env | {"MEDIAKG_API_KEY": reader}
        refused = _cli(
            ["reprocess", asset_id, "--stage", "embed", "--server", serve.base], env=read_env, cwd=client_home
        )
        assert refused.returncode == 1
        assert "FORBIDDEN" in refused.stderr
        again = _cli(
            ["reprocess", asset_id, "--stage", "embed", "--quality", "accurate", "--server", serve.base],
            env=env,
            cwd=client_home,
        )
        assert again.returncode == 0, again.stderr
        assert f"asset {asset_id}: job " in again.stdout
        assert again.stdout.rstrip().endswith("(accurate)")

        wrong = _cli(
            ["jobs", "--server", serve.base], env=env | {"MEDIAKG_API_KEY": "mkg_nope_nope"}, cwd=client_home
        )
        assert wrong.returncode == 2
        assert "refused the API key (401 UNAUTHENTICATED)" in wrong.stderr
    # The CLI touched nothing of its own defaults: no database, no blobs.
    assert not (client_home / "var").exists()


def test_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "MEDIAKG_DATA_DIR": str(tmp_path / "var"), "MEDIAKG_API_KEY": "mkg_x_y"}
    result = _cli(["jobs", "--server", "http://127.0.0.1:9"], env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "error: cannot reach http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_direct_mode_says_so(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.md").write_text("# A\n\nText.\n", encoding="utf-8")
    env = {**os.environ, "MEDIAKG_DATA_DIR": str(tmp_path / "var"), "MEDIAKG_ALLOWED_ROOTS": str(media)}
    env.pop("MEDIAKG_SERVER", None)
    result = _cli(["ingest", str(media / "a.md")], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mode: direct (database sqlite+aiosqlite:///" in result.stderr

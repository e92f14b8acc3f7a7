"""`mediakg keys create|list|revoke` in a subprocess, against the API the keys open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services
from app.entrypoints.keys_cli import is_loopback
from tests.fixtures.keys import auth

pytestmark = pytest.mark.slow


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", "keys", *args],
        env={**os.environ, "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_create_list_use_and_revoke_a_key(tmp_path: Path) -> None:
    env = {"MEDIAKG_DATA_DIR": str(tmp_path / "data")}
    created = _run(
        ["create", "--tenant", "acme", "--name", "ci", "--scopes", "read,write", "--expires-in", "30d"],
        env,
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("mkg_")
    assert "scopes read,write" in created.stdout

    again = _run(["create", "--tenant", "acme", "--name", "ci"], env, tmp_path)
    assert again.returncode == 2
    assert "already has a key named 'ci'" in again.stderr
    bad_scope = _run(["create", "--tenant", "acme", "--name", "x", "--scopes", "read,root"], env, tmp_path)
    assert bad_scope.returncode == 2
    assert "unknown scope 'root'" in bad_scope.stderr
    bad_life = _run(["create", "--tenant", "acme", "--name", "y", "--expires-in", "soon"], env, tmp_path)
    assert bad_life.returncode == 2

    from app.api.http import create_graphql_app

    services = build_services(Settings(data_dir=tmp_path / "data", log_json=False))
    try:
        app = create_graphql_app(services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            query = {"query": "{ assets(first: 1) { edges { node { id } } } }"}
            assert (await client.post("/graphql", json=query, headers=auth(secret))).status_code == 200

            listed = _run(["list"], env, tmp_path)
            assert listed.returncode == 0, listed.stderr
            row = next(line for line in listed.stdout.splitlines() if " ci " in line)
            assert "acme" in row
            assert "read,write" in row
            assert secret not in listed.stdout
            assert secret.split("_")[1] in row  # the public prefix identifies it

            revoked = _run(["revoke", "ci", "--tenant", "acme"], env, tmp_path)
            assert revoked.returncode == 0, revoked.stderr
            # This process cached the key when it was used: a new app (no cache) sees the revocation.
            fresh = httpx.ASGITransport(app=create_graphql_app(services))
            async with httpx.AsyncClient(transport=fresh, base_url="http://localhost") as other:
                assert (await other.post("/graphql", json=query, headers=auth(secret))).status_code == 401
    finally:
        await services.aclose()
    missing = _run(["revoke", "nobody", "--tenant", "acme"], env, tmp_path)
    assert missing.returncode == 2
    assert "has no key named 'nobody'" in missing.stderr


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))


def test_serve_refuses_disabled_auth_beyond_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.entrypoints.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        env={**os.environ, "MEDIAKG_DATA_DIR": str(tmp_path / "data"), "MEDIAKG_AUTH_DISABLED": "true"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "only allowed when serving on loopback" in result.stderr

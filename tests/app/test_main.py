"""The probes of the ASGI app: /healthz answers while the process runs, /readyz only while the
database answers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.core.container import Services
from app.core.settings import Settings
from app.entrypoints.asgi import create_app, freeze_heap_hook
from app.entrypoints.bootstrap import build_services


async def _get(services: Services, path: str) -> httpx.Response:
    # No lifespan: start-up would refuse an unreachable database before any probe is asked.
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_ready_with_a_reachable_database(services: Services) -> None:
    response = await _get(services, "/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


@pytest.fixture(
    params=[
        ("postgresql+asyncpg://postgres@127.0.0.1:1/nodb", "Connect call failed"),
        ("sqlite+aiosqlite:////nonexistent-dir/sub/x.db", "unable to open database file"),
    ],
    ids=["postgresql-closed-port", "sqlite-unopenable-path"],
)
async def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Services, str]]:
    """Services on a database that cannot be reached, and a phrase of the driver's reason."""
    url, needle = request.param
    services = build_services(Settings(data_dir=tmp_path / "data", database_url=url, log_json=False))
    try:
        yield services, needle
    finally:
        await services.aclose()


async def test_not_ready_while_the_database_is_unreachable(unreachable: tuple[Services, str]) -> None:
    services, needle = unreachable
    response = await _get(services, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    url = services.settings.database_url
    assert body["reason"].startswith(f"database {url} is unreachable: ")
    assert needle in body["reason"]
    # The process itself is up: liveness does not depend on the database.
    health = await _get(services, "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


async def test_the_heap_built_at_start_is_frozen_out_of_the_collector(services: Services) -> None:
    built_at_start = {"schema": object()}
    stop = await freeze_heap_hook(services)
    try:
        assert gc.get_freeze_count() > 0
        # What the start built is no longer tracked by the collector's generations.
        assert not any(built_at_start is obj for obj in gc.get_objects())
    finally:
        gc.unfreeze()
        await stop()

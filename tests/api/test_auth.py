"""Authentication and the browser guards: keys (missing, unknown, revoked, expired, short of a
scope), the WebSocket's connection_init, the Host check, CORS and the CSRF rule."""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, WebSocketUpgradeError, aconnect_ws
from sqlalchemy import select
from starlette.applications import Starlette

from app.api.http import create_graphql_app
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.db import utcnow
from app.tenancy.models import ApiKey, Tenant
from tests.api.conftest import BASE_URL, Keys
from tests.api.graph import Graph, build_graph, gid
from tests.fixtures.keys import auth, issue_key

UPDATE = (
    "mutation($i: UpdateAssetInput!) "
    "{ updateAsset(input: $i) { __typename ... on UserError { code message } } }"
)
ASSETS = "{ assets(first: 5) { edges { node { title } } } }"


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    """The small media graph of tests/api/graph.py in the default tenant."""
    return await build_graph(services.session_factory, tenant.id, services.blobs)


async def _post(app: Starlette, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        return await client.post("/graphql", json=body, headers=headers)


UNAUTHENTICATED = {
    "errors": [
        {
            "message": "the API key is missing, unknown, revoked or expired",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
}


async def test_requests_without_a_live_key_get_401(
    api_app: Starlette, services: Services, tenant: Tenant
) -> None:
    factory = services.session_factory
    revoked = await issue_key(factory, tenant="default", name="old", revoked_at=utcnow())
    expired = await issue_key(
        factory, tenant="default", name="late", expires_at=utcnow() - timedelta(seconds=1)
    )
    live = await issue_key(factory, tenant="default", name="live", scopes=["read"])
    unknown = live[:-4] + ("aaaa" if not live.endswith("aaaa") else "bbbb")
    body = {"query": ASSETS}

    missing = await _post(api_app, body, {})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="mediakg"'
    assert missing.json() == {
        "errors": [
            {
                "message": "send an API key: Authorization: Bearer <key>",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    for key in (revoked, expired, unknown, "mkg_nonsense", "Basic abc"):
        response = await _post(api_app, body, auth(key))
        assert (response.status_code, response.json()) == (401, UNAUTHENTICATED), key
    assert (await _post(api_app, body, {"Authorization": f"Basic {live}"})).status_code == 401

    ok = await _post(api_app, body, auth(live))
    assert ok.json() == {"data": {"assets": {"edges": []}}}


async def test_a_key_records_its_last_use(api_app: Starlette, services: Services, tenant: Tenant) -> None:
    key = await issue_key(services.session_factory, tenant="default", name="used", scopes=["read"])
    before = utcnow()
    assert (await _post(api_app, {"query": ASSETS}, auth(key))).status_code == 200
    async with services.session_factory() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.name == "used"))
    assert row is not None
    assert row.last_used_at is not None
    assert row.last_used_at >= before


async def test_a_read_key_cannot_write_nor_read_the_audit_trail(
    api_app: Starlette, keys: Keys, graph: Graph, services: Services
) -> None:
    update = {"query": UPDATE, "variables": {"i": {"id": gid("Asset", graph.harbour.id), "title": "x"}}}
    refused = await _post(api_app, update, auth(keys.read))
    assert refused.json() == {
        "data": {
            "updateAsset": {
                "__typename": "Forbidden",
                "code": "FORBIDDEN",
                "message": "this operation needs an API key with the 'write' scope",
            }
        }
    }
    audit = await _post(
        api_app, {"query": "{ auditEvents(first: 1) { edges { node { action } } } }"}, auth(keys.write)
    )
    assert audit.json()["data"] is None
    assert [e["extensions"]["code"] for e in audit.json()["errors"]] == ["FORBIDDEN"]
    details = await _post(
        api_app, {"query": "{ systemStatus { workersAlive workers { id } } }"}, auth(keys.read)
    )
    assert [e["extensions"]["code"] for e in details.json()["errors"]] == ["FORBIDDEN"]
    routing = await _post(api_app, {"query": "{ systemStatus { routing { model } } }"}, auth(keys.read))
    assert [e["extensions"]["code"] for e in routing.json()["errors"]] == ["FORBIDDEN"]
    summary = await _post(api_app, {"query": "{ systemStatus { workersAlive } }"}, auth(keys.read))
    assert "errors" not in summary.json()

    done = await _post(api_app, update, auth(keys.write))
    assert done.json() == {"data": {"updateAsset": {"__typename": "UpdateAssetSuccess"}}}
    async with services.session_factory() as session:
        actors = list(
            await session.scalars(
                select(AuditEvent.actor)
                .where(AuditEvent.action == "asset.update")
                .order_by(AuditEvent.occurred_at)
            )
        )
    assert actors == ["editor@example.org", "test-write"]  # the graph's own event, then this one


async def test_the_graphiql_page_needs_no_key(anonymous_http: httpx.AsyncClient) -> None:
    page = await anonymous_http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


# --- browser guards ---------------------------------------------------------------------------


def _form_update(asset_id: str) -> dict[str, str]:
    """What a hostile page's <form enctype="multipart/form-data"> can post."""
    operations = {"query": UPDATE, "variables": {"i": {"id": asset_id, "title": "pwned"}}}
    return {"operations": json.dumps(operations), "map": "{}"}


async def test_a_cross_site_form_post_is_refused(services: Services, graph: Graph) -> None:
    # The case from the issue, on the configuration where a key cannot stop it: authentication
    # disabled on loopback, where a browser on the same machine can reach the server.
    services.settings.auth_disabled = True
    app = create_graphql_app(services)
    transport = httpx.ASGITransport(app=app)
    asset_id = gid("Asset", graph.harbour.id)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        forged = await client.post(
            "/graphql",
            data=_form_update(asset_id),
            files={"unused": ("x.txt", b"x", "text/plain")},
            headers={"origin": "http://evil.example"},
        )
        assert forged.status_code == 400
        assert forged.json()["errors"][0]["extensions"] == {"code": "CSRF_PREVENTED"}
        as_text = await client.post(
            "/graphql",
            content=json.dumps({"query": UPDATE, "variables": {"i": {"id": asset_id, "title": "pwned"}}}),
            headers={"origin": "http://evil.example", "content-type": "text/plain"},
        )
        assert as_text.status_code == 400
        by_get = await client.get("/graphql", params={"query": ASSETS})
        assert by_get.status_code == 400
        # A client that can set a header (so a preflight would have checked its origin) passes.
        allowed = await client.post(
            "/graphql",
            data=_form_update(asset_id),
            files={"unused": ("x.txt", b"x", "text/plain")},
            headers={"x-mediakg-csrf": "1"},
        )
        assert allowed.json() == {"data": {"updateAsset": {"__typename": "UpdateAssetSuccess"}}}
        get_with_header = await client.get(
            "/graphql", params={"query": ASSETS}, headers={"x-mediakg-csrf": "1"}
        )
        assert get_with_header.status_code == 200
    async with services.session_factory() as session:
        actors = list(
            await session.scalars(
                select(AuditEvent.actor)
                .where(AuditEvent.action == "asset.update")
                .order_by(AuditEvent.occurred_at)
            )
        )
    # The graph's own event and the one allowed update; nothing from the forged requests.
    assert actors == ["editor@example.org", "anonymous@default"]


async def test_foreign_host_names_are_refused(api_app: Starlette, keys: Keys) -> None:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://attacker.example") as client:
        response = await client.post("/graphql", json={"query": ASSETS}, headers=auth(keys.read))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "HOST_NOT_ALLOWED"}
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        ok = await _post(api_app, {"query": ASSETS}, {**auth(keys.read), "host": host})
        assert ok.status_code == 200, host


async def test_cors_answers_allowed_origins_only(services: Services, keys: Keys) -> None:
    services.settings.cors_allowed_origins = ["https://explorer.example"]
    app = create_graphql_app(services)
    transport = httpx.ASGITransport(app=app)
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        good = await client.options("/graphql", headers={"origin": "https://explorer.example", **preflight})
        bad = await client.options("/graphql", headers={"origin": "http://evil.example", **preflight})
        read = await client.post(
            "/graphql",
            json={"query": ASSETS},
            headers={"origin": "https://explorer.example", **auth(keys.read)},
        )
    assert good.status_code == 200
    assert good.headers["access-control-allow-origin"] == "https://explorer.example"
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers
    assert read.headers["access-control-allow-origin"] == "https://explorer.example"


# --- WebSocket ----------------------------------------------------------------------------------


class _Server:
    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", ws="wsproto", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110  (uvicorn exposes no event)
            await asyncio.sleep(0.01)
        return f"127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    async def __aexit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task


async def _init(address: str, payload: dict[str, Any] | None, headers: dict[str, str] | None = None) -> Any:
    async with httpx.AsyncClient(headers=headers or {}) as client:
        connecting: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
            f"http://{address}/graphql", client, subprotocols=["graphql-transport-ws"]
        )
        async with connecting as ws:
            await ws.send_json(
                {"type": "connection_init", **({"payload": payload} if payload is not None else {})}
            )
            try:
                return await asyncio.wait_for(ws.receive_json(), 10)
            except WebSocketDisconnect as closed:
                return closed.code


async def test_websockets_authenticate_at_connection_init(api_app: Starlette, keys: Keys) -> None:
    async with _Server(api_app) as address:
        assert await _init(address, None) == 4401
        assert await _init(address, {"Authorization": "Bearer mkg_000000000000_" + "x" * 43}) == 4401
        assert await _init(address, {"Authorization": f"Bearer {keys.read}"}) == {"type": "connection_ack"}
        assert await _init(address, {"authorization": f"Bearer {keys.read}"}) == {"type": "connection_ack"}
        assert await _init(address, {}, auth(keys.read)) == {"type": "connection_ack"}


async def test_cross_origin_websockets_are_refused(api_app: Starlette, keys: Keys) -> None:
    async with _Server(api_app) as address:
        with pytest.raises(WebSocketUpgradeError) as refused:
            await _init(address, {"Authorization": f"Bearer {keys.read}"}, {"origin": "http://evil.example"})
        assert refused.value.response.status_code == 403
        same = await _init(address, {"Authorization": f"Bearer {keys.read}"}, {"origin": f"http://{address}"})
        assert same == {"type": "connection_ack"}


async def test_requests_missing_the_key_cache_together_share_one_lookup(
    services: Services, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.api import context as context_module
    from app.api.context import CallerResolver
    from app.tenancy.service import verify_key as verify

    key = await issue_key(services.session_factory, tenant=tenant.slug, name="burst")
    lookups: list[str] = []

    async def counting(session: Any, *, presented: str) -> Any:
        lookups.append(presented)
        await asyncio.sleep(0.05)  # the burst arrives while the first lookup is under way
        return await verify(session, presented=presented)

    monkeypatch.setattr(context_module, "verify_key", counting)
    callers = CallerResolver(services)
    found = await asyncio.gather(*(callers.authenticate(key) for _ in range(20)))
    assert lookups == [key]
    assert {(c.tenant_id, c.actor) for c in found} == {(tenant.id, "burst")}
    # A wrong secret fails for every request of its burst, with one lookup too.
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    outcomes = await asyncio.gather(*(callers.authenticate(wrong) for _ in range(5)), return_exceptions=True)
    assert lookups == [key, wrong]
    assert all(type(o).__name__ == "UnauthenticatedError" for o in outcomes), outcomes

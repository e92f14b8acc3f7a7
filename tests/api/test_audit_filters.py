"""auditEvents: admin-only, filtered by actor, action, entity and time range; mutations and key
operations are recorded under the key's name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.core.container import Services
from app.core.db import session_scope
from app.tenancy.models import Scope, Tenant
from app.tenancy.service import create_key, revoke_key
from tests.api.conftest import Keys
from tests.api.graph import T0, Graph, build_graph, gid
from tests.fixtures.keys import auth

EVENTS = """
query($filter: AuditEventFilter) {
  auditEvents(filter: $filter, first: 20) { edges { node { actor action entityType entityId } } }
}
"""
UPDATE = "mutation($i: UpdateAssetInput!) { updateAsset(input: $i) { __typename } }"


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    """The small media graph of tests/api/graph.py (it holds audit events at T0 + 20 min)."""
    return await build_graph(services.session_factory, tenant.id, services.blobs)


async def _events(http: httpx.AsyncClient, key: str, where: dict[str, Any] | None) -> Any:
    response = await http.post(
        "/graphql", json={"query": EVENTS, "variables": {"filter": where}}, headers=auth(key)
    )
    return response.json()


def _rows(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    assert "errors" not in body, body
    return [
        (e["node"]["actor"], e["node"]["action"], e["node"]["entityType"])
        for e in body["data"]["auditEvents"]["edges"]
    ]


async def test_mutations_and_key_operations_are_audited_and_filterable(
    http: httpx.AsyncClient, keys: Keys, graph: Graph, services: Services
) -> None:
    asset_id = gid("Asset", graph.harbour.id)
    changed = await http.post(
        "/graphql",
        json={"query": UPDATE, "variables": {"i": {"id": asset_id, "title": "x"}}},
        headers=auth(keys.write),
    )
    assert changed.json() == {"data": {"updateAsset": {"__typename": "UpdateAssetSuccess"}}}
    async with session_scope(services.session_factory) as session:
        created = await create_key(
            session, tenant_slug="default", name="ci", scopes={Scope.READ}, actor="cli:ops"
        )
        await revoke_key(session, tenant_slug="default", name="ci", actor="cli:ops")
    key_id = str(created.key.id)

    everything = _rows(await _events(http, keys.admin, None))
    assert ("test-write", "asset.update", "asset") in everything
    assert everything[:2] == [
        ("cli:ops", "api_key.revoke", "api_key"),
        ("cli:ops", "api_key.create", "api_key"),
    ]

    assert _rows(await _events(http, keys.admin, {"actor": "test-write"})) == [
        ("test-write", "asset.update", "asset")
    ]
    assert _rows(await _events(http, keys.admin, {"action": "api_key.create"})) == [
        ("cli:ops", "api_key.create", "api_key")
    ]
    by_key = await _events(http, keys.admin, {"entityType": "api_key", "entityId": key_id})
    assert [r[1] for r in _rows(by_key)] == ["api_key.revoke", "api_key.create"]
    assert {e["node"]["entityId"] for e in by_key["data"]["auditEvents"]["edges"]} == {key_id}
    by_asset = _rows(await _events(http, keys.admin, {"entityId": asset_id}))
    assert ("test-write", "asset.update", "asset") in by_asset
    assert all(row[2] == "asset" for row in by_asset)

    # The graph's own events lie at T0 + 20 min; the ones above happened now.
    window = {
        "occurredAfter": (T0 + timedelta(minutes=19)).isoformat(),
        "occurredBefore": (T0 + timedelta(minutes=21)).isoformat(),
    }
    old = _rows(await _events(http, keys.admin, window))
    assert old
    assert all(actor == "editor@example.org" or actor.endswith("@example.org") for actor, _, _ in old)
    empty = _rows(await _events(http, keys.admin, {"occurredBefore": (T0 - timedelta(days=1)).isoformat()}))
    assert empty == []


async def test_bad_filters_and_weak_keys_are_refused(
    http: httpx.AsyncClient, keys: Keys, graph: Graph
) -> None:
    backwards = await _events(
        http, keys.admin, {"occurredAfter": "2026-02-01T00:00:00Z", "occurredBefore": "2026-01-01T00:00:00Z"}
    )
    assert [e["extensions"]["code"] for e in backwards["errors"]] == ["INVALID_INPUT"]
    bad_id = await _events(http, keys.admin, {"entityId": "nonsense"})
    assert [e["extensions"]["code"] for e in bad_id["errors"]] == ["INVALID_INPUT"]
    for weak in (keys.read, keys.write):
        refused = await _events(http, weak, {"actor": "test-write"})
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]

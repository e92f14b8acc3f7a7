"""People in search: a named person's name finds the assets showing them, an editor's rename
re-indexes those assets (through the per-asset search sync), and ``SearchFilter.personIds``
keeps only the assets where one of the people appears, within the caller's tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.core.container import Services
from app.core.db import session_scope
from app.people import service as people
from app.tenancy.models import Tenant
from jobs.indexing import sync_assets
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import Graph, build_graph, gid
from tests.fixtures.keys import auth, issue_key
from tests.search.indexgraph import SPEC

pytestmark = pytest.mark.db


@dataclass
class RecordingEnqueuer:
    """Records the messages an edit sends after commit (no broker needed)."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(
        self,
        actor_name: str,
        *,
        queue: str,
        args: dict[str, Any],
        delay_ms: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.sent.append((actor_name, args))


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    graph = await build_graph(services.session_factory, tenant.id, services.blobs)
    await services.search.create_generation(SPEC)
    assets = [graph.harbour.id, graph.interview.id, graph.poster.id]
    assert (await sync_assets(services.session_factory, services.search, assets)).ok
    return graph


def _search(text: str, **extra: Any) -> dict[str, Any]:
    return {"input": {"text": text, "mode": "TEXT", "scope": "ASSET", **extra}}


async def _assets(gql: GraphQLClient, text: str, **extra: Any) -> list[str]:
    body = await gql(operation("Search"), _search(text, **extra))
    assert "errors" not in body, body
    return [edge["node"]["asset"]["id"] for edge in body["data"]["search"]["edges"]]


async def test_a_name_finds_the_asset_and_a_rename_reindexes_it(
    gql: GraphQLClient, graph: Graph, services: Services
) -> None:
    harbour = gid("Asset", graph.harbour.id)
    ada, unnamed = graph.people
    assert await _assets(gql, "Ada") == [harbour]
    assert await _assets(gql, "Grace") == []
    # A moment carries the names of the people in its scene only: Ada is in the first scene.
    moments = await gql(operation("Search"), _search("Ada", scope="MOMENT"))
    scenes = [edge["node"]["scene"]["id"] for edge in moments["data"]["search"]["edges"]]
    assert scenes == [gid("Scene", graph.scenes[0].id)]
    enqueuer = RecordingEnqueuer()
    async with session_scope(services.session_factory) as session:
        await people.rename_person(
            session, tenant_id=ada.tenant_id, actor="t", person_id=ada.id, name="Grace", enqueuer=enqueuer
        )
    # After commit, the search sync of every asset showing the person (what updateAsset sends).
    assert enqueuer.sent == [
        ("search.sync_asset", {"tenant_id": str(ada.tenant_id), "asset_id": str(graph.harbour.id)})
    ]
    # What the search.sync_asset actor does with it.
    await sync_assets(services.session_factory, services.search, [graph.harbour.id])
    assert await _assets(gql, "Grace") == [harbour]
    assert await _assets(gql, "Ada") == []
    # Renaming to the same name changes nothing and sends nothing; hiding removes the name.
    async with session_scope(services.session_factory) as session:
        await people.rename_person(
            session, tenant_id=ada.tenant_id, actor="t", person_id=ada.id, name="Grace", enqueuer=enqueuer
        )
        assert len(enqueuer.sent) == 1
        await people.hide_person(
            session, tenant_id=ada.tenant_id, actor="t", person_id=ada.id, hidden=True, enqueuer=enqueuer
        )
    assert len(enqueuer.sent) == 2
    await sync_assets(services.session_factory, services.search, [graph.harbour.id])
    assert await _assets(gql, "Grace") == []
    # An unnamed person adds no text.
    assert unnamed.name is None


async def test_person_filter_keeps_only_that_persons_assets(
    gql: GraphQLClient, http: httpx.AsyncClient, graph: Graph, services: Services
) -> None:
    harbour = gid("Asset", graph.harbour.id)
    ada, unnamed = (gid("Person", p.id) for p in graph.people)
    everything = await _assets(gql, "harbour")
    assert harbour in everything
    assert len(everything) > 1, everything
    assert await _assets(gql, "harbour", filter={"personIds": [ada]}) == [harbour]
    # An unnamed person filters too (by id, not name); moments are filtered as well.
    assert await _assets(gql, "harbour", filter={"personIds": [unnamed]}) == [harbour]
    moments = await gql(operation("Search"), _search("harbour", scope="MOMENT", filter={"personIds": [ada]}))
    edges = moments["data"]["search"]["edges"]
    assert edges
    assert {e["node"]["asset"]["id"] for e in edges} == {harbour}
    # A person nobody has (or of another tenant) matches nothing.
    assert await _assets(gql, "harbour", filter={"personIds": [gid("Person", uuid.uuid4())]}) == []
    stranger = auth(await issue_key(services.session_factory, tenant="stranger", name="stranger-read"))
    response = await http.post(
        "/graphql",
        json={"query": operation("Search"), "variables": _search("harbour", filter={"personIds": [ada]})},
        headers=stranger,
    )
    assert response.json()["data"]["search"]["edges"] == []


async def test_a_malformed_person_id_is_refused_like_an_asset_id(gql: GraphQLClient, graph: Graph) -> None:
    def error(body: dict[str, Any]) -> tuple[str, list[str]]:
        (err,) = body["errors"]
        return err["extensions"]["code"], err["extensions"]["field"]

    person = await gql(operation("Search"), _search("harbour", filter={"personIds": ["nope"]}))
    asset = await gql(operation("Search"), _search("harbour", filter={"assetIds": ["nope"]}))
    assert error(person) == (error(asset)[0], ["query", "filter", "personIds", "0"])
    wrong = await gql(
        operation("Search"), _search("harbour", filter={"personIds": [gid("Asset", graph.harbour.id)]})
    )
    assert error(wrong)[1] == ["query", "filter", "personIds", "0"]


async def test_a_merged_away_person_id_filters_by_the_person_it_went_into(
    gql: GraphQLClient, graph: Graph, services: Services
) -> None:
    harbour = gid("Asset", graph.harbour.id)
    ada, unnamed = graph.people
    enqueuer = RecordingEnqueuer()
    async with session_scope(services.session_factory) as session:
        await people.merge_people(
            session,
            tenant_id=ada.tenant_id,
            actor="t",
            target_id=ada.id,
            source_ids=[unnamed.id],
            enqueuer=enqueuer,
        )
    assert [args["asset_id"] for _, args in enqueuer.sent] == [str(graph.harbour.id)]
    await sync_assets(services.session_factory, services.search, [graph.harbour.id])
    # The index now holds only Ada's id; the old id still finds her assets.
    only = {"personIds": [gid("Person", unnamed.id)]}
    assert await _assets(gql, "harbour", filter=only) == [harbour]
    assert await _assets(gql, "Ada") == [harbour]

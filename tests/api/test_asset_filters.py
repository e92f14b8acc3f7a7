"""The assets connection's person and language filters: who appears in an asset (face tracks,
merged-away person ids included) and its detected language, tenant-scoped."""

from __future__ import annotations

from typing import Any

import pytest

from app.assets.models import Asset
from app.core.container import Services
from app.people.models import FaceTrack, Person
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import Graph, build_graph, gid

pytestmark = pytest.mark.db


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    graph = await build_graph(services.session_factory, tenant.id, services.blobs)
    ada = graph.people[0]
    async with services.session_factory() as session:
        # Ada also appears on the poster and in the deleted video; a third person was merged into her.
        for asset in (graph.poster, graph.deleted):
            face = graph.faces[0]
            session.add(
                FaceTrack(
                    tenant_id=tenant.id,
                    model_name=face.model_name,
                    model_version=face.model_version,
                    asset_id=asset.id,
                    person_id=ada.id,
                    start_s=0.0,
                    end_s=0.0,
                    box_x=0.1,
                    box_y=0.1,
                    box_w=0.2,
                    box_h=0.3,
                    descriptor=bytes(4 * 128),
                )
            )
        graph.people.append(Person(tenant_id=tenant.id, merged_into_id=ada.id))
        graph.people.append(Person(tenant_id=tenant.id, name="Nobody"))
        session.add_all(graph.people[2:])
        for asset_id, language in ((graph.harbour.id, "en"), (graph.interview.id, "de")):
            row = await session.get(Asset, asset_id)
            assert row is not None
            row.language = language
        await session.commit()
    return graph


async def _titles(gql: GraphQLClient, **filter: Any) -> list[str]:
    body = await gql(operation("AssetList"), {"first": 10, "filter": filter})
    assert "errors" not in body, body
    return [edge["node"]["title"] for edge in body["data"]["assets"]["edges"]]


async def test_filter_by_person(gql: GraphQLClient, graph: Graph) -> None:
    ada, other, merged, nobody = (gid("Person", p.id) for p in graph.people)
    assert await _titles(gql, personId=ada) == ["Harbour poster", "Harbour at dawn"]
    assert await _titles(gql, personId=other) == ["Harbour at dawn"]
    # A merged-away id stands for the person it went into, like the Person node.
    assert await _titles(gql, personId=merged) == ["Harbour poster", "Harbour at dawn"]
    assert await _titles(gql, personId=nobody) == []
    assert await _titles(gql, personId=ada, kind=["IMAGE"]) == ["Harbour poster"]


async def test_filter_by_language(gql: GraphQLClient, graph: Graph) -> None:
    assert await _titles(gql, language="en") == ["Harbour at dawn"]
    assert await _titles(gql, language="de") == ["Interview"]
    assert await _titles(gql, language="EN") == []
    assert await _titles(gql, language="en", personId=gid("Person", graph.people[1].id)) == [
        "Harbour at dawn"
    ]
    assert await _titles(gql, language="de", personId=gid("Person", graph.people[1].id)) == []


async def test_another_tenants_person_finds_nothing(
    gql: GraphQLClient, services: Services, graph: Graph
) -> None:
    from app.tenancy.service import ensure_tenant

    async with services.session_factory() as session:
        other = await ensure_tenant(session, slug="other")
        await session.commit()
    stranger = await build_graph(services.session_factory, other.id, services.blobs)
    assert await _titles(gql, personId=gid("Person", stranger.people[0].id)) == []
    assert await _titles(gql, personId=gid("Person", graph.people[0].id)) == [
        "Harbour poster",
        "Harbour at dawn",
    ]


@pytest.mark.parametrize(
    ("person_id", "code"),
    [("not-an-id", "MALFORMED_ID"), (None, "WRONG_ID_TYPE")],
)
async def test_a_bad_person_id_is_refused(
    gql: GraphQLClient, graph: Graph, person_id: str | None, code: str
) -> None:
    value = person_id or gid("Asset", graph.harbour.id)
    body = await gql(operation("AssetList"), {"first": 10, "filter": {"personId": value}})
    assert body["data"] is None
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, ["filter", "personId"])

"""People through the API: the list and its filters, a Person's appearances, cover and
co-appearances, and the audited corrections (rename, hide, merge, move) with their refusals."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.assets.models import Asset
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.enums import AssetKind, AssetStatus
from app.people.models import FaceTrack, Person
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient
from tests.api.graph import T0, Graph, build_graph, gid

PEOPLE = """query($filter: PeopleFilter) { people(first: 10, filter: $filter) { edges { node {
  id name hidden faceCount coverUrl
  appearances { id startS endS locked cropUrl asset { id } }
  coAppearing { assetCount person { id } }
} } } }"""
RESULT = (
    "{ __typename ... on PersonSuccess { person { id name hidden faceCount } } ... on UserError { code } }"
)


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> Graph:
    return await build_graph(services.session_factory, tenant.id, services.blobs)


async def _people(gql: GraphQLClient, **filter: Any) -> list[dict[str, Any]]:
    body = await gql(PEOPLE, {"filter": filter or None})
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["people"]["edges"]]


async def test_people_list_and_corrections(gql: GraphQLClient, graph: Graph, services: Services) -> None:
    ada, other = (gid("Person", p.id) for p in graph.people)
    harbour = gid("Asset", graph.harbour.id)
    listed = await _people(gql)
    assert [p["id"] for p in listed] == [ada, other]
    first = listed[0]
    assert (first["name"], first["hidden"], first["faceCount"], first["coverUrl"]) == ("Ada", False, 1, None)
    [appearance] = first["appearances"]
    assert (appearance["asset"]["id"], appearance["startS"], appearance["endS"]) == (harbour, 0.0, 3.0)
    assert first["coAppearing"] == [{"assetCount": 1, "person": {"id": other}}]
    assert [p["id"] for p in await _people(gql, nameContains="ad")] == [ada]
    seen = await gql(
        "query($id: ID!) { asset(id: $id) { people { id } "
        "scenes(first: 3) { edges { node { people { id } } } } } }",
        {"id": harbour},
    )
    assert seen["data"]["asset"]["people"] == [{"id": ada}, {"id": other}]
    scenes = [[p["id"] for p in e["node"]["people"]] for e in seen["data"]["asset"]["scenes"]["edges"]]
    assert scenes == [[ada], [other], []]

    renamed = await gql(
        f'mutation($id: ID!) {{ renamePerson(id: $id, name: " Grace ") {RESULT} }}', {"id": other}
    )
    assert renamed["data"]["renamePerson"]["person"]["name"] == "Grace"
    hidden = await gql(f"mutation($id: ID!) {{ hidePerson(id: $id) {RESULT} }}", {"id": other})
    assert hidden["data"]["hidePerson"]["person"]["hidden"] is True
    assert [p["id"] for p in await _people(gql)] == [ada]
    assert [p["id"] for p in await _people(gql, hidden=True)] == [other]

    moved = await gql(
        f"mutation($ids: [ID!]!) {{ moveFaces(ids: $ids) {RESULT} }}", {"ids": [appearance["id"]]}
    )
    new_person = moved["data"]["moveFaces"]["person"]
    assert new_person["faceCount"] == 1
    assert new_person["id"] not in (ada, other)
    merged = await gql(
        f"mutation($into: ID!, $ids: [ID!]!) {{ mergePeople(into: $into, ids: $ids) {RESULT} }}",
        {"into": ada, "ids": [new_person["id"]]},
    )
    assert merged["data"]["mergePeople"]["person"] == {
        "id": ada,
        "name": "Ada",
        "hidden": False,
        "faceCount": 1,
    }
    # The merged-away ID leads to the person it went into.
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": new_person["id"]})
    assert node["data"]["node"] == {"id": ada}
    [locked] = (await _people(gql))[0]["appearances"]
    assert locked["locked"] is True

    async with services.session_factory() as session:
        actions = sorted(
            a.action
            for a in await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "person"))
        )
    assert actions == ["person.hide", "person.merge", "person.move_faces", "person.rename"]


RENAME = f"mutation($id: ID!, $name: String) {{ renamePerson(id: $id, name: $name) {RESULT} }}"


async def test_refusals(gql: GraphQLClient, graph: Graph) -> None:
    ada = gid("Person", graph.people[0].id)
    wrong = await gql(RENAME, {"id": gid("Asset", graph.harbour.id), "name": "x"})
    assert wrong["data"]["renamePerson"] == {"__typename": "WrongIdType", "code": "WRONG_ID_TYPE"}
    too_long = await gql(RENAME, {"id": ada, "name": "x" * 201})
    assert too_long["data"]["renamePerson"]["code"] == "INVALID_INPUT"
    missing = await gql(
        f"mutation($ids: [ID!]!) {{ moveFaces(ids: $ids) {RESULT} }}",
        {"ids": [gid("Face", graph.harbour.id)]},
    )
    assert missing["data"]["moveFaces"]["code"] == "NOT_FOUND"


async def _people_with_faces(services: Services, tenant_id: uuid.UUID, n: int) -> None:
    """``n`` people in one asset, each with a small face and a larger one (both with crops)."""
    common: dict[str, Any] = {"tenant_id": tenant_id, "model_name": "m", "model_version": "1"}
    asset = Asset(
        tenant_id=tenant_id, kind=AssetKind.VIDEO, status=AssetStatus.READY, title="crowd", blob_key="k",
        content_sha256="f" * 64, mime_type="video/mp4", size_bytes=1, created_at=T0,
    )  # fmt: skip
    people = [Person(tenant_id=tenant_id, name=f"p{i}") for i in range(n)]
    async with services.session_factory() as session:
        session.add_all([asset, *people])
        await session.flush()
        session.add_all(
            FaceTrack(
                asset_id=asset.id, person_id=p.id, start_s=float(size), end_s=float(size) + 1.0, box_x=0.1,
                box_y=0.1, box_w=size / 10, box_h=size / 10, descriptor=bytes(4 * 128),
                crop_blob_key=f"crops/{p.name}/{size}.jpg", **common,
            )
            for p in people
            for size in (1, 3)
        )  # fmt: skip
        await session.commit()


# people page + face counts of the page + tracks of the page (appearances and cover share it).
PEOPLE_STATEMENTS = 3


@pytest.mark.parametrize("n", [2, 6])
async def test_person_fields_cost_one_statement_per_page(
    gql: GraphQLClient, services: Services, tenant: Tenant, count_sql: Any, n: int
) -> None:
    await _people_with_faces(services, tenant.id, n)
    await gql("{ __typename }")  # resolves the caller once per process, outside the count
    with count_sql() as counter:
        body = await gql(
            "{ people(first: 10) { edges { node { name faceCount coverUrl appearances { startS } } } } }"
        )
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["people"]["edges"]]
    assert sorted(p["name"] for p in nodes) == [f"p{i}" for i in range(n)]
    assert {p["faceCount"] for p in nodes} == {2}
    assert [[a["startS"] for a in p["appearances"]] for p in nodes] == [[1.0, 3.0]] * n
    # Each person's cover is its own largest face.
    assert all(f"crops/{p['name']}/3.jpg" in p["coverUrl"] for p in nodes), nodes
    assert counter.count == PEOPLE_STATEMENTS, "\n\n".join(counter.statements)

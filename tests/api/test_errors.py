"""Bad input gets the documented error, internal errors are masked with the request id, and
the server keeps answering."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.api.http import create_graphql_app
from app.assets import repository
from app.core.container import Services
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import gid

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
async def _server_stays_up(gql: GraphQLClient) -> Any:
    yield
    assert await gql("{ __typename }") == {"data": {"__typename": "Query"}}


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


async def test_malformed_and_wrong_type_ids(gql: GraphQLClient) -> None:
    body = await gql('{ asset(id: "garbage") { id } }')
    assert body == {
        "data": {"asset": None},
        "errors": [
            {
                "message": "'garbage' is not a valid ID",
                "locations": [{"line": 1, "column": 3}],
                "path": ["asset"],
                "extensions": {"code": "MALFORMED_ID", "field": ["id"]},
            }
        ],
    }
    scene_id = gid("Scene", uuid.UUID(int=7))
    wrong = await gql(
        "query($id: ID!) { asset(id: $id) { id } job(id: $id) { id } scene(id: $id) { id } }",
        {"id": scene_id},
    )
    assert wrong["data"] == {"asset": None, "job": None, "scene": None}
    assert [(e["path"], e["message"], e["extensions"]) for e in wrong["errors"]] == [
        (
            ["asset"],
            "expected an ID of Asset, got an ID of Scene",
            {"code": "WRONG_ID_TYPE", "field": ["id"]},
        ),
        (["job"], "expected an ID of Job, got an ID of Scene", {"code": "WRONG_ID_TYPE", "field": ["id"]}),
    ]
    # An ID naming no type this API has, through node():
    unknown = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": gid("Tenant", uuid.UUID(int=1))})
    assert _codes(unknown) == ["WRONG_ID_TYPE"]


async def test_first_above_the_cap(gql: GraphQLClient) -> None:
    body = await gql("{ assets(first: 1000000) { edges { node { id } } } }")
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "`first` must be between 0 and 100, got 1000000",
                "locations": [{"line": 1, "column": 3}],
                "path": ["assets"],
                "extensions": {"code": "PAGE_SIZE_EXCEEDED", "field": ["first"]},
            }
        ],
    }
    negative = await gql("{ jobs(first: -1) { edges { node { id } } } }")
    assert _codes(negative) == ["PAGE_SIZE_EXCEEDED"]


async def test_foreign_cursor(gql: GraphQLClient) -> None:
    body = await gql('{ assets(after: "bm90IGEgY3Vyc29y") { edges { node { id } } } }')
    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (
            "the cursor was not issued by this connection with this ordering",
            {"code": "INVALID_CURSOR", "field": ["after"]},
        )
    ]


def _nested(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        # first: 1 keeps the estimate small: only the depth limit may object.
        inner = f"scenes(first: 1) {{ edges {{ node {{ asset {{ {inner} }} }} }} }}"
    return f"{{ assets(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


async def test_depth_limit(gql: GraphQLClient) -> None:
    body = await gql(_nested(7))  # 3 + 7 x 4 + 1 = 32 levels
    assert body["data"] is None
    assert _codes(body) == ["QUERY_TOO_DEEP"]
    assert body["errors"][0]["message"] == "'anonymous' exceeds maximum operation depth of 12"


async def test_alias_limit(gql: GraphQLClient) -> None:
    body = await gql("{ " + " ".join(f"a{i}: __typename" for i in range(500)) + " }")
    assert body == {
        "data": None,
        "errors": [{"message": "500 aliases found. Allowed: 30", "extensions": {"code": "TOO_MANY_ALIASES"}}],
    }


async def test_complexity_limit_counts_pages(gql: GraphQLClient) -> None:
    query = (
        "query($n: Int!) { assets(first: $n) { edges { node { "
        "scenes(first: $n) { edges { node { id } } } } } } }"
    )
    # 1 + n x (edges + node + scenes) + n x n x (edges + node): 100 -> 20301 objects.
    body = await gql(query, {"n": 100})
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "complexity": 20301,
        "limit": 5000,
    }
    small = await gql(query, {"n": 10})
    assert small == {"data": {"assets": {"edges": []}}}


async def test_document_size_limit(gql: GraphQLClient) -> None:
    body = await gql("{ " + "__typename " * 12_000 + "}")
    assert _codes(body) == ["DOCUMENT_TOO_LARGE"]


async def test_unknown_enum_value(gql: GraphQLClient) -> None:
    as_variable = await gql(operation("AssetList"), {"first": 1, "filter": {"kind": ["MOVIE"]}})
    assert as_variable["data"] is None
    assert _codes(as_variable) == ["BAD_USER_INPUT"]
    assert "MOVIE" in as_variable["errors"][0]["message"]
    inline = await gql("{ assets(filter: {kind: [MOVIE]}) { edges { node { id } } } }")
    assert _codes(inline) == ["GRAPHQL_VALIDATION_FAILED"]
    assert inline["errors"][0]["message"] == "Value 'MOVIE' does not exist in 'AssetKind' enum."


async def test_internal_errors_are_masked_with_the_request_id(
    gql: GraphQLClient, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(repository, "list_assets", broken)
    response = await http.post(
        "/graphql", json={"query": "{ assets { edges { node { id } } } }"}, headers={"X-Request-ID": "req-42"}
    )
    assert response.headers["x-request-id"] == "req-42"
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "Internal server error",
                "locations": [{"line": 1, "column": 3}],
                "path": ["assets"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"},
            }
        ],
    }
    monkeypatch.undo()


async def test_every_response_has_a_request_id(http: httpx.AsyncClient) -> None:
    first = await http.post("/graphql", json={"query": "{ __typename }"})
    second = await http.post("/graphql", json={"query": "{ __typename }"})
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    # A header that could forge log lines is replaced, not echoed.
    forged = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "a b\tc"})
    assert forged.headers["x-request-id"] != "a b\tc"


async def test_oversized_upload_gets_the_typed_error(http: httpx.AsyncClient, services: Services) -> None:
    services.settings.max_upload_bytes = 16
    operations = {"query": operation("IngestAsset"), "variables": {"input": {"source": {"upload": None}}}}
    response = await http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.source.upload"]}),
        },
        files={"0": ("dot.png", PNG_1PX, "image/png")},
    )
    assert response.json() == {
        "data": {
            "ingestAsset": {
                "__typename": "FileTooLarge",
                "message": "content exceeds the limit of 16 bytes",
                "code": "FILE_TOO_LARGE",
                "field": ["input", "source", "upload"],
                "maxBytes": 16,
            }
        }
    }


async def test_request_bodies_beyond_the_upload_limit_are_refused_unread(services: Services) -> None:
    services.settings.max_upload_bytes = 16
    app: Starlette = create_graphql_app(services)  # the body limit is read when the app is built
    # No key: the size is refused before anybody is authenticated.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", headers={"x-mediakg-csrf": "1"}
    ) as client:
        operations = {"query": operation("IngestAsset"), "variables": {"input": {"source": {"upload": None}}}}
        response = await client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.source.upload"]}),
            },
            files={"0": ("big.bin", b"x" * (2 * 1024 * 1024), "application/octet-stream")},
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "FILE_TOO_LARGE"}

"""Trusted documents: operations known by the sha256 of their text, sent whole or by hash."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.http import create_graphql_app
from app.api.trusted_documents import document_hash, manifest
from app.core.container import Services
from tests.api.conftest import BASE_URL, OPERATIONS, Keys, operation
from tests.api.test_subscriptions import TIMEOUT_S, Server, _connect
from tests.fixtures.keys import auth

ASSET_LIST_VARIABLES = {"first": 5}
EMPTY_PAGE = {"assets": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}


async def _post(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _code(body: dict[str, Any]) -> str:
    (error,) = body["errors"]
    code: str = error["extensions"]["code"]
    return code


def _by_hash(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}


async def test_known_documents_can_be_sent_by_hash_alone(http: httpx.AsyncClient, tenant: Any) -> None:
    body = await _post(
        http, {"variables": ASSET_LIST_VARIABLES, "extensions": _by_hash(operation("AssetList"))}
    )
    assert body == {"data": EMPTY_PAGE}
    unknown = await _post(http, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}})
    assert (_code(unknown), unknown["errors"][0]["message"]) == (
        "PERSISTED_QUERY_NOT_FOUND",
        "PersistedQueryNotFound",
    )
    # A hash sent beside a document must be that document's.
    mismatch = await _post(http, {"query": "{ __typename }", "extensions": _by_hash(operation("AssetList"))})
    assert _code(mismatch) == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_with_trusted_documents_on_only_listed_documents_run(
    http: httpx.AsyncClient, services: Services, tenant: Any
) -> None:
    services.settings.trusted_documents = True
    listed = await _post(http, {"query": operation("AssetList"), "variables": ASSET_LIST_VARIABLES})
    assert listed == {"data": EMPTY_PAGE}
    by_hash = await _post(
        http, {"variables": ASSET_LIST_VARIABLES, "extensions": _by_hash(operation("AssetList"))}
    )
    assert by_hash == {"data": EMPTY_PAGE}
    ad_hoc = await _post(http, {"query": "{ __typename }"})
    assert ad_hoc == {
        "data": None,
        "errors": [
            {
                "message": "this server runs trusted documents only: the document is not on its list",
                "extensions": {"code": "OPERATION_NOT_TRUSTED"},
            }
        ],
    }
    # The exact text is what is trusted: one more space is another document.
    edited = await _post(http, {"query": operation("AssetList") + " ", "variables": ASSET_LIST_VARIABLES})
    assert _code(edited) == "OPERATION_NOT_TRUSTED"
    # Introspection is a document like any other.
    assert _code(await _post(http, {"query": "{ __schema { types { name } } }"})) == "OPERATION_NOT_TRUSTED"


async def test_an_admin_manifest_extends_the_list(services: Services, keys: Keys, tmp_path: Path) -> None:
    approved = tmp_path / "approved"
    approved.mkdir()
    (approved / "Ping.graphql").write_text("query Ping { __typename }")
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(manifest(approved)))
    services.settings.trusted_documents = True
    services.settings.trusted_documents_manifest = manifest_path
    app = create_graphql_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=auth(keys.read)) as client:
        assert await _post(client, {"query": "query Ping { __typename }"}) == {
            "data": {"__typename": "Query"}
        }
        assert await _post(client, {"extensions": _by_hash("query Ping { __typename }")}) == {
            "data": {"__typename": "Query"}
        }
        assert _code(await _post(client, {"query": "query Pong { __typename }"})) == "OPERATION_NOT_TRUSTED"


def test_a_manifest_whose_ids_are_not_the_hashes_fails_the_start(services: Services, tmp_path: Path) -> None:
    forged = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": document_hash(operation("AssetList")), "name": "Evil", "body": "{ __typename }"}
        ],
    }
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(forged))
    services.settings.trusted_documents = True
    services.settings.trusted_documents_manifest = manifest_path
    with pytest.raises(ValueError, match="the id of 'Evil' is not the sha256 of its body"):
        create_graphql_app(services)


def test_the_cli_manifest_names_every_operation() -> None:
    built = manifest(OPERATIONS)
    operations = built["operations"]
    assert isinstance(operations, list)
    assert {op["name"] for op in operations} == {p.stem for p in OPERATIONS.glob("*.graphql")}
    assert all(op["id"] == document_hash(op["body"]) for op in operations)


async def test_websocket_operations_are_checked_too(services: Services, keys: Keys) -> None:
    services.settings.trusted_documents = True
    async with Server(services) as url, httpx.AsyncClient() as client, _connect(url, client) as ws:
        await ws.send_json({"type": "connection_init", "payload": auth(keys.read)})
        assert await asyncio.wait_for(ws.receive_json(), TIMEOUT_S) == {"type": "connection_ack"}
        document = 'subscription { jobProgress(jobId: "Sm9iOjA=") { kind } }'
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": document}})
        message = await asyncio.wait_for(ws.receive_json(), TIMEOUT_S)
    assert message["type"] == "error"
    assert [e["extensions"]["code"] for e in message["payload"]] == ["OPERATION_NOT_TRUSTED"]

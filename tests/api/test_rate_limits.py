"""Per-caller rate limits through the API: GraphQL operations, blob downloads, ingest bytes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.api.http import create_graphql_app
from app.core.container import Services
from app.core.ratelimit import RedisRateLimiter
from tests.api.conftest import BASE_URL, GraphQLClient, Keys, operation
from tests.api.test_subscriptions import TIMEOUT_S, Server, _connect
from tests.fixtures.keys import auth


def _limited(body: dict[str, Any]) -> tuple[str, str, int]:
    (error,) = body["errors"]
    return error["message"], error["extensions"]["code"], error["extensions"]["retryAfterSeconds"]


async def test_operations_over_the_request_limit_get_rate_limited(
    http: httpx.AsyncClient, services: Services
) -> None:
    services.settings.rate_limit_requests_per_minute = 3
    answers = [await http.post("/graphql", json={"query": "{ __typename }"}) for _ in range(4)]
    assert [a.json() for a in answers[:3]] == [{"data": {"__typename": "Query"}}] * 3
    message, code, retry_after = _limited(answers[3].json())
    assert code == "RATE_LIMITED"
    assert 1 <= retry_after <= 60
    assert message == f"too many requests: retry after {retry_after} s"
    assert answers[3].json().get("data") is None
    # Not even parsed: a broken document is refused the same way.
    broken = await http.post("/graphql", json={"query": "{ not valid"})
    assert _limited(broken.json())[1] == "RATE_LIMITED"


async def test_blob_downloads_over_the_limit_get_429_with_retry_after(
    http: httpx.AsyncClient, services: Services
) -> None:
    services.settings.rate_limit_requests_per_minute = 1
    first = await http.get("/blobs/sha256/00/00/nothing.jpg")
    assert first.status_code == 404
    second = await http.get("/blobs/sha256/00/00/nothing.jpg")
    assert second.status_code == 429
    seconds = int(second.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert second.json() == {"error": "rate limited", "code": "RATE_LIMITED", "retryAfterSeconds": seconds}


async def test_ingest_bytes_over_the_budget_get_the_typed_error(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    services.settings.rate_limit_ingest_bytes_per_minute = 100
    (media_root / "a.txt").write_text("a" * 150)
    (media_root / "b.txt").write_text("b" * 10)
    first = await gql(operation("IngestAsset"), {"input": {"source": {"path": str(media_root / "a.txt")}}})
    assert first["data"]["ingestAsset"]["__typename"] == "IngestAssetSuccess"
    # 150 bytes charged: the budget is overdrawn, the next ingest waits for the next minute.
    second = await gql(operation("IngestAsset"), {"input": {"source": {"path": str(media_root / "b.txt")}}})
    result = second["data"]["ingestAsset"]
    retry_after = result.pop("retryAfterSeconds")
    assert result == {
        "__typename": "RateLimited",
        "message": "the ingest limit of 100 bytes per minute is used up",
        "code": "RATE_LIMITED",
        "field": None,
    }
    assert 1 <= retry_after <= 60


@pytest.mark.redis
async def test_api_processes_share_their_counters_in_redis(
    services: Services, keys: Keys, redis_url: str, redis_prefix: str
) -> None:
    services.settings.rate_limit_requests_per_minute = 3
    services.rate_limiter = RedisRateLimiter(redis_url, prefix=f"{redis_prefix}_{uuid.uuid4().hex[:8]}")
    # Two apps over the same counters, as two API pods would be.
    first, second = create_graphql_app(services), create_graphql_app(services)
    codes = []
    for app in (first, second, first, second):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=auth(keys.read)
        ) as client:
            body = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
        codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "OK")
    assert codes == ["OK", "OK", "OK", "RATE_LIMITED"]


async def test_websocket_operations_count_and_get_the_error_message(services: Services, keys: Keys) -> None:
    services.settings.rate_limit_requests_per_minute = 1
    document = "query Ping { __typename }"
    async with Server(services) as url, httpx.AsyncClient() as client, _connect(url, client) as ws:
        await ws.send_json({"type": "connection_init", "payload": auth(keys.read)})
        assert await asyncio.wait_for(ws.receive_json(), TIMEOUT_S) == {"type": "connection_ack"}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": document}})
        assert await asyncio.wait_for(ws.receive_json(), TIMEOUT_S) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"__typename": "Query"}},
        }
        assert (await asyncio.wait_for(ws.receive_json(), TIMEOUT_S))["type"] == "complete"
        await ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": document}})
        message = await asyncio.wait_for(ws.receive_json(), TIMEOUT_S)
    assert (message["type"], message["id"]) == ("error", "2")
    (error,) = message["payload"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfterSeconds"] <= 60


async def test_each_key_has_its_own_budget(api_app: Starlette, keys: Keys, services: Services) -> None:
    services.settings.rate_limit_requests_per_minute = 1
    transport = httpx.ASGITransport(app=api_app)
    codes = []
    for key in (keys.admin, keys.admin, keys.read, keys.read):
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=auth(key)) as client:
            body = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
        codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "OK")
    assert codes == ["OK", "RATE_LIMITED", "OK", "RATE_LIMITED"]

"""Request bodies over their cap are refused before they are read: a 300 MB JSON document,
declared or chunked, costs the server at most the cap (1 MiB) of memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from httpx_ws import WebSocketDisconnect
from starlette.applications import Starlette
from websockets.typing import Subprotocol

from app.api.http import create_graphql_app
from app.core.container import Services
from app.core.settings import Settings
from app.entrypoints.asgi import server_limits
from tests.api.conftest import BASE_URL, Keys
from tests.api.test_subscriptions import _connect
from tests.fixtures.keys import auth

_MIB = 1024 * 1024
_HOSTILE_BYTES = 300 * _MIB


def _peak_rss_reset() -> None:
    # Writing 5 to clear_refs resets VmHWM (peak resident set) on Linux >= 4.0.
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


async def _json_chunks(total: int) -> AsyncIterator[bytes]:
    """A JSON document of ``total`` bytes, sent in 1 MiB chunks produced on demand."""
    head = b'{"query": "{ __typename }", "variables": {"pad": "'
    yield head
    chunk = b"a" * _MIB
    sent = len(head)
    while sent + len(chunk) < total - 3:
        yield chunk
        sent += len(chunk)
    yield b'"}}'


def _headers(keys: Keys) -> dict[str, str]:
    # A key, and the CSRF header a form post needs to get as far as the body cap.
    return {**auth(keys.read), "x-mediakg-csrf": "1"}


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_graphql_app(services)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_300_mb_json_body_is_refused_without_being_held(
    app: Starlette, keys: Keys, declared: bool
) -> None:
    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = str(_HOSTILE_BYTES)
    consumed = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal consumed
        async for chunk in _json_chunks(_HOSTILE_BYTES):
            consumed += len(chunk)
            yield chunk

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers=_headers(keys)
    ) as client:
        await client.post("/graphql", json={"query": "{ __typename }"})  # warm up imports and caches
        _peak_rss_reset()
        before = _peak_rss()
        response = await client.post("/graphql", content=counted(), headers=headers)
        grown = _peak_rss() - before
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {"message": f"the request body exceeds {_MIB} bytes", "extensions": {"code": "BODY_TOO_LARGE"}}
        ]
    }
    # The server stopped reading at the cap (the client's generator is only advanced by reads).
    assert consumed <= 3 * _MIB
    # Peak memory grew by far less than the body (before the limit: +768 MiB for 300 MB).
    assert grown < 64 * _MIB, f"peak RSS grew by {grown / _MIB:.0f} MiB"
    mode = "declared" if declared else "chunked"
    print(f"300 MB body ({mode}): read {consumed / _MIB:.1f} MiB, peak RSS +{grown / _MIB:.1f} MiB")  # noqa: T201


async def test_bodies_up_to_the_default_cap_of_1_mib_are_served(app: Starlette, keys: Keys) -> None:
    pad = "a" * (_MIB - 200)
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": pad}})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers=_headers(keys)
    ) as client:
        response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
        chunked = await client.post(
            "/graphql", content=_json_chunks(_MIB - 100), headers={"content-type": "application/json"}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}
    # A chunked body under the cap is read whole and parsed as usual.
    assert chunked.status_code == 200, chunked.text


async def test_the_cap_is_a_setting(services: Services, keys: Keys) -> None:
    services.settings.max_json_body_bytes = 64
    app = create_graphql_app(services)  # the cap is read when the app is built
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers=_headers(keys)
    ) as client:
        small = await client.post("/graphql", json={"query": "{ __typename }"})
        large = await client.post("/graphql", json={"query": "{ __typename }", "variables": {"x": "y" * 64}})
        form = await client.post("/graphql", data={"query": "{ __typename }" + " " * 100})
    assert small.status_code == 200
    assert (large.status_code, large.json()["errors"][0]["extensions"]) == (413, {"code": "BODY_TOO_LARGE"})
    # Any non-multipart body has the same cap, whatever its content type says.
    assert form.status_code == 413


async def test_a_deeply_nested_body_under_the_cap_is_a_bad_request(app: Starlette, keys: Keys) -> None:
    # 400 KB of brackets: far below the cap, far beyond json.loads' recursion limit.
    nested = "[" * 200_000 + "]" * 200_000
    body = '{"query": "{ __typename }", "variables": {"x": ' + nested + "}}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=_headers(keys)) as client:
        response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.text) == (
        400,
        "Unable to parse request body as JSON: nested too deeply",
    )


async def test_websocket_messages_have_the_same_cap_under_serve_options(
    services: Services, keys: Keys
) -> None:
    services.settings.max_json_body_bytes = 64 * 1024
    config = uvicorn.Config(
        create_graphql_app(services),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        **server_limits(services.settings),  # what `mediakg serve` passes
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110  (uvicorn has no event to await)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as client, _connect(f"http://127.0.0.1:{port}", client) as ws:
            await ws.send_json({"type": "connection_init", "payload": auth(keys.read)})
            assert await asyncio.wait_for(ws.receive_json(), 10) == {"type": "connection_ack"}
            padding = "a" * (64 * 1024)
            await ws.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "x": padding}}
            )
            with pytest.raises(WebSocketDisconnect) as closed:
                await asyncio.wait_for(ws.receive_json(), 10)
        assert closed.value.code == 1009  # message too big
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("deflate", [False, True])
async def test_permessage_deflate_is_offered_only_when_the_setting_says_so(
    services: Services, deflate: bool
) -> None:
    services.settings.ws_per_message_deflate = deflate
    config = uvicorn.Config(
        create_graphql_app(services),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        **server_limits(services.settings),  # what `mediakg serve` passes
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110  (uvicorn has no event to await)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        # The client offers permessage-deflate (the websockets library does by default).
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as ws:
            assert ws.response is not None
            accepted = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ("permessage-deflate" in accepted) is deflate
    finally:
        server.should_exit = True
        await task


def test_serve_does_not_compress_websocket_frames_by_default() -> None:
    assert server_limits(Settings())["ws_per_message_deflate"] is False

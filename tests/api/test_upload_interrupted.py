"""An upload whose client goes away mid-body leaves nothing in the blob store (nor a row)."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from app.assets.models import Asset
from app.core.container import Services
from tests.api.conftest import BASE_URL, Keys, operation
from tests.fixtures.keys import auth

MIB = 1024 * 1024


def _multipart_upload(data: bytes, key: str) -> httpx.Request:
    operations = {"query": operation("IngestAsset"), "variables": {"input": {"source": {"upload": None}}}}
    return httpx.Request(
        "POST",
        f"{BASE_URL}/graphql",
        headers={**auth(key), "x-mediakg-csrf": "1"},
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.source.upload"]}),
        },
        files={"0": ("clip.mp4", data, "video/mp4")},
    )


async def test_client_disconnect_mid_upload_leaves_nothing(
    api_app: Starlette, services: Services, keys: Keys
) -> None:
    request = _multipart_upload(b"\x00\x00\x00\x18ftypmp42" + b"v" * (8 * MIB), keys.write)
    body = request.read()
    # Half the body arrives in 64 KiB pieces, then the server sees the client disconnect
    # (what uvicorn delivers when the connection drops).
    piece = 64 * 1024
    events: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[i : i + piece], "more_body": True}
        for i in range(0, len(body) // 2, piece)
    ]
    events.append({"type": "http.disconnect"})
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    await api_app(scope, receive, send)
    assert events == []  # the server read up to the disconnect
    blob_root = services.settings.data_dir / "blobs"
    assert [path for path in blob_root.rglob("*") if path.is_file()] == []
    async with services.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Asset)) == 0

"""Size caps that hold before the content is read, and what a client sees of server paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.assets.models import Asset
from app.core.container import Services
from tests.api.conftest import GraphQLClient, operation
from tests.api.test_mutations import PNG_1PX
from tests.api.test_mutations import _upload as upload

_GIB = 1024**3
# An MP4 file type box: enough for the content sniffer to call the file a video.
_MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def _sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes that starts with ``head`` and occupies almost no disk."""
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)
    return path


def _bytes_read_by_this_process() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


async def _ingest_path(gql: GraphQLClient, path: Path | str) -> dict[str, Any]:
    query = operation("IngestAsset")
    body = await gql(query, {"input": {"source": {"path": str(path)}}})
    result: dict[str, Any] = body["data"]["ingestAsset"]
    return result


_SOURCE_URI = "query($id: ID!) { node(id: $id) { ... on Asset { sourceUri } } }"


def _blob_files(services: Services) -> list[Path]:
    return [p for p in (services.settings.data_dir / "blobs").rglob("*") if p.is_file()]


async def test_a_file_over_the_limit_is_refused_from_its_size_unread(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    big = _sparse(media_root / "big.mp4", _MP4_HEAD, 2 * _GIB + 1)
    before = _bytes_read_by_this_process()
    result = await _ingest_path(gql, big)
    read = _bytes_read_by_this_process() - before
    assert result == {
        "__typename": "FileTooLarge",
        "message": f"content exceeds the limit of {2 * _GIB} bytes",
        "code": "FILE_TOO_LARGE",
        "field": ["input", "source", "path"],
        "maxBytes": 2 * _GIB,
    }
    # Before the check from stat, all 2 GiB were read (and copied into the blob directory).
    assert read < 16 * 1024 * 1024, f"{read} bytes read"
    assert _blob_files(services) == []


async def test_each_kind_has_its_own_cap_checked_from_the_first_bytes(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    services.settings.max_bytes_per_kind = {"image": 1000}
    picture = _sparse(media_root / "huge.png", PNG_1PX, 1001)
    video = _sparse(media_root / "clip.mp4", _MP4_HEAD, 1001)
    before = _bytes_read_by_this_process()
    refused = await _ingest_path(gql, picture)
    assert _bytes_read_by_this_process() - before < 1024 * 1024
    assert refused == {
        "__typename": "FileTooLarge",
        "message": "content exceeds the limit of 1000 bytes",
        "code": "FILE_TOO_LARGE",
        "field": ["input", "source", "path"],
        "maxBytes": 1000,
    }
    assert _blob_files(services) == []
    # Another kind keeps the general cap.
    accepted = await _ingest_path(gql, video)
    assert accepted["__typename"] == "IngestAssetSuccess", accepted


async def test_an_upload_over_its_kind_cap_is_refused_before_it_is_stored(
    http: httpx.AsyncClient, services: Services
) -> None:
    services.settings.max_bytes_per_kind = {"image": len(PNG_1PX) - 1}
    response = await upload(http, PNG_1PX, "dot.png")
    assert response.json()["data"]["ingestAsset"] == {
        "__typename": "FileTooLarge",
        "message": f"content exceeds the limit of {len(PNG_1PX) - 1} bytes",
        "code": "FILE_TOO_LARGE",
        "field": ["input", "source", "upload"],
        "maxBytes": len(PNG_1PX) - 1,
    }
    assert _blob_files(services) == []


async def test_source_uri_shows_the_path_inside_its_root_only(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    (media_root / "notes").mkdir()
    (media_root / "notes" / "harbour.txt").write_text("the harbour at dawn")
    result = await _ingest_path(gql, media_root / "notes" / "harbour.txt")
    body = await gql(_SOURCE_URI, {"id": result["asset"]["id"]})
    assert body == {"data": {"node": {"sourceUri": "notes/harbour.txt"}}}
    async with services.session_factory() as session:
        row = (await session.scalars(select(Asset))).one()
    # The row keeps the absolute URI (workers read the file's origin from it).
    assert row.source_uri == (media_root / "notes" / "harbour.txt").as_uri()
    # Once no root holds the file any more, only its name is shown.
    services.settings.allowed_roots = [media_root / "elsewhere"]
    body = await gql(_SOURCE_URI, {"id": result["asset"]["id"]})
    assert body == {"data": {"node": {"sourceUri": "harbour.txt"}}}


async def test_a_path_with_an_unpaired_surrogate_is_invalid_input(
    http: httpx.AsyncClient, media_root: Path
) -> None:
    # JSON can carry a lone surrogate escaped; it decodes to a str no file system accepts.
    variables = {"input": {"source": {"path": f"{media_root}/\ud800"}}}
    document = {"query": operation("IngestAsset"), "variables": variables}
    response = await http.post(
        "/graphql", content=json.dumps(document), headers={"content-type": "application/json"}
    )
    assert response.json()["data"]["ingestAsset"] == {
        "__typename": "InvalidInput",
        "message": "the path is not valid text (an unpaired surrogate)",
        "code": "INVALID_INPUT",
        "field": ["input", "source", "path"],
    }

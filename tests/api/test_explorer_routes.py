"""How the service serves the explorer's build (app/api/explorer.py) and blob byte ranges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.api.explorer import explorer_routes, local_graphiql_html
from app.api.http import _closing, byte_range
from app.core.blobs.base import BlobReader


def _client(dist: Path) -> TestClient:
    return TestClient(Starlette(routes=explorer_routes(dist)))


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>explorer</title>", encoding="utf-8")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "graphiql" / "graphiql").mkdir(parents=True)
    (tmp_path / "graphiql" / "graphiql" / "graphiql.min.js").write_text("//", encoding="utf-8")
    return tmp_path


def test_client_routes_get_the_page_revalidated_every_time(dist: Path) -> None:
    client = _client(dist)
    # Global IDs are base64: "/" and "+" arrive percent-encoded and decoded.
    for path in ("/", "/asset/QXNzZXQ6MQ==", "/asset/ab%2Fcd%2B", "/search?q=fox", "/relations/x"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "<title>explorer</title>" in response.text
        assert response.headers["cache-control"] == "no-cache"
    # Not a page of the app: no page either.
    assert client.get("/etc/passwd").status_code == 404
    assert client.get("/assetx").status_code == 404


def test_hashed_assets_are_immutable_and_missing_ones_404(dist: Path) -> None:
    client = _client(dist)
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/index-gone.js").status_code == 404
    assert (
        client.get("/graphiql/graphiql/graphiql.min.js").headers["cache-control"] == "public, max-age=86400"
    )


def test_without_a_build_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    response = _client(tmp_path / "missing").get("/")
    assert response.status_code == 503
    assert "make web" in response.text
    assert "GraphiQL's files are not built" in local_graphiql_html(tmp_path / "missing")


def test_graphiql_loads_nothing_from_a_cdn(dist: Path) -> None:
    page = local_graphiql_html(dist)
    assert "unpkg.com" not in page
    assert "integrity=" not in page
    assert 'src="/graphiql/graphiql/graphiql.min.js"' in page
    assert 'href="/graphiql/@graphiql/plugin-explorer/dist/style.css"' in page
    # The explorer's key, if this tab has one, goes on HTTP and in connection_init.
    assert 'sessionStorage.getItem("mediakg.apiKey")' in page
    assert "wsConnectionParams: defaultHeaders" in page


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=-5", (95, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole blob (RFC 9110 allows ignoring Range)
        ("items=0-1", None),
        ("bytes=9-2", None),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(ValueError, match="range"):
        byte_range(header, 100)


async def test_a_range_streams_exactly_its_bytes_across_chunks() -> None:
    """What the blob route sends for a range: the stores read from the start, in chunks (here
    of 7 bytes), and the bytes before and after the range are dropped, whichever chunk they are in."""
    blob = bytes(range(40))
    closed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        try:
            for at in range(0, len(blob), 7):
                yield blob[at : at + 7]
        finally:
            closed.append(True)

    for first in range(len(blob)):
        for last in range(first, len(blob)):
            closed.clear()
            sent = [c async for c in _closing(BlobReader(len(blob), chunks()), first, last - first + 1)]
            assert b"".join(sent) == blob[first : last + 1], (first, last)
            assert closed == [True]
    whole = [c async for c in _closing(BlobReader(len(blob), chunks()))]
    assert b"".join(whole) == blob

"""ingestAsset(source: {url}) against a real HTTP server on 127.0.0.1 (exempted for the test);
refusals of other ranges are checked at the resolution step, with no connection made."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.assets.models import Asset
from app.core.container import Services
from app.core.netguard import IPAddress, Network
from tests.api.conftest import GraphQLClient, operation
from tests.api.test_mutations import _UNRECOGNISED, PNG_1PX
from tests.fixtures.local_http import LocalServer, Reply, local_http_server


@pytest.fixture
def server(services: Services) -> Iterator[LocalServer]:
    services.settings.outbound_allowed_networks = ["127.0.0.1/32"]
    with local_http_server() as running:
        running.route("/media/dot.png", Reply(body=PNG_1PX, headers={"Content-Type": "image/png"}))
        yield running


async def _ingest_url(gql: GraphQLClient, url: str) -> dict[str, Any]:
    body = await gql(operation("IngestAsset"), {"input": {"source": {"url": url}}})
    result: dict[str, Any] = body["data"]["ingestAsset"]
    return result


def _blob_files(services: Services) -> list[Path]:
    return [p for p in (services.settings.data_dir / "blobs").rglob("*") if p.is_file()]


async def test_an_image_is_fetched_sniffed_and_registered(
    gql: GraphQLClient, services: Services, server: LocalServer
) -> None:
    result = await _ingest_url(gql, f"{server.url}/media/dot.png?token=secret")
    assert result["__typename"] == "IngestAssetSuccess", result
    assert (result["created"], result["asset"]["kind"], result["asset"]["title"]) == (True, "IMAGE", "dot")
    async with services.session_factory() as session:
        asset = (await session.scalars(select(Asset))).one()
    assert (asset.mime_type, asset.size_bytes) == ("image/png", len(PNG_1PX))
    # The query (often a token) is not kept.
    assert asset.source_uri == f"{server.url}/media/dot.png"
    assert services.blobs.read_bytes(asset.blob_key) == PNG_1PX


async def test_a_name_resolving_to_the_metadata_service_is_refused_unconnected(
    gql: GraphQLClient, services: Services, server: LocalServer
) -> None:
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("169.254.169.254")]

    connections: list[str] = []

    def no_transport() -> Any:
        connections.append("asked for a transport")
        raise AssertionError("no connection may be attempted")

    services.network = Network(resolver=resolver, transport=no_transport)
    result = await _ingest_url(gql, "http://metadata.test/latest/meta-data/iam")
    assert result == {
        "__typename": "UrlNotAllowed",
        "message": "metadata.test: resolves to a cloud metadata address",
        "code": "URL_NOT_ALLOWED",
        "field": ["input", "source", "url"],
    }
    assert (lookups, connections) == (["metadata.test"], [])


async def test_redirects_to_loopback_are_refused_without_the_allowance(
    gql: GraphQLClient, services: Services, server: LocalServer
) -> None:
    services.settings.outbound_allowed_networks = []
    result = await _ingest_url(gql, f"{server.url}/media/dot.png")
    assert (result["__typename"], result["message"]) == (
        "UrlNotAllowed",
        "127.0.0.1: resolves to a loopback address",
    )
    # With 127.0.0.1 exempted, a redirect to another loopback address is still refused.
    services.settings.outbound_allowed_networks = ["127.0.0.1/32"]
    server.route(
        "/go", Reply(status=302, headers={"Location": f"http://127.0.0.9:{server.port}/media/dot.png"})
    )
    result = await _ingest_url(gql, f"{server.url}/go")
    assert (result["__typename"], result["message"]) == (
        "UrlNotAllowed",
        "127.0.0.9: resolves to a loopback address",
    )
    assert [s.path for s in server.seen] == ["/go"]


@pytest.mark.parametrize(
    ("route", "reply", "typename", "message"),
    [
        ("/missing", None, "FetchFailed", "the server answered HTTP 404"),
        ("/blob.bin", Reply(body=b"\x00\x01\x02" * 5000), "UnsupportedMedia",
         f"blob.bin: {_UNRECOGNISED}"),
        # An image's cap (256 MiB) is known once its first bytes are: the declared length is refused then.
        ("/huge.png", Reply(body=PNG_1PX + bytes(9000), headers={"Content-Length": str(300 * 1024**2)}),
         "FileTooLarge",
         f"content exceeds the limit of {256 * 1024**2} bytes"),
    ],
)  # fmt: skip
async def test_fetch_failures_are_typed_and_leave_nothing(
    gql: GraphQLClient,
    services: Services,
    server: LocalServer,
    route: str,
    reply: Reply | None,
    typename: str,
    message: str,
) -> None:
    if reply is not None:
        server.route(route, reply)
    result = await _ingest_url(gql, f"{server.url}{route}")
    assert (result["__typename"], result["message"], result["field"]) == (
        typename,
        message,
        ["input", "source", "url"],
    )
    assert _blob_files(services) == []


async def test_non_http_urls_are_refused(gql: GraphQLClient) -> None:
    result = await _ingest_url(gql, "file:///etc/passwd")
    assert result == {
        "__typename": "UrlNotAllowed",
        "message": "only http and https URLs can be fetched",
        "code": "URL_NOT_ALLOWED",
        "field": ["input", "source", "url"],
    }

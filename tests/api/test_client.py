"""The generated async client against the API in-process: upload, mutate, list, typed."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
import pytest
from starlette.applications import Starlette

from app.client import MediaKGClient
from app.client.async_base_client import HttpClient
from app.client.base_model import Upload
from app.client.ingest_asset import IngestAssetIngestAssetIngestAssetSuccess
from app.client.input_types import AssetFilter, IngestAssetInput, IngestSource, UpdateAssetInput
from tests.api.conftest import BASE_URL, Keys
from tests.fixtures.keys import auth

pytestmark = pytest.mark.db


async def test_async_client_ingests_updates_and_lists(api_app: Starlette, keys: Keys, tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=api_app)
    # ariadne-codegen's HttpClient protocol declares post()'s options positional where httpx
    # makes them keyword-only, so mypy rejects an httpx.AsyncClient that works (its default).
    # Uploads are multipart: they carry the CSRF header (docs/security.md) beside the key.
    headers = {**auth(keys.write), "x-mediakg-csrf": "1"}
    http_client = cast("HttpClient", httpx.AsyncClient(transport=transport, headers=headers))
    async with MediaKGClient(url=f"{BASE_URL}/graphql", http_client=http_client) as client:
        upload_path = tmp_path / "notes.md"
        upload_path.write_text("# Notes\n\nThe ferry leaves at nine.\n")
        with upload_path.open("rb") as handle:
            created = await client.ingest_asset(
                IngestAssetInput(
                    source=IngestSource(
                        upload=Upload(filename="notes.md", content=handle, content_type="text/markdown")
                    ),
                    tags=["ferry"],
                )
            )
        success = created.ingest_asset
        assert success.typename__ == "IngestAssetSuccess"
        assert isinstance(success, IngestAssetIngestAssetIngestAssetSuccess)
        asset_id = success.asset.id
        updated = await client.update_asset(UpdateAssetInput(id=asset_id, title="Ferry notes"))
        assert updated.update_asset.typename__ == "UpdateAssetSuccess"
        listed = await client.asset_list(first=5, filter_=AssetFilter(tag="ferry"))
        assert [edge.node.title for edge in listed.assets.edges] == ["Ferry notes"]

"""The /blobs route streams from S3 exactly as from a local directory (moto's S3 emulator,
see tests/fixtures/s3.py): the URL the API hands out serves the keyframe's bytes."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.core.blobs.s3 import S3BlobStore
from app.core.container import Services
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import KEYFRAME_BYTES, build_graph, gid
from tests.fixtures.s3 import object_keys, s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]  # fixtures used by this module


async def test_keyframe_is_streamed_from_s3(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    services: Services,
    tenant: Tenant,
    s3_endpoint: str,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    services.blobs = S3BlobStore(
        f"s3://{s3_bucket}/api",
        endpoint=s3_endpoint,
        cache_dir=tmp_path / "cache",
        cache_max_bytes=1 << 30,
        part_bytes=5 << 20,
    )
    graph = await build_graph(services.session_factory, tenant.id, services.blobs)
    assert f"api/{graph.keyframe_key}" in object_keys(s3_endpoint, s3_bucket)
    body = await gql(operation("AssetPage"), {"id": gid("Asset", graph.harbour.id)})
    url = body["data"]["asset"]["scenes"]["edges"][0]["node"]["keyframeUrl"]
    served = await http.get(url)
    assert (served.status_code, served.content) == (200, KEYFRAME_BYTES)
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["content-length"] == str(len(KEYFRAME_BYTES))
    # Gone from the store (swept, say) while a row still names it: not found, not a 500.
    services.blobs.delete(graph.keyframe_key)
    assert (await http.get(url)).status_code == 404
    # Nothing was written to the local blob directory.
    assert not any((services.settings.data_dir / "blobs").rglob("*.jpg"))

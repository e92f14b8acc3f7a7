"""Scale-out without a shared disk: an API process (`mediakg serve`) and a worker process
(`mediakg worker` on the Redis broker) with DIFFERENT data directories share blobs only through
an S3 endpoint. The upload goes to the API, the worker reads it from S3 and stores the
keyframe there, and the API serves that keyframe.

The S3 endpoint is moto's server mode, an S3 EMULATOR (tests/fixtures/s3.py says what that
does and does not show); PostgreSQL and Redis are real.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.blobs.s3 import S3BlobStore
from tests.fixtures.media import image_bytes, photo
from tests.fixtures.processes import Process, free_port
from tests.fixtures.s3 import CREDENTIALS, create_bucket, object_keys, s3_endpoint

__all__ = ["s3_endpoint"]  # fixtures used by this module

pytestmark = [pytest.mark.slow, pytest.mark.models, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[1]
STATUS = """query ($id: ID!) {
  asset(id: $id) {
    status
    jobs(first: 1) { edges { node { status } } }
    scenes(first: 5) { edges { node { keyframeUrl } } }
  }
}"""
INGEST = """mutation ($input: IngestAssetInput!) {
  ingestAsset(input: $input) {
    __typename
    ... on IngestAssetSuccess { asset { id } }
    ... on UserError { message code }
  }
}"""


@pytest.fixture
def processes(
    tmp_path: Path, database_url: str, redis_url: str, s3_endpoint: str
) -> Iterator[tuple[str, str, Path, Path]]:
    """(API base URL, bucket, API data dir, worker data dir) with both processes running."""
    if database_url.startswith("sqlite"):
        # A plain skip even where services are required: scripts/test.sh runs this test again
        # in its PostgreSQL pass (it uses the database, so it is marked db).
        pytest.skip("runs on PostgreSQL only (MEDIAKG_TEST_DATABASE_URL): SQLite would be a shared disk")
    bucket = create_bucket(s3_endpoint)
    api_data, worker_data = tmp_path / "api-data", tmp_path / "worker-data"
    port = free_port()
    common = {
        **os.environ,
        **CREDENTIALS,
        "MEDIAKG_DATABASE_URL": database_url,
        # The test database's schema is created by the fixture, not by migrations.
        "MEDIAKG_AUTO_MIGRATE": "false",
        "MEDIAKG_BROKER_URL": redis_url,
        "MEDIAKG_REDIS_KEY_PREFIX": f"mkgs3_{os.getpid()}_{port}",
        "MEDIAKG_BLOB_URL": f"s3://{bucket}/mediakg",
        "MEDIAKG_BLOB_S3_ENDPOINT_URL": s3_endpoint,
        "MEDIAKG_LOG_JSON": "false",
        "MEDIAKG_LOG_LEVEL": "INFO",
    }
    api = Process(
        ["serve"],
        {**common, "MEDIAKG_DATA_DIR": str(api_data), "MEDIAKG_HOST": "127.0.0.1", "MEDIAKG_PORT": str(port)},
        tmp_path / "api.log",
    )
    worker = Process(
        ["worker", "--processes", "1", "--threads", "2", "--grace", "1"],
        {**common, "MEDIAKG_DATA_DIR": str(worker_data)},
        tmp_path / "worker.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        api.wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, within=90, what="the API")
        worker.wait_until(lambda: "worker ready" in worker.output(), within=90, what="the worker")
        yield base, bucket, api_data, worker_data
    finally:
        worker.close()
        api.close()


def _headers(api_data: Path) -> dict[str, str]:
    """What a client of this server sends: the admin key `mediakg serve` writes on first start
    (when authentication is on) and a header no cross-site form can carry (CSRF rule)."""
    headers = {"apollo-require-preflight": "true"}
    key_file = api_data / "admin-api-key"
    if key_file.exists():
        headers["authorization"] = f"Bearer {key_file.read_text().strip()}"
    return headers


def _graphql(base: str, headers: dict[str, str], query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_api_and_worker_share_blobs_only_through_s3(
    processes: tuple[str, str, Path, Path], s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, bucket, api_data, worker_data = processes
    headers = _headers(api_data)
    upload = image_bytes(photo("chelsea"))
    operations = {"query": INGEST, "variables": {"input": {"source": {"upload": None}, "title": "cat"}}}
    response = httpx.post(
        f"{base}/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.source.upload"]}),
        },
        files={"0": ("cat.png", upload, "image/png")},
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    result = response.json()["data"]["ingestAsset"]
    assert result["__typename"] == "IngestAssetSuccess", result
    asset_id = result["asset"]["id"]
    sha = hashlib.sha256(upload).hexdigest()
    upload_key = f"mediakg/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    # The API wrote the upload to S3 (staged, then moved under its content address).
    assert object_keys(s3_endpoint, bucket) == [upload_key]

    # The worker, which has no copy of the upload on its disk, reads it from S3, runs the
    # real pipeline and stores the keyframe and thumbnail in S3.
    deadline = time.monotonic() + 300
    asset: dict[str, Any] = {}
    while time.monotonic() < deadline:
        asset = _graphql(base, headers, STATUS, {"id": asset_id})["asset"]
        jobs = asset["jobs"]["edges"]
        if jobs and jobs[0]["node"]["status"] in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            break
        time.sleep(1)
    assert asset["jobs"]["edges"][0]["node"]["status"] == "SUCCEEDED", asset
    (scene,) = asset["scenes"]["edges"]
    keyframe_url = scene["node"]["keyframeUrl"]
    assert keyframe_url.startswith("/blobs/sha256/")

    # The API serves the keyframe the worker stored, streamed from S3.
    served = httpx.get(f"{base}{keyframe_url}", headers=headers, timeout=30)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content[:3] == b"\xff\xd8\xff"
    keyframe_key = "mediakg/" + keyframe_url.removeprefix("/blobs/").split("?")[0]
    assert keyframe_key in object_keys(s3_endpoint, bucket)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    store = S3BlobStore(
        f"s3://{bucket}/mediakg",
        endpoint=s3_endpoint,
        cache_dir=tmp_path / "test-cache",
        cache_max_bytes=1 << 30,
        part_bytes=5 << 20,
    )
    assert served.content == store.read_bytes(keyframe_key.removeprefix("mediakg/"))

    # Nothing went through either data directory's blob store: the API kept no file of the
    # upload, the worker only its download cache of the upload.
    assert not (api_data / "blobs").exists()
    assert not (worker_data / "blobs").exists()
    assert [path.name for path in _files(worker_data / "blob-cache")] == [sha]
    assert not any(path.name.startswith(sha) for path in _files(api_data))
    # Staged objects were all moved or dropped.
    assert not any(key.startswith("mediakg/staging/") for key in object_keys(s3_endpoint, bucket))

"""The blob stores' contract, on a local directory and on S3 (moto's S3 emulator, see
tests/fixtures/s3.py): content addressing, staging, streaming, multipart and what an
interrupted or refused upload leaves behind (nothing)."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.core.blobs import STAGING_PREFIX, BlobStore, LocalBlobStore, blob_key, create_blob_store
from app.core.blobs.s3 import S3BlobStore
from app.core.errors import EmptyFileError, FileTooLargeError, UnreadableFileError
from app.core.settings import Settings
from tests.fixtures.s3 import multipart_uploads, object_keys, s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]  # fixtures used by this module

MIB = 1024 * 1024
PART = 5 * MIB


def _s3_store(endpoint: str, bucket: str, tmp_path: Path, *, cache_max_bytes: int = 1 << 40) -> S3BlobStore:
    return S3BlobStore(
        f"s3://{bucket}/prefix",
        endpoint=endpoint,
        region="us-east-1",
        cache_dir=tmp_path / "cache",
        cache_max_bytes=cache_max_bytes,
        part_bytes=PART,
    )


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each backend in turn."""
    if request.param == "file":
        return LocalBlobStore(tmp_path / "blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return _s3_store(endpoint, bucket, tmp_path)


def _everything(store: BlobStore) -> list[str]:
    return sorted(info.key for prefix in ("sha256/", STAGING_PREFIX) for info in store.list(prefix))


class _Interrupted(io.RawIOBase):
    """``size`` bytes, then the connection drops (what a client going away mid-body looks like
    to the reader of the request body)."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise ConnectionResetError("client disconnected")
        n = min(len(buffer), self._left)
        buffer[:n] = b"v" * n
        self._left -= n
        return n


def test_put_read_and_list_by_content_address(store: BlobStore) -> None:
    data = os.urandom(3 * MIB + 17)
    sha = hashlib.sha256(data).hexdigest()
    stored = store.put_stream(io.BytesIO(data), max_bytes=len(data), suffix=".bin")
    assert (stored.key, stored.sha256, stored.size) == (blob_key(sha, ".bin"), sha, len(data))
    assert stored.key == f"sha256/{sha[:2]}/{sha[2:4]}/{sha}.bin"
    assert store.read_bytes(stored.key) == data
    assert store.read_head(stored.key, 10) == data[:10]
    assert store.read_head(stored.key, 10 * MIB) == data
    reader = store.open_read(stored.key)
    assert reader.size == len(data)
    assert b"".join(reader.chunks) == data
    assert store.local_path(stored.key).read_bytes() == data
    assert store.exists(stored.key)
    info = store.info(stored.key)
    assert info is not None
    assert (info.key, info.size) == (stored.key, len(data))
    # The same bytes again: the same key, one object.
    assert store.put_bytes(data, suffix=".bin") == stored
    assert _everything(store) == [stored.key]
    store.delete(stored.key)
    assert not store.exists(stored.key)
    assert store.info(stored.key) is None
    assert _everything(store) == []


def test_missing_blob_is_a_typed_error(store: BlobStore) -> None:
    key = blob_key("0" * 64)
    for read in (store.read_bytes, store.open_read, store.local_path, lambda k: store.read_head(k, 4)):
        with pytest.raises(UnreadableFileError, match=r"missing|cannot be read"):
            read(key)
    store.delete(key)  # deleting what is not there is fine


def test_staged_content_is_invisible_until_committed(store: BlobStore) -> None:
    data = b"staged bytes " * 1000
    staged = store.stage(io.BytesIO(data), max_bytes=len(data), suffix=".txt")
    assert staged.head == data[:8192]
    assert staged.size == len(data)
    assert not store.exists(staged.key)
    assert _everything(store) == [staged.staging_key]
    assert staged.staging_key.startswith(STAGING_PREFIX)
    stored = store.commit(staged)
    assert stored.key == staged.key
    assert _everything(store) == [stored.key]
    assert store.read_bytes(stored.key) == data
    # Committing content that is already stored refreshes it and drops the staged copy.
    again = store.stage(io.BytesIO(data), max_bytes=len(data), suffix=".txt")
    assert store.commit(again) == stored
    assert _everything(store) == [stored.key]


def test_discarded_content_leaves_nothing(store: BlobStore) -> None:
    staged = store.stage(io.BytesIO(b"refused"), max_bytes=100)
    store.discard(staged)
    assert _everything(store) == []
    store.discard(staged)  # twice is harmless


def test_refused_content_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(EmptyFileError):
        store.stage(io.BytesIO(b""), max_bytes=10)
    with pytest.raises(FileTooLargeError, match="exceeds the limit of 6291456 bytes"):
        store.stage(io.BytesIO(b"x" * (8 * MIB)), max_bytes=6 * MIB)
    assert _everything(store) == []


def test_interrupted_upload_leaves_nothing(store: BlobStore) -> None:
    # 12 MiB arrive (two parts of a multipart upload on S3), then the client is gone.
    with pytest.raises(ConnectionResetError):
        store.stage(io.BufferedReader(_Interrupted(12 * MIB)), max_bytes=100 * MIB)
    assert _everything(store) == []


def test_s3_interrupted_multipart_upload_is_aborted(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    store = _s3_store(s3_endpoint, s3_bucket, tmp_path)
    with pytest.raises(ConnectionResetError):
        store.stage(io.BufferedReader(_Interrupted(12 * MIB)), max_bytes=100 * MIB)
    with pytest.raises(FileTooLargeError):
        store.stage(io.BytesIO(b"x" * (11 * MIB)), max_bytes=10 * MIB)
    # Aborted: no object and no incomplete upload whose parts S3 would keep (and bill).
    assert object_keys(s3_endpoint, s3_bucket) == []
    assert multipart_uploads(s3_endpoint, s3_bucket) == []


def test_s3_large_upload_is_multipart_and_streams(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    store = _s3_store(s3_endpoint, s3_bucket, tmp_path)
    data = os.urandom(12 * MIB + 5)
    stored = store.put_stream(io.BytesIO(data), max_bytes=len(data))
    assert object_keys(s3_endpoint, s3_bucket) == [f"prefix/{stored.key}"]
    info = store.info(stored.key)
    assert info is not None
    assert info.size == len(data)
    reader = store.open_read(stored.key)
    chunks = list(reader.chunks)
    assert b"".join(chunks) == data
    assert len(chunks) > 1  # streamed, not one buffer
    assert multipart_uploads(s3_endpoint, s3_bucket) == []


def test_s3_staged_upload_uses_multipart(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    store = _s3_store(s3_endpoint, s3_bucket, tmp_path)
    staged = store.stage(io.BytesIO(b"m" * (11 * MIB)), max_bytes=20 * MIB)
    head = httpx.head(f"{s3_endpoint}/{s3_bucket}/prefix/{staged.staging_key}")
    assert head.headers["etag"].strip('"').endswith("-3")  # three parts of 5, 5 and 1 MiB
    store.discard(staged)
    assert object_keys(s3_endpoint, s3_bucket) == []


def test_s3_local_path_cache_evicts_least_recently_used(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = _s3_store(s3_endpoint, s3_bucket, tmp_path, cache_max_bytes=3 * MIB)
    keys = [store.put_bytes(bytes([n]) * (2 * MIB)).key for n in range(3)]
    first = store.local_path(keys[0])
    assert first.read_bytes() == bytes([0]) * (2 * MIB)
    assert store.local_path(keys[0]) == first  # cached: no second download
    # Files used within the hour are kept (a stage may be decoding them) even over the limit.
    second = store.local_path(keys[1])
    assert first.exists()
    assert second.exists()
    hours_ago = time.time() - 2 * 3600
    os.utime(first, (hours_ago, hours_ago))
    third = store.local_path(keys[2])
    assert not first.exists()
    assert second.exists()
    assert third.exists()
    assert store.local_path(keys[0]).read_bytes() == bytes([0]) * (2 * MIB)  # fetched again


def test_create_blob_store_from_settings(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    local = create_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalBlobStore)
    assert local.root == (tmp_path / "blobs").resolve()
    s3 = create_blob_store(
        Settings(data_dir=tmp_path, blob_url=f"s3://{s3_bucket}/p", blob_s3_endpoint_url=s3_endpoint)
    )
    assert isinstance(s3, S3BlobStore)
    key = s3.put_bytes(b"hello").key
    assert object_keys(s3_endpoint, s3_bucket) == [f"p/{key}"]
    for url in ("gs://bucket", "s3://", "/var/blobs"):
        with pytest.raises(ValidationError, match=r"use file:///directory or s3://bucket\[/prefix\]"):
            Settings(data_dir=tmp_path, blob_url=url)
    with pytest.raises(ValueError, match="names no bucket"):
        create_blob_store(Settings(data_dir=tmp_path, blob_url="s3:///nobucket"))


def test_local_keys_cannot_escape_the_directory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for key in ("../outside", "sha256/../../x", "a\x00b"):
        with pytest.raises(UnreadableFileError):
            store.read_bytes(key)

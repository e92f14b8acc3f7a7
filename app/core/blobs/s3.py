"""Blobs in an S3-compatible bucket, through obstore (the Rust ``object_store`` crate).

Credentials come from the environment as every AWS SDK reads them: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``), a web identity (``AWS_ROLE_ARN`` +
``AWS_WEB_IDENTITY_TOKEN_FILE``, as IRSA mounts them) or the instance metadata service.
Uploads stream as multipart uploads (an upload that fails or is interrupted is aborted,
its parts deleted); reads stream. Decoders need a file: ``local_path`` downloads a blob
once into a local cache (content-addressed, so a cached file is never stale).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlparse

import obstore
from obstore.store import S3Store

from app.core.blobs.base import (
    CHUNK,
    STAGING_PREFIX,
    BlobInfo,
    BlobReader,
    Meter,
    StagedBlob,
    StoredBlob,
    blob_key,
    put_via_staging,
)
from app.core.errors import EmptyFileError, UnreadableFileError
from app.core.telemetry import add_stored_bytes

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import S3Config

# Parts uploaded at once: an upload holds about this many parts in memory, whatever its size.
_PARTS_IN_FLIGHT = 4
# Cached files used this recently are never evicted: a stage may be decoding them.
_CACHE_KEEP_SECONDS = 3600


class S3BlobStore:
    """Blobs as objects under ``s3://bucket/prefix``."""

    def __init__(
        self,
        url: str,
        *,
        endpoint: str = "",
        region: str = "",
        cache_dir: Path,
        cache_max_bytes: int,
        part_bytes: int,
    ) -> None:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"blob URL {url!r} names no bucket (s3://bucket[/prefix])")
        config: S3Config = {}
        if endpoint:
            config["endpoint"] = endpoint
        if region:
            config["region"] = region
        self._store = S3Store(
            parsed.netloc,
            prefix=parsed.path.strip("/") or None,
            config=config,
            # object_store refuses plain HTTP unless asked: an http:// endpoint is the ask.
            client_options={"allow_http": endpoint.startswith("http://")},
        )
        self._cache_dir = cache_dir
        self._cache_max_bytes = cache_max_bytes
        self._part_bytes = part_bytes

    def stage(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StagedBlob:
        staging_key = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        meter = Meter(stream, max_bytes=max_bytes)
        # A multipart upload, part by part as the stream delivers: obstore aborts it (and S3
        # drops its parts) when the stream raises (too large, client gone) or a part fails.
        obstore.put(
            self._store,
            staging_key,
            meter.chunks(),
            chunk_size=self._part_bytes,
            max_concurrency=_PARTS_IN_FLIGHT,
        )
        if meter.size == 0:
            obstore.delete(self._store, staging_key)
            raise EmptyFileError("the content is empty")
        return StagedBlob(
            staging_key=staging_key, sha256=meter.sha256, size=meter.size, suffix=suffix, head=meter.head
        )

    def commit(self, staged: StagedBlob) -> StoredBlob:
        key = staged.key
        existed = self.info(key) is not None
        # Copied even when present (same bytes): the fresh Last-Modified tells the orphan
        # sweep that a row is about to reference this blob. S3's CopyObject takes at most
        # 5 GiB, far above the upload limit.
        obstore.rename(self._store, staged.staging_key, key, overwrite=True)
        if not existed:
            add_stored_bytes(staged.size)
        return StoredBlob(key=key, sha256=staged.sha256, size=staged.size)

    def discard(self, staged: StagedBlob) -> None:
        obstore.delete(self._store, staged.staging_key)

    def put_stream(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StoredBlob:
        return put_via_staging(self, stream, max_bytes=max_bytes, suffix=suffix)

    def put_bytes(self, data: bytes, *, suffix: str = "") -> StoredBlob:
        # Small (keyframes, thumbnails) and already accepted: straight to its key, one request.
        if not data:
            raise EmptyFileError("the content is empty")
        sha256 = hashlib.sha256(data).hexdigest()
        key = blob_key(sha256, suffix)
        existed = self.info(key) is not None
        obstore.put(self._store, key, data, use_multipart=False)
        if not existed:
            add_stored_bytes(len(data))
        return StoredBlob(key=key, sha256=sha256, size=len(data))

    def read_bytes(self, key: str) -> bytes:
        try:
            return bytes(obstore.get(self._store, key).bytes())
        except FileNotFoundError as exc:
            raise UnreadableFileError(f"blob {key!r} is missing") from exc

    def read_head(self, key: str, length: int) -> bytes:
        try:
            return bytes(obstore.get_range(self._store, key, start=0, length=length))
        except FileNotFoundError as exc:
            raise UnreadableFileError(f"blob {key!r} is missing") from exc

    def open_read(self, key: str) -> BlobReader:
        try:
            result = obstore.get(self._store, key)
        except FileNotFoundError as exc:
            raise UnreadableFileError(f"blob {key!r} is missing") from exc
        chunks = _stream_chunks(result.stream(min_chunk_size=CHUNK))
        return BlobReader(size=result.meta["size"], chunks=chunks)

    def local_path(self, key: str) -> Path:
        path = self._cache_dir / key
        if path.is_file():
            os.utime(path)  # recently used: kept by the eviction below
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = obstore.get(self._store, key)
        except FileNotFoundError as exc:
            raise UnreadableFileError(f"blob {key!r} is missing") from exc
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in result.stream(min_chunk_size=CHUNK):
                    out.write(chunk)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        self._evict(keep=path)
        return path

    def _evict(self, *, keep: Path) -> None:
        """Delete the least recently used cached files while the cache is over its size."""
        files: list[tuple[float, int, Path]] = []
        for directory, _, names in os.walk(self._cache_dir):
            for name in names:
                path = Path(directory) / name
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self._cache_max_bytes:
            return
        now = time.time()
        for mtime, size, path in sorted(files):
            if total <= self._cache_max_bytes or now - mtime < _CACHE_KEEP_SECONDS:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    def exists(self, key: str) -> bool:
        return self.info(key) is not None

    def delete(self, key: str) -> None:
        obstore.delete(self._store, key)
        (self._cache_dir / key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        for batch in obstore.list(self._store, prefix, chunk_size=1000):
            for meta in batch:
                yield _info(meta)

    def info(self, key: str) -> BlobInfo | None:
        try:
            return _info(obstore.head(self._store, key))
        except FileNotFoundError:
            return None


def _info(meta: ObjectMeta) -> BlobInfo:
    return BlobInfo(key=meta["path"], size=meta["size"], modified=meta["last_modified"])


def _stream_chunks(stream: Iterator[bytes]) -> Iterator[bytes]:
    # obstore hands out its own buffer type; ASGI servers send bytes.
    for chunk in stream:
        yield bytes(chunk)


__all__ = ["S3BlobStore"]

"""Blobs as files under one directory (a local disk, or a volume shared by every pod)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from app.core.blobs.base import (
    CHUNK,
    STAGING_PREFIX,
    BlobInfo,
    BlobReader,
    Meter,
    StagedBlob,
    StoredBlob,
    put_via_staging,
)
from app.core.errors import EmptyFileError, UnreadableFileError
from app.core.telemetry import add_stored_bytes


class LocalBlobStore:
    """Blobs as files under ``root``; a blob appears under its key whole or not at all
    (written in ``staging/``, then renamed, on the same file system)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._resolved_root = self.root.resolve()

    def _path(self, key: str) -> Path:
        if "\x00" in key:
            raise UnreadableFileError("a blob key must not contain a null byte")
        path = (self.root / key).resolve()
        if self._resolved_root not in path.parents:
            raise UnreadableFileError(f"blob key {key!r} escapes the blob directory")
        return path

    def stage(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StagedBlob:
        staging_key = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        path = self._path(staging_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        meter = Meter(stream, max_bytes=max_bytes)
        try:
            with path.open("xb") as out:
                for chunk in meter.chunks():
                    out.write(chunk)
            if meter.size == 0:
                raise EmptyFileError("the content is empty")
        except BaseException:
            # Refused, failed or interrupted (the client went away): nothing stays behind.
            path.unlink(missing_ok=True)
            raise
        return StagedBlob(
            staging_key=staging_key, sha256=meter.sha256, size=meter.size, suffix=suffix, head=meter.head
        )

    def commit(self, staged: StagedBlob) -> StoredBlob:
        key = staged.key
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        existed = final.exists()
        # Replaced even when present (same bytes, atomic): the fresh mtime tells the orphan
        # sweep that a row is about to reference this blob.
        os.replace(self._path(staged.staging_key), final)
        if not existed:
            # Charged to the stage running in this context (a no-op elsewhere).
            add_stored_bytes(staged.size)
        return StoredBlob(key=key, sha256=staged.sha256, size=staged.size)

    def discard(self, staged: StagedBlob) -> None:
        self._path(staged.staging_key).unlink(missing_ok=True)

    def put_stream(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StoredBlob:
        return put_via_staging(self, stream, max_bytes=max_bytes, suffix=suffix)

    def put_bytes(self, data: bytes, *, suffix: str = "") -> StoredBlob:
        return self.put_stream(io.BytesIO(data), max_bytes=max(len(data), 1), suffix=suffix)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise UnreadableFileError(f"blob {key!r} cannot be read: {exc.strerror}") from exc

    def read_head(self, key: str, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as stream:
                return stream.read(length)
        except OSError as exc:
            raise UnreadableFileError(f"blob {key!r} cannot be read: {exc.strerror}") from exc

    def open_read(self, key: str) -> BlobReader:
        try:
            stream = self._path(key).open("rb")
        except OSError as exc:
            raise UnreadableFileError(f"blob {key!r} cannot be read: {exc.strerror}") from exc
        return BlobReader(size=os.fstat(stream.fileno()).st_size, chunks=_file_chunks(stream))

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise UnreadableFileError(f"blob {key!r} is missing")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return
        for directory, _, files in os.walk(base):
            for name in files:
                path = Path(directory) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:  # removed meanwhile (committed, discarded, swept)
                    continue
                yield BlobInfo(
                    key=path.relative_to(self._resolved_root).as_posix(),
                    size=stat.st_size,
                    modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                )

    def info(self, key: str) -> BlobInfo | None:
        try:
            stat = self._path(key).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(key=key, size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC))


def _file_chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


__all__ = ["LocalBlobStore"]

"""Content-addressed blob storage behind a small interface (local directory now, S3 later)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from app.core.errors import EmptyFileError, FileTooLargeError, UnreadableFileError
from app.core.telemetry import add_stored_bytes

_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """Where a blob landed and what it is."""

    key: str
    sha256: str
    size: int


class BlobStore(Protocol):
    """Stores immutable blobs under keys derived from their sha256."""

    def put_stream(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StoredBlob:
        """Store the stream's bytes; raise EmptyFileError / FileTooLargeError."""
        ...

    def put_bytes(self, data: bytes, *, suffix: str = "") -> StoredBlob:
        """Store ``data``."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The whole blob."""
        ...

    def read_head(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes (content sniffing without reading a whole video)."""
        ...

    def local_path(self, key: str) -> Path:
        """A local file with the blob's bytes (decoders need a path)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the blob is stored."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob if present."""
        ...


def blob_key(sha256: str, suffix: str = "") -> str:
    """Key of a blob: fan-out directories keep any one directory small."""
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


class LocalBlobStore:
    """Blobs as files under one directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise UnreadableFileError(f"blob key {key!r} escapes the blob directory")
        return path

    def put_stream(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLargeError(f"content exceeds the limit of {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise EmptyFileError("the content is empty")
            sha = digest.hexdigest()
            key = blob_key(sha, suffix)
            final = self._path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            # Same key means same bytes: an existing blob is kept, the temp file dropped.
            if final.exists():
                os.unlink(tmp_name)
            else:
                os.replace(tmp_name, final)
                # Charged to the stage running in this context (a no-op elsewhere); a blob
                # that already existed costs no new storage.
                add_stored_bytes(size)
            return StoredBlob(key=key, sha256=sha, size=size)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

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

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise UnreadableFileError(f"blob {key!r} is missing")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def copy_file(self, source: Path, *, max_bytes: int) -> StoredBlob:
        """Store a local file's bytes."""
        with source.open("rb") as stream:
            return self.put_stream(stream, max_bytes=max_bytes, suffix="")


def create_blob_store(url: str) -> LocalBlobStore:
    """The blob store named by ``url`` (``file:///path``)."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ValueError(f"unsupported blob store URL scheme {parsed.scheme!r} (only file:// for now)")
    return LocalBlobStore(Path(parsed.path))


__all__ = ["BlobStore", "LocalBlobStore", "StoredBlob", "blob_key", "create_blob_store"]

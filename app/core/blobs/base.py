"""What every blob store offers, and the metered reading both stores share.

Blobs are immutable and content-addressed: a blob's key is derived from its sha256, so the
bytes behind a key never change and writing a key twice is harmless. Content whose
acceptance is not yet decided (an upload before its kind is sniffed) is *staged* under
``staging/`` first and moved to its key by ``commit`` only once accepted; ``discard`` drops
it. Anything left in ``staging/`` (a process killed mid-upload) is removed by the sweep
(``app/assets/blob_sweep.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from app.core.errors import FileTooLargeError

# Read size of uploads and reads: big enough to keep syscalls and requests few, small enough
# that a chunk in flight per request costs little memory.
CHUNK = 1024 * 1024
# Bytes of an upload kept in memory while it streams: enough to sniff its kind.
HEAD_BYTES = 8192
STAGING_PREFIX = "staging/"
BLOB_PREFIX = "sha256/"


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """Where a blob landed and what it is."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StagedBlob:
    """Content written to the staging area, not yet under its key."""

    staging_key: str
    sha256: str
    size: int
    suffix: str
    head: bytes  # the first HEAD_BYTES, for content sniffing without another read

    @property
    def key(self) -> str:
        """The key the blob gets once committed."""
        return blob_key(self.sha256, self.suffix)


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """One listed object."""

    key: str
    size: int
    modified: datetime  # timezone-aware


@dataclass(slots=True)
class BlobReader:
    """An opened blob: its size and its bytes as chunks (close it if not read to the end)."""

    size: int
    chunks: Iterator[bytes]

    def close(self) -> None:
        """Release the underlying file or connection."""
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class BlobStore(Protocol):
    """Stores immutable blobs under keys derived from their sha256.

    Methods block (file or network I/O): async callers run them in a thread.
    """

    def stage(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StagedBlob:
        """Write the stream's bytes to the staging area; raise EmptyFileError /
        FileTooLargeError (leaving nothing staged)."""
        ...

    def commit(self, staged: StagedBlob) -> StoredBlob:
        """Move staged content to its key (a blob already there is refreshed, not duplicated)."""
        ...

    def discard(self, staged: StagedBlob) -> None:
        """Drop staged content (refused or failed)."""
        ...

    def put_stream(self, stream: BinaryIO, *, max_bytes: int, suffix: str = "") -> StoredBlob:
        """Store the stream's bytes (stage and commit)."""
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

    def open_read(self, key: str) -> BlobReader:
        """The blob as a stream of chunks; UnreadableFileError if it is missing."""
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

    def list(self, prefix: str) -> Iterator[BlobInfo]:
        """Every object whose key starts with ``prefix``."""
        ...

    def info(self, key: str) -> BlobInfo | None:
        """The object's size and modification time, None if absent."""
        ...


def blob_key(sha256: str, suffix: str = "") -> str:
    """Key of a blob: fan-out directories keep any one directory small."""
    return f"{BLOB_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


class Meter:
    """Reads a stream in chunks, hashing and counting them and keeping the head; raises
    FileTooLargeError as soon as more than ``max_bytes`` arrived (nothing past the limit is
    read)."""

    def __init__(self, stream: BinaryIO, *, max_bytes: int) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._digest = hashlib.sha256()
        self.size = 0
        self.head = b""

    def chunks(self) -> Iterator[bytes]:
        """The stream's bytes, chunk by chunk."""
        while chunk := self._stream.read(CHUNK):
            self.size += len(chunk)
            if self.size > self._max_bytes:
                raise FileTooLargeError(f"content exceeds the limit of {self._max_bytes} bytes")
            self._digest.update(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            yield chunk

    @property
    def sha256(self) -> str:
        """Hex digest of what was read so far."""
        return self._digest.hexdigest()


def put_via_staging(store: BlobStore, stream: BinaryIO, *, max_bytes: int, suffix: str) -> StoredBlob:
    """Stage the stream's bytes and commit them (content accepted in advance)."""
    staged = store.stage(stream, max_bytes=max_bytes, suffix=suffix)
    try:
        return store.commit(staged)
    except BaseException:
        store.discard(staged)
        raise

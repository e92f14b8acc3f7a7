"""A bounded in-memory LRU of model outputs keyed by (content sha256, model version).

Re-processing unchanged content (a re-ingested file, a caption repeated over many scenes, the
1000 ImageNet label names the bridge embeds) then costs a dictionary lookup. Keys carry the
model key, so a model upgrade never serves a stale vector. Thread-safe: runners may share it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def content_hash(data: bytes | str | npt.NDArray[np.generic]) -> str:
    """sha256 of text (UTF-8), bytes, or an array's dtype, shape and bytes."""
    digest = hashlib.sha256()
    if isinstance(data, str):
        digest.update(b"s")
        digest.update(data.encode("utf-8"))
    elif isinstance(data, bytes):
        digest.update(b"b")
        digest.update(data)
    else:
        array = np.ascontiguousarray(data)
        # dtype and shape are part of the key: the same bytes as 100x300 and 300x100 differ.
        digest.update(f"a{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(slots=True)
class CacheStats:
    """Counters since the cache was created."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0


class EmbeddingCache:
    """LRU bounded by entry count and by total array bytes."""

    def __init__(self, max_entries: int = 50_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("cache bounds must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[tuple[str, str], npt.NDArray[np.generic]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, model_key: str, digest: str) -> npt.NDArray[np.generic] | None:
        """The cached output, marked most recently used, or ``None``."""
        key = (model_key, digest)
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.stats.misses += 1
                return None
            self._data.move_to_end(key)
            self.stats.hits += 1
            return value

    def put(self, model_key: str, digest: str, value: npt.NDArray[np.generic]) -> None:
        """Store a copy of ``value`` (read-only, so a caller cannot corrupt the cache)."""
        stored = np.array(value, copy=True)
        stored.flags.writeable = False
        if stored.nbytes > self.max_bytes:
            return
        key = (model_key, digest)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._data[key] = stored
            self._bytes += stored.nbytes
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
                self._bytes -= evicted.nbytes
                self.stats.evictions += 1

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held."""
        return self._bytes

    def clear(self) -> None:
        """Drop everything (the counters stay)."""
        with self._lock:
            self._data.clear()
            self._bytes = 0

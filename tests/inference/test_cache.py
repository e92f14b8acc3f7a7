"""The embedding cache: LRU bounds, keys, and copies (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.cache import EmbeddingCache, content_hash


def test_hash_separates_type_shape_and_content() -> None:
    flat = np.zeros(12, dtype=np.uint8)
    assert content_hash(flat) != content_hash(flat.reshape(3, 4))
    assert content_hash(flat.reshape(3, 4)) != content_hash(flat.reshape(4, 3))
    assert content_hash("abc") != content_hash(b"abc")
    assert content_hash("abc") == content_hash("abc")
    assert content_hash(np.arange(4)) != content_hash(np.arange(4).astype(np.float64))


def test_keys_include_the_model_version() -> None:
    cache = EmbeddingCache()
    cache.put("m:1", "d", np.ones(2, dtype=np.float32))
    assert cache.get("m:2", "d") is None
    got = cache.get("m:1", "d")
    assert got is not None
    assert got.tolist() == [1.0, 1.0]
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_least_recently_used_entry_is_evicted_first() -> None:
    cache = EmbeddingCache(max_entries=2)
    for key in ("a", "b"):
        cache.put("m", key, np.zeros(1, dtype=np.float32))
    assert cache.get("m", "a") is not None  # "b" is now the least recently used
    cache.put("m", "c", np.zeros(1, dtype=np.float32))
    assert cache.get("m", "b") is None
    assert cache.get("m", "a") is not None
    assert cache.get("m", "c") is not None
    assert cache.stats.evictions == 1


def test_byte_bound_is_enforced() -> None:
    cache = EmbeddingCache(max_bytes=4 * 384 * 3)
    for i in range(5):
        cache.put("m", str(i), np.zeros(384, dtype=np.float32))
    assert len(cache) == 3
    assert cache.nbytes == 3 * 384 * 4
    assert cache.get("m", "0") is None
    assert cache.get("m", "4") is not None


def test_stored_values_are_read_only_copies() -> None:
    cache = EmbeddingCache()
    value = np.zeros(3, dtype=np.float32)
    cache.put("m", "k", value)
    value[0] = 5
    stored = cache.get("m", "k")
    assert stored is not None
    assert stored[0] == 0
    with pytest.raises(ValueError, match="read-only"):
        stored[0] = 1


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        EmbeddingCache(max_entries=0)

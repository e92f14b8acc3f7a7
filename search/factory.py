"""Chooses the search backend from the ``search_url`` setting."""

from __future__ import annotations

from pathlib import Path

from search.backend import SearchBackend


def open_backend(
    search_url: str, *, data_dir: Path, index_prefix: str = "mediakg", ann_threshold: int | None = None
) -> SearchBackend:
    """``embedded://`` -> SQLite under ``data_dir``; ``http(s)://`` -> Elasticsearch.

    ``ann_threshold``: vectors per field from which the embedded backend searches an HNSW
    graph instead of exactly (None: always exactly); Elasticsearch always uses its HNSW."""
    if search_url.startswith("embedded:"):
        from search.embedded import EmbeddedBackend

        return EmbeddedBackend.in_data_dir(data_dir, ann_threshold=ann_threshold)
    if search_url.startswith(("http://", "https://")):
        # Imported here so the embedded default never loads the Elasticsearch client.
        from search.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend.from_url(search_url, prefix=index_prefix)
    raise ValueError(f"unsupported search_url {search_url!r}: use embedded:// or http(s)://")

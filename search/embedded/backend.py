"""The embedded backend's async face: each call runs the synchronous store in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from search.backend import GenerationInfo, GenerationSpec, Health, WriteReport
from search.documents import AssetDocument
from search.embedded.ann import EXACT_BELOW
from search.embedded.ann_builds import BuildHook
from search.embedded.store import Store
from search.query import FacetQuery, FacetResults, SearchQuery, SearchResults
from search.telemetry import index_span, search_request


class EmbeddedBackend:
    """SQLite FTS5 + numpy kNN (exact, or an HNSW graph past a size), no servers (see
    :mod:`search.embedded`)."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = 10_000,
        ann_threshold: int | None = None,
        ann_exact_below: int = EXACT_BELOW,
        ann_build_hook: BuildHook | None = None,
        ann_background: bool = True,
    ) -> None:
        # ann_threshold: a vector field with at least this many vectors is searched through
        # an HNSW graph saved under ``<path's folder>/ann`` (None: always exactly), built in
        # the background while the field is searched exactly; ann_exact_below: a filter
        # allowing at most this many rows scans their int8 codes; ann_build_hook: called in
        # the build thread before a build starts (tests).
        # ann_background=False builds in the search that needs the graph (tests that must
        # search it from the first search on).
        self._store = Store(
            path, busy_timeout_ms, ann_threshold, ann_exact_below, ann_build_hook, ann_background
        )

    @classmethod
    def in_data_dir(cls, data_dir: Path, *, ann_threshold: int | None = None) -> EmbeddedBackend:
        """The backend at ``<data_dir>/search/index.sqlite3``."""
        return cls(data_dir / "search" / "index.sqlite3", ann_threshold=ann_threshold)

    async def create_generation(self, spec: GenerationSpec) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.create_generation`."""
        return await asyncio.to_thread(self._store.create_generation, spec)

    async def activate_generation(self, name: str) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.activate_generation`."""
        return await asyncio.to_thread(self._store.activate_generation, name)

    async def drop_generation(self, name: str) -> None:
        """See :meth:`search.backend.SearchBackend.drop_generation`."""
        await asyncio.to_thread(self._store.drop_generation, name)

    async def list_generations(self) -> list[GenerationInfo]:
        """See :meth:`search.backend.SearchBackend.list_generations`."""
        return await asyncio.to_thread(self._store.list_generations)

    async def live_generation(self) -> GenerationInfo | None:
        """See :meth:`search.backend.SearchBackend.live_generation`."""
        return await asyncio.to_thread(self._store.live_generation)

    async def upsert(self, assets: Sequence[AssetDocument], *, generation: str | None = None) -> WriteReport:
        """See :meth:`search.backend.SearchBackend.upsert`."""
        with index_span("embedded", documents=len(assets)):
            return await asyncio.to_thread(self._store.upsert, list(assets), generation)

    async def delete_asset(self, *, tenant_id: str, asset_id: str, version: int) -> WriteReport:
        """See :meth:`search.backend.SearchBackend.delete_asset`."""
        return await asyncio.to_thread(self._store.delete_asset, tenant_id, asset_id, version)

    async def search(self, query: SearchQuery) -> SearchResults:
        """See :meth:`search.backend.SearchBackend.search`."""
        with search_request("embedded", query) as request:
            results = await asyncio.to_thread(self._store.search, query)
            request.hits = len(results.hits)
            return results

    async def facets(self, query: FacetQuery) -> FacetResults:
        """See :meth:`search.backend.SearchBackend.facets`."""
        return await asyncio.to_thread(self._store.facets, query)

    async def refresh(self) -> None:
        """Writes are visible once committed; nothing to do."""

    async def health(self) -> Health:
        """See :meth:`search.backend.SearchBackend.health`."""
        return await asyncio.to_thread(self._store.health)

    async def wait_for_graphs(self) -> None:
        """Return once no HNSW graph is being built in the background (tests, benchmarks)."""
        await asyncio.to_thread(self._store.wait_for_graphs)

    async def aclose(self) -> None:
        """Close every connection this backend opened."""
        self._store.close()

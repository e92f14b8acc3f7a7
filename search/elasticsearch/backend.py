"""The Elasticsearch backend: generations (:mod:`.generations`), bulk writes with external
versions and tombstones, and hybrid search through one ``_msearch``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import ApiError as EsApiError
from elasticsearch import AsyncElasticsearch, helpers
from elasticsearch import TransportError as EsTransportError

from search.backend import (
    GenerationInfo,
    GenerationSpec,
    GenerationState,
    Health,
    SearchError,
    WriteReport,
    check_query_vectors,
    valid_assets,
)
from search.documents import AssetDocument, DocType, asset_doc_id, check_id
from search.elasticsearch import mappings, requests
from search.elasticsearch.generations import Generations
from search.elasticsearch.responses import best_per_asset_rankings, bulk_report, rankings, search_hits
from search.elasticsearch.sources import asset_sources, es_id, tombstone_doc_id, tombstone_source
from search.query import FacetQuery, FacetResults, FacetValue, SearchQuery, SearchResults
from search.telemetry import index_span, search_request

Refresh = bool | Literal["wait_for"]


class ElasticsearchBackend:
    """Hybrid search on Elasticsearch 9.x (see :mod:`search.elasticsearch`)."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        prefix: str = "mediakg",
        refresh: Refresh = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._generations = Generations(client, prefix, clock)
        # False in production (Elasticsearch refreshes every second); tests and the CLI's
        # reindex pass "wait_for" to read their own writes.
        self._refresh: Refresh = refresh

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "mediakg", refresh: Refresh = False, **client_options: Any
    ) -> ElasticsearchBackend:
        """A backend with its own client for ``url`` (http(s)://host:9200)."""
        return cls(AsyncElasticsearch(url, **client_options), prefix=prefix, refresh=refresh)

    # --- generations -------------------------------------------------------------------

    async def create_generation(self, spec: GenerationSpec) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.create_generation`."""
        return await self._generations.create(spec)

    async def activate_generation(self, name: str) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.activate_generation`."""
        return await self._generations.activate(name)

    async def drop_generation(self, name: str) -> None:
        """See :meth:`search.backend.SearchBackend.drop_generation`."""
        await self._generations.drop(name)

    async def list_generations(self) -> list[GenerationInfo]:
        """See :meth:`search.backend.SearchBackend.list_generations`."""
        return await self._generations.listed()

    async def live_generation(self) -> GenerationInfo | None:
        """See :meth:`search.backend.SearchBackend.live_generation`."""
        return await self._generations.live()

    # --- writes ------------------------------------------------------------------------

    async def _bulk(self, actions: list[dict[str, Any]], generation_of: Mapping[str, str]) -> WriteReport:
        """Send ``actions`` with async_bulk; sort per-document outcomes into the report."""
        if not actions:
            return WriteReport()
        try:
            written, errors = await helpers.async_bulk(
                self._client, actions, raise_on_error=False, refresh=self._refresh, stats_only=False
            )
        except (EsApiError, EsTransportError) as exc:
            raise SearchError(f"bulk request failed: {exc}") from exc
        assert isinstance(errors, list)  # stats_only=False: the per-document errors
        return bulk_report(written, errors, generation_of)

    async def _tombstones(self, index: str, assets: Sequence[AssetDocument]) -> dict[tuple[str, str], int]:
        ids = [es_id(a.tenant_id, tombstone_doc_id(a.asset_id)) for a in assets]
        response = await self._client.mget(
            index=index, ids=ids, source_includes=["tenant_id", "asset_id", "version"]
        )
        found: dict[tuple[str, str], int] = {}
        for doc in response["docs"]:
            if doc.get("found"):
                source = doc["_source"]
                found[(source["tenant_id"], source["asset_id"])] = int(source["version"])
        return found

    async def upsert(self, assets: Sequence[AssetDocument], *, generation: str | None = None) -> WriteReport:
        """See :meth:`search.backend.SearchBackend.upsert`."""
        with index_span("elasticsearch", documents=len(assets)):
            return await self._upsert(assets, generation=generation)

    async def _upsert(self, assets: Sequence[AssetDocument], *, generation: str | None) -> WriteReport:
        if generation is None:
            targets = [
                (i, g) for i, g in await self._generations.all() if g.state is not GenerationState.RETIRED
            ]
        else:
            targets = [await self._generations.index_of(generation)]
        if not targets:
            raise SearchError("no open search generation to write to")
        valid, report = valid_assets(assets)
        if not valid:
            return report
        actions: list[dict[str, Any]] = []
        written_assets: dict[str, list[AssetDocument]] = {}
        skipped: list[str] = []
        stale: list[str] = []
        for index, info in targets:
            # A tombstone newer than the write means the asset was deleted after this
            # version was produced: writing it would bring the asset back.
            tombstones = await self._tombstones(index, valid)
            for asset in valid:
                if tombstones.get((asset.tenant_id, asset.asset_id), -1) >= asset.version:
                    stale.append(asset_doc_id(asset.asset_id))
                    continue
                written_assets.setdefault(index, []).append(asset)
                sources, dropped = asset_sources(info.spec, asset)
                skipped.extend(dropped)
                actions.extend(
                    {
                        "_op_type": "index",
                        "_index": index,
                        "_id": es_id(asset.tenant_id, doc_id),
                        "version": asset.version,
                        "version_type": "external",
                        "_source": source,
                    }
                    for doc_id, source in sources
                )
        generation_of = {index: info.name for index, info in targets}
        report = report.merge(await self._bulk(actions, generation_of))
        report = report.merge(WriteReport(stale=tuple(stale), skipped_vectors=tuple(skipped)))
        for index, written in written_assets.items():
            await self._delete_older(index, written)
        return report

    async def _delete_older(self, index: str, assets: Sequence[AssetDocument]) -> None:
        """Remove documents of these assets older than the version just written: moments the
        new version no longer has (a newer concurrent write keeps its own documents)."""
        try:
            await self._client.delete_by_query(
                index=index,
                query=requests.older_versions_query(assets),
                conflicts="proceed",
                refresh=bool(self._refresh),
            )
        except EsApiError as exc:
            raise SearchError(f"removing old moments failed: {exc}") from exc

    async def _ids_of_asset(self, index: str, tenant_id: str, asset_id: str) -> list[str]:
        ids: list[str] = []
        search_after: list[Any] | None = None
        while True:
            response = await self._client.search(
                index=index,
                query=requests.asset_documents_query(tenant_id, asset_id),
                source=False,
                size=requests.ID_PAGE,
                sort=[{"doc_id": "asc"}],
                search_after=search_after,
            )
            hits = response["hits"]["hits"]
            ids.extend(hit["_id"] for hit in hits)
            if len(hits) < requests.ID_PAGE:
                return ids
            search_after = hits[-1]["sort"]

    async def delete_asset(self, *, tenant_id: str, asset_id: str, version: int) -> WriteReport:
        """See :meth:`search.backend.SearchBackend.delete_asset`."""
        check_id(tenant_id, "tenant_id")
        check_id(asset_id, "asset_id")
        generations = await self._generations.all()
        actions: list[dict[str, Any]] = []
        for index, _ in generations:
            tombstone_id = tombstone_doc_id(asset_id)
            # The tombstone outlives gc_deletes: later upserts read it before writing.
            actions.append(
                {
                    "_op_type": "index",
                    "_index": index,
                    "_id": es_id(tenant_id, tombstone_id),
                    "version": version,
                    "version_type": "external",
                    "_source": tombstone_source(tenant_id, asset_id, version),
                }
            )
            # Deleting with the external version refuses documents written by a newer version
            # (409, reported stale) and leaves a versioned tombstone for gc_deletes.
            actions.extend(
                {
                    "_op_type": "delete",
                    "_index": index,
                    "_id": es_id,
                    "version": version,
                    "version_type": "external",
                }
                for es_id in await self._ids_of_asset(index, tenant_id, asset_id)
            )
        report = await self._bulk(actions, {index: info.name for index, info in generations})
        # Tombstones are bookkeeping, not documents the caller asked to delete: take them out
        # of the counts (one per generation, unless a newer tombstone already stood there).
        tombstone = tombstone_doc_id(asset_id)
        tombstones_not_written = report.stale.count(tombstone) + sum(
            1 for failure in report.failures if failure.doc_id == tombstone
        )
        return WriteReport(
            written=report.written - (len(generations) - tombstones_not_written),
            stale=tuple(doc_id for doc_id in report.stale if doc_id != tombstone),
            failures=report.failures,
        )

    # --- reads -------------------------------------------------------------------------

    def search_bodies(self, index: str, query: SearchQuery) -> tuple[list[str], list[dict[str, Any]]]:
        """Retriever names and the ``_msearch`` lines (header, body, ...) for one query."""
        return requests.search_bodies(index, query)

    async def search(self, query: SearchQuery) -> SearchResults:
        """See :meth:`search.backend.SearchBackend.search`."""
        with search_request("elasticsearch", query) as request:
            results = await self._search(query)
            request.hits = len(results.hits)
            return results

    async def _search(self, query: SearchQuery) -> SearchResults:
        query.validate()
        index, info = await self._generations.serving(query.generation)
        check_query_vectors(info.spec, query)
        retrievers, lines = requests.search_bodies(index, query)
        try:
            response = await self._client.msearch(searches=lines)
        except (EsApiError, EsTransportError) as exc:
            raise SearchError(f"search failed: {exc}") from exc
        ranked, hits_by_id = rankings(retrievers, response["responses"])
        if query.scope is DocType.ASSET:
            ranked = best_per_asset_rankings(ranked, hits_by_id, query.k)
        fused, page = query.fused(ranked, backend="elasticsearch")
        missing = [item.doc_id for item in page if item.doc_id not in hits_by_id]
        if missing:
            # Assets a kNN found only through their moments: their own documents, in one request.
            body = requests.documents_body(query.tenant_id, missing, query.text, highlight=query.highlight)
            try:
                found = await self._client.search(index=index, body=body)
            except (EsApiError, EsTransportError) as exc:
                raise SearchError(f"search failed: {exc}") from exc
            hits_by_id.update((hit["_source"]["doc_id"], hit) for hit in found["hits"]["hits"])
            page = [item for item in page if item.doc_id in hits_by_id]
        return SearchResults(
            hits=search_hits(page, hits_by_id), total=len(fused), offset=query.offset, generation=info.name
        )

    async def facets(self, query: FacetQuery) -> FacetResults:
        """See :meth:`search.backend.SearchBackend.facets`."""
        query.validate()
        index, info = await self._generations.serving(query.generation)
        try:
            response = await self._client.search(
                index=index,
                size=0,
                query=mappings.filter_query(query.tenant_id, query.scope, query.filters),
                aggs=requests.facet_aggs(query),
            )
        except (EsApiError, EsTransportError) as exc:
            raise SearchError(f"facets failed: {exc}") from exc
        return FacetResults(
            facets={
                field: tuple(
                    FacetValue(str(bucket["key"]), int(bucket["doc_count"]))
                    for bucket in response["aggregations"][field.value]["buckets"]
                )
                for field in query.fields
            },
            generation=info.name,
        )

    async def refresh(self) -> None:
        """Make every write visible to searches now."""
        await self._client.indices.refresh(index=mappings.index_pattern(self._prefix), allow_no_indices=True)

    async def health(self) -> Health:
        """See :meth:`search.backend.SearchBackend.health`."""
        try:
            cluster = await self._client.cluster.health()
            generations = await self._generations.all()
        except (EsApiError, EsTransportError, SearchError) as exc:
            return Health(ok=False, backend="elasticsearch", live_generation=None, detail=str(exc))
        live = next((info.name for _, info in generations if info.state is GenerationState.LIVE), None)
        status = str(cluster["status"])
        return Health(
            ok=status != "red" and live is not None,
            backend="elasticsearch",
            live_generation=live,
            detail=f"cluster {status}" + ("" if live else ", no live generation"),
        )

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.close()

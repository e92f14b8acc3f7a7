"""The production search backend: Elasticsearch 9.x through the official async client.

- One index per generation (``<prefix>-search-gen-<name>``) created from an index template
  (``text`` fields with the English analyser and ``raw`` keyword subfields) plus the
  generation's ``dense_vector`` fields (cosine, ``int8_hnsw``, dims from the spec). The alias
  ``<prefix>-search`` points at the live one; ``activate_generation`` moves it with one
  ``POST _aliases`` (remove + add), which Elasticsearch applies atomically.
- Writes: ``helpers.async_bulk`` with ``version_type=external`` and the asset's version, so a
  late write never replaces a newer one (409 -> reported as stale); other per-document
  errors are reported, not raised.
- Search: BM25 and one kNN search per query vector go out together in one ``_msearch``; the
  tenant and filters sit inside each ``knn`` clause (pre-filtering, so k hits still come back)
  and in the BM25 query's ``filter``. The lists are fused in Python (:mod:`search.fusion`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import ApiError as EsApiError
from elasticsearch import AsyncElasticsearch, helpers
from elasticsearch import TransportError as EsTransportError

from search import mappings
from search.backend import (
    DocumentFailure,
    GenerationError,
    GenerationInfo,
    GenerationSpec,
    GenerationState,
    Health,
    SearchError,
    VectorSpec,
    WriteReport,
    check_query_vectors,
    split_vectors,
)
from search.documents import (
    AssetDocument,
    DocType,
    DocumentError,
    TimedText,
    Vector,
    VectorField,
    asset_doc_id,
    check_id,
    metadata_token,
    moment_doc_id,
    timed_rows,
    timed_texts,
)
from search.fusion import reciprocal_rank_fusion
from search.query import (
    TEXT_RETRIEVER,
    FacetField,
    FacetQuery,
    FacetResults,
    FacetValue,
    Highlight,
    SearchHit,
    SearchQuery,
    SearchResults,
    TextField,
    time_codes,
    vector_retriever,
)
from search.telemetry import index_span, search_request

Refresh = bool | Literal["wait_for"]
_FACET_FIELDS: Mapping[FacetField, str] = {
    FacetField.KIND: "kind",
    FacetField.TAGS: "tags.raw",
    FacetField.LABELS: "labels.raw",
    FacetField.LANGUAGE: "language",
}
# Pages of ids fetched when deleting an asset; far above the scenes of any real video.
_ID_PAGE = 1000
# Candidates each shard's HNSW search visits: more than k for recall; 10 000 is the cap.
_MIN_CANDIDATES = 100
_CANDIDATE_FACTOR = 4
_MAX_CANDIDATES = 10_000


def num_candidates(k: int) -> int:
    """``num_candidates`` for a kNN search returning ``k`` hits."""
    return min(_MAX_CANDIDATES, max(_MIN_CANDIDATES, _CANDIDATE_FACTOR * k))


def _es_id(tenant_id: str, doc_id: str) -> str:
    # The tenant is part of the id: two tenants can never overwrite each other's documents.
    return f"{tenant_id}:{doc_id}"


def _tombstone_doc_id(asset_id: str) -> str:
    return f"t:{asset_id}"


def _vector_fields(
    spec: GenerationSpec, doc_id: str, vectors: Mapping[VectorField, Vector]
) -> tuple[dict[str, Any], list[str]]:
    kept, skipped = split_vectors(spec, doc_id, vectors)
    fields: dict[str, Any] = {}
    for field, vector in sorted(kept.items()):
        name = mappings.vector_field_name(field)
        fields[name] = [float(value) for value in vector.values]
        fields[f"{name}_model"] = vector.model_version
    return fields, skipped


def asset_sources(
    spec: GenerationSpec, asset: AssetDocument
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """(doc id, _source) of the asset and each moment as this generation stores them."""
    shared: dict[str, Any] = {
        "tenant_id": asset.tenant_id,
        "asset_id": asset.asset_id,
        "version": asset.version,
        "kind": asset.kind,
        "language": asset.language,
        "duration_s": asset.duration_s,
        "created_at": asset.created_at.isoformat(),
        "title": asset.title,
        "tags": list(asset.tags),
        "user_metadata": {key: metadata_token(value) for key, value in sorted(asset.user_metadata.items())},
    }
    skipped: list[str] = []
    doc_id = asset_doc_id(asset.asset_id)
    vectors, dropped = _vector_fields(spec, doc_id, asset.vectors)
    skipped.extend(dropped)
    out = [
        (
            doc_id,
            {
                "doc_id": doc_id,
                "doc_type": DocType.ASSET.value,
                **shared,
                "scene_id": None,
                "start_s": None,
                "end_s": None,
                "faces_count": asset.faces_count,
                "description": asset.description,
                "labels": list(asset.labels),
                "transcript": [],
                "ocr": [],
                "transcript_segments": [],
                "ocr_segments": [],
                **vectors,
            },
        )
    ]
    for moment in asset.moments:
        doc_id = moment_doc_id(asset.asset_id, moment.scene_id)
        vectors, dropped = _vector_fields(spec, doc_id, moment.vectors)
        skipped.extend(dropped)
        out.append(
            (
                doc_id,
                {
                    "doc_id": doc_id,
                    "doc_type": DocType.MOMENT.value,
                    **shared,
                    "scene_id": moment.scene_id,
                    "start_s": moment.start_s,
                    "end_s": moment.end_s,
                    "faces_count": moment.faces_count,
                    "description": moment.title,
                    "labels": list(moment.labels),
                    "transcript": [item.text for item in moment.transcript],
                    "ocr": [item.text for item in moment.ocr],
                    "transcript_segments": timed_rows(moment.transcript),
                    "ocr_segments": timed_rows(moment.ocr),
                    **vectors,
                },
            )
        )
    return out, skipped


class ElasticsearchBackend:
    """Hybrid search on Elasticsearch 9.x (see module docstring)."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        prefix: str = "mediakg",
        refresh: Refresh = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        # Injected so request-body tests can assert the generation's creation time exactly.
        self._clock = clock
        self._prefix = prefix
        self._alias = mappings.alias_name(prefix)
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

    async def _generations(self) -> list[tuple[str, GenerationInfo]]:
        """(index name, info) of every generation, oldest first."""
        try:
            indices = await self._client.indices.get(
                index=mappings.index_pattern(self._prefix), allow_no_indices=True, expand_wildcards="open"
            )
        except EsApiError as exc:
            raise SearchError(f"listing generations failed: {exc}") from exc
        found: list[tuple[str, GenerationInfo]] = []
        for index, body in dict(indices).items():
            meta = (body.get("mappings", {}).get("_meta") or {}).get("mediakg")
            if not meta:
                continue
            spec = GenerationSpec(
                name=meta["generation"],
                vectors={
                    VectorField(field): VectorSpec(
                        dims=int(vs["dims"]), model_version=str(vs["model_version"])
                    )
                    for field, vs in meta["vectors"].items()
                },
            )
            # The alias is the truth about which generation is live; _meta only tells a
            # building generation from a retired one.
            if self._alias in (body.get("aliases") or {}):
                state = GenerationState.LIVE
            elif meta["state"] == GenerationState.RETIRED.value:
                state = GenerationState.RETIRED
            else:
                state = GenerationState.BUILDING
            found.append(
                (
                    index,
                    GenerationInfo(
                        spec=spec,
                        state=state,
                        created_at=datetime.fromisoformat(meta["created_at"]),
                        document_count=0,
                    ),
                )
            )
        found.sort(key=lambda item: (item[1].created_at, item[1].name))
        return found

    async def _with_count(self, index: str, info: GenerationInfo) -> GenerationInfo:
        response = await self._client.count(
            index=index, query={"terms": {"doc_type": [DocType.ASSET.value, DocType.MOMENT.value]}}
        )
        return GenerationInfo(
            spec=info.spec,
            state=info.state,
            created_at=info.created_at,
            document_count=int(response["count"]),
        )

    async def _index_of(self, name: str) -> tuple[str, GenerationInfo]:
        for index, info in await self._generations():
            if info.name == name:
                return index, info
        raise GenerationError(f"no generation named {name!r}")

    async def create_generation(self, spec: GenerationSpec) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.create_generation`."""
        spec.validate()
        existing = await self._generations()
        if any(info.name == spec.name for _, info in existing):
            raise GenerationError(f"generation {spec.name!r} exists")
        live = any(info.state is GenerationState.LIVE for _, info in existing)
        state = GenerationState.BUILDING if live else GenerationState.LIVE
        created_at = self._clock().isoformat()
        template = mappings.index_template(self._prefix)
        index = mappings.index_name(self._prefix, spec.name)
        try:
            # Re-put on every creation so a template change in code reaches the next generation.
            await self._client.indices.put_index_template(
                name=mappings.template_name(self._prefix),
                index_patterns=template["index_patterns"],
                priority=template["priority"],
                template=template["template"],
                meta=template["_meta"],
            )
            await self._client.indices.create(
                index=index,
                mappings=mappings.generation_mappings(spec, state, created_at),
                aliases={self._alias: {}} if state is GenerationState.LIVE else None,
            )
        except EsApiError as exc:
            raise SearchError(f"creating generation {spec.name} failed: {exc}") from exc
        return GenerationInfo(
            spec=spec, state=state, created_at=datetime.fromisoformat(created_at), document_count=0
        )

    async def activate_generation(self, name: str) -> GenerationInfo:
        """See :meth:`search.backend.SearchBackend.activate_generation`."""
        generations = await self._generations()
        target = next(((index, info) for index, info in generations if info.name == name), None)
        if target is None:
            raise GenerationError(f"no generation named {name!r}")
        index, info = target
        previous = [(i, g) for i, g in generations if g.state is GenerationState.LIVE and g.name != name]
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self._alias}} for i, _ in previous]
        actions.append({"add": {"index": index, "alias": self._alias}})
        try:
            # One _aliases call: Elasticsearch applies remove + add atomically, so no search
            # ever finds the alias missing or pointing at two generations.
            await self._client.indices.update_aliases(actions=actions)
            for old_index, old in previous:
                await self._client.indices.put_mapping(
                    index=old_index,
                    meta=mappings.generation_meta(
                        old.spec, GenerationState.RETIRED, old.created_at.isoformat()
                    ),
                )
            await self._client.indices.put_mapping(
                index=index,
                meta=mappings.generation_meta(info.spec, GenerationState.LIVE, info.created_at.isoformat()),
            )
        except EsApiError as exc:
            raise SearchError(f"activating generation {name} failed: {exc}") from exc
        live = GenerationInfo(
            spec=info.spec, state=GenerationState.LIVE, created_at=info.created_at, document_count=0
        )
        return await self._with_count(index, live)

    async def drop_generation(self, name: str) -> None:
        """See :meth:`search.backend.SearchBackend.drop_generation`."""
        index, info = await self._index_of(name)
        if info.state is GenerationState.LIVE:
            raise GenerationError(f"generation {name!r} is live; activate another one first")
        try:
            await self._client.indices.delete(index=index)
        except EsApiError as exc:
            raise SearchError(f"dropping generation {name} failed: {exc}") from exc

    async def list_generations(self) -> list[GenerationInfo]:
        """See :meth:`search.backend.SearchBackend.list_generations`."""
        return [await self._with_count(index, info) for index, info in await self._generations()]

    async def live_generation(self) -> GenerationInfo | None:
        """See :meth:`search.backend.SearchBackend.live_generation`."""
        for index, info in await self._generations():
            if info.state is GenerationState.LIVE:
                return await self._with_count(index, info)
        return None

    async def _serving(self, name: str | None) -> tuple[str, GenerationInfo]:
        if name is not None:
            return await self._index_of(name)
        for index, info in await self._generations():
            if info.state is GenerationState.LIVE:
                return index, info
        raise SearchError("no live search generation; run `mediakg search reindex`")

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
        stale: list[str] = []
        failures: list[DocumentFailure] = []
        assert isinstance(errors, list)
        for error in errors:
            (op, item), *_ = error.items()
            doc_id = str(item.get("_id", "")).split(":", 1)[-1]
            status = int(item.get("status", 0))
            if status == 409:
                # version_conflict_engine_exception: the stored version is newer.
                stale.append(doc_id)
            elif op == "delete" and status == 404:
                # Already gone: a delete's goal is met.
                written += 1
            else:
                reason = item.get("error", {})
                text = reason.get("reason", str(reason)) if isinstance(reason, dict) else str(reason)
                failures.append(DocumentFailure(generation_of.get(item.get("_index", ""), "?"), doc_id, text))
        return WriteReport(written=written, stale=tuple(stale), failures=tuple(failures))

    async def _tombstones(self, index: str, assets: Sequence[AssetDocument]) -> dict[tuple[str, str], int]:
        ids = [_es_id(a.tenant_id, _tombstone_doc_id(a.asset_id)) for a in assets]
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
            targets = [(i, g) for i, g in await self._generations() if g.state is not GenerationState.RETIRED]
        else:
            targets = [await self._index_of(generation)]
        if not targets:
            raise SearchError("no open search generation to write to")
        report = WriteReport()
        valid: list[AssetDocument] = []
        for asset in assets:
            try:
                asset.validate()
            except DocumentError as exc:
                report = report.merge(
                    WriteReport(failures=(DocumentFailure("*", asset_doc_id(asset.asset_id), str(exc)),))
                )
                continue
            valid.append(asset)
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
                        "_id": _es_id(asset.tenant_id, doc_id),
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
        should = [
            {
                "bool": {
                    "filter": [
                        {"term": {"tenant_id": asset.tenant_id}},
                        {"term": {"asset_id": asset.asset_id}},
                        {"terms": {"doc_type": [DocType.ASSET.value, DocType.MOMENT.value]}},
                        {"range": {"version": {"lt": asset.version}}},
                    ]
                }
            }
            for asset in assets
        ]
        try:
            await self._client.delete_by_query(
                index=index,
                query={"bool": {"should": should, "minimum_should_match": 1}},
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
                query={
                    "bool": {
                        "filter": [
                            {"term": {"tenant_id": tenant_id}},
                            {"term": {"asset_id": asset_id}},
                            {"terms": {"doc_type": [DocType.ASSET.value, DocType.MOMENT.value]}},
                        ]
                    }
                },
                source=False,
                size=_ID_PAGE,
                sort=[{"doc_id": "asc"}],
                search_after=search_after,
            )
            hits = response["hits"]["hits"]
            ids.extend(hit["_id"] for hit in hits)
            if len(hits) < _ID_PAGE:
                return ids
            search_after = hits[-1]["sort"]

    async def delete_asset(self, *, tenant_id: str, asset_id: str, version: int) -> WriteReport:
        """See :meth:`search.backend.SearchBackend.delete_asset`."""
        check_id(tenant_id, "tenant_id")
        check_id(asset_id, "asset_id")
        generations = await self._generations()
        actions: list[dict[str, Any]] = []
        for index, _ in generations:
            tombstone_id = _tombstone_doc_id(asset_id)
            # The tombstone outlives gc_deletes: later upserts read it before writing.
            actions.append(
                {
                    "_op_type": "index",
                    "_index": index,
                    "_id": _es_id(tenant_id, tombstone_id),
                    "version": version,
                    "version_type": "external",
                    "_source": {
                        "doc_id": tombstone_id,
                        "doc_type": "tombstone",
                        "tenant_id": tenant_id,
                        "asset_id": asset_id,
                        "version": version,
                    },
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
        tombstone = _tombstone_doc_id(asset_id)
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
        where = mappings.filter_query(query.tenant_id, query.scope, query.filters)
        text = (query.text or "").strip()
        retrievers: list[str] = []
        lines: list[dict[str, Any]] = []
        highlight = mappings.highlight(text or None) if query.highlight else None
        if text:
            body: dict[str, Any] = {
                "size": query.k,
                "_source": mappings.SOURCE_FIELDS,
                "query": {"bool": {"must": [mappings.text_query(text)], "filter": [where]}},
            }
            if highlight:
                body["highlight"] = highlight
            retrievers.append(TEXT_RETRIEVER)
            lines += [{"index": index}, body]
        for query_vector in query.vectors:
            body = {
                "size": query.k,
                "_source": mappings.SOURCE_FIELDS,
                "knn": {
                    "field": mappings.vector_field_name(query_vector.field),
                    "query_vector": [float(value) for value in query_vector.vector.values],
                    "k": query.k,
                    "num_candidates": num_candidates(query.k),
                    # Inside the knn clause: Elasticsearch pre-filters during the graph search,
                    # so k matching documents come back; a filter outside would post-filter.
                    "filter": where,
                },
            }
            if highlight and text:
                body["highlight"] = highlight
            retrievers.append(vector_retriever(query_vector.field))
            lines += [{"index": index}, body]
        return retrievers, lines

    async def search(self, query: SearchQuery) -> SearchResults:
        """See :meth:`search.backend.SearchBackend.search`."""
        with search_request("elasticsearch", query) as request:
            results = await self._search(query)
            request.hits = len(results.hits)
            return results

    async def _search(self, query: SearchQuery) -> SearchResults:
        query.validate()
        index, info = await self._serving(query.generation)
        check_query_vectors(info.spec, query)
        retrievers, lines = self.search_bodies(index, query)
        try:
            response = await self._client.msearch(searches=lines)
        except (EsApiError, EsTransportError) as exc:
            raise SearchError(f"search failed: {exc}") from exc
        ranked: dict[str, list[tuple[str, float]]] = {}
        hits_by_id: dict[str, dict[str, Any]] = {}
        for retriever, item in zip(retrievers, response["responses"], strict=True):
            if "error" in item:
                raise SearchError(f"{retriever} search failed: {item['error']}")
            ranking: list[tuple[str, float]] = []
            for hit in item["hits"]["hits"]:
                doc_id = hit["_source"]["doc_id"]
                score = float(hit["_score"])
                # Elasticsearch reports cosine kNN scores as (1 + cos) / 2; undo it so both
                # backends report the cosine itself.
                ranking.append((doc_id, score if retriever == TEXT_RETRIEVER else 2 * score - 1))
                known = hits_by_id.setdefault(doc_id, hit)
                if "highlight" in hit and "highlight" not in known:
                    hits_by_id[doc_id] = hit
            ranked[retriever] = ranking
        fused = reciprocal_rank_fusion(
            ranked,
            rank_constant=query.rank_constant,
            weights=query.weights,
            groups=query.groups,
            min_score=query.min_score,
        )
        page = fused[query.offset : query.offset + query.limit]
        hits = []
        for item in page:
            hit = hits_by_id[item.doc_id]
            source = hit["_source"]
            highlights = tuple(
                Highlight(TextField(field), fragment)
                for field in TextField
                for fragment in (hit.get("highlight") or {}).get(field.value, ())
            )
            hits.append(
                SearchHit(
                    doc_id=item.doc_id,
                    doc_type=DocType(source["doc_type"]),
                    asset_id=source["asset_id"],
                    scene_id=source.get("scene_id"),
                    start_s=source.get("start_s"),
                    end_s=source.get("end_s"),
                    title=source.get("title", ""),
                    score=item.score,
                    ranks=item.ranks,
                    retriever_scores=item.retriever_scores,
                    highlights=highlights,
                    time_codes=time_codes(highlights, functools.partial(_stored_segments, source)),
                )
            )
        return SearchResults(hits=tuple(hits), total=len(fused), offset=query.offset, generation=info.name)

    async def facets(self, query: FacetQuery) -> FacetResults:
        """See :meth:`search.backend.SearchBackend.facets`."""
        query.validate()
        index, info = await self._serving(query.generation)
        aggs = {
            field.value: {
                "terms": {
                    "field": _FACET_FIELDS[field],
                    "size": query.size,
                    # Written out: the same order the embedded backend uses.
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
            for field in query.fields
        }
        try:
            response = await self._client.search(
                index=index,
                size=0,
                query=mappings.filter_query(query.tenant_id, query.scope, query.filters),
                aggs=aggs,
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
            generations = await self._generations()
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


def _stored_segments(source: Mapping[str, Any], field: TextField) -> tuple[TimedText, ...]:
    return timed_texts(source.get("transcript_segments" if field is TextField.TRANSCRIPT else "ocr_segments"))

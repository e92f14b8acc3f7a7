"""The `search` root field: hybrid search over moments and assets.

The query text is embedded here (through the process's inference router) for the vector
retrievers, with the model the live generation was built for; a generation of another model
cannot be compared against, so HYBRID then runs BM25 alone and SEMANTIC is refused.

Every hit is resolved to its asset through the asset loader, which returns live assets of the
caller's tenant only: a deleted asset never appears, even while its removal from the index is
still on its way (or its message was lost and the reconciler has not run yet).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry

from app.api.context import Info
from app.api.errors import ApiError
from app.api.fields import field
from app.api.pagination import DEFAULT_PAGE_SIZE, PageInfoType
from app.api.scalars import After, First
from app.api.search.types import (
    FacetContext,
    SearchConnectionType,
    SearchEdgeType,
    SearchHighlightType,
    SearchHitKind,
    SearchHitType,
    SearchInput,
    SearchMode,
    SearchRankType,
    SearchRetriever,
    SearchScope,
    SearchTimeCodeType,
    decode_offset,
    encode_offset,
    invalid,
    text_field,
)
from app.bootstrap import inference_for
from app.errors import InvalidInputError
from search.backend import GenerationInfo, SearchBackend, SearchError
from search.documents import DocType, VectorField
from search.query import MAX_K, Filters, QueryError, QueryVector, SearchHit, SearchQuery, vector_retriever

SEARCH_UNAVAILABLE = "SEARCH_UNAVAILABLE"
# RRF weights per retriever. The bridge describes a picture by its ImageNet labels only, a much
# coarser signal than the words said or shown, so it counts half.
WEIGHTS = {"text": 1.0, "vector:text": 1.0, "vector:visual": 1.0, "vector:bridge": 0.5}
# Candidates each retriever contributes (more when a deep page needs them, up to MAX_K).
CANDIDATES = 100


def unavailable(message: str) -> ApiError:
    """The GraphQL error of a search the service cannot answer now (not the caller's fault)."""
    return ApiError(message, code=SEARCH_UNAVAILABLE)


def _key(name: str, version: str) -> str:
    return f"{name}:{version}"


async def query_vectors(info: Info, text: str, live: GenerationInfo) -> tuple[QueryVector, ...]:
    """Embeddings of ``text`` for every vector field of ``live`` the text model can query
    (none, and no model call, when the live generation was built for other models)."""
    router: Any = await inference_for(info.context.services)
    text_spec = router.model_for("embed_text")
    text_model = _key(text_spec.name, text_spec.version)
    fields: list[tuple[VectorField, str]] = []
    wanted_text = live.spec.vectors.get(VectorField.TEXT)
    if wanted_text is not None and wanted_text.model_version == text_model:
        fields.append((VectorField.TEXT, text_model))
    wanted_bridge = live.spec.vectors.get(VectorField.BRIDGE)
    if wanted_bridge is not None:
        bridge = router.model_for("embed_bridge")
        # The bridge lives in the text model's space: a text vector of the very model the
        # bridge was built from is comparable with it.
        if (
            wanted_bridge.model_version == _key(bridge.name, bridge.version)
            and text_model in bridge.derived_from
        ):
            fields.append((VectorField.BRIDGE, wanted_bridge.model_version))
    if not fields:
        return ()
    result = await router.embed_text([text])
    values = result.vectors[0]
    return tuple(
        QueryVector.of(vector_field, values, version)
        for vector_field, version in fields
        if live.spec.vectors[vector_field].dims == len(values)
    )


def _hit(hit: SearchHit, asset: Any, scene: Any) -> SearchHitType:
    codes = sorted(hit.time_codes, key=lambda c: (c.start_s, c.end_s, c.field.value))
    if codes:
        play_from = codes[0].start_s
    else:
        play_from = hit.start_s if hit.start_s is not None else 0.0
    ranks = sorted(hit.ranks.items(), key=lambda item: (item[1], item[0]))
    return SearchHitType(
        kind=SearchHitKind.MOMENT if hit.doc_type is DocType.MOMENT else SearchHitKind.ASSET,
        asset_row=asset,
        scene_row=scene,
        start_seconds=hit.start_s,
        end_seconds=hit.end_s,
        play_from_seconds=play_from,
        score=hit.score,
        highlights=[
            SearchHighlightType(field=text_field(h.field), fragment=h.fragment) for h in hit.highlights
        ],
        time_codes=[
            SearchTimeCodeType(
                field=text_field(c.field), start_seconds=c.start_s, end_seconds=c.end_s, text=c.text
            )
            for c in codes
        ],
        matched_fields=[text_field(f) for f in hit.matched_fields],
        ranks=[
            SearchRankType(
                retriever=SearchRetriever(name), rank=rank, score=hit.retriever_scores.get(name, 0.0)
            )
            for name, rank in ranks
        ],
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _rows(info: Info, hits: Sequence[SearchHit]) -> list[tuple[int, SearchHit, Any, Any]]:
    """Each hit with its position, its live asset row and scene row (hits of gone assets dropped)."""
    loaders = info.context.loaders
    asset_ids = [_uuid(hit.asset_id) for hit in hits]
    assets = await loaders.assets.asset_by_id.load_many([a for a in asset_ids if a is not None])
    by_id = {row.id: row for row in assets if row is not None}
    scene_ids = [_uuid(hit.scene_id) for hit in hits if hit.doc_type is DocType.MOMENT]
    scenes = await loaders.media.scene_by_id.load_many([s for s in scene_ids if s is not None])
    scenes_by_id = {row.id: row for row in scenes if row is not None}
    rows = []
    for position, (hit, asset_id) in enumerate(zip(hits, asset_ids, strict=True)):
        asset = by_id.get(asset_id) if asset_id is not None else None
        if asset is None:
            continue
        scene_id = _uuid(hit.scene_id)
        rows.append((position, hit, asset, scenes_by_id.get(scene_id) if scene_id is not None else None))
    return rows


@strawberry.type
class SearchQueries:
    """Root fields of search."""

    @field(
        description="Hybrid search over everything the pipeline found (titles, tags, speech, on-screen text, "
        "labels, and their vectors): moments with time codes to jump to, or whole assets, best first."
    )
    async def search(
        self,
        info: Info,
        query: Annotated[SearchInput, strawberry.argument(description="What to search for and how.")],
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> SearchConnectionType:
        ctx = info.context
        max_page = ctx.settings.max_page_size
        if first < 0 or first > max_page:
            raise ApiError(
                f"`first` must be between 0 and {max_page}, got {first}",
                code="PAGE_SIZE_EXCEEDED",
                field=["first"],
            )
        text = query.clean_text()
        if query.min_score is not None and not query.min_score >= 0:
            raise invalid("minScore must be a number >= 0", ["query", "minScore"])
        filters = query.filter.to_filters(["query", "filter"]) if query.filter else Filters()
        fingerprint = query.fingerprint(filters)
        offset = decode_offset(after, fingerprint) if after is not None else 0
        backend: SearchBackend | None = ctx.services.search
        if backend is None:
            raise unavailable("search is not configured in this process")
        try:
            live = await backend.live_generation()
        except SearchError as exc:
            raise unavailable(f"the search index cannot be reached: {exc}") from exc
        if live is None:
            raise unavailable("nothing is indexed yet: no search generation is live")
        vectors: tuple[QueryVector, ...] = ()
        if query.mode is not SearchMode.TEXT:
            vectors = await query_vectors(info, text, live)
            if not vectors and query.mode is SearchMode.SEMANTIC:
                raise unavailable(
                    f"the live index {live.name} holds vectors of other models than this server embeds "
                    "queries with; run `mediakg search reindex` or search in TEXT mode"
                )
        scope = DocType.MOMENT if query.scope is SearchScope.MOMENT else DocType.ASSET
        # At least one row is asked for: a first: 0 page still reports totals and retrievers.
        limit = max(1, first)
        search_query = SearchQuery(
            tenant_id=str(ctx.caller.tenant_id),
            text=text if query.mode is not SearchMode.SEMANTIC else None,
            vectors=vectors,
            filters=filters,
            scope=scope,
            weights=WEIGHTS,
            k=min(MAX_K, max(CANDIDATES, offset + limit)),
            limit=limit,
            offset=offset,
            min_score=query.min_score,
            generation=live.name,
        )
        try:
            results = await backend.search(search_query)
        except QueryError as exc:
            raise ApiError.from_domain(InvalidInputError(str(exc), field=["query"])) from exc
        except SearchError as exc:
            raise unavailable(f"the search failed: {exc}") from exc
        hits = results.hits[:first]
        edges = [
            SearchEdgeType(
                cursor=encode_offset(offset + position + 1, fingerprint), node=_hit(hit, asset, scene)
            )
            for position, hit, asset, scene in await _rows(info, hits)
        ]
        retrievers = ([SearchRetriever.TEXT] if search_query.text else []) + [
            SearchRetriever(vector_retriever(v.field)) for v in vectors
        ]
        has_next = offset + len(hits) < results.total
        end_cursor = encode_offset(offset + len(hits), fingerprint) if hits else None
        return SearchConnectionType(
            edges=edges,
            page_info=PageInfoType(
                has_next_page=has_next,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=end_cursor,
            ),
            total_count=results.total,
            retrievers=retrievers,
            generation=results.generation,
            facet_context=FacetContext(
                backend=backend,
                tenant_id=ctx.caller.tenant_id,
                filters=filters,
                scope=scope,
                generation=results.generation,
            ),
        )

"""The `search` root field: hybrid search over moments and assets.

The query text is embedded here (through the process's inference router) for the vector
retrievers, with the model the live generation was built for (MiniLM; and CLIP's text tower
when the generation holds CLIP image vectors of the configured CLIP directory); a generation
of other models cannot be compared against, so HYBRID then runs BM25 alone and SEMANTIC is
refused.

Soft deletes are honoured at two depths. Inside the engine: the caller's assets deleted within
``search_deleted_window_seconds`` (whose removal from the index may still be on its way: the
``search.sync_asset`` message, or the reconciler's next pass) are an exclusion filter of every
retriever and facet, so ``totalCount`` and facet counts never include them. After the engine:
every hit is resolved through the asset loader, which returns live assets of the caller's
tenant only, so a deleted asset never appears even if it is older than the window and still
indexed (a lost message with no reconciler running).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.file_uploads import Upload

from app.api.context import Info
from app.api.errors import SearchUnavailableError
from app.api.fields import field
from app.api.ids import decode_id
from app.api.pagination import DEFAULT_PAGE_SIZE, PageInfoType, check_page_size
from app.api.scalars import After, First
from app.api.search import image as image_search
from app.api.search.types import (
    FacetContext,
    SearchConnectionType,
    SearchEdgeType,
    SearchFacetField,
    SearchFacetType,
    SearchFilterInput,
    SearchHighlightType,
    SearchHitKind,
    SearchHitType,
    SearchInput,
    SearchMode,
    SearchRankType,
    SearchRetriever,
    SearchScope,
    SearchTimeCodeType,
    count_facets,
    decode_offset,
    encode_offset,
    text_field,
)
from app.assets import duplicate_repository as duplicate_repo
from app.assets import repository as assets_repo
from app.core.errors import InvalidInputError, NotFoundError
from app.people import repository as people_repo
from search.backend import GenerationInfo, SearchBackend, SearchError
from search.documents import FIELD_TASK, DocType, VectorField, model_key
from search.query import (
    MAX_K,
    Filters,
    Fusion,
    QueryError,
    QueryVector,
    SearchHit,
    SearchQuery,
    vector_retriever,
)

# RRF weights per retriever and the rank constant are settings (search_rrf_weights,
# search_rrf_rank_constant): by default the bridge counts half, since it describes a picture by
# its ImageNet labels only, a much coarser signal than the words said or shown.
# One query embedding compared with a moment's words and with its picture's labels: two views
# of one moment, so it counts once, at its best (search.fusion). Summed, a video shot (speech
# and keyframe) outranked a note or a photo that one of them put first (docs/search.md).
# CLIP's text tower against CLIP image vectors is a third view of the same kind (the query's
# meaning against a picture), so it joins the group.
GROUPS = {"vector:text": "meaning", "vector:bridge": "meaning", "vector:clip": "meaning"}
# Candidates each retriever contributes (more when a deep page needs them, up to MAX_K).
CANDIDATES = 100
# Most recent deletions excluded inside the engine (module docstring). Far above what one
# reconciler interval sees; beyond it the asset loader still hides the hits.
MAX_PENDING_DELETES = 1000
# Marked duplicates excluded by id inside the engine, most recently decided first: a terms
# filter of this size costs the engines little. Beyond it the oldest decisions show again in
# search (not in lists); an index field would lift the cap (docs/search.md).
MAX_HIDDEN_DUPLICATES = 1000


async def query_vectors(info: Info, text: str, live: GenerationInfo) -> tuple[QueryVector, ...]:
    """Embeddings of ``text`` for every vector field of ``live`` the text models can query:
    MiniLM for ``text`` and ``bridge``, CLIP's text tower for ``clip`` (none, and no model
    call, when the live generation was built for other models)."""
    router: Any = await info.context.services.inference_router()
    text_spec = router.model_for(FIELD_TASK[VectorField.TEXT])
    text_model = model_key(text_spec.name, text_spec.version)
    fields: list[tuple[VectorField, str]] = []
    wanted_text = live.spec.vectors.get(VectorField.TEXT)
    if wanted_text is not None and wanted_text.model_version == text_model:
        fields.append((VectorField.TEXT, text_model))
    wanted_bridge = live.spec.vectors.get(VectorField.BRIDGE)
    if wanted_bridge is not None:
        bridge = router.model_for(FIELD_TASK[VectorField.BRIDGE])
        # The bridge lives in the text model's space: a text vector of the very model the
        # bridge was built from is comparable with it.
        if (
            wanted_bridge.model_version == model_key(bridge.name, bridge.version)
            and text_model in bridge.derived_from
        ):
            fields.append((VectorField.BRIDGE, wanted_bridge.model_version))
    vectors: list[QueryVector] = []
    if fields:
        result = await router.embed_text([text])
        values = result.vectors[0]
        vectors += [
            QueryVector.of(vector_field, values, version)
            for vector_field, version in fields
            if live.spec.vectors[vector_field].dims == len(values)
        ]
    # CLIP's text tower against the generation's CLIP image vectors (same directory, same version).
    clip = await image_search.field_vector(
        router,
        live,
        VectorField.CLIP,
        functools.partial(router.embed_text_clip, [text]),
        query_task="embed_text_clip",
    )
    if clip is not None:
        vectors.append(clip)
    return tuple(vectors)


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
        relevance=hit.relevance,
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


async def without_pending_deletes(
    info: Info, filters: Filters, *, include_duplicates: bool = False
) -> Filters:
    """``filters`` that also exclude the caller's assets deleted within the settings' window
    (at most ``MAX_PENDING_DELETES``, newest first) and, unless ``include_duplicates``, the assets
    an editor marked duplicates (at most ``MAX_HIDDEN_DUPLICATES``): one indexed SQL statement
    each. Marked duplicates stay in the index, so ``includeDuplicates`` can ask for them.

    A person filter's merged-away ids stand for the person they went into (the index holds
    only that one's id); one more statement, with a person filter only."""
    ctx = info.context
    window = ctx.settings.search_deleted_window_seconds
    excluded: list[uuid.UUID] = []
    async with ctx.read_session_factory() as session:
        if filters.person_ids:
            filters = replace(
                filters, person_ids=await _current_people(session, ctx.caller.tenant_id, filters)
            )
        if window > 0:
            since = datetime.now(UTC) - timedelta(seconds=window)
            excluded += await assets_repo.recently_deleted_ids(
                session, tenant_id=ctx.caller.tenant_id, since=since, limit=MAX_PENDING_DELETES
            )
        if not include_duplicates:
            excluded += await duplicate_repo.hidden_duplicate_ids(
                session, tenant_id=ctx.caller.tenant_id, limit=MAX_HIDDEN_DUPLICATES
            )
    if not excluded:
        return filters
    return replace(filters, exclude_asset_ids=(*filters.exclude_asset_ids, *(str(a) for a in excluded)))


async def _current_people(session: AsyncSession, tenant_id: uuid.UUID, filters: Filters) -> tuple[str, ...]:
    """The filter's person ids with merged-away ones replaced by their target (ids of no
    person of the tenant are kept: they match nothing)."""
    ids = [uuid.UUID(p) for p in filters.person_ids]
    found = await people_repo.people_by_id(session, tenant_id=tenant_id, ids=ids)
    return tuple(sorted({str(found[p].id) if p in found else str(p) for p in ids}))


async def _live(info: Info) -> tuple[SearchBackend, GenerationInfo]:
    """The search backend and its live generation, or SEARCH_UNAVAILABLE."""
    backend: SearchBackend | None = info.context.services.search
    if backend is None:
        raise SearchUnavailableError("search is not configured in this process")
    try:
        live = await backend.live_generation()
    except SearchError as exc:
        raise SearchUnavailableError(f"the search index cannot be reached: {exc}") from exc
    if live is None:
        raise SearchUnavailableError("nothing is indexed yet: no search generation is live")
    return backend, live


@dataclass(frozen=True, slots=True)
class _Request:
    """One search as the backend runs it, and how its page is cut and its cursors tied."""

    text: str | None
    vectors: tuple[QueryVector, ...]
    filters: Filters
    scope: DocType
    first: int
    offset: int
    fingerprint: str
    min_score: float | None = None
    include_duplicates: bool = False
    min_relevance: float | None = None


async def _run(
    info: Info, backend: SearchBackend, live: GenerationInfo, request: _Request
) -> SearchConnectionType:
    """Runs ``request`` on the live generation and builds the connection (hits of deleted or
    foreign assets dropped by the asset loader)."""
    ctx = info.context
    offset, fingerprint = request.offset, request.fingerprint
    # At least one row is asked for: a first: 0 page still reports totals and retrievers.
    limit = max(1, request.first)
    # The cursor fingerprint was taken from the caller's filters: the exclusions may change
    # between pages without invalidating it.
    filters = await without_pending_deletes(
        info, request.filters, include_duplicates=request.include_duplicates
    )
    search_query = SearchQuery(
        tenant_id=str(ctx.caller.tenant_id),
        text=request.text,
        vectors=request.vectors,
        filters=filters,
        scope=request.scope,
        weights=ctx.settings.search_rrf_weights,
        groups=GROUPS,
        rank_constant=ctx.settings.search_rrf_rank_constant,
        k=min(MAX_K, max(CANDIDATES, offset + limit)),
        limit=limit,
        offset=offset,
        min_score=request.min_score if request.min_score is not None else ctx.settings.search_min_score,
        min_relevance=request.min_relevance,
        fusion=Fusion(ctx.settings.search_fusion),
        generation=live.name,
    )
    try:
        results = await backend.search(search_query)
    except QueryError as exc:
        raise InvalidInputError(str(exc), field=["query"]) from exc
    except SearchError as exc:
        raise SearchUnavailableError(f"the search failed: {exc}") from exc
    hits = results.hits[: request.first]
    edges = [
        SearchEdgeType(cursor=encode_offset(offset + position + 1, fingerprint), node=_hit(hit, asset, scene))
        for position, hit, asset, scene in await _rows(info, hits)
    ]
    retrievers = ([SearchRetriever.TEXT] if search_query.text else []) + [
        SearchRetriever(vector_retriever(v.field)) for v in request.vectors
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
            scope=request.scope,
            generation=results.generation,
        ),
    )


def _scope(scope: SearchScope) -> DocType:
    return DocType.MOMENT if scope is SearchScope.MOMENT else DocType.ASSET


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
        check_page_size(info, first, field=["first"])
        text = query.clean_text()
        if query.min_score is not None and not query.min_score >= 0:
            raise InvalidInputError("minScore must be a number >= 0", field=["query", "minScore"])
        if query.min_relevance is not None and not 0.0 <= query.min_relevance <= 1.0:
            raise InvalidInputError(
                "minRelevance must be a number from 0 to 1", field=["query", "minRelevance"]
            )
        filters = query.filter.to_filters(["query", "filter"]) if query.filter else Filters()
        fingerprint = query.fingerprint(filters)
        offset = decode_offset(after, fingerprint) if after is not None else 0
        backend, live = await _live(info)
        vectors: tuple[QueryVector, ...] = ()
        if query.mode is not SearchMode.TEXT:
            vectors = await query_vectors(info, text, live)
            if not vectors and query.mode is SearchMode.SEMANTIC:
                raise SearchUnavailableError(
                    f"the live index {live.name} holds vectors of other models than this server embeds "
                    "queries with; run `mediakg search reindex` or search in TEXT mode"
                )
        request = _Request(
            text=text if query.mode is not SearchMode.SEMANTIC else None,
            vectors=vectors,
            filters=filters,
            scope=_scope(query.scope),
            first=first,
            offset=offset,
            fingerprint=fingerprint,
            min_score=query.min_score,
            include_duplicates=bool(query.filter and query.filter.include_duplicates),
            # The default cutoff applies where vectors make every document a candidate. TEXT
            # returns only documents sharing a query word, and BM25's scale follows the library's
            # size (idf): in a library of a few assets an exact match scores under the cutoff.
            # Image searches have no labelled set (search.calibration's stand-in), so none either.
            min_relevance=(
                query.min_relevance
                if query.min_relevance is not None or query.mode is SearchMode.TEXT
                else info.context.settings.search_min_relevance
            ),
        )
        return await _run(info, backend, live, request)

    @field(
        description="Counts of kinds, tags, labels and languages over every live indexed asset (or "
        "moment) matching the filter, without search text: the sidebar of a browse page."
    )
    async def facets(
        self,
        info: Info,
        filter: Annotated[
            SearchFilterInput | None, strawberry.argument(description="Structured conditions.")
        ] = None,
        scope: Annotated[
            SearchScope, strawberry.argument(description="Count assets (default) or moments.")
        ] = SearchScope.ASSET,
        fields: Annotated[
            list[SearchFacetField] | None,
            strawberry.argument(description="Fields to count (default: all)."),
        ] = None,
        size: Annotated[int, strawberry.argument(description="Values per field, 1 to 100.")] = 10,
    ) -> list[SearchFacetType]:
        filters = filter.to_filters(["filter"]) if filter else Filters()
        backend, live = await _live(info)
        context = FacetContext(
            backend=backend,
            tenant_id=info.context.caller.tenant_id,
            filters=await without_pending_deletes(
                info, filters, include_duplicates=bool(filter and filter.include_duplicates)
            ),
            scope=_scope(scope),
            generation=live.name,
        )
        return await count_facets(context, fields, size, [])

    @field(
        description="Moments (or assets) that look like a picture: an uploaded image, or an existing "
        "asset (its own stored vectors; the asset itself is left out), best first. Give exactly one."
    )
    async def search_by_image(
        self,
        info: Info,
        image: Annotated[
            Upload | None,
            strawberry.argument(
                description="A picture to search with (JPEG, PNG, WebP...; at most 20 MiB), sent as a "
                "GraphQL multipart upload."
            ),
        ] = None,
        asset_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="An image or video Asset whose look to search for."),
        ] = None,
        filter: Annotated[
            SearchFilterInput | None, strawberry.argument(description="Structured conditions.")
        ] = None,
        scope: Annotated[
            SearchScope, strawberry.argument(description="Return moments (default) or whole assets.")
        ] = SearchScope.MOMENT,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> SearchConnectionType:
        check_page_size(info, first, field=["first"])
        if (image is None) == (asset_id is None):
            raise InvalidInputError(
                "give exactly one of image or assetId", field=["image"] if image is None else ["assetId"]
            )
        filters = filter.to_filters(["filter"]) if filter else Filters()
        query_asset: uuid.UUID | None = None
        data = b""
        if asset_id is not None:
            query_asset = decode_id(str(asset_id), "Asset", field=["assetId"])
            source = f"asset:{query_asset}"
            # The picture itself is not an answer to "what looks like it".
            filters = replace(filters, exclude_asset_ids=(*filters.exclude_asset_ids, str(query_asset)))
        else:
            data = await image_search.read_upload(image)
            source = image_search.upload_source(data)
        fingerprint = image_search.image_fingerprint(source, filters, _scope(scope).value)
        offset = decode_offset(after, fingerprint) if after is not None else 0
        if (
            query_asset is not None
            and await info.context.loaders.assets.asset_by_id.load(query_asset) is None
        ):
            raise NotFoundError("no such asset", field=["assetId"])
        backend, live = await _live(info)
        if not image_search.image_fields(live):
            raise SearchUnavailableError(f"the live index {live.name} holds no image vectors")
        if query_asset is not None:
            vectors = await image_search.asset_vectors(info, query_asset, live)
        else:
            pixels = await image_search.decode_upload(data)
            vectors = await image_search.upload_vectors(info, pixels, live)
            if not vectors:
                raise SearchUnavailableError(
                    f"the live index {live.name} holds image vectors of other models than this server "
                    "embeds pictures with; run `mediakg search reindex`"
                )
        request = _Request(
            text=None,
            vectors=vectors,
            filters=filters,
            scope=_scope(scope),
            first=first,
            offset=offset,
            fingerprint=fingerprint,
            include_duplicates=bool(filter and filter.include_duplicates),
        )
        return await _run(info, backend, live, request)

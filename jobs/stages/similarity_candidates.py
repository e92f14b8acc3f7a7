"""Which assets the similarity stage compares an asset with, past a library size.

Below ``MEDIAKG_SIMILARITY_INDEX_ABOVE`` scenes (or text chunks) in the tenant, the stage reads
every live vector and scores them all (exact, and cheap at that size). From there on, reading
every vector of the tenant for every processed asset is what does not scale: the candidates
come from the live search index instead. Each vector of the asset (a keyframe, a scene's meaning,
a text document's mean) asks the index's kNN for its nearest moments (or, for text documents,
assets: ranked at their best chunk), in the index field holding the same kind of vector; the
assets those belong to, the asset itself and every asset with a job still queued or running
(its documents may not be in the index yet: two copies ingested together both run this stage
before either is indexed) are the candidates, and only their vectors are read from the database
and scored exactly, by the same rules as the full scan.

The index is only asked when it can answer: a search backend in this process, a live generation
whose field holds vectors of the stage's model, and no search error; otherwise the stage scans.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from app.media import stage_repository
from inference.registry import ModelRef
from jobs.registry import StageContext
from search.backend import SearchError
from search.documents import DocType, VectorField, model_key
from search.query import MAX_PAGE, Filters, QueryError, QueryVector, SearchQuery

FloatArray = npt.NDArray[np.float32]
# Moments (or assets) the index returns per vector of the asset: several times the edges kept
# per scene, so the best ``similarity_max_edges`` pairs are among them.
EDGE_FACTOR = 4


async def use_index(ctx: StageContext, session: AsyncSession, *, text: bool) -> bool:
    """Whether the tenant is past the size from which candidates come from the index."""
    if ctx.services.search is None:
        return False
    threshold = ctx.settings.similarity_index_above
    if threshold == 0:
        return True
    count = await stage_repository.count_live_units(session, tenant_id=ctx.asset.tenant_id, text=text)
    return count >= threshold


async def candidate_assets(
    ctx: StageContext,
    field: VectorField,
    model: ModelRef,
    vectors: Sequence[FloatArray],
    *,
    scope: DocType = DocType.MOMENT,
    kinds: tuple[str, ...] = (),
) -> set[uuid.UUID] | None:
    """Assets with a moment (``scope`` ASSET: an asset) among the index's nearest to any of
    ``vectors`` in ``field``; None when the index cannot answer (module docstring)."""
    backend = ctx.services.search
    if backend is None:
        return None
    k = min(MAX_PAGE, max(1, ctx.settings.similarity_max_edges * EDGE_FACTOR))
    found: set[uuid.UUID] = set()
    try:
        live = await backend.live_generation()
        spec = live.spec.vectors.get(field) if live is not None else None
        if live is None or spec is None or spec.model_version != model_key(model.name, model.version):
            return None
        for vector in vectors:
            if vector.shape[0] != spec.dims:
                return None
            results = await backend.search(
                SearchQuery(
                    tenant_id=str(ctx.asset.tenant_id),
                    vectors=(QueryVector.of(field, vector, spec.model_version),),
                    filters=Filters(kinds=kinds, exclude_asset_ids=(str(ctx.asset.id),)),
                    scope=scope,
                    k=k,
                    limit=k,
                    highlight=False,
                    generation=live.name,
                )
            )
            found.update(uuid.UUID(hit.asset_id) for hit in results.hits)
    except (SearchError, QueryError, ValueError):
        return None
    return found


async def compared_assets(
    ctx: StageContext, session: AsyncSession, found: Sequence[set[uuid.UUID] | None]
) -> set[uuid.UUID] | None:
    """The asset, what the index found (``found``: one set per field asked) and the assets with a
    job in flight; None (scan everything) when any field's index could not answer."""
    if any(assets is None for assets in found):
        return None
    pending = await stage_repository.assets_in_flight(session, tenant_id=ctx.asset.tenant_id)
    return {ctx.asset.id, *pending}.union(*(assets for assets in found if assets is not None))

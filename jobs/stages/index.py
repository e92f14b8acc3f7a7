"""The index stage: the asset's search documents, rebuilt from the database and written to
every open search generation (live and building). A deleted asset is removed instead.

Also home of the ``search.sync_asset`` actor's work (``sync_asset``): editing or deleting an
asset sends that message after commit, and it brings the index in line the same way.

The search write happens before the runner's completion transaction; that is safe because a
document is a pure projection of committed rows, ordered by its version: running the stage
twice, or a write racing a newer one, leaves the newest projection in place.
"""

from __future__ import annotations

import uuid

from app.core.container import Services
from app.jobs.errors import TransientStageError
from app.jobs.pipeline import StageName
from jobs.indexing import ModelRouter, ensure_generation, open_generations, sync_assets
from jobs.registry import StageContext, StageOutput, StageRegistry
from search.backend import SearchBackend, WriteReport

# Recorded on the JobStage row: which generations (and their vector models) got the documents.
INDEX_MODEL = "search-index"


def _backend(services: Services) -> SearchBackend:
    backend: SearchBackend | None = services.search
    if backend is None:
        raise TransientStageError("SEARCH_UNAVAILABLE", "no search backend is configured in this process")
    return backend


async def sync_asset(services: Services, *, asset_id: uuid.UUID) -> WriteReport:
    """Index the asset as the database has it now, or remove it from search if deleted."""
    backend = _backend(services)

    async def router() -> ModelRouter:
        found: ModelRouter = await services.inference_router()
        return found

    generations = await ensure_generation(backend, router)
    report = await sync_assets(services.session_factory, backend, [asset_id], generations=generations)
    if report.failures:
        first = report.failures[0]
        # Per-document failures are the engine's (a rejected bulk item, a full disk): retry.
        raise TransientStageError(
            "SEARCH_WRITE_FAILED",
            f"{len(report.failures)} search documents were not written "
            f"(first: {first.generation}/{first.doc_id}: {first.reason})",
        )
    return report


async def run_index(ctx: StageContext) -> StageOutput:
    """Write the asset's documents to every open generation (see module docstring)."""
    await ctx.report_progress(0.0)
    await sync_asset(ctx.services, asset_id=ctx.asset.id)
    generations = await open_generations(_backend(ctx.services))
    await ctx.report_progress(1.0)
    return StageOutput(
        model_versions={
            f"{INDEX_MODEL}/{g.name}": ",".join(
                sorted(f"{f.value}={v.model_version}" for f, v in g.spec.vectors.items())
            )
            for g in generations
        }
    )


def register_stages(registry: StageRegistry) -> None:
    """Register the index stage."""
    # A few statements and one bulk write per generation: seconds, even for long videos.
    registry.register(StageName.INDEX, run_index, time_limit_s=300.0, max_retries=5)

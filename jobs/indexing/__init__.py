"""Keeping search in line with the database: what the ``index`` stage, the ``search.sync_asset``
actor and ``mediakg search`` share.

- ``generations``: which generations are open, a generation's spec for the models served now,
  the first generation of a fresh install;
- ``sync``: writing assets (or their deletion) to every open generation, and the reconciler;
- ``reembed``: the text vectors a new model's generation needs that the database lacks;
- ``reindex``: rebuilding a generation from the database.

The rows come from ``app/search_index/repository.py``; the document an asset becomes is
rendered by ``search/render.py``.
"""

from jobs.indexing.generations import (
    ModelRouter,
    ensure_generation,
    generation_spec,
    new_generation_name,
    open_generations,
)
from jobs.indexing.reembed import EmbedReport, embed_missing, missing_texts
from jobs.indexing.reindex import ReindexReport, count_assets, reindex
from jobs.indexing.sync import reconcile_deleted, run_reconciler, sync_assets, write_snapshots

__all__ = [
    "EmbedReport",
    "ModelRouter",
    "ReindexReport",
    "count_assets",
    "embed_missing",
    "ensure_generation",
    "generation_spec",
    "missing_texts",
    "new_generation_name",
    "open_generations",
    "reconcile_deleted",
    "reindex",
    "run_reconciler",
    "sync_assets",
    "write_snapshots",
]

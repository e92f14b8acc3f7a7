"""The default search backend: SQLite FTS5 for BM25 and numpy or HNSW kNN, in one file.

Layout of the SQLite file (``<data_dir>/search/index.sqlite3``):

- ``generation``: one row per generation; the row in state ``live`` is the pointer searches
  follow. A partial unique index allows one live row, and a switch updates both rows in one
  transaction, so readers see the old or the new generation, never neither.
- ``tombstone``: the highest deleted version per asset, shared by every generation, so a late
  write cannot resurrect a deleted asset even in a generation built after the delete.
- per generation ``g<id>_*``: ``doc`` (one row per asset or moment, asset fields copied onto
  moments), ``term`` (tags, labels and user metadata for filters and facets), ``vec``
  (float32 blobs), ``fts`` (external-content FTS5 kept in sync by triggers on ``doc``) and
  ``vlog`` (a change log filled by triggers on ``vec``).

Vectors are searched exactly below ``ann_threshold`` vectors per field: each process keeps an
in-memory matrix per (generation, field) and replays ``vlog`` before every search, so writes
made by another process (the worker) are seen by this one (the server) without a full reload.
From ``ann_threshold`` on, the field is searched through an HNSW graph of int8 vectors
(``ann``) kept in step the same way and saved under ``<folder>/ann/`` so a restart or a
second process loads it instead of building it; its candidates are re-scored exactly. A
field is searched exactly while its graph is built in a background thread.
Filters run in SQL first and give the set of allowed rows; the top-k is taken only among
those, so a filter never empties a page that exact search could have filled.

Modules: ``schema`` (tables, DDL), ``writes`` (documents to rows, deletes, the vector change
log), ``reads`` (filters as SQL, BM25, facets, snippets), ``vectors`` (the in-memory matrices),
``ann`` (the HNSW graphs), ``ann_builds`` (their background builds),
``store`` (connections, transactions, generations, caches) and ``backend`` (the async
:class:`EmbeddedBackend`).
"""

from search.embedded.backend import EmbeddedBackend
from search.embedded.reads import fts_query

__all__ = ["EmbeddedBackend", "fts_query"]

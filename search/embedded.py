"""The default search backend: SQLite FTS5 for BM25 and exact numpy kNN, in one file.

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

Vectors are searched exactly: each process keeps an in-memory matrix per (generation, field)
and replays ``vlog`` before every search, so writes made by another process (the worker)
are seen by this one (the server) without a full reload. Filters run in SQL first and give the
set of allowed rows; the top-k is taken only among those, so a filter never empties a page
that exact search could have filled.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

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
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    TEXT_FIELD_WEIGHTS,
    TEXT_RETRIEVER,
    FacetField,
    FacetQuery,
    FacetResults,
    FacetValue,
    Filters,
    Highlight,
    SearchHit,
    SearchQuery,
    SearchResults,
    TextField,
    time_codes,
    tokenize,
    vector_retriever,
)
from search.telemetry import index_span, search_request

T = TypeVar("T")

# FTS5 column order; bm25() takes the weights positionally in this order.
_FTS_COLUMNS: tuple[TextField, ...] = (
    TextField.TITLE,
    TextField.DESCRIPTION,
    TextField.TAGS,
    TextField.LABELS,
    TextField.TRANSCRIPT,
    TextField.OCR,
)
_DOC_TEXT_COLUMNS = tuple(column.value for column in _FTS_COLUMNS)
# Lucene's English stop set: Elasticsearch's `english` analyser drops these, so dropping
# them here keeps "the" from matching every document in one backend and none in the other.
_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
# snippet() markers: control characters cannot occur in tokenised text, so after HTML
# escaping they can be turned into <mark> tags without ambiguity.
_SNIP_PRE = "\x02"
_SNIP_POST = "\x03"
_SNIPPET_TOKENS = 16
# Keep this many vector changes for other processes to replay; older readers reload fully.
_VLOG_KEEP = 200_000
_SCHEMA_VERSION = 1
_ALLOWED_CACHE_SIZE = 64


def fts_query(text: str | None) -> str | None:
    """An FTS5 MATCH expression OR-ing the query's words (each quoted: no query syntax leaks)."""
    terms = [term for term in tokenize(text or "") if term not in _STOPWORDS]
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in dict.fromkeys(terms))


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _now() -> datetime:
    return datetime.now(UTC)


def _spec_to_json(spec: GenerationSpec) -> str:
    return json.dumps(
        {
            "name": spec.name,
            "vectors": {
                field.value: {"dims": vs.dims, "model_version": vs.model_version}
                for field, vs in spec.vectors.items()
            },
        },
        sort_keys=True,
    )


def _spec_from_json(raw: str) -> GenerationSpec:
    data = json.loads(raw)
    return GenerationSpec(
        name=data["name"],
        vectors={
            VectorField(field): VectorSpec(dims=int(vs["dims"]), model_version=str(vs["model_version"]))
            for field, vs in data["vectors"].items()
        },
    )


def _render_snippet(raw: str) -> str:
    return html.escape(raw, quote=False).replace(_SNIP_PRE, HIGHLIGHT_PRE).replace(_SNIP_POST, HIGHLIGHT_POST)


@dataclass(slots=True)
class _Generation:
    id: int
    spec: GenerationSpec
    state: GenerationState
    created_at: datetime

    @property
    def prefix(self) -> str:
        # Derived from the integer id, never from the user-chosen name: safe in SQL.
        return f"g{self.id}_"


class _VectorMatrix:
    """Normalised vectors of one (generation, field), kept in step with ``vlog``."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.lock = threading.Lock()
        self.matrix: npt.NDArray[np.float32] = np.zeros((0, dims), dtype=np.float32)
        self.row_ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.count = 0
        self.dead = 0
        # Maps a doc row id to its position in ``matrix`` (-1: none): a numpy array so a
        # filter's allowed rows become positions with one gather instead of a Python loop.
        self.lookup: npt.NDArray[np.int64] = np.full(0, -1, dtype=np.int64)
        self.seq: int | None = None

    def reset(self, row_ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], seq: int) -> None:
        self.matrix = _normalise(vectors) if len(row_ids) else np.zeros((0, self.dims), dtype=np.float32)
        self.row_ids = row_ids.astype(np.int64, copy=True)
        self.count = len(row_ids)
        self.dead = 0
        top = int(row_ids.max()) + 1 if len(row_ids) else 0
        self.lookup = np.full(top, -1, dtype=np.int64)
        self.lookup[self.row_ids] = np.arange(self.count, dtype=np.int64)
        self.seq = seq

    def position(self, row_id: int) -> int:
        return int(self.lookup[row_id]) if row_id < len(self.lookup) else -1

    def put(self, row_id: int, vector: npt.NDArray[np.float32]) -> None:
        unit = _normalise(vector.reshape(1, -1))[0]
        position = self.position(row_id)
        if position >= 0:
            self.matrix[position] = unit
            return
        if self.count == len(self.matrix):
            grown = max(16, self.count * 2)
            matrix = np.zeros((grown, self.dims), dtype=np.float32)
            matrix[: self.count] = self.matrix[: self.count]
            row_ids = np.full(grown, -1, dtype=np.int64)
            row_ids[: self.count] = self.row_ids[: self.count]
            self.matrix, self.row_ids = matrix, row_ids
        if row_id >= len(self.lookup):
            lookup = np.full(max(row_id + 1, len(self.lookup) * 2), -1, dtype=np.int64)
            lookup[: len(self.lookup)] = self.lookup
            self.lookup = lookup
        self.matrix[self.count] = unit
        self.row_ids[self.count] = row_id
        self.lookup[row_id] = self.count
        self.count += 1

    def remove(self, row_id: int) -> None:
        position = self.position(row_id)
        if position < 0:
            return
        # A dead slot scores -inf; compaction happens on the next full reload.
        self.matrix[position] = 0.0
        self.row_ids[position] = -1
        self.lookup[row_id] = -1
        self.dead += 1

    def top_k(
        self, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64], k: int
    ) -> list[tuple[int, float]]:
        """Exact cosine top-k among ``allowed`` doc rows: (row id, similarity), best first."""
        if self.count == 0 or len(allowed) == 0:
            return []
        unit = _normalise(query.reshape(1, -1))[0]
        inside = allowed[allowed < len(self.lookup)]
        positions = self.lookup[inside]
        positions = positions[positions >= 0]
        if len(positions) == 0:
            return []
        if len(positions) == self.count:
            # Every stored vector is allowed (the usual tenant-only filter on a one-tenant
            # index): positions is a permutation of all rows, so skip the gather.
            positions = np.arange(self.count)
            sims = self.matrix[: self.count] @ unit
        elif len(positions) * 4 < self.count:
            sims = self.matrix[positions] @ unit
        else:
            # One matrix-vector product over everything is cheaper than gathering most rows.
            sims = (self.matrix[: self.count] @ unit)[positions]
        take = min(k, len(positions))
        best = np.argpartition(-sims, take - 1)[:take] if take < len(positions) else np.arange(len(positions))
        rows = self.row_ids[positions[best]]
        # Highest similarity first; equal similarities by row id so results are repeatable.
        order = np.lexsort((rows, -sims[best]))
        return [(int(rows[i]), float(sims[best][i])) for i in order]


def _normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: npt.NDArray[np.float32] = (vectors / norms).astype(np.float32, copy=False)
    return unit


class _Store:
    """The synchronous core; every public method runs in a worker thread."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        # One writer per process; other processes queue on SQLite's busy timeout.
        self._write_lock = threading.Lock()
        self._matrices: dict[tuple[int, VectorField], _VectorMatrix] = {}
        self._matrices_lock = threading.Lock()
        # (generation id, where, params) -> (write count, allowed rows). Turning 100k ids from
        # SQL into an array costs more than the kNN itself; the tenant-only filter of most
        # searches repeats, and any write to the generation invalidates its entries.
        self._allowed_cache: dict[tuple[int, str, tuple[Any, ...]], tuple[int, npt.NDArray[np.int64]]] = {}
        self._allowed_lock = threading.Lock()
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._init_schema()

    # --- connections -----------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        if self._closed:
            raise SearchError("search backend is closed")
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # check_same_thread=False only so close() may close it from another thread; each
            # connection is otherwise used by the thread that opened it.
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout_ms / 1000
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            connection.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a crash may lose the last commits but never corrupts; the index
            # can always be rebuilt from the database, which is the source of truth.
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self.conn()
        with self._write_lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self.conn()
        # One read transaction: every statement of a search sees the same snapshot.
        connection.execute("BEGIN")
        try:
            return work(connection)
        finally:
            connection.execute("COMMIT")

    def _init_schema(self) -> None:
        def create(connection: sqlite3.Connection) -> None:
            connection.executescript(
                """
                CREATE TABLE IF NOT EXISTS generation (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    spec TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('building', 'live', 'retired')),
                    created_at TEXT NOT NULL
                );
                CREATE UNIQUE INDEX IF NOT EXISTS generation_one_live ON generation(state)
                    WHERE state = 'live';
                CREATE TABLE IF NOT EXISTS tombstone (
                    tenant_id TEXT NOT NULL,
                    asset_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, asset_id)
                ) WITHOUT ROWID;
                """
            )
            connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

        connection = self.conn()
        with self._write_lock:
            # executescript commits on its own; it is idempotent (IF NOT EXISTS).
            create(connection)

    # --- generations -------------------------------------------------------------------

    def _generations(self, connection: sqlite3.Connection) -> list[_Generation]:
        rows = connection.execute("SELECT id, spec, state, created_at FROM generation ORDER BY id").fetchall()
        return [
            _Generation(
                id=int(row[0]),
                spec=_spec_from_json(row[1]),
                state=GenerationState(row[2]),
                created_at=datetime.fromisoformat(row[3]),
            )
            for row in rows
        ]

    def _info(self, connection: sqlite3.Connection, generation: _Generation) -> GenerationInfo:
        count = connection.execute(f"SELECT count(*) FROM {generation.prefix}doc").fetchone()[0]
        return GenerationInfo(
            spec=generation.spec,
            state=generation.state,
            created_at=generation.created_at,
            document_count=count,
        )

    def _by_name(self, connection: sqlite3.Connection, name: str) -> _Generation:
        for generation in self._generations(connection):
            if generation.spec.name == name:
                return generation
        raise GenerationError(f"no generation named {name!r}")

    def _live(self, connection: sqlite3.Connection) -> _Generation | None:
        for generation in self._generations(connection):
            if generation.state is GenerationState.LIVE:
                return generation
        return None

    def _serving(self, connection: sqlite3.Connection, name: str | None) -> _Generation:
        if name is not None:
            return self._by_name(connection, name)
        live = self._live(connection)
        if live is None:
            raise SearchError("no live search generation; run `mediakg search reindex`")
        return live

    def create_generation(self, spec: GenerationSpec) -> GenerationInfo:
        spec.validate()

        def work(connection: sqlite3.Connection) -> GenerationInfo:
            if connection.execute("SELECT 1 FROM generation WHERE name = ?", (spec.name,)).fetchone():
                raise GenerationError(f"generation {spec.name!r} exists")
            state = GenerationState.BUILDING if self._live(connection) else GenerationState.LIVE
            created_at = _now()
            cursor = connection.execute(
                "INSERT INTO generation (name, spec, state, created_at) VALUES (?, ?, ?, ?)",
                (spec.name, _spec_to_json(spec), state.value, created_at.isoformat()),
            )
            assert cursor.lastrowid is not None
            generation = _Generation(id=cursor.lastrowid, spec=spec, state=state, created_at=created_at)
            for statement in _generation_ddl(generation.prefix):
                connection.execute(statement)
            return self._info(connection, generation)

        return self._write(work)

    def activate_generation(self, name: str) -> GenerationInfo:
        def work(connection: sqlite3.Connection) -> GenerationInfo:
            target = self._by_name(connection, name)
            # Retire first: the partial unique index allows one live row at any instant.
            connection.execute(
                "UPDATE generation SET state = 'retired' WHERE state = 'live' AND id != ?", (target.id,)
            )
            connection.execute("UPDATE generation SET state = 'live' WHERE id = ?", (target.id,))
            target.state = GenerationState.LIVE
            return self._info(connection, target)

        return self._write(work)

    def drop_generation(self, name: str) -> None:
        def work(connection: sqlite3.Connection) -> int:
            target = self._by_name(connection, name)
            if target.state is GenerationState.LIVE:
                raise GenerationError(f"generation {name!r} is live; activate another one first")
            for table in ("fts", "vlog", "vec", "term", "doc", "state"):
                connection.execute(f"DROP TABLE IF EXISTS {target.prefix}{table}")
            connection.execute("DELETE FROM generation WHERE id = ?", (target.id,))
            return target.id

        dropped = self._write(work)
        with self._matrices_lock:
            for key in [key for key in self._matrices if key[0] == dropped]:
                del self._matrices[key]

    def list_generations(self) -> list[GenerationInfo]:
        return self._read(lambda c: [self._info(c, generation) for generation in self._generations(c)])

    def live_generation(self) -> GenerationInfo | None:
        def work(connection: sqlite3.Connection) -> GenerationInfo | None:
            live = self._live(connection)
            return self._info(connection, live) if live else None

        return self._read(work)

    # --- writes ------------------------------------------------------------------------

    def upsert(self, assets: Sequence[AssetDocument], generation: str | None) -> WriteReport:
        def work(connection: sqlite3.Connection) -> WriteReport:
            if generation is None:
                targets = [g for g in self._generations(connection) if g.state is not GenerationState.RETIRED]
            else:
                targets = [self._by_name(connection, generation)]
            if not targets:
                raise SearchError("no open search generation to write to")
            report = WriteReport()
            for asset in assets:
                try:
                    asset.validate()
                except DocumentError as exc:
                    report = report.merge(
                        WriteReport(failures=(DocumentFailure("*", asset_doc_id(asset.asset_id), str(exc)),))
                    )
                    continue
                tomb = connection.execute(
                    "SELECT version FROM tombstone WHERE tenant_id = ? AND asset_id = ?",
                    (asset.tenant_id, asset.asset_id),
                ).fetchone()
                if tomb is not None and asset.version <= tomb[0]:
                    report = report.merge(WriteReport(stale=(asset_doc_id(asset.asset_id),)))
                    continue
                for target in targets:
                    report = report.merge(self._write_asset(connection, target, asset))
            self._prune_logs(connection, targets)
            return report

        return self._write(work)

    def _write_asset(
        self, connection: sqlite3.Connection, target: _Generation, asset: AssetDocument
    ) -> WriteReport:
        p = target.prefix
        stored = connection.execute(
            f"SELECT max(version) FROM {p}doc WHERE tenant_id = ? AND asset_id = ?",
            (asset.tenant_id, asset.asset_id),
        ).fetchone()[0]
        # Same rule as Elasticsearch's external versioning: only a strictly newer version wins.
        if stored is not None and asset.version <= stored:
            return WriteReport(stale=(asset_doc_id(asset.asset_id),))
        skipped: list[str] = []
        keep_ids: list[str] = []
        for doc_id, row, terms, vectors in _rows_for(asset):
            kept, dropped = split_vectors(target.spec, doc_id, vectors)
            skipped.extend(dropped)
            keep_ids.append(doc_id)
            row_id = connection.execute(
                f"""
                INSERT INTO {p}doc (tenant_id, doc_id, doc_type, asset_id, scene_id, version, kind, language,
                    duration_s, created_at, start_s, end_s, faces_count, title, description, tags,
                    labels, transcript, ocr, transcript_json, ocr_json)
                VALUES (:tenant_id, :doc_id, :doc_type, :asset_id, :scene_id, :version, :kind, :language,
                    :duration_s, :created_at, :start_s, :end_s, :faces_count, :title, :description,
                    :tags, :labels, :transcript, :ocr, :transcript_json, :ocr_json)
                ON CONFLICT (tenant_id, doc_id) DO UPDATE SET
                    doc_type = excluded.doc_type, scene_id = excluded.scene_id, version = excluded.version,
                    kind = excluded.kind, language = excluded.language, duration_s = excluded.duration_s,
                    created_at = excluded.created_at, start_s = excluded.start_s, end_s = excluded.end_s,
                    faces_count = excluded.faces_count, title = excluded.title,
                    description = excluded.description, tags = excluded.tags,
                    labels = excluded.labels, transcript = excluded.transcript,
                    ocr = excluded.ocr, transcript_json = excluded.transcript_json,
                    ocr_json = excluded.ocr_json
                RETURNING id
                """,
                {**row, "tenant_id": asset.tenant_id, "doc_id": doc_id},
            ).fetchone()[0]
            connection.execute(f"DELETE FROM {p}term WHERE doc = ?", (row_id,))
            connection.executemany(
                f"INSERT OR IGNORE INTO {p}term (doc, field, value) VALUES (?, ?, ?)",
                [(row_id, field, value) for field, value in terms],
            )
            for vector_field in VectorField:
                vector = kept.get(vector_field)
                if vector is None:
                    connection.execute(
                        f"DELETE FROM {p}vec WHERE doc = ? AND field = ?", (row_id, vector_field.value)
                    )
                else:
                    connection.execute(
                        f"INSERT INTO {p}vec (doc, field, data) VALUES (?, ?, ?) "
                        "ON CONFLICT (doc, field) DO UPDATE SET data = excluded.data",
                        (row_id, vector_field.value, vector.values.astype("<f4").tobytes()),
                    )
        # Moments the new document no longer has (scene detection changed) must go.
        placeholders = ",".join("?" * len(keep_ids))
        stale_rows = [
            row[0]
            for row in connection.execute(
                f"SELECT id FROM {p}doc WHERE tenant_id = ? AND asset_id = ? "
                f"AND doc_id NOT IN ({placeholders})",
                (asset.tenant_id, asset.asset_id, *keep_ids),
            )
        ]
        _delete_rows(connection, p, stale_rows)
        return WriteReport(written=len(keep_ids), skipped_vectors=tuple(skipped))

    def delete_asset(self, tenant_id: str, asset_id: str, version: int) -> WriteReport:
        check_id(tenant_id, "tenant_id")
        check_id(asset_id, "asset_id")

        def work(connection: sqlite3.Connection) -> WriteReport:
            connection.execute(
                "INSERT INTO tombstone (tenant_id, asset_id, version) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant_id, asset_id) DO UPDATE SET version = max(version, excluded.version)",
                (tenant_id, asset_id, version),
            )
            removed = 0
            stale: list[str] = []
            generations = self._generations(connection)
            for generation in generations:
                p = generation.prefix
                rows = connection.execute(
                    f"SELECT id, version, doc_id FROM {p}doc WHERE tenant_id = ? AND asset_id = ?",
                    (tenant_id, asset_id),
                ).fetchall()
                # A document written after the delete was issued (higher version) stays.
                _delete_rows(connection, p, [row[0] for row in rows if row[1] <= version])
                removed += sum(1 for row in rows if row[1] <= version)
                stale.extend(row[2] for row in rows if row[1] > version)
            self._prune_logs(connection, generations)
            return WriteReport(written=removed, stale=tuple(stale))

        return self._write(work)

    def _prune_logs(self, connection: sqlite3.Connection, generations: Iterable[_Generation]) -> None:
        """Count the write and trim each generation's vector change log."""
        for generation in generations:
            p = generation.prefix
            connection.execute(f"UPDATE {p}state SET writes = writes + 1")
            top = connection.execute(f"SELECT max(seq) FROM {p}vlog").fetchone()[0]
            if top is not None and top > 2 * _VLOG_KEEP:
                cutoff = top - _VLOG_KEEP
                connection.execute(f"DELETE FROM {p}vlog WHERE seq <= ?", (cutoff,))
                connection.execute(f"UPDATE {p}state SET pruned_upto = max(pruned_upto, ?)", (cutoff,))

    # --- reads -------------------------------------------------------------------------

    def _allowed(
        self, connection: sqlite3.Connection, generation: _Generation, where: str, params: Sequence[Any]
    ) -> npt.NDArray[np.int64]:
        p = generation.prefix
        writes = connection.execute(f"SELECT writes FROM {p}state").fetchone()[0]
        key = (generation.id, where, tuple(params))
        with self._allowed_lock:
            cached = self._allowed_cache.get(key)
        if cached is not None and cached[0] == writes:
            return cached[1]
        allowed = _allowed_rows(connection, p, where, params)
        with self._allowed_lock:
            if len(self._allowed_cache) >= _ALLOWED_CACHE_SIZE:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            self._allowed_cache[key] = (writes, allowed)
        return allowed

    def _matrix(self, generation: _Generation, field: VectorField) -> _VectorMatrix:
        with self._matrices_lock:
            matrix = self._matrices.get((generation.id, field))
            if matrix is None:
                matrix = self._matrices[(generation.id, field)] = _VectorMatrix(
                    generation.spec.vectors[field].dims
                )
            return matrix

    def _sync(
        self,
        connection: sqlite3.Connection,
        generation: _Generation,
        field: VectorField,
        matrix: _VectorMatrix,
    ) -> None:
        """Bring ``matrix`` up to this snapshot's ``vlog`` (caller holds ``matrix.lock``)."""
        dims = generation.spec.vectors[field].dims
        p = generation.prefix
        top = connection.execute(f"SELECT coalesce(max(seq), 0) FROM {p}vlog").fetchone()[0]
        # Another thread may already have replayed past this (older) snapshot: replaying
        # re-reads current rows, so the matrix is never behind what this snapshot can see.
        if matrix.seq is not None and top <= matrix.seq:
            return
        pruned = connection.execute(f"SELECT pruned_upto FROM {p}state").fetchone()[0]
        if matrix.seq is None or matrix.seq < pruned or matrix.dead > max(1024, matrix.count // 4):
            rows = connection.execute(
                f"SELECT doc, data FROM {p}vec WHERE field = ?", (field.value,)
            ).fetchall()
            row_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            data = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dims)
            matrix.reset(row_ids, data.astype(np.float32), top)
            return
        changed = [
            row[0]
            for row in connection.execute(f"SELECT DISTINCT doc FROM {p}vlog WHERE seq > ?", (matrix.seq,))
        ]
        present: dict[int, bytes] = {}
        for chunk in _chunks(changed, 500):
            marks = ",".join("?" * len(chunk))
            for doc, data in connection.execute(
                f"SELECT doc, data FROM {p}vec WHERE field = ? AND doc IN ({marks})", (field.value, *chunk)
            ):
                present[int(doc)] = data
        for row_id in changed:
            blob = present.get(row_id)
            if blob is None:
                matrix.remove(row_id)
            else:
                matrix.put(row_id, np.frombuffer(blob, dtype="<f4").astype(np.float32))
        matrix.seq = top

    def search(self, query: SearchQuery) -> SearchResults:
        query.validate()

        def work(connection: sqlite3.Connection) -> SearchResults:
            generation = self._serving(connection, query.generation)
            check_query_vectors(generation.spec, query)
            p = generation.prefix
            where, params = _filter_sql(p, query.tenant_id, query.scope, query.filters)
            ranked: dict[str, list[tuple[str, float]]] = {}
            match = fts_query(query.text)
            row_of: dict[str, int] = {}
            if match is not None:
                weights = ", ".join(str(TEXT_FIELD_WEIGHTS[column]) for column in _FTS_COLUMNS)
                rows = connection.execute(
                    f"""
                    SELECT d.id, d.doc_id, bm25({p}fts, {weights}) AS rank
                    FROM {p}fts JOIN {p}doc d ON d.id = {p}fts.rowid
                    WHERE {p}fts MATCH ? AND {where}
                    ORDER BY rank, d.id LIMIT ?
                    """,
                    (match, *params, query.k),
                ).fetchall()
                # FTS5's bm25() is negative, lower is better; flip it so higher is better.
                ranked[TEXT_RETRIEVER] = [(row[1], -float(row[2])) for row in rows]
                row_of.update((row[1], row[0]) for row in rows)
            if query.vectors:
                allowed = self._allowed(connection, generation, where, params)
                for query_vector in query.vectors:
                    matrix = self._matrix(generation, query_vector.field)
                    with matrix.lock:
                        self._sync(connection, generation, query_vector.field, matrix)
                        best = matrix.top_k(query_vector.vector.values, allowed, query.k)
                    doc_ids = _doc_ids(connection, p, [row_id for row_id, _ in best])
                    ranked[vector_retriever(query_vector.field)] = [
                        (doc_ids[row_id], similarity) for row_id, similarity in best if row_id in doc_ids
                    ]
                    row_of.update((doc_ids[row_id], row_id) for row_id, _ in best if row_id in doc_ids)
            fused = reciprocal_rank_fusion(
                ranked,
                rank_constant=query.rank_constant,
                weights=query.weights,
                groups=query.groups,
                min_score=query.min_score,
            )
            page = fused[query.offset : query.offset + query.limit]
            page_rows = [row_of[item.doc_id] for item in page]
            docs = _hydrate(connection, p, page_rows)
            snippets = _snippets(connection, p, match, page_rows) if query.highlight and match else {}
            hits = []
            for item, row_id in zip(page, page_rows, strict=True):
                doc = docs[row_id]
                highlights = snippets.get(row_id, ())
                hits.append(
                    SearchHit(
                        doc_id=item.doc_id,
                        doc_type=DocType(doc["doc_type"]),
                        asset_id=doc["asset_id"],
                        scene_id=doc["scene_id"],
                        start_s=doc["start_s"],
                        end_s=doc["end_s"],
                        title=doc["title"],
                        score=item.score,
                        ranks=item.ranks,
                        retriever_scores=item.retriever_scores,
                        highlights=highlights,
                        time_codes=time_codes(highlights, functools.partial(_stored_segments, doc)),
                    )
                )
            return SearchResults(
                hits=tuple(hits), total=len(fused), offset=query.offset, generation=generation.spec.name
            )

        return self._read(work)

    def facets(self, query: FacetQuery) -> FacetResults:
        query.validate()

        def work(connection: sqlite3.Connection) -> FacetResults:
            generation = self._serving(connection, query.generation)
            p = generation.prefix
            where, params = _filter_sql(p, query.tenant_id, query.scope, query.filters)
            out: dict[FacetField, tuple[FacetValue, ...]] = {}
            for field in query.fields:
                if field in (FacetField.KIND, FacetField.LANGUAGE):
                    column = "d.kind" if field is FacetField.KIND else "d.language"
                    sql = (
                        f"SELECT {column} AS value, count(*) AS n FROM {p}doc d "
                        f"WHERE {where} AND {column} IS NOT NULL "
                        "GROUP BY value ORDER BY n DESC, value LIMIT ?"
                    )
                    rows = connection.execute(sql, (*params, query.size)).fetchall()
                else:
                    term = "tag" if field is FacetField.TAGS else "label"
                    sql = (
                        f"SELECT t.value AS value, count(*) AS n "
                        f"FROM {p}term t JOIN {p}doc d ON d.id = t.doc "
                        f"WHERE t.field = ? AND {where} GROUP BY value ORDER BY n DESC, value LIMIT ?"
                    )
                    rows = connection.execute(sql, (term, *params, query.size)).fetchall()
                out[field] = tuple(FacetValue(str(row[0]), int(row[1])) for row in rows)
            return FacetResults(facets=out, generation=generation.spec.name)

        return self._read(work)

    def health(self) -> Health:
        try:
            live = self._read(self._live)
        except sqlite3.Error as exc:
            return Health(ok=False, backend="embedded", live_generation=None, detail=str(exc))
        return Health(
            ok=live is not None,
            backend="embedded",
            live_generation=live.spec.name if live else None,
            detail="" if live else "no live generation",
        )


def _generation_ddl(p: str) -> list[str]:
    new_text = ", ".join(f"new.{column}" for column in _DOC_TEXT_COLUMNS)
    old_text = ", ".join(f"old.{column}" for column in _DOC_TEXT_COLUMNS)
    fts_columns = ", ".join(column.value for column in _FTS_COLUMNS)
    return [
        f"""CREATE TABLE {p}doc (
            id INTEGER PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            doc_id TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            asset_id TEXT NOT NULL,
            scene_id TEXT,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            language TEXT,
            duration_s REAL,
            created_at REAL NOT NULL,
            start_s REAL,
            end_s REAL,
            faces_count INTEGER NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            tags TEXT NOT NULL,
            labels TEXT NOT NULL,
            transcript TEXT NOT NULL,
            ocr TEXT NOT NULL,
            transcript_json TEXT NOT NULL,
            ocr_json TEXT NOT NULL,
            UNIQUE (tenant_id, doc_id)
        )""",
        f"CREATE INDEX {p}doc_scope ON {p}doc (tenant_id, doc_type, kind)",
        f"CREATE INDEX {p}doc_asset ON {p}doc (tenant_id, asset_id)",
        f"""CREATE TABLE {p}term (
            doc INTEGER NOT NULL REFERENCES {p}doc (id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (field, value, doc)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {p}term_doc ON {p}term (doc)",
        f"""CREATE TABLE {p}vec (
            doc INTEGER NOT NULL REFERENCES {p}doc (id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (doc, field)
        ) WITHOUT ROWID""",
        f"CREATE TABLE {p}vlog (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc INTEGER NOT NULL)",
        # writes: bumped by every write transaction; cached filter results are keyed on it.
        f"CREATE TABLE {p}state (pruned_upto INTEGER NOT NULL, writes INTEGER NOT NULL)",
        f"INSERT INTO {p}state (pruned_upto, writes) VALUES (0, 0)",
        f"""CREATE VIRTUAL TABLE {p}fts USING fts5(
            {fts_columns}, content='{p}doc', content_rowid='id', tokenize='porter unicode61'
        )""",
        # External-content FTS5 stores only the index; these triggers are what keep it equal
        # to the doc table on insert, update (delete old terms, add new) and delete.
        f"""CREATE TRIGGER {p}doc_ai AFTER INSERT ON {p}doc BEGIN
            INSERT INTO {p}fts (rowid, {fts_columns}) VALUES (new.id, {new_text});
        END""",
        f"""CREATE TRIGGER {p}doc_ad AFTER DELETE ON {p}doc BEGIN
            INSERT INTO {p}fts ({p}fts, rowid, {fts_columns}) VALUES ('delete', old.id, {old_text});
        END""",
        f"""CREATE TRIGGER {p}doc_au AFTER UPDATE ON {p}doc BEGIN
            INSERT INTO {p}fts ({p}fts, rowid, {fts_columns}) VALUES ('delete', old.id, {old_text});
            INSERT INTO {p}fts (rowid, {fts_columns}) VALUES (new.id, {new_text});
        END""",
        f"CREATE TRIGGER {p}vec_ai AFTER INSERT ON {p}vec BEGIN "
        f"INSERT INTO {p}vlog (doc) VALUES (new.doc); END",
        f"CREATE TRIGGER {p}vec_au AFTER UPDATE ON {p}vec BEGIN "
        f"INSERT INTO {p}vlog (doc) VALUES (new.doc); END",
        f"CREATE TRIGGER {p}vec_ad AFTER DELETE ON {p}vec BEGIN "
        f"INSERT INTO {p}vlog (doc) VALUES (old.doc); END",
    ]


def _rows_for(
    asset: AssetDocument,
) -> Iterable[tuple[str, dict[str, Any], list[tuple[str, str]], Mapping[VectorField, Vector]]]:
    """(doc id, doc row, term rows, vectors) for the asset document and each moment."""
    shared_terms = [("tag", tag) for tag in asset.tags] + [
        (f"meta:{key}", metadata_token(value)) for key, value in asset.user_metadata.items()
    ]
    shared: dict[str, Any] = {
        "asset_id": asset.asset_id,
        "version": asset.version,
        "kind": asset.kind,
        "language": asset.language,
        "duration_s": asset.duration_s,
        "created_at": _epoch(asset.created_at),
        "title": asset.title,
        "tags": "\n".join(asset.tags),
    }
    yield (
        asset_doc_id(asset.asset_id),
        {
            **shared,
            "doc_type": DocType.ASSET.value,
            "scene_id": None,
            "start_s": None,
            "end_s": None,
            "faces_count": asset.faces_count,
            "description": asset.description,
            "labels": "\n".join(asset.labels),
            "transcript": "",
            "ocr": "",
            "transcript_json": "[]",
            "ocr_json": "[]",
        },
        shared_terms + [("label", label) for label in asset.labels],
        asset.vectors,
    )
    for moment in asset.moments:
        yield (
            moment_doc_id(asset.asset_id, moment.scene_id),
            {
                **shared,
                "doc_type": DocType.MOMENT.value,
                "scene_id": moment.scene_id,
                "start_s": moment.start_s,
                "end_s": moment.end_s,
                "faces_count": moment.faces_count,
                "description": moment.title,
                "labels": "\n".join(moment.labels),
                "transcript": "\n".join(item.text for item in moment.transcript),
                "ocr": "\n".join(item.text for item in moment.ocr),
                "transcript_json": json.dumps(timed_rows(moment.transcript)),
                "ocr_json": json.dumps(timed_rows(moment.ocr)),
            },
            shared_terms + [("label", label) for label in moment.labels],
            moment.vectors,
        )


def _delete_rows(connection: sqlite3.Connection, p: str, row_ids: Sequence[int]) -> None:
    for chunk in _chunks(row_ids, 500):
        marks = ",".join("?" * len(chunk))
        # Children first and explicitly: the vec delete trigger must log each vector removal
        # even on a connection where foreign keys are off.
        connection.execute(f"DELETE FROM {p}vec WHERE doc IN ({marks})", chunk)
        connection.execute(f"DELETE FROM {p}term WHERE doc IN ({marks})", chunk)
        connection.execute(f"DELETE FROM {p}doc WHERE id IN ({marks})", chunk)


def _filter_sql(p: str, tenant_id: str, scope: DocType, filters: Filters) -> tuple[str, list[Any]]:
    """A WHERE clause over ``{p}doc d`` and its parameters; the tenant is always part of it."""
    clauses = ["d.tenant_id = ?", "d.doc_type = ?"]
    params: list[Any] = [tenant_id, scope.value]

    def any_of(column: str, values: Sequence[str], negate: bool = False) -> None:
        if values:
            clauses.append(f"{column} {'NOT ' if negate else ''}IN ({','.join('?' * len(values))})")
            params.extend(values)

    any_of("d.kind", filters.kinds)
    any_of("d.language", filters.languages)
    any_of("d.asset_id", filters.asset_ids)
    any_of("d.asset_id", filters.exclude_asset_ids, negate=True)
    terms = [("tag", tag) for tag in filters.tags] + [("label", label) for label in filters.labels]
    terms += [(f"meta:{key}", metadata_token(value)) for key, value in filters.metadata.items()]
    for field, value in terms:
        clauses.append(f"EXISTS (SELECT 1 FROM {p}term t WHERE t.field = ? AND t.value = ? AND t.doc = d.id)")
        params.extend((field, value))
    if filters.duration_min_s is not None:
        clauses.append("d.duration_s >= ?")
        params.append(filters.duration_min_s)
    if filters.duration_max_s is not None:
        clauses.append("d.duration_s <= ?")
        params.append(filters.duration_max_s)
    if filters.created_from is not None:
        clauses.append("d.created_at >= ?")
        params.append(_epoch(filters.created_from))
    if filters.created_to is not None:
        clauses.append("d.created_at < ?")
        params.append(_epoch(filters.created_to))
    return " AND ".join(clauses), params


def _allowed_rows(
    connection: sqlite3.Connection, p: str, where: str, params: Sequence[Any]
) -> npt.NDArray[np.int64]:
    # group_concat returns one string instead of one Python tuple per row: at 100k rows this
    # is several times faster than fetchall().
    raw = connection.execute(f"SELECT group_concat(d.id) FROM {p}doc d WHERE {where}", params).fetchone()[0]
    if not raw:
        return np.zeros(0, dtype=np.int64)
    return np.array(raw.split(","), dtype=np.int64)


def _doc_ids(connection: sqlite3.Connection, p: str, row_ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks(row_ids, 500):
        marks = ",".join("?" * len(chunk))
        out.update(
            connection.execute(f"SELECT id, doc_id FROM {p}doc WHERE id IN ({marks})", chunk).fetchall()
        )
    return out


def _hydrate(connection: sqlite3.Connection, p: str, row_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not row_ids:
        return {}
    marks = ",".join("?" * len(row_ids))
    cursor = connection.execute(
        f"SELECT id, doc_type, asset_id, scene_id, start_s, end_s, title, transcript_json, ocr_json "
        f"FROM {p}doc WHERE id IN ({marks})",
        list(row_ids),
    )
    names = [column[0] for column in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def _snippets(
    connection: sqlite3.Connection, p: str, match: str, row_ids: Sequence[int]
) -> dict[int, tuple[Highlight, ...]]:
    if not row_ids:
        return {}
    calls = ", ".join(
        f"snippet({p}fts, {index}, '{_SNIP_PRE}', '{_SNIP_POST}', '…', {_SNIPPET_TOKENS})"
        for index in range(len(_FTS_COLUMNS))
    )
    marks = ",".join("?" * len(row_ids))
    out: dict[int, tuple[Highlight, ...]] = {}
    for row in connection.execute(
        f"SELECT rowid, {calls} FROM {p}fts WHERE {p}fts MATCH ? AND rowid IN ({marks})", (match, *row_ids)
    ):
        # snippet() returns the column's opening words even where nothing matched; only a
        # fragment with a marker is a highlight.
        out[int(row[0])] = tuple(
            Highlight(column, _render_snippet(text))
            for column, text in zip(_FTS_COLUMNS, row[1:], strict=True)
            if text and _SNIP_PRE in text
        )
    return out


def _stored_segments(doc: Mapping[str, Any], field: TextField) -> tuple[TimedText, ...]:
    return timed_texts(json.loads(doc["transcript_json" if field is TextField.TRANSCRIPT else "ocr_json"]))


def _chunks(items: Sequence[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class EmbeddedBackend:
    """SQLite FTS5 + exact numpy kNN, no servers (see module docstring)."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self._store = _Store(path, busy_timeout_ms)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> EmbeddedBackend:
        """The backend at ``<data_dir>/search/index.sqlite3``."""
        return cls(data_dir / "search" / "index.sqlite3")

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

    async def aclose(self) -> None:
        """Close every connection this backend opened."""
        self._store.close()

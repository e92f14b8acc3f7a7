"""The embedded backend's synchronous core: one SQLite file, a connection per thread, one
writer per process, and the per-process caches (vector matrices, filter results)."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from search.backend import (
    GenerationError,
    GenerationInfo,
    GenerationSpec,
    GenerationState,
    Health,
    SearchError,
    WriteReport,
    check_query_vectors,
)
from search.documents import AssetDocument, DocType, VectorField, asset_doc_id, check_id
from search.embedded import ann, writes
from search.embedded.ann import AnnIndex
from search.embedded.ann_builds import BuildHook, GraphBuilds
from search.embedded.reads import (
    allowed_rows,
    asset_documents,
    bm25_ranking,
    doc_ids,
    facet_values,
    filter_sql,
    fts_query,
    hydrate,
    snippets,
    stored_segments,
)
from search.embedded.schema import (
    GENERATION_TABLES,
    SCHEMA_VERSION,
    SHARED_TABLES,
    Generation,
    generation_ddl,
    spec_from_json,
    spec_to_json,
)
from search.embedded.vectors import VectorMatrix, normalise, sync_matrix
from search.fusion import FusedItem
from search.query import (
    TEXT_RETRIEVER,
    FacetField,
    FacetQuery,
    FacetResults,
    FacetValue,
    SearchHit,
    SearchQuery,
    SearchResults,
    best_per_asset,
    time_codes,
    vector_retriever,
)

T = TypeVar("T")
_ALLOWED_CACHE_SIZE = 64
Ranked = dict[str, list[tuple[str, float]]]


class Store:
    """The synchronous core; every public method runs in a worker thread."""

    def __init__(
        self,
        path: Path,
        busy_timeout_ms: int,
        ann_threshold: int | None = None,
        ann_exact_below: int = ann.EXACT_BELOW,
        ann_build_hook: BuildHook | None = None,
        ann_background: bool = True,
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        # A field with at least this many vectors is searched through the HNSW graph
        # (search.embedded.ann), a smaller one exactly; None: always exactly.
        self.ann_threshold = ann_threshold
        self.ann_dir = path.parent / "ann"
        # A filter allowing at most this many rows skips the graph (see search.embedded.ann).
        self.ann_exact_below = ann_exact_below
        self._builds = GraphBuilds(path, busy_timeout_ms, self.ann_dir, ann_build_hook, ann_background)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        # One writer per process; other processes queue on SQLite's busy timeout.
        self._write_lock = threading.Lock()
        self._matrices: dict[tuple[int, VectorField], VectorMatrix | AnnIndex] = {}
        self._matrices_lock = threading.Lock()
        # (generation id, where, params) -> (write count, allowed rows). Turning 100k ids from
        # SQL into an array costs more than the kNN itself; the tenant-only filter of most
        # searches repeats, and any write to the generation invalidates its entries.
        self._allowed_cache: dict[tuple[int, str, tuple[Any, ...]], tuple[int, npt.NDArray[np.int64]]] = {}
        self._allowed_lock = threading.Lock()
        # The kNN of a hybrid search runs here while BM25 runs in the calling thread.
        self._knn_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="knn")
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

    def wait_for_graphs(self) -> None:
        """Return once no HNSW graph is being built in the background."""
        self._builds.wait()

    def close(self) -> None:
        self._closed = True
        self._knn_pool.shutdown(wait=True)
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
        connection = self.conn()
        with self._write_lock:
            # executescript commits on its own; it is idempotent (IF NOT EXISTS).
            connection.executescript(SHARED_TABLES)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- generations -------------------------------------------------------------------

    def _generations(self, connection: sqlite3.Connection) -> list[Generation]:
        rows = connection.execute("SELECT id, spec, state, created_at FROM generation ORDER BY id").fetchall()
        return [
            Generation(
                id=int(row[0]),
                spec=spec_from_json(row[1]),
                state=GenerationState(row[2]),
                created_at=datetime.fromisoformat(row[3]),
            )
            for row in rows
        ]

    def _info(self, connection: sqlite3.Connection, generation: Generation) -> GenerationInfo:
        count = connection.execute(f"SELECT count(*) FROM {generation.prefix}doc").fetchone()[0]
        return GenerationInfo(
            spec=generation.spec,
            state=generation.state,
            created_at=generation.created_at,
            document_count=count,
        )

    def _by_name(self, connection: sqlite3.Connection, name: str) -> Generation:
        for generation in self._generations(connection):
            if generation.spec.name == name:
                return generation
        raise GenerationError(f"no generation named {name!r}")

    def _live(self, connection: sqlite3.Connection) -> Generation | None:
        for generation in self._generations(connection):
            if generation.state is GenerationState.LIVE:
                return generation
        return None

    def _serving(self, connection: sqlite3.Connection, name: str | None) -> Generation:
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
            created_at = datetime.now(UTC)
            cursor = connection.execute(
                "INSERT INTO generation (name, spec, state, created_at) VALUES (?, ?, ?, ?)",
                (spec.name, spec_to_json(spec), state.value, created_at.isoformat()),
            )
            assert cursor.lastrowid is not None
            generation = Generation(id=cursor.lastrowid, spec=spec, state=state, created_at=created_at)
            for statement in generation_ddl(generation.prefix):
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
            for table in GENERATION_TABLES:
                connection.execute(f"DROP TABLE IF EXISTS {target.prefix}{table}")
            connection.execute("DELETE FROM generation WHERE id = ?", (target.id,))
            return target.id

        dropped = self._write(work)
        with self._matrices_lock:
            for key in [key for key in self._matrices if key[0] == dropped]:
                del self._matrices[key]
        ann.drop_files(self.ann_dir, dropped)

    def list_generations(self) -> list[GenerationInfo]:
        return self._read(lambda c: [self._info(c, generation) for generation in self._generations(c)])

    def live_generation(self) -> GenerationInfo | None:
        def work(connection: sqlite3.Connection) -> GenerationInfo | None:
            live = self._live(connection)
            return self._info(connection, live) if live else None

        return self._read(work)

    # --- writes ------------------------------------------------------------------------

    def upsert(self, assets: list[AssetDocument], generation: str | None) -> WriteReport:
        def work(connection: sqlite3.Connection) -> WriteReport:
            if generation is None:
                targets = [g for g in self._generations(connection) if g.state is not GenerationState.RETIRED]
            else:
                targets = [self._by_name(connection, generation)]
            if not targets:
                raise SearchError("no open search generation to write to")
            return writes.upsert_assets(connection, targets, assets)

        return self._write(work)

    def delete_asset(self, tenant_id: str, asset_id: str, version: int) -> WriteReport:
        check_id(tenant_id, "tenant_id")
        check_id(asset_id, "asset_id")
        return self._write(
            lambda c: writes.delete_asset(c, self._generations(c), tenant_id, asset_id, version)
        )

    # --- reads -------------------------------------------------------------------------

    def _allowed(
        self, connection: sqlite3.Connection, generation: Generation, where: str, params: Sequence[Any]
    ) -> npt.NDArray[np.int64]:
        p = generation.prefix
        writes = connection.execute(f"SELECT writes FROM {p}state").fetchone()[0]
        key = (generation.id, where, tuple(params))
        with self._allowed_lock:
            cached = self._allowed_cache.get(key)
        if cached is not None and cached[0] == writes:
            return cached[1]
        allowed = allowed_rows(connection, p, where, params)
        with self._allowed_lock:
            if len(self._allowed_cache) >= _ALLOWED_CACHE_SIZE:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            self._allowed_cache[key] = (writes, allowed)
        return allowed

    def _vectors(
        self, connection: sqlite3.Connection, generation: Generation, field: VectorField
    ) -> VectorMatrix | AnnIndex:
        """The synced in-memory index of (generation, field): exact below ``ann_threshold``
        vectors, the HNSW graph from there on. A field that has no usable graph yet is
        searched exactly while its graph is built in the background (``ann_builds``)."""
        key = (generation.id, field)
        dims = generation.spec.vectors[field].dims
        with self._matrices_lock:
            current = self._matrices.get(key)
            if current is None:
                current = self._matrices[key] = (
                    AnnIndex(dims) if self._has_saved_graph(generation, field) else VectorMatrix(dims)
                )
        if isinstance(current, AnnIndex):
            if ann.sync_ann(connection, generation, field, current, self.ann_dir, build=False):
                if current.needs_rebuild:
                    # Still correct (dead labels are filtered out), only larger: rebuild aside.
                    self._build_graph(generation, field, current)
                return current
            # No saved graph the log can bring up to date: exact until a new one is built.
            exact = VectorMatrix(dims)
            with self._matrices_lock:
                if self._matrices.get(key) is current:
                    self._matrices[key] = exact
                else:
                    return self._vectors(connection, generation, field)
            current = exact
        with current.lock:
            sync_matrix(connection, generation, field, current)
            wants_graph = (
                self.ann_threshold is not None and current.count - current.dead >= self.ann_threshold
            )
        if wants_graph:
            self._build_graph(generation, field, current)
            if not self._builds.background:
                # Built in this thread and published: serve it from this search on.
                with self._matrices_lock:
                    built = self._matrices.get(key)
                if isinstance(built, AnnIndex):
                    return self._vectors(connection, generation, field)
        return current

    def _build_graph(
        self, generation: Generation, field: VectorField, current: VectorMatrix | AnnIndex
    ) -> None:
        """Build the graph of (generation, field) in the background (unless under way); it
        replaces ``current`` once ready, unless something else replaced it meanwhile."""
        key = (generation.id, field)

        def publish(graph: AnnIndex) -> None:
            with self._matrices_lock:
                if self._matrices.get(key) is current:
                    self._matrices[key] = graph
                    return
                dropped = key not in self._matrices
            if dropped:
                # The generation was dropped while its graph was built: no file outlives it.
                for _, saved in ann.saved_files(self.ann_dir, generation, field):
                    saved.unlink(missing_ok=True)

        self._builds.start(generation, field, publish)

    def _has_saved_graph(self, generation: Generation, field: VectorField) -> bool:
        return self.ann_threshold is not None and bool(ann.saved_files(self.ann_dir, generation, field))

    def search(self, query: SearchQuery) -> SearchResults:
        query.validate()

        def work(connection: sqlite3.Connection) -> SearchResults:
            generation = self._serving(connection, query.generation)
            check_query_vectors(generation.spec, query)
            p = generation.prefix
            where, params = filter_sql(p, query.tenant_id, query.scope, query.filters)
            ranked: Ranked = {}
            row_of: dict[str, int] = {}
            match = fts_query(query.text)
            knn = self._start_knn(connection, generation, query) if query.vectors else []
            if match is not None:
                rows = bm25_ranking(connection, p, match, where, params, query.k)
                ranked[TEXT_RETRIEVER] = [(doc_id, score) for _, doc_id, score in rows]
                row_of.update((doc_id, row_id) for row_id, doc_id, _ in rows)
            self._finish_knn(connection, generation, query, knn, ranked, row_of)
            fused, page = query.fused(ranked)
            highlight = match if query.highlight else None
            hits = _hits(connection, p, page, [row_of[item.doc_id] for item in page], highlight)
            return SearchResults(
                hits=hits, total=len(fused), offset=query.offset, generation=generation.spec.name
            )

        return self._read(work)

    def _start_knn(
        self,
        connection: sqlite3.Connection,
        generation: Generation,
        query: SearchQuery,
    ) -> list[_Knn]:
        """Start each query vector's kNN among the allowed rows in the pool, so it runs while
        BM25 runs here. The pool touches no SQLite connection: what needs the snapshot (sync,
        exact re-scoring, doc ids) stays in this thread. In ASSET scope the allowed rows are the
        assets' documents and their moments (``SearchQuery.vector_doc_types``)."""
        where, params = filter_sql(generation.prefix, query.tenant_id, query.vector_doc_types, query.filters)
        allowed = self._allowed(connection, generation, where, params)
        started = []
        for query_vector in query.vectors:
            vectors = self._vectors(connection, generation, query_vector.field)
            unit = normalise(query_vector.vector.values.reshape(1, -1))[0]
            if isinstance(vectors, AnnIndex):
                graph = self._knn_pool.submit(
                    _locked_candidates, vectors, unit, allowed, query.vector_k, self.ann_exact_below
                )
                started.append(_Knn(query_vector.field, unit, graph=graph))
            else:
                exact = self._knn_pool.submit(_locked_top_k, vectors, unit, allowed, query.vector_k)
                started.append(_Knn(query_vector.field, unit, exact=exact))
        return started

    def _finish_knn(
        self,
        connection: sqlite3.Connection,
        generation: Generation,
        query: SearchQuery,
        started: list[_Knn],
        ranked: Ranked,
        row_of: dict[str, int],
    ) -> None:
        """Add each query vector's top-k to ``ranked`` (graph candidates re-scored exactly); in
        ASSET scope each asset at its best document, its own or a moment (``best_per_asset``)."""
        for knn in started:
            if knn.exact is not None:
                best = knn.exact.result()
            else:
                assert knn.graph is not None
                best = ann.rescore(
                    connection, generation, knn.field, knn.unit, knn.graph.result(), query.vector_k
                )
            retriever = vector_retriever(knn.field)
            rows = [row_id for row_id, _ in best]
            if query.scope is DocType.ASSET:
                owners = asset_documents(connection, generation.prefix, rows)
                ranked[retriever] = best_per_asset(
                    ((owners[row_id][0], similarity) for row_id, similarity in best if row_id in owners),
                    query.k,
                )
                row_of.update((asset_doc_id(asset_id), row_id) for asset_id, row_id in owners.values())
                continue
            ids = doc_ids(connection, generation.prefix, rows)
            ranked[retriever] = [(ids[row_id], similarity) for row_id, similarity in best if row_id in ids]
            row_of.update((ids[row_id], row_id) for row_id, _ in best if row_id in ids)

    def facets(self, query: FacetQuery) -> FacetResults:
        query.validate()

        def work(connection: sqlite3.Connection) -> FacetResults:
            generation = self._serving(connection, query.generation)
            p = generation.prefix
            where, params = filter_sql(p, query.tenant_id, query.scope, query.filters)
            out: dict[FacetField, tuple[FacetValue, ...]] = {
                field: facet_values(connection, p, field, where, params, query.size) for field in query.fields
            }
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


@dataclass(slots=True)
class _Knn:
    """One query vector's kNN under way: exact top-k, or graph candidates to re-score."""

    field: VectorField
    unit: npt.NDArray[np.float32]
    exact: Future[list[tuple[int, float]]] | None = None
    graph: Future[list[int]] | None = None


def _locked_top_k(
    matrix: VectorMatrix, values: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64], k: int
) -> list[tuple[int, float]]:
    with matrix.lock:
        return matrix.top_k(values, allowed, k)


def _locked_candidates(
    graph: AnnIndex, unit: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64], k: int, exact_below: int
) -> list[int]:
    # Shared: FAISS searches one index from many threads safely; replays wait for them.
    with graph.lock.read():
        return ann.candidates(graph, unit, allowed, k, exact_below)


def _hits(
    connection: sqlite3.Connection, p: str, page: list[FusedItem], page_rows: list[int], match: str | None
) -> tuple[SearchHit, ...]:
    """The hits of one page of fused results, with highlights when ``match`` is given."""
    docs = hydrate(connection, p, page_rows)
    highlights_of = snippets(connection, p, match, page_rows) if match else {}
    hits = []
    for item, row_id in zip(page, page_rows, strict=True):
        doc = docs[row_id]
        highlights = highlights_of.get(row_id, ())
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
                relevance=item.relevance,
                highlights=highlights,
                time_codes=time_codes(highlights, functools.partial(stored_segments, doc)),
            )
        )
    return tuple(hits)

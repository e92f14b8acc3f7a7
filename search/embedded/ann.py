"""Approximate vector search for large generations: an HNSW graph over int8 vectors (FAISS
``IndexHNSWSQ``), kept in step with the generation's ``vlog`` like the exact matrices, and
saved beside the SQLite file so a restart loads it instead of rebuilding.

Why these choices:
- int8 storage (a scalar quantiser trained per dimension on the vectors at build time): 384
  bytes per 384-d vector plus about 140 bytes of graph at M=16, so a 1M-moment field stays
  near 550 MB instead of 1.5 GB of float32.
- Quantised scores only pick candidates: the best ``RERANK_FACTOR * k`` are re-scored exactly
  from the float32 blobs in SQLite, so a hit reports the cosine exact search gives.
- Filters (the tenant first of all) are a bitmap of the allowed rows' graph labels passed to
  the graph search, so a row outside the allowed set is never returned; a filter that allows
  few rows scans those rows' int8 codes instead (a graph walk in which nearly every node is
  filtered out finds too few of them).
- FAISS's HNSW cannot delete: a removed or replaced row's label is marked dead (kept out by the
  bitmap) and the graph is rebuilt once a quarter of it is dead, as the exact matrix compacts.
  usearch deletes in place but its extension crashed the process when onnxruntime was imported
  after it (usearch 2.26.6 with onnxruntime 1.31.1), so it is not used.

Files: ``<dir>/g<generation id>-<field>-<tag>-s<vlog seq>.npz`` (the serialised index and the
label -> row map); ``tag`` hashes the generation's name and creation time, so a new generation
that reuses an id never loads an old graph. A file holds the graph as of that ``vlog`` seq; a
loader replays the log after it (or rebuilds if the log was pruned past it). Files are written
under a temporary name and renamed, so a process sharing the directory sees a whole file or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from search.documents import VectorField
from search.embedded.schema import Generation
from search.embedded.vectors import mostly_dead, normalise, replay, stored_vectors, vector_batches

# Graph degree and beam widths: M=16 keeps the graph near 140 bytes per vector; efSearch is
# raised per query to at least the candidates wanted (measured in benchmarks/search_bench.py).
M = 16
EF_CONSTRUCTION = 80
EF_SEARCH = 64
# Candidates re-scored exactly per result wanted.
RERANK_FACTOR = 2
# A filter allowing at most this many rows is searched by scanning their int8 codes.
EXACT_BELOW = 20_000
# Vectors the scalar quantiser learns its per-dimension ranges from.
TRAIN_SAMPLE = 50_000
# Save again once this many changes were replayed since the file was written.
RESAVE_AFTER = 20_000
_SUFFIX = ".npz"
_LOCK_SUFFIX = ".lock"
# faiss 1.15.1's bundled stubs miss SearchParametersHNSW and the HNSW indexes' ``hnsw`` and
# type enums as classes: the module is used untyped.
faiss: Any = _faiss


class ReadWriteLock:
    """Shared readers or one writer. FAISS CPU indexes are thread-safe for concurrent searches
    (not for adds), so graph searches share the lock and log replays and builds take it alone;
    a waiting writer holds off new readers, so a replay is not starved by a stream of searches.
    Not re-entrant."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_read(self, blocking: bool = True) -> bool:
        with self._condition:
            while self._writer or self._writers_waiting:
                if not blocking:
                    return False
                self._condition.wait()
            self._readers += 1
            return True

    def release_read(self) -> None:
        with self._condition:
            self._readers -= 1
            if not self._readers:
                self._condition.notify_all()

    def acquire_write(self, blocking: bool = True) -> bool:
        with self._condition:
            if not blocking and (self._writer or self._readers):
                return False
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
            return True

    def release_write(self) -> None:
        with self._condition:
            self._writer = False
            self._condition.notify_all()

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()


class AnnIndex:
    """The HNSW graph of one (generation, field) and its label <-> row maps; searches hold
    ``lock`` shared, changes hold it alone."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.lock = ReadWriteLock()
        self.index: Any = None
        # Graph label -> doc row id (-1: dead), and doc row id -> live label (-1: none).
        self.rows: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.labels: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.dead = 0
        self.seq: int | None = None
        self.saved_seq: int | None = None

    @property
    def live(self) -> int:
        """Rows the graph serves."""
        return len(self.rows) - self.dead

    @property
    def needs_rebuild(self) -> bool:
        """A quarter of the graph is dead: a new build would be smaller and faster."""
        return mostly_dead(self.dead, len(self.rows))

    def build(self, batches: Iterable[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]) -> None:
        """A new graph over these (row ids, vectors) batches; the quantiser learns its ranges
        from the first batch."""
        index = faiss.IndexHNSWSQ(self.dims, faiss.ScalarQuantizer.QT_8bit, M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        index.hnsw.efSearch = EF_SEARCH
        self.index = index
        self.rows = np.zeros(0, dtype=np.int64)
        self.labels = np.zeros(0, dtype=np.int64)
        self.dead = 0
        for row_ids, data in batches:
            self._append(row_ids, normalise(data))

    def _append(self, row_ids: npt.NDArray[np.int64], unit: npt.NDArray[np.float32]) -> None:
        if not len(row_ids):
            return
        if not self.index.is_trained:
            self.index.train(unit)
        start = len(self.rows)
        self.index.add(np.ascontiguousarray(unit, dtype=np.float32))
        self.rows = np.concatenate([self.rows, row_ids.astype(np.int64)])
        top = int(row_ids.max()) + 1
        if top > len(self.labels):
            grown = np.full(max(top, 2 * len(self.labels)), -1, dtype=np.int64)
            grown[: len(self.labels)] = self.labels
            self.labels = grown
        self.labels[row_ids] = np.arange(start, start + len(row_ids), dtype=np.int64)

    def put(self, row_id: int, vector: npt.NDArray[np.float32]) -> None:
        self.remove(row_id)
        self._append(np.array([row_id], dtype=np.int64), normalise(vector.reshape(1, -1)))

    def remove(self, row_id: int) -> None:
        label = int(self.labels[row_id]) if row_id < len(self.labels) else -1
        if label >= 0:
            self.rows[label] = -1
            self.labels[row_id] = -1
            self.dead += 1

    def candidates(
        self, unit: npt.NDArray[np.float32], allowed: npt.NDArray[np.int64], want: int, exact_below: int
    ) -> list[int]:
        """Up to ``want`` allowed row ids near ``unit``, by quantised similarity."""
        if self.index is None or self.live == 0 or len(allowed) == 0:
            return []
        inside = allowed[allowed < len(self.labels)]
        labels = self.labels[inside]
        labels = labels[labels >= 0]
        if len(labels) == 0:
            return []
        bits = np.zeros(len(self.rows), dtype=bool)
        bits[labels] = True
        bitmap = np.packbits(bits, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(self.rows), faiss.swig_ptr(bitmap))
        count = min(want, len(labels))
        query = unit.reshape(1, -1).astype(np.float32)
        if len(labels) <= exact_below:
            # Few allowed rows: scan their int8 codes (the graph's flat storage) instead of
            # walking a graph where nearly every node is filtered out.
            storage = faiss.downcast_index(self.index.storage)
            _, found = storage.search(query, count, params=faiss.SearchParameters(sel=selector))
        else:
            # A narrower filter hides more of each beam: widen it in proportion (bounded).
            fraction = len(labels) / self.live
            ef = int(min(2000, max(EF_SEARCH, want) / max(fraction, 0.05)))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
            _, found = self.index.search(query, count, params=params)
        hits = found[0][found[0] >= 0]
        return [int(row) for row in self.rows[hits] if row >= 0]


def candidates(
    graph: AnnIndex,
    unit: npt.NDArray[np.float32],
    allowed: npt.NDArray[np.int64],
    k: int,
    exact_below: int = EXACT_BELOW,
) -> list[int]:
    """The rows to re-score exactly for a top-k among ``allowed`` near ``unit``."""
    return graph.candidates(unit, allowed, RERANK_FACTOR * k, exact_below)


def rescore(
    connection: sqlite3.Connection,
    generation: Generation,
    field: VectorField,
    unit: npt.NDArray[np.float32],
    rows: list[int],
    k: int,
) -> list[tuple[int, float]]:
    """The best ``k`` of ``rows`` by exact cosine with ``unit`` (from the stored float32 blobs)."""
    if not rows:
        return []
    dims = generation.spec.vectors[field].dims
    blobs = stored_vectors(connection, generation, field, rows)
    if not blobs:
        return []
    matrix = normalise(
        np.frombuffer(b"".join(blobs.values()), dtype="<f4").reshape(len(blobs), dims).astype(np.float32)
    )
    sims = matrix @ unit
    ids = np.fromiter(blobs, dtype=np.int64, count=len(blobs))
    # Highest similarity first; equal similarities by row id, as exact search orders them.
    order = np.lexsort((ids, -sims))[:k]
    return [(int(ids[i]), float(sims[i])) for i in order]


def generation_tag(generation: Generation) -> str:
    """Names this generation's files apart from any other that had the same id."""
    key = f"{generation.spec.name}|{generation.created_at.isoformat()}".encode()
    return hashlib.sha256(key).hexdigest()[:12]


def _stem(generation: Generation, field: VectorField) -> str:
    return f"g{generation.id}-{field.value}-{generation_tag(generation)}-s"


def saved_files(directory: Path, generation: Generation, field: VectorField) -> list[tuple[int, Path]]:
    """(vlog seq, path) of this generation's saved graphs of ``field``, newest first."""
    stem = _stem(generation, field)
    out: list[tuple[int, Path]] = []
    if not directory.is_dir():
        return out
    for path in directory.iterdir():
        name = path.name
        if name.startswith(stem) and name.endswith(_SUFFIX):
            seq = name[len(stem) : -len(_SUFFIX)]
            if seq.isdigit():
                out.append((int(seq), path))
    out.sort(reverse=True)
    return out


def save(directory: Path, generation: Generation, field: VectorField, graph: AnnIndex) -> None:
    """Write the graph as of ``graph.seq`` and delete this field's older files."""
    assert graph.seq is not None
    assert graph.index is not None
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{_stem(generation, field)}{graph.seq}{_SUFFIX}"
    temporary = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with temporary.open("wb") as out:
        np.savez(out, index=faiss.serialize_index(graph.index), rows=graph.rows)
    os.replace(temporary, final)
    graph.saved_seq = graph.seq
    for seq, path in saved_files(directory, generation, field):
        if seq < graph.seq:
            # Another process may be deleting it too, or reading it (an unlinked open file
            # stays readable).
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def drop_files(directory: Path, generation_id: int) -> None:
    """Delete every saved graph of a dropped generation."""
    if not directory.is_dir():
        return
    for pattern in (f"g{generation_id}-*{_SUFFIX}", f"g{generation_id}-*{_LOCK_SUFFIX}"):
        for path in directory.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def lock_path(directory: Path, generation: Generation, field: VectorField) -> Path:
    """The file whose ``flock`` one process holds while it builds this field's graph."""
    return directory / f"{_stem(generation, field)[:-2]}{_LOCK_SUFFIX}"


def load(directory: Path, generation: Generation, field: VectorField, graph: AnnIndex, pruned: int) -> bool:
    """Load the newest saved graph the log can still bring up to date (True if one was)."""
    for seq, path in saved_files(directory, generation, field):
        if seq < pruned:
            return False
        try:
            with np.load(path) as data:
                index = faiss.deserialize_index(data["index"])
                rows = data["rows"].astype(np.int64)
        except (OSError, RuntimeError, ValueError, KeyError):
            # Deleted by a newer save between listing and reading, or cut short: try the next.
            continue
        if index.d != graph.dims or index.ntotal != len(rows):
            continue
        index.hnsw.efSearch = EF_SEARCH
        live = rows >= 0
        labels = np.full(int(rows.max()) + 1 if len(rows) else 0, -1, dtype=np.int64)
        labels[rows[live]] = np.flatnonzero(live)
        graph.index, graph.rows, graph.labels = index, rows, labels
        graph.dead = int((~live).sum())
        graph.seq = graph.saved_seq = seq
        return True
    return False


def sync_ann(
    connection: sqlite3.Connection,
    generation: Generation,
    field: VectorField,
    graph: AnnIndex,
    directory: Path,
    *,
    build: bool = True,
) -> bool:
    """Bring ``graph`` up to this snapshot's ``vlog``: from a saved graph when the log can bring
    one up to date, else (``build``) by a full build, then saved. Takes ``graph.lock`` alone
    only when there is something to change. False: only a full build could, and ``build`` is
    False (the graph is unusable)."""
    p = generation.prefix
    top = connection.execute(f"SELECT coalesce(max(seq), 0) FROM {p}vlog").fetchone()[0]
    seq = graph.seq
    if seq is not None and top <= seq:
        return True
    pruned = connection.execute(f"SELECT pruned_upto FROM {p}state").fetchone()[0]
    with graph.lock.write():
        if graph.seq is None:
            load(directory, generation, field, graph, pruned)
        seq = graph.seq
        if seq is not None and seq >= pruned and top > seq:
            replay(connection, generation, field, seq, graph.put, graph.remove)
            graph.seq = seq = top
        # Dead labels counted after the replay, so a loaded file does not hide them.
        if seq is None or seq < pruned or (build and graph.needs_rebuild):
            if not build:
                return False
            graph.build(vector_batches(connection, generation, field, batch=TRAIN_SAMPLE))
            graph.seq = top
            save(directory, generation, field, graph)
            return True
        if graph.saved_seq is None or seq - graph.saved_seq >= RESAVE_AFTER:
            save(directory, generation, field, graph)
        return True

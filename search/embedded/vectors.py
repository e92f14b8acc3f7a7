"""Exact vector search: per (generation, field) an in-memory matrix of unit vectors, kept in
step with the generation's ``vlog`` so another process's writes are seen without a reload."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt

from search.documents import VectorField
from search.embedded.schema import Generation, chunks


class VectorMatrix:
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
        self.matrix = normalise(vectors) if len(row_ids) else np.zeros((0, self.dims), dtype=np.float32)
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
        unit = normalise(vector.reshape(1, -1))[0]
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
        unit = normalise(query.reshape(1, -1))[0]
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


def normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Each row scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: npt.NDArray[np.float32] = (vectors / norms).astype(np.float32, copy=False)
    return unit


def mostly_dead(dead: int, slots: int) -> bool:
    """A quarter of an index's slots (and at least 1024) hold removed rows: rebuilding it from
    the stored vectors gives a smaller, faster one (the exact matrix and the HNSW graph)."""
    return dead > max(1024, slots // 4)


def sync_matrix(
    connection: sqlite3.Connection,
    generation: Generation,
    field: VectorField,
    matrix: VectorMatrix,
) -> None:
    """Bring ``matrix`` up to this snapshot's ``vlog`` (caller holds ``matrix.lock``)."""
    p = generation.prefix
    top = connection.execute(f"SELECT coalesce(max(seq), 0) FROM {p}vlog").fetchone()[0]
    # Another thread may already have replayed past this (older) snapshot: replaying
    # re-reads current rows, so the matrix is never behind what this snapshot can see.
    if matrix.seq is not None and top <= matrix.seq:
        return
    pruned = connection.execute(f"SELECT pruned_upto FROM {p}state").fetchone()[0]
    if matrix.seq is None or matrix.seq < pruned or mostly_dead(matrix.dead, matrix.count):
        row_ids, data = all_vectors(connection, generation, field)
        matrix.reset(row_ids, data, top)
        return
    replay(connection, generation, field, matrix.seq, matrix.put, matrix.remove)
    matrix.seq = top


def replay(
    connection: sqlite3.Connection,
    generation: Generation,
    field: VectorField,
    since: int,
    put: Callable[[int, npt.NDArray[np.float32]], None],
    remove: Callable[[int], None],
) -> int:
    """Apply every vector change logged after ``since`` through ``put``/``remove``; how many
    documents changed."""
    p = generation.prefix
    changed = [
        row[0] for row in connection.execute(f"SELECT DISTINCT doc FROM {p}vlog WHERE seq > ?", (since,))
    ]
    present = stored_vectors(connection, generation, field, changed)
    for row_id in changed:
        blob = present.get(row_id)
        if blob is None:
            remove(row_id)
        else:
            put(row_id, np.frombuffer(blob, dtype="<f4").astype(np.float32))
    return len(changed)


def stored_vectors(
    connection: sqlite3.Connection, generation: Generation, field: VectorField, row_ids: Sequence[int]
) -> dict[int, bytes]:
    """The stored float32 blob of ``field`` of each of these rows that has one."""
    present: dict[int, bytes] = {}
    for chunk in chunks(row_ids):
        marks = ",".join("?" * len(chunk))
        for doc, data in connection.execute(
            f"SELECT doc, data FROM {generation.prefix}vec WHERE field = ? AND doc IN ({marks})",
            (field.value, *chunk),
        ):
            present[int(doc)] = data
    return present


def all_vectors(
    connection: sqlite3.Connection, generation: Generation, field: VectorField
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Every stored vector of ``field``: (row ids, float32 rows)."""
    batches = list(vector_batches(connection, generation, field, batch=100_000))
    if not batches:
        dims = generation.spec.vectors[field].dims
        return np.zeros(0, dtype=np.int64), np.zeros((0, dims), dtype=np.float32)
    return np.concatenate([ids for ids, _ in batches]), np.concatenate([data for _, data in batches])


def vector_batches(
    connection: sqlite3.Connection, generation: Generation, field: VectorField, batch: int
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
    """Every stored vector of ``field`` in batches of at most ``batch`` rows."""
    dims = generation.spec.vectors[field].dims
    cursor = connection.execute(
        f"SELECT doc, data FROM {generation.prefix}vec WHERE field = ?", (field.value,)
    )
    while rows := cursor.fetchmany(batch):
        row_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        data = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dims)
        yield row_ids, data.astype(np.float32)

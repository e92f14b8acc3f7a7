"""HNSW graphs built in the background (search/embedded/ann_builds.py) and searched under a
shared lock: a search past the threshold is answered exactly while the graph is built, the
switch happens once it is ready, one process builds while another waits for its file, and
concurrent searches walk one graph together. Builds and searches are held by hooks and
events, never timed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest

from search.documents import VectorField
from search.embedded import EmbeddedBackend, ann
from search.embedded.schema import Generation
from search.query import QueryVector, SearchQuery
from tests.search.conftest import SPEC
from tests.search.corpus import TENANT, TEXT_MODEL, corpus

K = 5
# Bounds a wait that must end long before: reaching it means the code under test is wrong.
GUARD_S = 60


def _query(values: np.ndarray) -> SearchQuery:
    return SearchQuery(
        tenant_id=TENANT, vectors=(QueryVector.of(VectorField.TEXT, values, TEXT_MODEL),), k=K, limit=K
    )


def _top(hits: tuple[object, ...]) -> list[str]:
    return [hit.doc_id for hit in hits]  # type: ignore[attr-defined]


class Held:
    """A build hook that holds every build until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, generation: Generation, field: VectorField) -> None:
        self.calls += 1
        self.entered.set()
        # An inline build would hold the search here: it then fails instead of waiting on.
        assert self.release.wait(GUARD_S), "the build was never released"


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts graph searches."""
    seen: list[int] = []
    original = ann.AnnIndex.candidates

    def counted(self: ann.AnnIndex, *args: object) -> list[int]:
        seen.append(1)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ann.AnnIndex, "candidates", counted)
    return seen


async def test_searches_stay_exact_while_the_graph_is_built_then_switch(
    tmp_path: Path, walks: list[int]
) -> None:
    held = Held()
    path = tmp_path / "graph" / "search" / "index.sqlite3"
    backend = EmbeddedBackend(path, ann_threshold=1, ann_exact_below=0, ann_build_hook=held)
    exact = EmbeddedBackend(tmp_path / "exact" / "search" / "index.sqlite3")
    assets = corpus(10)
    for engine in (backend, exact):
        await engine.create_generation(SPEC)
        await engine.upsert(assets)
    probes = [asset.moments[1].vectors[VectorField.TEXT].values for asset in assets[:4]]

    want = [_top((await exact.search(_query(probe))).hits) for probe in probes]
    during = [_top((await backend.search(_query(probe))).hits) for probe in probes]
    assert await asyncio.to_thread(held.entered.wait, GUARD_S)
    # Answered while the build is held: exactly, and one build for all these searches.
    assert during == want
    assert walks == []
    assert held.calls == 1
    assert not list((path.parent / "ann").glob("*.npz"))

    held.release.set()
    await backend.wait_for_graphs()
    after = [_top((await backend.search(_query(probe))).hits) for probe in probes]
    assert len(walks) == len(probes)
    assert after == want
    assert [hit[0] for hit in after] == [f"m:{asset.asset_id}:s1" for asset in assets[:4]]
    assert len(list((path.parent / "ann").glob("*.npz"))) == 1
    await backend.aclose()
    await exact.aclose()


async def test_a_second_process_loads_the_graph_the_first_one_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    original = ann.AnnIndex.build

    def counted(self: ann.AnnIndex, *args: object) -> None:
        events.append("build")
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ann.AnnIndex, "build", counted)
    held = Held()

    def first_hook(generation: Generation, field: VectorField) -> None:
        held(generation, field)
        events.append("first released")

    path = tmp_path / "search" / "index.sqlite3"
    # Two stores on one directory stand for two processes: flock excludes separate opens.
    first = EmbeddedBackend(path, ann_threshold=1, ann_build_hook=first_hook)
    second = EmbeddedBackend(path, ann_threshold=1, ann_build_hook=lambda *_: events.append("second"))
    await first.create_generation(SPEC)
    assets = corpus(6)
    await first.upsert(assets)
    probe = assets[2].moments[0].vectors[VectorField.TEXT].values
    await first.search(_query(probe))
    assert await asyncio.to_thread(held.entered.wait, GUARD_S)
    # The first holds the build lock: the second's build waits for it, its search does not.
    assert _top((await second.search(_query(probe))).hits)[0] == "m:a02:s0"
    held.release.set()
    await first.wait_for_graphs()
    await second.wait_for_graphs()
    # The second entered only after the first had built, and loaded its file.
    assert events == ["first released", "build", "second"]
    assert _top((await second.search(_query(probe))).hits)[0] == "m:a02:s0"
    await first.aclose()
    await second.aclose()


async def test_concurrent_searches_walk_the_graph_together(
    tmp_path: Path, walks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = EmbeddedBackend(tmp_path / "search" / "index.sqlite3", ann_threshold=1, ann_exact_below=0)
    await backend.create_generation(SPEC)
    assets = corpus(6)
    await backend.upsert(assets)
    probes = [assets[i].moments[0].vectors[VectorField.TEXT].values for i in (1, 4)]
    await backend.search(_query(probes[0]))
    await backend.wait_for_graphs()

    # Each graph search waits inside the graph until the other one is inside too: with the
    # graph's lock held alone by one search, the barrier breaks and both searches fail.
    together = threading.Barrier(2, timeout=GUARD_S)
    counted = ann.AnnIndex.candidates

    def meet(self: ann.AnnIndex, *args: object) -> list[int]:
        together.wait()
        return counted(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ann.AnnIndex, "candidates", meet)
    first, second = await asyncio.gather(*(backend.search(_query(probe)) for probe in probes))
    assert len(walks) == 2
    assert _top(first.hits)[0] == "m:a01:s0"
    assert _top(second.hits)[0] == "m:a04:s0"
    await backend.aclose()


def test_the_graph_lock_shares_reads_and_excludes_writes() -> None:
    lock = ann.ReadWriteLock()
    assert lock.acquire_read()
    assert lock.acquire_read(blocking=False)
    assert not lock.acquire_write(blocking=False)
    lock.release_read()
    assert not lock.acquire_write(blocking=False)
    lock.release_read()
    assert lock.acquire_write(blocking=False)
    assert not lock.acquire_read(blocking=False)
    assert not lock.acquire_write(blocking=False)
    lock.release_write()

    # A waiting writer holds off new readers (a replay is not starved by searches) and gets
    # the lock once the reader before it leaves.
    assert lock.acquire_read()
    writer_in = threading.Event()

    def write() -> None:
        with lock.write():
            writer_in.set()

    thread = threading.Thread(target=write)
    thread.start()
    while lock.acquire_read(blocking=False):  # until the writer is waiting
        lock.release_read()
    assert not writer_in.is_set()
    lock.release_read()
    thread.join(GUARD_S)
    assert writer_in.is_set()
    assert lock.acquire_read(blocking=False)
    lock.release_read()

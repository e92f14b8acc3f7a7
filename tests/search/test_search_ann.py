"""The embedded backend's HNSW graphs (search/embedded/ann.py): the same hits as exact search on
the fixtures, the switch at ``ann_threshold``, saved graphs loaded on restart, deletes and
tenants honoured, and recall on a seeded synthetic set (no timing: speed is the benchmark's)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from search.documents import VectorField
from search.embedded import EmbeddedBackend, ann
from search.query import QueryVector, SearchQuery
from tests.search.conftest import SPEC
from tests.search.corpus import OTHER_TENANT, TENANT, TEXT_MODEL, corpus, make_asset

K = 10


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "search" / "index.sqlite3"


def graph_backend(path: Path, threshold: int = 1) -> EmbeddedBackend:
    """Every field of at least ``threshold`` vectors through the graph, under any filter."""
    return EmbeddedBackend(path, ann_threshold=threshold, ann_exact_below=0)


def _query(values: np.ndarray, tenant: str = TENANT, k: int = K, text: str | None = None) -> SearchQuery:
    return SearchQuery(
        tenant_id=tenant,
        text=text,
        vectors=(QueryVector.of(VectorField.TEXT, values, TEXT_MODEL),),
        k=k,
        limit=k,
    )


async def _graph_ready(backend: EmbeddedBackend, probe: np.ndarray) -> None:
    """A search starts the background build of the graph (served exactly meanwhile); wait for it."""
    await backend.search(_query(probe))
    await backend.wait_for_graphs()


def _files(path: Path) -> list[str]:
    folder = path.parent / "ann"
    return sorted(p.name for p in folder.glob("*.npz")) if folder.is_dir() else []


async def test_graph_and_exact_give_the_same_hits_on_the_fixtures(tmp_path: Path) -> None:
    exact = EmbeddedBackend(tmp_path / "exact" / "index.sqlite3")
    graph = graph_backend(tmp_path / "graph" / "index.sqlite3")
    assets = corpus(12)
    for backend in (exact, graph):
        await backend.create_generation(SPEC)
        await backend.upsert(assets)
    rng = np.random.default_rng(3)
    await _graph_ready(graph, rng.normal(size=8).astype(np.float32))
    for probe in [rng.normal(size=8).astype(np.float32) for _ in range(10)]:
        for text in (None, "segment a03"):
            want = await exact.search(_query(probe, text=text))
            got = await graph.search(_query(probe, text=text))
            assert [h.doc_id for h in got.hits] == [h.doc_id for h in want.hits]
            for mine, theirs in zip(got.hits, want.hits, strict=True):
                assert mine.retriever_scores == pytest.approx(theirs.retriever_scores, abs=1e-6)
    assert _files(tmp_path / "graph" / "index.sqlite3")
    assert not _files(tmp_path / "exact" / "index.sqlite3")
    await exact.aclose()
    await graph.aclose()


async def test_a_field_switches_to_the_graph_at_the_threshold(path: Path) -> None:
    # 4 assets x (1 asset vector + 3 moments) = 16 text vectors; the threshold is 20.
    backend = graph_backend(path, threshold=20)
    await backend.create_generation(SPEC)
    assets = corpus(8)
    await backend.upsert(assets[:4])
    probe = assets[5].moments[1].vectors[VectorField.TEXT].values
    await backend.search(_query(probe))
    assert _files(path) == []

    await backend.upsert(assets[4:])
    await _graph_ready(backend, probe)
    hits = (await backend.search(_query(probe, k=1))).hits
    assert [hit.doc_id for hit in hits] == ["m:a05:s1"]
    assert [name.split("-")[1] for name in _files(path)] == ["text"]
    await backend.aclose()


async def test_a_restart_loads_the_saved_graph_and_replays_later_writes(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = graph_backend(path)
    await first.create_generation(SPEC)
    assets = corpus(8)
    await first.upsert(assets[:6])
    probe = assets[7].moments[2].vectors[VectorField.TEXT].values
    await _graph_ready(first, probe)
    await first.aclose()
    saved = _files(path)
    assert len(saved) == 1

    def no_build(*_: object) -> None:
        raise AssertionError("the saved graph should have been loaded, not rebuilt")

    monkeypatch.setattr(ann.AnnIndex, "build", no_build)
    # Written while no process held the graph: the restarted one replays them from the log.
    writer = EmbeddedBackend(path)
    await writer.upsert(assets[6:])
    await writer.aclose()
    second = graph_backend(path)
    hits = (await second.search(_query(probe, k=1))).hits
    assert [hit.doc_id for hit in hits] == ["m:a07:s2"]
    await second.aclose()


async def test_deletes_and_replacements_are_honoured_across_processes(path: Path) -> None:
    server, worker = graph_backend(path), EmbeddedBackend(path)
    await worker.create_generation(SPEC)
    assets = corpus(6)
    await worker.upsert(assets)
    probe = assets[3].moments[1].vectors[VectorField.TEXT].values
    await _graph_ready(server, probe)
    assert (await server.search(_query(probe, k=1))).hits[0].doc_id == "m:a03:s1"

    await worker.delete_asset(tenant_id=TENANT, asset_id="a03", version=2)
    after = await server.search(_query(probe, k=100))
    assert all(hit.asset_id != "a03" for hit in after.hits)
    assert after.total == 5 * 4 - 5  # moments only: 5 assets x 3

    # a04 now carries the probe as its scene 0 vector: the graph must serve the new vector.
    moved = replace(
        assets[4],
        version=2,
        moments=(
            replace(
                assets[4].moments[0],
                vectors={
                    **assets[4].moments[0].vectors,
                    VectorField.TEXT: assets[3].moments[1].vectors[VectorField.TEXT],
                },
            ),
            *assets[4].moments[1:],
        ),
    )
    await worker.upsert([moved])
    best = (await server.search(_query(probe, k=1))).hits[0]
    assert best.doc_id == "m:a04:s0"
    assert best.retriever_scores["vector:text"] == pytest.approx(1.0, abs=1e-5)
    await server.aclose()
    await worker.aclose()


async def test_the_graph_never_returns_another_tenants_rows(path: Path) -> None:
    backend = graph_backend(path)
    await backend.create_generation(SPEC)
    mine = corpus(4)
    rng = np.random.default_rng(11)
    # The other tenant holds exact copies of every vector of mine, and more assets besides:
    # a graph search that ignored the filter would return theirs as often as mine.
    theirs = [replace(asset, tenant_id=OTHER_TENANT) for asset in mine]
    theirs += [make_asset(rng, index, tenant_id=OTHER_TENANT) for index in range(4, 40)]
    await backend.upsert(mine + theirs)
    await _graph_ready(backend, mine[0].moments[0].vectors[VectorField.TEXT].values)
    for asset in mine:
        for moment in asset.moments:
            result = await backend.search(_query(moment.vectors[VectorField.TEXT].values, k=50))
            assert result.hits[0].doc_id == f"m:{asset.asset_id}:{moment.scene_id}"
            assert {hit.asset_id for hit in result.hits} <= {a.asset_id for a in mine}
            assert result.total == 4 * 3
    await backend.aclose()


def test_graph_recall_at_10_on_clustered_vectors() -> None:
    rng = np.random.default_rng(20261205)
    dims, count, queries = 64, 6000, 50
    centres = rng.normal(size=(60, dims)).astype(np.float32)
    data = centres[rng.integers(0, 60, count)] + rng.normal(scale=0.7, size=(count, dims)).astype(np.float32)
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    graph = ann.AnnIndex(dims)
    row_ids = np.arange(1, count + 1, dtype=np.int64)
    graph.build([(row_ids[:3000], data[:3000]), (row_ids[3000:], data[3000:])])
    # Half the rows allowed, as a filter would: recall is measured inside the allowed set.
    allowed = row_ids[::2]
    walked: list[int] = []
    scanned: list[int] = []
    for _ in range(queries):
        query = centres[rng.integers(0, 60)] + rng.normal(scale=0.7, size=dims).astype(np.float32)
        query /= np.linalg.norm(query)
        sims = unit[allowed - 1] @ query
        truth = set(allowed[np.argsort(-sims)[:K]].tolist())
        # The graph walk, and the scan of the int8 codes a narrow filter takes instead.
        for exact_below, tally in ((0, walked), (len(allowed), scanned)):
            candidates = graph.candidates(
                query.astype(np.float32), allowed, ann.RERANK_FACTOR * K, exact_below
            )
            assert set(candidates) <= set(allowed.tolist())
            best = sorted(candidates, key=lambda row: -float(unit[row - 1] @ query))[:K]
            tally.append(len(truth.intersection(best)))
    assert sum(walked) / (queries * K) >= 0.9
    assert sum(scanned) / (queries * K) >= 0.9

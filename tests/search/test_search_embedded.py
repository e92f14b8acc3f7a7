"""What only the embedded backend promises: its SQLite file stays consistent, other processes'
writes are seen, and it is safe from several threads and event loops at once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from search.documents import TimedText, VectorField
from search.embedded import EmbeddedBackend, fts_query, writes
from search.query import QueryVector, SearchQuery
from tests.search.conftest import SPEC
from tests.search.corpus import TENANT, TEXT_MODEL, corpus, make_asset, with_transcript


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "search" / "index.sqlite3"


def _query(values: np.ndarray, k: int = 5) -> SearchQuery:
    return SearchQuery(
        tenant_id=TENANT, vectors=(QueryVector.of(VectorField.TEXT, values, TEXT_MODEL),), k=k, limit=k
    )


async def test_fts_index_stays_equal_to_the_documents(path: Path) -> None:
    backend = EmbeddedBackend(path)
    await backend.create_generation(SPEC)
    assets = corpus(6)
    await backend.upsert(assets)
    await backend.upsert(
        [with_transcript(replace(assets[1], version=2), 0, TimedText(0, 1, "changed words"))]
    )
    await backend.upsert([replace(make_asset(np.random.default_rng(1), 2), version=2, moments=())])
    await backend.delete_asset(tenant_id=TENANT, asset_id="a03", version=2)
    await backend.aclose()

    db = sqlite3.connect(path)
    # FTS5's own check compares the index with the content table row by row.
    db.execute("INSERT INTO g1_fts (g1_fts, rank) VALUES ('integrity-check', 1)")
    docs = db.execute("SELECT count(*) FROM g1_doc").fetchone()[0]
    assert docs == 6 * 4 - 3 - 4
    assert db.execute("SELECT count(*) FROM g1_doc WHERE asset_id = 'a03'").fetchone()[0] == 0
    orphans = db.execute("SELECT count(*) FROM g1_vec WHERE doc NOT IN (SELECT id FROM g1_doc)").fetchone()[0]
    assert orphans == 0
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


async def test_writes_by_another_instance_are_seen_without_reopening(path: Path) -> None:
    # Two instances on one file stand for the server and a worker process.
    server, worker = EmbeddedBackend(path), EmbeddedBackend(path)
    await worker.create_generation(SPEC)
    assets = corpus(4)
    await worker.upsert(assets[:2])
    probe = assets[3].moments[1].vectors[VectorField.TEXT].values
    first = await server.search(_query(probe, k=1))
    assert first.hits[0].asset_id in {"a00", "a01"}

    await worker.upsert(assets[2:])
    assert [hit.doc_id for hit in (await server.search(_query(probe, k=1))).hits] == ["m:a03:s1"]

    await worker.delete_asset(tenant_id=TENANT, asset_id="a03", version=2)
    after = await server.search(_query(probe, k=20))
    assert all(hit.asset_id != "a03" for hit in after.hits)
    assert after.total == 3 * 3
    await server.aclose()
    await worker.aclose()


async def test_a_reader_behind_the_pruned_log_reloads_everything(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "VLOG_KEEP", 5)
    server, worker = EmbeddedBackend(path), EmbeddedBackend(path)
    await worker.create_generation(SPEC)
    assets = corpus(6)
    await worker.upsert(assets[:1])
    await server.search(_query(assets[0].moments[0].vectors[VectorField.TEXT].values))
    for version in (2, 3):
        await worker.upsert([replace(asset, version=version) for asset in assets])

    db = sqlite3.connect(path)
    assert db.execute("SELECT pruned_upto FROM g1_state").fetchone()[0] > 0
    db.close()
    probe = assets[5].moments[2].vectors[VectorField.TEXT].values
    assert [hit.doc_id for hit in (await server.search(_query(probe, k=1))).hits] == ["m:a05:s2"]
    assert (await server.search(_query(probe, k=100))).total == 6 * 3
    await server.aclose()
    await worker.aclose()


def test_safe_from_several_threads_and_event_loops(path: Path) -> None:
    backend = EmbeddedBackend(path)
    assets = corpus(8)
    asyncio.run(backend.create_generation(SPEC))
    asyncio.run(backend.upsert(assets[:4]))
    errors: list[BaseException] = []

    def writer() -> None:
        async def run() -> None:
            for version in range(2, 6):
                report = await backend.upsert([replace(asset, version=version) for asset in assets])
                assert report.ok

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    def reader(seed: int) -> None:
        async def run() -> None:
            rng = np.random.default_rng(seed)
            for _ in range(15):
                results = await backend.search(
                    SearchQuery(
                        tenant_id=TENANT,
                        text="segment",
                        vectors=(QueryVector.of(VectorField.TEXT, rng.normal(size=8), TEXT_MODEL),),
                        k=50,
                        limit=50,
                    )
                )
                # "segment" is in every moment, so every stored moment is a candidate: a
                # reader must never see an asset half-written (each asset has 3 moments).
                per_asset: dict[str, int] = {}
                for hit in results.hits:
                    per_asset[hit.asset_id] = per_asset.get(hit.asset_id, 0) + 1
                assert set(per_asset.values()) == {3}
                assert len(per_asset) in (4, 8)

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(s,)) for s in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    final = asyncio.run(backend.search(_query(assets[7].moments[0].vectors[VectorField.TEXT].values, k=1)))
    assert [hit.doc_id for hit in final.hits] == ["m:a07:s0"]
    asyncio.run(backend.aclose())


def test_fts_query_quotes_words_and_drops_stopwords() -> None:
    assert fts_query('the "quick" fox* OR NEAR(x') == '"quick" OR "fox" OR "near" OR "x"'
    assert fts_query("the of") is None
    assert fts_query(None) is None

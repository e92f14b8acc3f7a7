"""Rebuilding the index from the database into a new generation (`mediakg search reindex`):
the old generation serves until the switch, deletions stay deleted, missing text vectors of
the new model are computed once and stored, and the command line drives it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.core.container import Services
from app.core.db import create_engine, session_scope
from app.core.enums import Modality
from app.core.settings import Settings, get_settings
from app.entrypoints.cli import cli
from app.media.models import Embedding
from app.media.service import vector_to_bytes
from app.search_index.repository import load_snapshots
from app.tenancy.models import Tenant
from inference.config import InferenceConfig
from inference.router import InferenceRouter
from jobs.indexing import generation_spec, missing_texts, reindex, sync_assets
from search.backend import GenerationError, GenerationState, SearchBackend
from search.documents import VectorField
from search.query import QueryVector, SearchQuery
from tests.search.indexgraph import SPEC, IndexGraph, build_index_graph


@pytest.fixture
def router() -> InferenceRouter:
    # Models load on first use only: the tests without the models marker never call one.
    return InferenceRouter(InferenceConfig())


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> IndexGraph:
    graph = await build_index_graph(services.session_factory, tenant.id)
    backend: SearchBackend = services.search
    await backend.create_generation(SPEC)
    await sync_assets(services.session_factory, backend, [graph.harbour.id, graph.poster.id, graph.gone.id])
    return graph


async def _store_current_model_vectors(
    services: Services, graph: IndexGraph, router: InferenceRouter
) -> None:
    """Vectors of the router's models for everything the embed stage would embed, so a rebuild
    needs no model call (their values are arbitrary but distinct)."""
    spec = generation_spec(router, "probe")
    text_model = spec.vectors[VectorField.TEXT].model_version
    rng = np.random.default_rng(7)
    async with session_scope(services.session_factory) as session:
        snapshots = await load_snapshots(session, [graph.harbour.id, graph.poster.id])
        for snapshot in snapshots:
            for owner_type, owner_id, _text in missing_texts(snapshot, text_model):
                name, version = text_model.split(":", 1)
                values = rng.normal(size=spec.vectors[VectorField.TEXT].dims).astype(np.float32)
                session.add(
                    Embedding(
                        tenant_id=snapshot.asset.tenant_id,
                        asset_id=snapshot.asset.id,
                        owner_type=owner_type,
                        owner_id=owner_id,
                        modality=Modality.TEXT,
                        model_name=name,
                        model_version=version,
                        dimension=len(values),
                        vector=vector_to_bytes(values / np.linalg.norm(values)),
                    )
                )


async def test_rebuild_serves_the_old_generation_until_the_switch(
    services: Services, graph: IndexGraph, router: InferenceRouter
) -> None:
    await _store_current_model_vectors(services, graph, router)
    backend: SearchBackend = services.search
    tenant_id = str(graph.harbour.tenant_id)
    batches: list[int] = []
    report = await reindex(
        services.session_factory,
        backend,
        router,
        name="g2",
        switch=False,
        batch=1,
        on_progress=batches.append,
    )
    assert (report.assets, report.embedded.total, report.activated, report.dropped) == (2, 0, False, [])
    assert batches == [1, 1]  # one asset per batch, the deleted one never read
    assert report.write.ok
    # Every vector of the new generation's models was in the database: none skipped.
    assert report.write.skipped_vectors == ()
    assert report.deleted == 1  # the "gone" asset's deletion, applied again
    states = {g.name: g.state for g in await backend.list_generations()}
    assert states == {"g1": GenerationState.LIVE, "g2": GenerationState.BUILDING}
    # Searches still use g1; g2 answers when asked by name, vectors included.
    assert (await backend.search(SearchQuery(tenant_id=tenant_id, text="lighthouse"))).generation == "g1"
    in_g2 = await backend.search(SearchQuery(tenant_id=tenant_id, text="lighthouse", generation="g2"))
    assert [h.scene_id for h in in_g2.hits] == [str(graph.scenes[1].id)]
    spec = generation_spec(router, "g2")
    probe = QueryVector.of(
        VectorField.TEXT,
        np.ones(spec.vectors[VectorField.TEXT].dims),
        spec.vectors[VectorField.TEXT].model_version,
    )
    vector_hits = await backend.search(SearchQuery(tenant_id=tenant_id, vectors=(probe,), generation="g2"))
    # Both harbour shots and the poster (no on-screen text, but a "beacon" label: described in
    # words, jobs.scene_text) have text vectors of the new model.
    assert graph.poster_scene is not None
    assert sorted(h.scene_id or "" for h in vector_hits.hits) == sorted(
        str(s.id) for s in (*graph.scenes, graph.poster_scene)
    )


async def test_switch_and_drop_old_leave_one_live_generation(
    services: Services, graph: IndexGraph, router: InferenceRouter
) -> None:
    await _store_current_model_vectors(services, graph, router)
    backend: SearchBackend = services.search
    report = await reindex(services.session_factory, backend, router, name="g2", switch=True, drop_old=True)
    assert (report.activated, report.dropped) == (True, ["g1"])
    (only,) = await backend.list_generations()
    assert (only.name, only.state, only.spec) == ("g2", GenerationState.LIVE, generation_spec(router, "g2"))
    hits = await backend.search(SearchQuery(tenant_id=str(graph.harbour.tenant_id), text="lighthouse"))
    # The deleted "Gone lighthouse" did not come back with the rebuild.
    assert [h.asset_id for h in hits.hits] == [str(graph.harbour.id)]


async def test_drop_old_without_switch_is_refused(
    services: Services, graph: IndexGraph, router: InferenceRouter
) -> None:
    with pytest.raises(GenerationError, match="--drop-old needs the switch"):
        await reindex(
            services.session_factory, services.search, router, name="g2", switch=False, drop_old=True
        )
    assert [g.name for g in await services.search.list_generations()] == ["g1"]


@pytest.fixture
async def stored_current_vectors(services: Services, graph: IndexGraph, router: InferenceRouter) -> None:
    """The graph with every text vector of the router's models stored: a rebuild calls no model."""
    await _store_current_model_vectors(services, graph, router)


def test_cli_rebuilds_with_a_progress_bar(
    settings: Settings, stored_current_vectors: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "MEDIAKG_DATA_DIR": str(settings.data_dir),
        "MEDIAKG_DATABASE_URL": settings.database_url,
        "MEDIAKG_AUTO_MIGRATE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        refused = runner.invoke(cli, ["search", "reindex", "--no-switch", "--drop-old"])
        assert refused.exit_code == 2
        assert "--drop-old needs the switch" in refused.output
        dropped_live = runner.invoke(cli, ["search", "drop", "g1"])
        assert dropped_live.exit_code == 2
        assert "is live" in dropped_live.output
        # Every text vector of the configured model is stored: the rebuild reads the database
        # only (no model call), one asset per batch.
        rebuilt = runner.invoke(cli, ["search", "reindex", "--name", "g2", "--batch", "1"])
        assert rebuilt.exit_code == 0, rebuilt.output
        said = " ".join(rebuilt.output.split())  # rich wraps lines at the terminal width
        # The bar: its label, a full bar, both live assets counted (the deleted one is not).
        assert "indexing into g2" in said
        assert "━━━━━" in rebuilt.output
        assert "2/2 100%" in said
        assert "generation g2: 2 assets, 5 documents" in said
        assert "0 text vectors computed" in said
        assert "1 deletions re-applied" in said
        assert "g2 is live" in said
        listed = runner.invoke(cli, ["search", "generations"])
        assert listed.exit_code == 0, listed.output
        rows = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if "│" in line}
        assert "live" in rows["g2"]
        assert "retired" in rows["g1"]
        # The rebuilt generation holds the 2 assets and their 3 moments.
        assert rows["g2"].split("│")[3].strip() == "5"
    finally:
        get_settings.cache_clear()


@pytest.mark.models
@pytest.mark.slow
def test_cli_reindex_embeds_what_is_missing_once(
    settings: Settings, services: Services, graph: IndexGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "MEDIAKG_DATA_DIR": str(settings.data_dir),
        "MEDIAKG_DATABASE_URL": settings.database_url,
        "MEDIAKG_AUTO_MIGRATE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(cli, ["search", "reindex", "--name", "minilm1"])
        assert first.exit_code == 0, first.output
        said = " ".join(first.output.split())  # rich wraps lines at the terminal width
        # 3 segments, 3 scenes in words (the harbour's caption shot and its labelled shot, the
        # labelled poster), 2 titles; the deleted asset is skipped.
        assert "8 text vectors computed (3 segments, 3 scenes, 2 titles)" in said
        assert "indexing into minilm1" in said  # the progress bar's label
        assert "minilm1 is live" in said
        second = runner.invoke(cli, ["search", "reindex", "--name", "minilm2", "--drop-old"])
        assert second.exit_code == 0, second.output
        said = " ".join(second.output.split())
        # Stored by the first run: the database alone rebuilds the index now.
        assert "0 text vectors computed" in said
        assert "dropped g1" in said
        assert "dropped minilm1" in said
    finally:
        get_settings.cache_clear()

    async def stored() -> int:
        # A fresh engine: this test is synchronous, so asyncio.run makes a new event loop and
        # the fixture's pool (asyncpg connections) belongs to the fixture's loop.
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                count = await conn.scalar(
                    select(func.count())
                    .select_from(Embedding)
                    .where(Embedding.model_name == "all-MiniLM-L6-v2")
                )
                return int(count or 0)
        finally:
            await engine.dispose()

    assert asyncio.run(stored()) == 8  # the 8 texts above, stored once

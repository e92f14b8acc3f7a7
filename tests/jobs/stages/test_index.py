"""The index stage's projection (rows -> documents), its writes to generations, deletes, the
search-sync actor and the reconciler, against the embedded backend on the test database."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.assets.models import Asset
from app.assets.service import delete_asset, update_asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import JobStatus
from app.core.settings import Settings
from app.jobs.models import Job
from app.jobs.pipeline import StageName
from app.search_index.repository import deletion_versions, load_snapshots
from app.tenancy.models import Tenant
from jobs.indexing import reconcile_deleted, sync_assets, write_snapshots
from jobs.registry import DEFAULT_STAGE_MODULES, build_registry
from jobs.stages.index import run_index
from search.backend import GenerationSpec, GenerationState, SearchBackend, VectorSpec
from search.documents import AssetDocument, DocType, MomentDocument, TimedText, VectorField
from search.embedded import EmbeddedBackend
from search.query import QueryVector, SearchQuery, TextField
from search.render import AssetSnapshot, micros, render_document
from tests.jobs.conftest import RuntimeFactory, ingest_video, wait_for, wait_jobs, with_runtime
from tests.search.indexgraph import SPEC, T0, IndexGraph, build_index_graph

R2 = 1 / math.sqrt(2)


@pytest.fixture
async def graph(services: Services, tenant: Tenant) -> IndexGraph:
    return await build_index_graph(services.session_factory, tenant.id)


@pytest.fixture
async def backend(tmp_path: Path) -> SearchBackend:
    embedded = EmbeddedBackend(tmp_path / "index.sqlite3")
    await embedded.create_generation(SPEC)
    return embedded


async def _snapshots(services: Services, *assets: Asset) -> list[AssetSnapshot]:
    async with session_scope(services.session_factory) as session:
        return await load_snapshots(session, [a.id for a in assets])


def _plain(document: AssetDocument) -> dict[str, object]:
    """A document with vectors as (model, rounded values): comparable with ==."""

    def vectors(mapping: object) -> dict[str, object]:
        assert isinstance(mapping, dict)
        return {
            f.value: (v.model_version, [round(float(x), 6) for x in v.values])
            for f, v in sorted(mapping.items())
        }

    def moment(m: MomentDocument) -> dict[str, object]:
        return {
            "scene_id": m.scene_id,
            "span": (m.start_s, m.end_s),
            "transcript": m.transcript,
            "ocr": m.ocr,
            "labels": m.labels,
            "faces": m.faces_count,
            "vectors": vectors(dict(m.vectors)),
        }

    return {
        "tenant": document.tenant_id,
        "asset": document.asset_id,
        "version": document.version,
        "kind": document.kind,
        "title": document.title,
        "created_at": document.created_at,
        "tags": document.tags,
        "labels": document.labels,
        "transcript": document.transcript,
        "ocr": document.ocr,
        "language": document.language,
        "duration": document.duration_s,
        "faces": document.faces_count,
        "metadata": dict(document.user_metadata),
        "vectors": vectors(dict(document.vectors)),
        "moments": [moment(m) for m in document.moments],
    }


async def test_document_of_a_video(services: Services, graph: IndexGraph) -> None:
    (snapshot,) = await _snapshots(services, graph.harbour)
    first, second = graph.scenes
    h = round(R2, 6)
    assert _plain(render_document(snapshot, SPEC)) == {
        "tenant": str(graph.harbour.tenant_id),
        "asset": str(graph.harbour.id),
        # The asset row (a day after T0) is newer than every output row.
        "version": micros(graph.harbour.updated_at),
        "kind": "video",
        "title": "Harbour tour",
        "created_at": graph.harbour.created_at,
        "tags": ("boats", "sea"),
        "labels": ("ocean liner",),
        # Whole-asset search reads everything said and shown, each caption once.
        "transcript": (
            TimedText(2.0, 5.0, "Welcome aboard the ferry"),
            TimedText(29.5, 31.0, "Crossing now"),
            TimedText(41.5, 44.0, "The lighthouse keeper waves"),
        ),
        "ocr": (TimedText(0.0, 30.0, "CAPTAIN'S LOG"),),
        "language": "en",
        "duration": 60.0,
        "faces": 2,
        # The list value and the dotted key cannot be filtered on: left out.
        "metadata": {"camera": "A7", "year": 2024},
        "vectors": {
            # The asset's own (title) vector [0, 0, 0, 1] and the unit mean of its moments'
            # ([h, h/2, h/2, 0] / |.|), weighing equally.
            "text": ("text-m:1", [0.57735, 0.288675, 0.288675, 0.707107]),
            "visual": ("vis-m:1", [h, h, 0.0]),  # mean of its scenes'
        },
        # Scenes of the newest scene model only (the 0-60 s one of version 1 is superseded).
        "moments": [
            {
                "scene_id": str(first.id),
                "span": (0.0, 30.0),
                "transcript": (TimedText(2.0, 5.0, "Welcome aboard the ferry"),),
                "ocr": (TimedText(0.0, 30.0, "CAPTAIN'S LOG"),),
                "labels": ("ocean liner",),
                "faces": 0,
                # Mean of the scene's own (on-screen text) vector and its segment's.
                "vectors": {"text": ("text-m:1", [h, 0.0, h, 0.0]), "visual": ("vis-m:1", [1.0, 0.0, 0.0])},
            },
            {
                "scene_id": str(second.id),
                "span": (30.0, 60.0),
                # "Crossing now" runs 0.5 s into the first shot: too little to count there.
                "transcript": (
                    TimedText(29.5, 31.0, "Crossing now"),
                    TimedText(41.5, 44.0, "The lighthouse keeper waves"),
                ),
                "ocr": (),
                "labels": (),
                "faces": 2,
                "vectors": {"text": ("text-m:1", [h, h, 0.0, 0.0]), "visual": ("vis-m:1", [0.0, 1.0, 0.0])},
            },
        ],
    }


async def test_document_takes_the_generations_own_model(services: Services, graph: IndexGraph) -> None:
    (snapshot,) = await _snapshots(services, graph.harbour)
    other = GenerationSpec(name="g2", vectors={VectorField.TEXT: VectorSpec(4, "text-m:2")})
    document = render_document(snapshot, other)
    # Only the keeper's segment has a text-m:2 vector; nothing of text-m:1 leaks in.
    assert {k.value: v.model_version for k, v in document.vectors.items()} == {"text": "text-m:2"}
    assert [dict(m.vectors) != {} for m in document.moments] == [False, True]
    assert [float(x) for x in document.moments[1].vectors[VectorField.TEXT].values] == [0.0, 0.0, 0.0, 1.0]


async def test_written_moments_answer_text_and_vector_queries(
    services: Services, graph: IndexGraph, backend: SearchBackend
) -> None:
    report = await sync_assets(
        services.session_factory, backend, [graph.harbour.id, graph.poster.id, graph.gone.id]
    )
    assert report.ok
    assert report.skipped_vectors == ()
    tenant = str(graph.harbour.tenant_id)
    found = await backend.search(SearchQuery(tenant_id=tenant, text="lighthouse keeper"))
    # The deleted "Gone lighthouse" was never written; the keeper's moment is.
    assert [(h.doc_type, h.scene_id) for h in found.hits] == [(DocType.MOMENT, str(graph.scenes[1].id))]
    assert [(c.field, c.start_s, c.end_s) for c in found.hits[0].time_codes] == [
        (TextField.TRANSCRIPT, 41.5, 44.0)
    ]
    caption = await backend.search(SearchQuery(tenant_id=tenant, text="captain's log"))
    assert [(h.scene_id, [c.field for c in h.time_codes]) for h in caption.hits] == [
        (str(graph.scenes[0].id), [TextField.OCR])
    ]
    near_log = await backend.search(
        SearchQuery(tenant_id=tenant, vectors=(QueryVector.of(VectorField.TEXT, [0, 0, 1, 0], "text-m:1"),))
    )
    assert [(h.scene_id, round(h.retriever_scores["vector:text"], 4)) for h in near_log.hits] == [
        (str(graph.scenes[0].id), round(R2, 4)),
        (str(graph.scenes[1].id), 0.0),
    ]


async def test_every_open_generation_gets_its_own_vectors(
    services: Services, graph: IndexGraph, backend: SearchBackend
) -> None:
    other = GenerationSpec(name="g2", vectors={VectorField.TEXT: VectorSpec(4, "text-m:2")})
    await backend.create_generation(other)
    report = await sync_assets(services.session_factory, backend, [graph.harbour.id])
    # Each generation got a document built for it: no vector had to be dropped.
    assert report.skipped_vectors == ()
    assert report.written == 2 * 3  # asset + 2 moments, in each of the two generations
    query = SearchQuery(
        tenant_id=str(graph.harbour.tenant_id),
        vectors=(QueryVector.of(VectorField.TEXT, [0, 0, 0, 1], "text-m:2"),),
        generation="g2",
    )
    hits = (await backend.search(query)).hits
    # Moments only (the default scope); the second shot holds the keeper's text-m:2 vector.
    assert [(h.doc_type, h.scene_id) for h in hits] == [(DocType.MOMENT, str(graph.scenes[1].id))]


async def test_a_deleted_asset_is_removed_and_an_older_write_cannot_bring_it_back(
    services: Services, graph: IndexGraph, backend: SearchBackend
) -> None:
    tenant = str(graph.harbour.tenant_id)
    before = await _snapshots(services, graph.harbour)
    await write_snapshots(backend, before)
    async with session_scope(services.session_factory) as session:
        await delete_asset(
            session,
            services=services,
            tenant_id=graph.harbour.tenant_id,
            asset_id=graph.harbour.id,
            actor="test",
        )
    report = await sync_assets(services.session_factory, backend, [graph.harbour.id])
    assert report.written == 3
    assert (await backend.search(SearchQuery(tenant_id=tenant, text="harbour"))).hits == ()
    # A delayed write of the snapshot taken before the delete is refused as stale.
    late = await write_snapshots(backend, before)
    assert late.written == 0
    assert late.stale == (f"a:{graph.harbour.id}",)
    assert (await backend.search(SearchQuery(tenant_id=tenant, text="harbour"))).hits == ()


async def test_version_grows_with_every_new_output_row(services: Services, graph: IndexGraph) -> None:
    (before,) = await _snapshots(services, graph.harbour)
    async with session_scope(services.session_factory) as session:
        session.add(replace_segment(graph, text="Another sentence"))
    (after,) = await _snapshots(services, graph.harbour)
    assert after.version > before.version
    # The same rows give the same version: a redelivered stage writes a stale no-op.
    (again,) = await _snapshots(services, graph.harbour)
    assert again.version == after.version


def replace_segment(graph: IndexGraph, *, text: str) -> object:
    from app.core.db import utcnow
    from app.media.models import TranscriptSegment

    return TranscriptSegment(
        tenant_id=graph.harbour.tenant_id,
        asset_id=graph.harbour.id,
        ordinal=3,
        start_s=50.0,
        end_s=52.0,
        text=text,
        model_name="whisper",
        model_version="t1",
        created_at=utcnow(),
    )


async def test_deletion_versions_match_the_snapshot_versions(services: Services, graph: IndexGraph) -> None:
    async with session_scope(services.session_factory) as session:
        versions = await deletion_versions(session, [graph.gone.id, graph.harbour.id])
        snapshots = await load_snapshots(session, [graph.gone.id, graph.harbour.id])
    assert versions == {s.asset.id: s.version for s in snapshots}


async def test_reconcile_removes_assets_whose_sync_message_was_lost(
    services: Services, graph: IndexGraph, backend: SearchBackend
) -> None:
    tenant = str(graph.harbour.tenant_id)
    await sync_assets(services.session_factory, backend, [graph.harbour.id, graph.poster.id])
    async with session_scope(services.session_factory) as session:
        # No enqueuer: the sync message is never sent, as if the broker had lost it.
        await delete_asset(
            session,
            services=services,
            tenant_id=graph.harbour.tenant_id,
            asset_id=graph.harbour.id,
            actor="test",
        )
    assert {h.asset_id for h in (await backend.search(SearchQuery(tenant_id=tenant, text="sea"))).hits} == {
        str(graph.harbour.id),
        str(graph.poster.id),
    }
    # Both deleted assets (the harbour, and "gone" which never was indexed) are looked at.
    assert await reconcile_deleted(services.session_factory, backend) == 2
    hits = (await backend.search(SearchQuery(tenant_id=tenant, text="sea"))).hits
    assert {h.asset_id for h in hits} == {str(graph.poster.id)}
    # A window after the deletion finds nothing left to do.
    later = T0.replace(year=2100)
    assert await reconcile_deleted(services.session_factory, backend, since=later) == 0


def test_the_index_stage_is_a_default_stage() -> None:
    assert "jobs.stages.index" in DEFAULT_STAGE_MODULES
    assert build_registry().get(StageName.INDEX).run is run_index


@pytest.fixture
def sync_settings(settings: Settings) -> Settings:
    """Job settings whose runtime also runs the search reconciler quickly."""
    return settings.model_copy(
        update={
            "stage_lease_seconds": 2.0,
            "sweeper_interval_seconds": 0.3,
            "retry_min_backoff_ms": 50,
            "retry_max_backoff_ms": 200,
            "worker_threads": 2,
            "pubsub_url": "memory://",
        }
    )


async def test_pipeline_indexes_and_edits_and_deletes_follow(
    services: Services,
    tenant: Tenant,
    media_root: Path,
    sync_settings: Settings,
    start_runtime: RuntimeFactory,
) -> None:
    # The real probe and index stages, test stages in between (they write a few Scene rows).
    registry = build_registry(["jobs.stages.probe", "tests.jobs.stagelib"])
    registry.register(StageName.INDEX, run_index, replace=True)
    runtime = start_runtime(sync_settings, registry=registry, host_services=services)
    svc = with_runtime(services, sync_settings, runtime)
    job = await ingest_video(svc, tenant, media_root, shade=40)
    await wait_jobs(services.session_factory, [job.id], within=60)
    async with session_scope(services.session_factory) as session:
        finished = await session.get(Job, job.id)
        assert finished is not None
        assert finished.status is JobStatus.SUCCEEDED
    backend: SearchBackend = services.search
    (live,) = await backend.list_generations()
    assert live.state is GenerationState.LIVE
    tenant_id = str(tenant.id)

    async def titles(text: str) -> list[str]:
        hits = (await backend.search(SearchQuery(tenant_id=tenant_id, text=text, scope=DocType.ASSET))).hits
        return [h.title for h in hits]

    assert await titles("clip40") == ["clip40"]
    # An edit is re-indexed by the search.sync_asset message sent after commit.
    async with session_scope(services.session_factory) as session:
        await update_asset(
            session,
            services=svc,
            tenant_id=tenant.id,
            asset_id=job.asset_id,
            actor="test",
            title="Sunset regatta",
        )

    async def renamed() -> bool:
        return await titles("regatta") == ["Sunset regatta"]

    await wait_for(renamed, within=20, what="the edit to reach the index")
    assert await titles("clip40") == []
    async with session_scope(services.session_factory) as session:
        await delete_asset(
            session,
            services=svc,
            tenant_id=tenant.id,
            asset_id=job.asset_id,
            actor="t",
        )

    async def removed() -> bool:
        return await titles("regatta") == []

    await wait_for(removed, within=20, what="the deletion to reach the index")


async def test_reconciler_of_a_runtime_catches_a_lost_delete(
    services: Services,
    graph: IndexGraph,
    sync_settings: Settings,
    start_runtime: RuntimeFactory,
) -> None:
    backend: SearchBackend = services.search
    await backend.create_generation(replace(SPEC, name="live"))
    await sync_assets(services.session_factory, backend, [graph.harbour.id])
    async with session_scope(services.session_factory) as session:
        await session.execute(
            update(Asset).where(Asset.id == graph.harbour.id).values(deleted_at=T0.replace(year=2030))
        )
        assert (
            await session.scalar(select(Asset.deleted_at).where(Asset.id == graph.harbour.id))
        ) is not None
    tenant_id = str(graph.harbour.tenant_id)
    assert len((await backend.search(SearchQuery(tenant_id=tenant_id, text="harbour"))).hits) > 0
    # No message at all: only the runtime's reconciler (first pass: every deleted asset) acts.
    registry = build_registry(["jobs.stages.probe", "tests.jobs.stagelib"])
    start_runtime(sync_settings, registry=registry, host_services=services, workers=False)

    async def gone() -> bool:
        return (await backend.search(SearchQuery(tenant_id=tenant_id, text="harbour"))).hits == ()

    await wait_for(gone, within=20, what="the reconciler")

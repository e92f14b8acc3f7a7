"""The similarity stage over a large tenant: every live vector scanned vs candidates from the
search index, in one run on one database and index.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/similarity_bench.py [--scenes 20000] [--rounds 5]

The library: ``--scenes`` video scenes (10 per asset), each with a visual, a text and a bridge
vector of the configured models' sizes, random but clustered (Gaussian centres plus noise, as
embeddings are), written to SQLite and indexed into the embedded search backend by
``jobs.indexing.reindex``. The measured run: the similarity stage of one image asset (one scene,
its vectors drawn near the library's) with ``MEDIAKG_SIMILARITY_INDEX_ABOVE`` above the library
(every live vector read and scored) and at 0 (candidates from the index), the two alternating
``--rounds`` times so both see the same machine load; the 1-minute load average is printed
before and after. Each run writes its edges; the two modes' edges are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import app.models  # noqa: E402, F401  (registers every table on Base.metadata)
from app.assets.models import Asset  # noqa: E402
from app.core.db import Base, create_engine  # noqa: E402
from app.core.enums import AssetKind, AssetStatus, JobStatus, Modality, OwnerType  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.entrypoints.bootstrap import build_services  # noqa: E402
from app.jobs.models import Job  # noqa: E402
from app.media.models import Embedding, Scene, SimilarityEdge  # noqa: E402
from app.tenancy.service import ensure_tenant  # noqa: E402
from jobs.indexing import reindex  # noqa: E402
from jobs.registry import StageContext  # noqa: E402
from jobs.stages.similarity import run_similarity  # noqa: E402

SCENES_PER_ASSET = 10
CLUSTERS = 500


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _vector(rng: np.random.Generator, centre: np.ndarray) -> bytes:
    values = centre + 0.5 * rng.normal(size=centre.shape)
    return values.astype("<f4").tobytes()


async def run(scenes: int, rounds: int, directory: Path) -> None:
    out = sys.stdout.write
    out(f"load average before: {_load()}\n")
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    settings = Settings(
        data_dir=directory / "data", database_url=url, allowed_roots=[directory], log_json=False
    )
    services = build_services(settings)
    try:
        router: Any = await services.inference_router()
        models = {
            Modality.IMAGE: router.model_for("embed_image"),
            Modality.TEXT: router.model_for("embed_text"),
            Modality.BRIDGE: router.model_for("embed_bridge"),
        }
        dims = {modality: int(spec.output("embedding").dims[-1]) for modality, spec in models.items()}
        rng = np.random.default_rng(7)
        centres = {m: rng.normal(size=(CLUSTERS, d)).astype(np.float32) for m, d in dims.items()}

        def scene_rows(asset: Asset, count: int, kind_scene: list[Any]) -> list[Any]:
            rows: list[Any] = []
            for ordinal in range(count):
                scene = Scene(
                    tenant_id=asset.tenant_id,
                    asset_id=asset.id,
                    ordinal=ordinal,
                    start_s=ordinal * 5.0,
                    end_s=ordinal * 5.0 + 5.0,
                    model_name="bench-scenes",
                    model_version="1",
                )
                scene.id = uuid.uuid4()
                cluster = int(rng.integers(0, CLUSTERS))
                kind_scene.append(scene)
                rows.append(scene)
                for modality, spec in models.items():
                    rows.append(
                        Embedding(
                            tenant_id=asset.tenant_id,
                            asset_id=asset.id,
                            owner_type=OwnerType.SCENE,
                            owner_id=scene.id,
                            modality=modality,
                            dimension=dims[modality],
                            vector=_vector(rng, centres[modality][cluster]),
                            model_name=spec.name,
                            model_version=spec.version,
                        )
                    )
            return rows

        def asset_row(tenant_id: uuid.UUID, index: int, kind: AssetKind) -> Asset:
            asset = Asset(
                tenant_id=tenant_id,
                kind=kind,
                status=AssetStatus.READY,
                title=f"bench {index}",
                blob_key=f"bench/{index}",
                content_sha256=f"{index:064x}",
                mime_type="video/mp4" if kind is AssetKind.VIDEO else "image/png",
                size_bytes=1,
            )
            asset.id = uuid.uuid4()
            return asset

        started = time.perf_counter()
        async with services.session_factory() as session, session.begin():
            tenant = await ensure_tenant(session, slug=settings.default_tenant)
            tenant_id = tenant.id
        made = 0
        while made < scenes:
            async with services.session_factory() as session, session.begin():
                for _ in range(100):
                    if made >= scenes:
                        break
                    asset = asset_row(tenant_id, made, AssetKind.VIDEO)
                    session.add(asset)
                    await session.flush()
                    session.add_all(scene_rows(asset, SCENES_PER_ASSET, []))
                    made += SCENES_PER_ASSET
        async with services.session_factory() as session, session.begin():
            probe = asset_row(tenant_id, -1, AssetKind.IMAGE)
            session.add(probe)
            await session.flush()
            session.add_all(scene_rows(probe, 1, []))
            job = Job(tenant_id=tenant_id, asset_id=probe.id, pipeline="image", status=JobStatus.RUNNING)
            session.add(job)
        out(f"library: {made} scenes written in {time.perf_counter() - started:.1f} s\n")
        started = time.perf_counter()
        assert services.search is not None
        report = await reindex(services.session_factory, services.search, router, name="bench", switch=True)
        out(f"indexed in {time.perf_counter() - started:.1f} s ({report})\n")

        async with services.session_factory() as session:
            probe_row = await session.get(Asset, probe.id)
            job_row = await session.get(Job, job.id)
        assert probe_row is not None
        assert job_row is not None

        async def progress(_: float) -> None:
            return None

        ctx = StageContext(
            services=services,
            settings=settings,
            session_factory=services.session_factory,
            blobs=services.blobs,
            job=job_row,
            asset=probe_row,
            stage="similarity",
            attempt=1,
            report_progress=progress,
        )
        modes = {"scan (every live vector)": 10**9, "candidates from the index": 0}
        timings: dict[str, list[float]] = {mode: [] for mode in modes}
        edges: dict[str, set[tuple[str, frozenset[uuid.UUID], float]]] = {}
        for round_ in range(rounds):
            order = list(modes) if round_ % 2 == 0 else list(reversed(modes))
            for mode in order:
                settings.similarity_index_above = modes[mode]
                started = time.perf_counter()
                output = await run_similarity(ctx)
                timings[mode].append((time.perf_counter() - started) * 1000)
                assert output.write is not None
                async with services.session_factory() as session, session.begin():
                    await output.write(session)
                async with services.session_factory() as session:
                    rows = await session.scalars(select(SimilarityEdge))
                    edges[mode] = {
                        (str(e.kind), frozenset((e.source_id, e.target_id)), round(e.score, 5)) for e in rows
                    }
        out(f"\n| similarity stage, one image against {made} scenes | runs | p50 ms | min ms | max ms |\n")
        out("|---|---:|---:|---:|---:|\n")
        for mode, samples in timings.items():
            out(
                f"| {mode} | {len(samples)} | {statistics.median(samples):.0f} | {min(samples):.0f} | "
                f"{max(samples):.0f} |\n"
            )
        same = len({frozenset(found) for found in edges.values()}) == 1
        count = len(next(iter(edges.values())))
        out(f"\nedges: {count}; the same in both modes: {'yes' if same else 'NO'}\n")
        out(f"load average after: {_load()}\n")
    finally:
        await services.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenes", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediakg-similarity-bench-") as directory:
        asyncio.run(run(args.scenes, args.rounds, Path(directory)))


if __name__ == "__main__":
    main()

"""Asset-page query under concurrent clients against a real ``mediakg serve`` process, beside the
same reads done by raw SQLAlchemy in one client in the same run.

    .venv/bin/python benchmarks/api_load.py [--clients 1,20,200] [--seconds 15]
        [--database-url postgresql+asyncpg://...] [--compare-tree DIR [--rounds 3]]

The server runs on the embedded default (SQLite file, in-process pub/sub, embedded search)
unless ``--database-url`` names another database (which must be empty or a previous run's).
The corpus: ``--assets`` video assets with 10 scenes each, two transcript lines and three
detections per scene, inserted through the ORM once the server has migrated its database.
Each client loops the asset-page query (asset -> scenes -> transcript -> detections) over the
assets for ``--seconds``; an answer is an error when it is not HTTP 200 or carries ``errors``.
The baseline issues the same reads (asset, its scenes, their transcript lines and detections,
one statement per relation) with SQLAlchemy Core in one client: what the database alone costs.
Prints a markdown section (benchmarks/run.py collects it into docs/benchmarks.md).

``--compare-tree DIR`` measures a before and an after in the same run: a second server runs the
code in DIR (another checkout, e.g. ``git archive <commit> | tar -x -C DIR``) on its own copy
of the corpus, and each level is split into ``--rounds`` slices that alternate between the two
servers (the order flips every round), so both see the same load on a shared machine. The load
average is printed with every level.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.api.ids import to_global_id
from app.assets.models import Asset
from app.core.enums import AssetKind, AssetStatus, DetectionKind
from app.media.models import Detection, Scene, TranscriptSegment
from app.tenancy.models import Tenant
from tests.fixtures.serve import ServeProcess

ROOT = Path(__file__).resolve().parents[1]

QUERY = """
query AssetPage($id: ID!) {
  asset(id: $id) {
    id title kind status durationSeconds tags
    scenes(first: 10) {
      edges { node {
        id ordinal startSeconds endSeconds
        transcript(first: 5) { edges { node { text startSeconds endSeconds } } }
        detections(first: 5) { edges { node { label confidence timeSeconds } } }
      } }
    }
  }
}
"""
SCENES = 10
LABELS = ("boat", "person", "dog", "car", "tree", "bird")


@dataclass
class Run:
    """Latencies (seconds) and error kinds of one load level."""

    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        ok = sorted(self.latencies)
        rate = len(ok) / self.seconds if self.seconds else 0.0

        def pct(p: float) -> str:
            if not ok:
                return "-"
            return f"{ok[min(len(ok) - 1, int(p * len(ok)))] * 1000:.0f}"

        errors = sum(self.errors.values())
        kinds = ", ".join(f"{k} x{n}" for k, n in self.errors.most_common(3))
        return (
            f"| {self.label} | {len(ok) + errors} | {rate:.1f} | {pct(0.50)} | {pct(0.95)} | "
            f"{pct(0.99)} | {errors}{f' ({kinds})' if kinds else ''} |"
        )


async def seed(url: str, assets: int) -> list[uuid.UUID]:
    """Insert the corpus for the default tenant (created if the server has not yet)."""
    from app.core.db import create_engine, create_session_factory, session_scope
    from app.tenancy.service import ensure_tenant

    engine = create_engine(url)
    ids: list[uuid.UUID] = []
    try:
        async with session_scope(create_session_factory(engine)) as session:
            tenant: Tenant = await ensure_tenant(session, slug="default")
            await session.flush()
            common = {"tenant_id": tenant.id, "model_name": "bench", "model_version": "1"}
            for n in range(assets):
                asset = Asset(
                    tenant_id=tenant.id,
                    blob_key=f"sha256/bench/{n}",
                    content_sha256=f"{uuid.uuid4().hex}{n:032x}"[:64],
                    mime_type="video/mp4",
                    size_bytes=1000 + n,
                    kind=AssetKind.VIDEO,
                    status=AssetStatus.READY,
                    title=f"Bench asset {n}",
                    duration_s=SCENES * 4.0,
                    tags=["bench"],
                )
                session.add(asset)
                ids.append(asset.id)
                # No ORM relationships order the inserts: parents are flushed first.
                await session.flush()
                scenes = [
                    Scene(asset_id=asset.id, ordinal=i, start_s=4.0 * i, end_s=4.0 * i + 4, **common)
                    for i in range(SCENES)
                ]
                session.add_all(scenes)
                await session.flush()
                for i, scene in enumerate(scenes):
                    for j in range(2):
                        session.add(
                            TranscriptSegment(
                                asset_id=asset.id,
                                scene_id=scene.id,
                                ordinal=2 * i + j,
                                start_s=4.0 * i + 2 * j,
                                end_s=4.0 * i + 2 * j + 1.5,
                                text=f"line {j} of scene {i} of asset {n}",
                                words=[],
                                **common,
                            )
                        )
                    for j in range(3):
                        session.add(
                            Detection(
                                asset_id=asset.id,
                                scene_id=scene.id,
                                kind=DetectionKind.LABEL,
                                time_s=4.0 * i + j,
                                label=LABELS[(i + j) % len(LABELS)],
                                confidence=0.5 + j / 10,
                                **common,
                            )
                        )
    finally:
        await engine.dispose()
    return ids


async def load(serve: ServeProcess, ids: list[uuid.UUID], clients: int, seconds: float) -> Run:
    """``clients`` concurrent loops of the asset-page query for ``seconds``."""
    gids = [to_global_id("Asset", i) for i in ids]
    run = Run(label=f"API, {clients} client{'s' if clients > 1 else ''}", seconds=seconds)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=serve.base, headers=serve.headers(), limits=limits, timeout=60
    ) as http:
        deadline = time.monotonic() + seconds

        async def client(k: int) -> None:
            n = k
            while time.monotonic() < deadline:
                body = {"query": QUERY, "variables": {"id": gids[n % len(gids)]}}
                n += 1
                start = time.perf_counter()
                try:
                    response = await http.post("/graphql", json=body)
                except httpx.HTTPError as exc:
                    run.errors[type(exc).__name__] += 1
                    continue
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    run.errors[f"HTTP {response.status_code}"] += 1
                    continue
                payload = response.json()
                if payload.get("errors"):
                    code = (payload["errors"][0].get("extensions") or {}).get("code", "error")
                    run.errors[str(code)] += 1
                elif not payload.get("data", {}).get("asset"):
                    run.errors["asset missing"] += 1
                else:
                    run.latencies.append(elapsed)

        started = time.monotonic()
        await asyncio.gather(*(client(k) for k in range(clients)))
        run.seconds = time.monotonic() - started
    return run


async def raw_reads(url: str, ids: list[uuid.UUID], seconds: float) -> Run:
    """The same rows read by SQLAlchemy Core, one statement per relation, in one client."""
    engine: AsyncEngine = create_async_engine(url)
    run = Run(label="raw SQLAlchemy, 1 client", seconds=seconds)
    asset_t, scene_t = Asset.__table__, Scene.__table__
    seg_t, det_t = TranscriptSegment.__table__, Detection.__table__
    try:
        async with engine.connect() as conn:
            deadline = time.monotonic() + seconds
            started = time.monotonic()
            n = 0
            while time.monotonic() < deadline:
                asset_id = ids[n % len(ids)]
                n += 1
                start = time.perf_counter()
                (await conn.execute(select(asset_t).where(asset_t.c.id == asset_id))).one()
                scenes = (
                    await conn.execute(
                        select(scene_t)
                        .where(scene_t.c.asset_id == asset_id)
                        .order_by(scene_t.c.ordinal)
                        .limit(11)
                    )
                ).all()
                scene_ids = [s.id for s in scenes]
                (await conn.execute(select(seg_t).where(seg_t.c.scene_id.in_(scene_ids)))).all()
                (await conn.execute(select(det_t).where(det_t.c.scene_id.in_(scene_ids)))).all()
                await conn.rollback()
                run.latencies.append(time.perf_counter() - start)
            run.seconds = time.monotonic() - started
    finally:
        await engine.dispose()
    return run


@contextmanager
def _environ(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name] = value`` inside the block (unchanged when value is None)."""
    saved = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@contextmanager
def server(tmp: Path, database_url: str | None, tree: Path | None = None) -> Iterator[ServeProcess]:
    """A server on ``database_url`` (SQLite under ``tmp`` when None) running the code in ``tree``
    (this checkout when None)."""
    with ExitStack() as stack:
        # The environment is the server's only while it starts (it copies it): a second server
        # started meanwhile must not inherit the first one's code.
        with (
            _environ("MEDIAKG_DATABASE_URL", database_url),
            _environ("PYTHONPATH", str(tree or ROOT)),
            # One key makes every request: its rate limit (1,200 a minute by default) would
            # answer RATE_LIMITED as soon as a server is faster than 20 req/s. What is measured
            # is the read path, so the limit is off.
            _environ("MEDIAKG_RATE_LIMIT_REQUESTS_PER_MINUTE", "0"),
        ):
            serve = stack.enter_context(ServeProcess.start(tmp))
        yield serve


def load_average() -> str:
    """The 1-minute load average (the machine may be shared)."""
    return f"{os.getloadavg()[0]:.1f}"


def server_pid(tmp: Path) -> int:
    """The pid of the server started in ``tmp`` (its working directory; Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (
                Path(os.readlink(entry / "cwd")) == tmp
                and b"app.entrypoints.cli" in (entry / "cmdline").read_bytes()
            ):
                return int(entry.name)
        except OSError:
            continue
    raise RuntimeError(f"no server process runs in {tmp}")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def merge(runs: list[Run], label: str) -> Run:
    """One run out of the slices of one server at one level."""
    merged = Run(label=label, seconds=sum(r.seconds for r in runs))
    for run in runs:
        merged.latencies.extend(run.latencies)
        merged.errors.update(run.errors)
    return merged


async def compare(args: argparse.Namespace, levels: list[int]) -> None:
    """Before (``--compare-tree``) and after (this checkout), alternating within each level."""
    before_tree = Path(args.compare_tree)
    slice_s = args.seconds / args.rounds
    with (
        tempfile.TemporaryDirectory(prefix="mkg-api-load-before-") as tmp_before,
        tempfile.TemporaryDirectory(prefix="mkg-api-load-after-") as tmp_after,
        server(Path(tmp_before), None, before_tree) as before,
        server(Path(tmp_after), None) as after,
    ):
        servers = {"before": (before, Path(tmp_before)), "after": (after, Path(tmp_after))}
        pids = {name: server_pid(tmp) for name, (_, tmp) in servers.items()}
        cpu: dict[tuple[str, int], float] = {}
        ids: dict[str, list[uuid.UUID]] = {}
        urls: dict[str, str] = {}
        for name, (serve, tmp) in servers.items():
            urls[name] = f"sqlite+aiosqlite:///{tmp / 'data' / 'mediakg.db'}"
            ids[name] = await seed(urls[name], args.assets)
            await load(serve, ids[name], 1, 1.0)
        raw = await raw_reads(urls["after"], ids["after"], min(args.seconds, 5.0))
        rows: list[str] = []
        for clients in levels:
            slices: dict[str, list[Run]] = {"before": [], "after": []}
            loads: list[str] = []
            for n in range(args.rounds):
                order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
                for name in order:
                    loads.append(load_average())
                    used = cpu_seconds(pids[name])
                    slices[name].append(await load(servers[name][0], ids[name], clients, slice_s))
                    cpu[name, clients] = cpu.get((name, clients), 0.0) + cpu_seconds(pids[name]) - used
            for name in ("before", "after"):
                run = merge(slices[name], f"{name}, {clients} client{'s' if clients > 1 else ''}")
                answered = len(run.latencies) + sum(run.errors.values())
                per_request = 1000 * cpu[name, clients] / answered if answered else 0.0
                rows.append(run.row().rstrip(" |") + f" | {per_request:.1f} | {min(loads)}-{max(loads)} |")
    out = sys.stdout.write
    out("## API load: the asset-page query, before and after\n\n")
    out(
        f"`benchmarks/api_load.py --compare-tree`: SQLite (embedded default), {args.assets} assets x "
        f"{SCENES} scenes, {args.seconds:.0f} s per level and server in {args.rounds} alternating "
        f"slices; before: `{before_tree}`; latencies in ms of successful answers; server CPU: user + "
        f"system seconds of the server process (all its threads) over the requests it answered, the "
        f"figure least dependent on the machine's load; raw SQLAlchemy "
        f"(1 client, same run): {len(raw.latencies) / raw.seconds:.1f} req/s.\n\n"
    )
    out("| run | requests | req/s | p50 | p95 | p99 | errors | server CPU ms/request | load avg |\n")
    out("|---|---|---|---|---|---|---|---|---|\n")
    for row in rows:
        out(row + "\n")
    out("\n")


async def main_async(args: argparse.Namespace) -> None:
    levels = [int(c) for c in args.clients.split(",")]
    if args.compare_tree:
        await compare(args, levels)
        return
    with (
        tempfile.TemporaryDirectory(prefix="mkg-api-load-") as tmp,
        server(Path(tmp), args.database_url) as serve,
    ):
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'data' / 'mediakg.db'}"
        ids = await seed(url, args.assets)
        # One warm-up request per asset: lazy imports and first-use caches are not measured.
        await load(serve, ids, 1, 1.0)
        runs = [await raw_reads(url, ids, args.seconds)]
        for clients in levels:
            runs.append(await load(serve, ids, clients, args.seconds))
    db = (
        "PostgreSQL"
        if args.database_url and args.database_url.startswith("postgres")
        else "SQLite (embedded default)"
    )
    out = sys.stdout.write
    out("## API load: the asset-page query\n\n")
    out(
        f"`benchmarks/api_load.py`: {db}, {args.assets} assets x {SCENES} scenes, "
        f"{args.seconds:.0f} s per level; latencies in ms of successful answers.\n\n"
    )
    out("| run | requests | req/s | p50 | p95 | p99 | errors |\n")
    out("|---|---|---|---|---|---|---|\n")
    for run in runs:
        out(run.row() + "\n")
    out("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,20,200", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each level")
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="run the server on this database instead")
    parser.add_argument(
        "--compare-tree", default=None, help="a checkout of the code to measure as 'before' (SQLite only)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating slices per level (--compare-tree)")
    args = parser.parse_args()
    if args.compare_tree:
        args.compare_tree = str(Path(args.compare_tree).resolve())
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

"""A small labelled relevance set, run through the real pipeline, scored for TEXT, SEMANTIC and
HYBRID search in one run (nDCG@10 and recall@10).

The corpus is generated (tests/fixtures/media.py): three 10 s videos of two 5 s shots, each with
a caption shown in one shot and a sentence spoken (espeak-ng) in the other; five of
scikit-image's photographs; four one-paragraph text notes. File names are neutral (``clip-a``,
``photo-1``, ``note-1``) so no title gives an answer away: everything search finds comes from
what the pipeline extracted (speech, on-screen text, labels, vectors).

Relevance comes from how each fixture was BUILT (which sentence was spoken in which shot, which
photo shows what, what each note is about), never from what the system returned. The queries
fall in three groups:

- ``keyword``: words of the target occur in its speech, caption or text;
- ``paraphrase``: the target's meaning in other words;
- ``subject``: what a photo shows (the pipeline knows photos only by ImageNet labels and the
  label-based text-to-image bridge), with the notes on the same subject also relevant.

Both the benchmark script (benchmarks/relevance_eval.py) and the test
(tests/search/test_relevance.py) call :func:`evaluate`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.api.http import create_graphql_app
from app.assets.service import ingest_path
from app.core.container import Services
from app.core.db import Base, create_engine, session_scope
from app.core.enums import JobStatus
from app.core.errors import DatabaseBusyError
from app.core.settings import Settings
from app.entrypoints.bootstrap import build_services
from app.entrypoints.job_system import job_runtime
from app.jobs.models import Job
from app.tenancy.service import ensure_tenant
from jobs.registry import build_registry
from tests.fixtures.keys import admin_headers
from tests.fixtures.media import (
    SAMPLE_RATE,
    SpeechClip,
    image_bytes,
    make_speech,
    make_video,
    photo,
    write_wav,
)

OPERATION = Path(__file__).resolve().parents[2] / "graphql" / "operations" / "Search.graphql"
MODES = ("TEXT", "SEMANTIC", "HYBRID")
K = 10
SHOT_S = 5.0
STAGE_MODULES = (
    "jobs.stages.probe",
    "jobs.stages.text",
    "jobs.stages.scenes",
    "jobs.stages.transcribe",
    "jobs.stages.ocr",
    "jobs.stages.detect",
    "jobs.stages.embed",
    "jobs.stages.similarity",
    "jobs.stages.index",
)


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """A two-shot video: the caption of each shot (or None), and a sentence spoken in one shot."""

    name: str
    captions: tuple[str | None, str | None]
    sentence: str
    spoken_in: int
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]


VIDEOS = (
    VideoSpec(
        "clip-a",
        ("FISH MARKET", None),
        "The lighthouse keeper feeds the seagulls.",
        1,
        ((30, 40, 140), (235, 170, 40)),
    ),
    VideoSpec(
        "clip-b",
        (None, "OVEN PREHEATED"),
        "Whisk the eggs with sugar and butter.",
        0,
        ((40, 160, 70), (200, 60, 60)),
    ),
    VideoSpec(
        "clip-c",
        ("PLATFORM CLOSED", None),
        "The night train leaves for the mountains.",
        1,
        ((120, 120, 120), (20, 20, 90)),
    ),
)
# photo-N: which scikit-image photograph.
PHOTOS = {
    "photo-1": "chelsea",
    "photo-2": "coffee",
    "photo-3": "rocket",
    "photo-4": "motorcycle",
    "photo-5": "astronaut",
}
NOTES = {
    "note-1": "Knead the dough for ten minutes, then let it rise in a warm place until it doubles in size. "
    "Bake the loaf until the crust is golden brown.",
    "note-2": "The central bank raised interest rates by a quarter point to slow inflation, and said further "
    "increases may follow later this year.",
    "note-3": "Domestic cats sleep for up to sixteen hours a day, often curled up in a sunny spot on the "
    "sofa.",
    "note-4": "The rocket lifted off from the launch pad at dawn, carrying a weather satellite into orbit.",
}

# A relevant item: an asset, and for videos the shot (0 or 1) that answers.
Target = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class Query:
    """One labelled query."""

    group: str
    text: str
    relevant: tuple[Target, ...]


QUERIES = (
    # keyword: words of the target are spoken, shown or written in it
    Query("keyword", "lighthouse keeper", (("clip-a", 1),)),
    Query("keyword", "fish market", (("clip-a", 0),)),
    Query("keyword", "eggs sugar butter", (("clip-b", 0),)),
    Query("keyword", "oven preheated", (("clip-b", 1),)),
    Query("keyword", "platform closed", (("clip-c", 0),)),
    Query("keyword", "night train to the mountains", (("clip-c", 1),)),
    Query("keyword", "interest rates and inflation", (("note-2", None),)),
    Query("keyword", "knead the dough", (("note-1", None),)),
    # paraphrase: the meaning in other words
    Query("paraphrase", "a man who tends a beacon tower feeding birds", (("clip-a", 1),)),
    Query("paraphrase", "railway journey to the hills after dark", (("clip-c", 1),)),
    Query("paraphrase", "mixing cake batter", (("clip-b", 0),)),
    Query("paraphrase", "monetary policy decision", (("note-2", None),)),
    Query("paraphrase", "homemade bread recipe", (("note-1", None),)),
    Query("paraphrase", "a kitten napping", (("note-3", None), ("photo-1", None))),
    Query("paraphrase", "spacecraft going into orbit", (("note-4", None), ("photo-3", None))),
    # subject: what a photo shows (and the note on the same subject)
    Query("subject", "a cat", (("photo-1", None), ("note-3", None))),
    Query("subject", "a cup of coffee", (("photo-2", None),)),
    Query("subject", "rocket", (("photo-3", None), ("note-4", None))),
    Query("subject", "motorbike", (("photo-4", None),)),
    Query("subject", "astronaut in a space suit", (("photo-5", None),)),
)


@dataclass(frozen=True, slots=True)
class Hit:
    """One returned moment: which fixture asset, and its time range."""

    asset: str
    start_s: float | None
    end_s: float | None


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What one mode returned for one query, and its scores."""

    query: Query
    mode: str
    hits: tuple[Hit, ...]
    ndcg: float
    recall: float
    latency_ms: float
    # ASSET scope (TEXT and HYBRID): whether the first asset is a relevant one.
    asset_first: bool | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Every query in every mode, the pipeline time and the mean scores."""

    results: tuple[QueryResult, ...]
    pipeline_s: float

    def mean(self, mode: str, metric: str, group: str | None = None) -> float:
        """Mean nDCG@10 (``metric="ndcg"``) or recall@10 of a mode, over all queries or a group."""
        values = [
            getattr(r, metric)
            for r in self.results
            if r.mode == mode and (group is None or r.query.group == group)
        ]
        return statistics.fmean(values)

    def asset_first(self, mode: str) -> float | None:
        """Share of queries whose first ASSET-scope hit is a relevant asset (None: not measured)."""
        values = [r.asset_first for r in self.results if r.mode == mode and r.asset_first is not None]
        return statistics.fmean(values) if values else None

    def latency(self, mode: str) -> tuple[float, float]:
        """Median and max GraphQL latency of a mode, in ms."""
        values = [r.latency_ms for r in self.results if r.mode == mode]
        return statistics.median(values), max(values)

    def table(self) -> str:
        """The results as a Markdown table (overall, then per query group)."""
        groups = sorted({q.group for q in QUERIES}, key=[q.group for q in QUERIES].index)
        lines = [
            "| mode | nDCG@10 | recall@10 | "
            + " | ".join(f"{g} nDCG / recall" for g in groups)
            + " | ASSET right first | p50 ms |",
            "|---|---:|---:|" + "---:|" * len(groups) + "---:|---:|",
        ]
        for mode in MODES:
            cells = [f"{self.mean(mode, 'ndcg'):.3f}", f"{self.mean(mode, 'recall'):.3f}"]
            cells += [
                f"{self.mean(mode, 'ndcg', g):.3f} / {self.mean(mode, 'recall', g):.3f}" for g in groups
            ]
            first = self.asset_first(mode)
            cells.append("-" if first is None else f"{first:.2f}")
            cells.append(f"{self.latency(mode)[0]:.0f}")
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def misses(self) -> list[str]:
        """Queries a mode found nothing relevant for in its top 10 (for the report)."""
        return [f"{r.mode} {r.query.text!r}" for r in self.results if r.recall == 0.0]


def matches(hit: Hit, target: Target) -> bool:
    """Whether a returned moment answers a relevant item: the same asset and, for a video shot,
    a moment that holds the middle of that shot."""
    asset, shot = target
    if hit.asset != asset:
        return False
    if shot is None:
        return True
    middle = (shot + 0.5) * SHOT_S
    return hit.start_s is not None and hit.end_s is not None and hit.start_s <= middle <= hit.end_s


def score(hits: Sequence[Hit], relevant: Sequence[Target], k: int = K) -> tuple[float, float]:
    """Binary-gain nDCG@k and recall@k. Each relevant item counts once, at the first hit that
    answers it; later hits answering the same item gain nothing (a second moment of the same
    note is not a second answer)."""
    found: set[Target] = set()
    dcg = 0.0
    for rank, hit in enumerate(hits[:k], start=1):
        for target in relevant:
            if target not in found and matches(hit, target):
                found.add(target)
                dcg += 1.0 / math.log2(rank + 1)
                break
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal, len(found) / len(relevant)


# --- building and running the corpus -----------------------------------------------------------


def _speech(workdir: Path, spec: VideoSpec) -> SpeechClip:
    """The sentence, starting 0.3 s into its shot, silence elsewhere (10 s in all)."""
    clip = make_speech(workdir / f"{spec.name}-voice.wav", [spec.sentence], words_per_minute=170)
    if clip.duration > SHOT_S - 0.5:
        raise RuntimeError(f"{spec.sentence!r} does not fit in one shot ({clip.duration:.1f} s)")
    audio = np.zeros(int(2 * SHOT_S * SAMPLE_RATE), dtype=np.float32)
    offset = int((spec.spoken_in * SHOT_S + 0.3) * SAMPLE_RATE)
    audio[offset : offset + clip.audio.size] = clip.audio
    path = workdir / f"{spec.name}-track.wav"
    write_wav(path, audio)
    return SpeechClip(path=path, text=spec.sentence, audio=audio, pause_start=0, pause_end=0)


def make_corpus(media: Path) -> dict[str, Path]:
    """Write every fixture file into ``media``; asset name -> path."""
    files: dict[str, Path] = {}
    for spec in VIDEOS:
        clip = make_video(
            media / f"{spec.name}.mp4",
            shot_seconds=SHOT_S,
            shot_colours=spec.colours,
            fps=10,
            speech=_speech(media, spec),
            captions=spec.captions,
        )
        files[spec.name] = clip.path
    for name, photo_name in PHOTOS.items():
        path = media / f"{name}.png"
        path.write_bytes(image_bytes(photo(photo_name)))
        files[name] = path
    for name, text in NOTES.items():
        path = media / f"{name}.txt"
        path.write_text(text + "\n", encoding="utf-8")
        files[name] = path
    return files


async def _run_pipeline(services: Services, files: dict[str, Path], timeout_s: float) -> dict[str, str]:
    """Ingest every file and run the whole real pipeline, with the follow-up jobs it queues
    (the escalation of unsure speech): the corpus is what a user's library holds once the
    service is done with it; asset id -> asset name."""
    settings = services.settings
    # No idle-time upgrade pass: it upgrades one asset at a time whenever the batch queue is
    # idle, so the corpus would depend on when the wait below looks.
    routing = settings.routing.model_copy(deep=True)
    routing.transcribe.upgrade_when_idle = False
    run_settings = settings.model_copy(
        update={
            "stage_lease_seconds": 120.0,
            "sweeper_interval_seconds": 1.0,
            "pubsub_url": "memory://",
            "routing": routing,
        }
    )
    runtime = job_runtime(run_settings, registry=build_registry(STAGE_MODULES), host_services=services)
    await asyncio.to_thread(runtime.start)
    names: dict[str, str] = {}
    try:
        svc = dataclasses.replace(services, settings=run_settings, enqueuer=runtime.enqueuer)
        async with session_scope(services.session_factory) as session:
            tenant = await ensure_tenant(session, slug=settings.default_tenant)
        for name, path in files.items():
            async with session_scope(services.session_factory) as session:
                result = await ingest_path(
                    session, services=svc, tenant_id=tenant.id, path=path, actor="relevance"
                )
            assert result.job is not None
            names[str(result.asset.id)] = name
        assets = [uuid.UUID(asset_id) for asset_id in names]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                async with session_scope(services.session_factory) as session:
                    # Every job over the assets: a follow-up is queued in the transaction that
                    # completes the job it follows, so no moment shows all done before it exists.
                    rows = list(await session.scalars(select(Job).where(Job.asset_id.in_(assets))))
            except DatabaseBusyError:
                # The stages hold SQLite's one write lock; on a loaded machine a poll can
                # wait past the busy timeout. Polling again is all it takes.
                await asyncio.sleep(0.5)
                continue
            pending = [j for j in rows if j.status in (JobStatus.QUEUED, JobStatus.RUNNING)]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} jobs did not finish within {timeout_s:.0f} s")
            await asyncio.sleep(0.5)
        failed = [
            (names[str(j.asset_id)], j.error_code, j.error_message)
            for j in rows
            if j.status != JobStatus.SUCCEEDED
        ]
        if failed:
            raise RuntimeError(f"pipeline failures: {failed}")
    finally:
        await asyncio.to_thread(runtime.stop, 5.0)
    return names


async def _search(
    api: httpx.AsyncClient, text: str, mode: str, *, scope: str = "MOMENT", first: int = K
) -> tuple[list[dict[str, Any]], float]:
    started = time.perf_counter()
    response = await api.post(
        "/graphql",
        json={
            "query": OPERATION.read_text(),
            # No relevance cutoff: these metrics rank every candidate (the cutoff is measured on
            # the harder set, tests/search/relevance_hard.py).
            "variables": {
                "input": {"text": text, "mode": mode, "scope": scope, "minRelevance": 0.0},
                "first": first,
            },
        },
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or "errors" in body:
        raise RuntimeError(f"search {text!r} ({mode}) failed: {body}")
    return [edge["node"] for edge in body["data"]["search"]["edges"]], elapsed_ms


async def _evaluate(workdir: Path, timeout_s: float) -> Report:
    media = workdir / "media"
    data = workdir / "data"
    media.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{workdir / 'relevance.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    settings = Settings(data_dir=data, database_url=url, allowed_roots=[media], log_json=False)
    # A workdir processed before is searched again as it is (asset names saved), so a change to
    # search can be measured before and after on the very same corpus.
    processed = workdir / "names.json"
    files = {} if processed.exists() else await asyncio.to_thread(make_corpus, media)
    services = build_services(settings)
    try:
        started = time.perf_counter()
        if processed.exists():
            names = json.loads(processed.read_text(encoding="utf-8"))
        else:
            names = await _run_pipeline(services, files, timeout_s)
            processed.write_text(json.dumps(names), encoding="utf-8")
        pipeline_s = time.perf_counter() - started
        transport = httpx.ASGITransport(app=create_graphql_app(services))
        results: list[QueryResult] = []
        # A key of its own per run: a kept workdir already holds the previous runs' keys.
        headers = await admin_headers(services, name=f"relevance-{uuid.uuid4().hex[:8]}")
        base = "http://localhost"
        async with httpx.AsyncClient(transport=transport, base_url=base, headers=headers) as api:
            # Warm-up: the first search loads MiniLM into this process (not a relevance cost).
            await _search(api, "warm up", "HYBRID")
            for query in QUERIES:
                for mode in MODES:
                    nodes, elapsed_ms = await _search(api, query.text, mode)
                    hits = tuple(
                        Hit(names.get(_asset_uuid(n["asset"]["id"]), "?"), n["startSeconds"], n["endSeconds"])
                        for n in nodes
                    )
                    ndcg, recall = score(hits, query.relevant)
                    first = None
                    if mode != "SEMANTIC":
                        assets, _ = await _search(api, query.text, mode, scope="ASSET", first=1)
                        wanted = {asset for asset, _ in query.relevant}
                        first = bool(assets) and names.get(_asset_uuid(assets[0]["asset"]["id"])) in wanted
                    results.append(QueryResult(query, mode, hits, ndcg, recall, elapsed_ms, first))
    finally:
        await services.aclose()
    return Report(results=tuple(results), pipeline_s=pipeline_s)


def _asset_uuid(global_id: str) -> str:
    from app.api.ids import parse_global_id

    return str(parse_global_id(global_id, field=["id"])[1])


def evaluate(workdir: Path, *, timeout_s: float = 600.0) -> Report:
    """Build the corpus in ``workdir``, run it through the real pipeline and every query in every
    mode (its own event loop: callers may be synchronous)."""
    return asyncio.run(_evaluate(workdir, timeout_s))

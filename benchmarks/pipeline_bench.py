"""Ingest -> searchable for a 24 s video (4 shots, speech, captions), the service beside a
naive script with the same models (benchmarks/naive_pipeline.py), measured in the same run.

1. The script: its model loading timed on its own, then one video (cold = loading + video,
   warm = the video alone) and a loop over N videos (models loaded once).
2. The service: ``mediakg serve`` (embedded default, in-process broker) on a fresh data dir.
   Cold is the first job after the server answers /readyz; warm a second video after it; then
   N videos ingested at once. A video counts as searchable when its job SUCCEEDED and a search
   for a spoken phrase returns a moment of it. Per-stage times are the job's stage durations.

Every video has its own captions (distinct content: the service skips known content).
Last, ``--rounds`` more videos alternate script and service (warm), so both halves of each pair
see the same load: on a shared machine the sequential parts above can run at different loads.
Usage: ``.venv/bin/python benchmarks/pipeline_bench.py [--videos 20] [--rounds 3]
[--work var/pipeline-bench]``.
Needs espeak-ng. Prints the tables that docs/benchmarks.md quotes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import naive_pipeline  # beside this file: benchmarks/ is on sys.path when run as a script

from tests.fixtures.media import FIRST_SENTENCE, SECOND_SENTENCE, VIDEO_SENTENCE, make_speech, make_video
from tests.fixtures.serve import ServeProcess, graphql_request

# Four shots: each differs from the last in brightness AND hue (ContentDetector misses
# hue-only cuts).
SHOTS = ((30, 40, 140), (235, 170, 40), (40, 160, 70), (200, 60, 170))
SHOT_SECONDS = 6.0
# A phrase the realtime job's fast model (tiny.en) hears right: "searchable" is about the
# pipeline, not the transcript's quality (tiny.en hears the third sentence's "fresh bread" as
# "fresh rent", its words' probability above the escalation threshold, so that phrase waits for
# the idle-time upgrade to base; docs/models.md, "Routing").
QUERY_PHRASE = "quick brown fox"

INGEST = """mutation($input: IngestAssetInput!) { ingestAsset(input: $input) { __typename
  ... on IngestAssetSuccess { asset { id } job { id } } ... on UserError { message } } }"""
JOB = """query($id: ID!) { job(id: $id) { status cost { cpuSeconds }
  stages { edges { node { name status durationSeconds } } } } }"""
SEARCH = """query($text: String!) { search(query: {text: $text}, first: 50) {
  edges { node { asset { id } } } } }"""


def make_media(work: Path, count: int) -> list[Path]:
    """``count`` distinct 24 s videos (cached in ``work``)."""
    work.mkdir(parents=True, exist_ok=True)
    speech = make_speech(
        work / "speech.wav", (VIDEO_SENTENCE, FIRST_SENTENCE, SECOND_SENTENCE), pause_ms=3000
    )
    paths = []
    for i in range(count):
        path = work / f"clip-{i:02d}.mp4"
        if not path.exists():
            captions = [f"Chapter {i} part {n}" for n in range(1, len(SHOTS) + 1)]
            make_video(path, shot_seconds=SHOT_SECONDS, shot_colours=SHOTS, speech=speech, captions=captions)
        paths.append(path)
    return paths


def load_average() -> str:
    """The 1-minute load average now (the machine is shared: every result carries it)."""
    return f"{os.getloadavg()[0]:.1f}"


def run_script(videos: list[Path], batch: list[Path]) -> dict[str, Any]:
    loads = [load_average()]
    models = naive_pipeline.load_models()
    cold = naive_pipeline.process(models, videos[0])
    cpu = time.process_time()
    warm = naive_pipeline.process(models, videos[1])
    warm_cpu = time.process_time() - cpu
    loads.append(load_average())
    started = time.perf_counter()
    for path in batch:
        naive_pipeline.process(models, path)
    loads.append(load_average())
    return {
        "load": models.load_seconds,
        "cold": cold,
        "warm": warm,
        "warm_cpu": warm_cpu,
        "loop": time.perf_counter() - started,
        "loads": loads,
        "models": models,
    }


def ingest(serve: ServeProcess, path: Path) -> tuple[str, str]:
    body = graphql_request(serve, INGEST, {"input": {"source": {"path": str(path)}, "title": path.stem}})
    result = body["data"]["ingestAsset"]
    if result["__typename"] != "IngestAssetSuccess" or result["job"] is None:
        raise RuntimeError(f"ingest of {path} failed: {body}")
    return result["asset"]["id"], result["job"]["id"]


def wait_searchable(
    serve: ServeProcess, asset_id: str, job_id: str, timeout_s: float = 1800
) -> dict[str, float]:
    """Poll until the job succeeded and a search finds the asset; the job's stage durations
    (and its CPU-seconds under ``cpu``)."""
    deadline = time.monotonic() + timeout_s
    stages: dict[str, float] = {}
    while time.monotonic() < deadline:
        job = graphql_request(serve, JOB, {"id": job_id})["data"]["job"]
        if job["status"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"job {job_id} ended {job['status']}: {job}")
        if job["status"] == "SUCCEEDED":
            stages = {e["node"]["name"]: e["node"]["durationSeconds"] or 0.0 for e in job["stages"]["edges"]}
            stages["cpu"] = (job.get("cost") or {}).get("cpuSeconds") or 0.0
            hits = graphql_request(serve, SEARCH, {"text": QUERY_PHRASE})["data"]["search"]["edges"]
            if any(h["node"]["asset"]["id"] == asset_id for h in hits if h["node"]["asset"]):
                return stages
        time.sleep(0.1)
    raise TimeoutError(f"asset {asset_id} not searchable within {timeout_s} s")


def one_video(serve: ServeProcess, path: Path) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    asset_id, job_id = ingest(serve, path)
    stages = wait_searchable(serve, asset_id, job_id)
    return time.perf_counter() - started, stages


def alternate(
    serve: ServeProcess, models: naive_pipeline.Models, clips: list[Path]
) -> list[tuple[float, float]]:
    """(script, service) seconds per clip, warm, one after the other: both see the same load."""
    pairs = []
    for path in clips:
        script_s = math.fsum(naive_pipeline.process(models, path).seconds.values())
        pairs.append((script_s, one_video(serve, path)[0]))
    return pairs


def run_service(
    videos: list[Path],
    batch: list[Path],
    media_root: Path,
    clips: list[Path],
    models: naive_pipeline.Models,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        loads = [load_average()]
        started = time.perf_counter()
        with ServeProcess.start(
            Path(tmp), allowed_roots=media_root, ready_within=600, warm_models=True
        ) as serve:
            ready = time.perf_counter() - started
            cold = one_video(serve, videos[0])
            warm = one_video(serve, videos[1])
            loads.append(load_average())
            started = time.perf_counter()
            ids = [ingest(serve, path) for path in batch]
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda pair: wait_searchable(serve, *pair), ids))
            loop = time.perf_counter() - started
            loads.append(load_average())
            pairs = alternate(serve, models, clips)
            loads.append(load_average())
    return {"ready": ready, "cold": cold, "warm": warm, "loop": loop, "loads": loads, "pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--videos", type=int, default=20, help="videos queued at once (default 20)")
    parser.add_argument("--work", type=Path, default=Path("var/pipeline-bench"))
    parser.add_argument(
        "--rounds", type=int, default=3, help="warm videos measured alternating script and service"
    )
    args = parser.parse_args()
    work = args.work.resolve()
    paths = make_media(work, args.videos + 2 + args.rounds)
    videos, batch, clips = paths[:2], paths[2 : 2 + args.videos], paths[2 + args.videos :]

    script = run_script(videos, batch)
    service = run_service(videos, batch, work, clips, script["models"])
    pairs = service["pairs"]

    load = script["load"]
    s_cold, s_warm = script["cold"], script["warm"]
    s_cold_total = load + sum(s_cold.seconds.values())
    s_warm_total = sum(s_warm.seconds.values())
    v_cold, v_cold_stages = service["cold"]
    v_warm, v_warm_stages = service["warm"]
    s_loads, v_loads = script["loads"], service["loads"]
    v_warm_cpu = v_warm_stages.pop("cpu", 0.0)
    v_cold_stages.pop("cpu", None)
    lines = [
        "## Pipeline: ingest -> searchable (pipeline_bench.py)",
        "",
        f"24 s video (4 shots, speech, captions); {os.cpu_count()} CPUs. 1-minute load average "
        "before / after each part (the machine is shared; the script runs first, then the service).",
        "",
        "| run | service (s) | script (s) | ratio | target | load: service | load: script |",
        "|---|---:|---:|---:|---|---|---|",
        f"| cold: first job after start / script incl. loading ({load:.2f} s) | {v_cold:.2f} | "
        f"{s_cold_total:.2f} | {v_cold / s_cold_total:.2f} | <= 1.0 | {v_loads[0]} / {v_loads[1]} | "
        f"{s_loads[0]} / {s_loads[1]} |",
        f"| warm: ingest -> searchable / script after loading | {v_warm:.2f} | {s_warm_total:.2f} | "
        f"{v_warm / s_warm_total:.2f} | <= 0.7 | {v_loads[0]} / {v_loads[1]} | {s_loads[0]} / {s_loads[1]} |",
        f"| {len(batch)} videos at once / script loop | {service['loop']:.2f} | {script['loop']:.2f} | "
        f"{service['loop'] / script['loop']:.2f} | <= 0.7 | {v_loads[1]} / {v_loads[2]} | "
        f"{s_loads[1]} / {s_loads[2]} |",
    ]
    if pairs:
        s_median = statistics.median(p[0] for p in pairs)
        v_median = statistics.median(p[1] for p in pairs)
        lines.append(
            f"| warm, alternating script and service, median of {len(pairs)} | {v_median:.2f} | "
            f"{s_median:.2f} | {v_median / s_median:.2f} | <= 0.7 | {v_loads[2]} / {v_loads[3]} | "
            "same |"
        )
    lines += [
        "",
        f"CPU-seconds of the warm video: service {v_warm_cpu:.2f} (the job's cost meter; it also "
        f"detects labels and faces, writes keyframes and indexes), script {script['warm_cpu']:.2f} "
        "(process time).",
        "",
        f"Service start to /readyz (stage models warmed there unless MEDIAKG_WARM_MODELS=false): "
        f"{service['ready']:.2f} s",
        "",
        "| stage | service cold (s) | service warm (s) | script cold (s) | script warm (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    names = list(dict.fromkeys([*v_warm_stages, *naive_pipeline.STAGES]))
    for name in names:
        cells = [
            v_cold_stages.get(name),
            v_warm_stages.get(name),
            s_cold.seconds.get(name),
            s_warm.seconds.get(name),
        ]
        lines.append(f"| {name} | " + " | ".join("-" if c is None else f"{c:.2f}" for c in cells) + " |")
    stage_sum = math.fsum(v_warm_stages.values())
    lines.append(f"\nWarm service: stage durations sum to {stage_sum:.2f} s of {v_warm:.2f} s end to end.")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Hybrid search latency on the embedded backend over generated moments, next to a brute-force
baseline measured in the same run.

    .venv/bin/python benchmarks/search_bench.py [--moments 100000] [--queries 200] [--no-ann]

The corpus: ``--moments`` scenes (10 per asset) with a 384-d vector (the size of
all-MiniLM-L6-v2) and two transcript lines of Zipf-distributed synthetic words. Vectors are
random but clustered, as sentence embeddings are: ``CLUSTERS`` Gaussian centres, each vector
a centre plus noise of the same scale (pure noise would make every neighbour equally far,
which no HNSW graph, and no real library, looks like). Each query is two or three
mid-frequency words plus a vector drawn the same way, for one tenant, k=100, page of 20, in
MOMENT scope and in ASSET scope (where the kNN ranks each asset at its best moment).

The same index file is searched by two backends in one run: exact kNN (the in-memory float32
matrix) and the HNSW graph (``ann_threshold=1``: search/embedded/ann.py), so the graph's
latency, its recall@10 against exact search and its memory stand beside the exact baseline
measured under the same machine load (``uptime`` is printed before and after).

The baseline keeps the same data in plain Python/numpy with no index: it scores every
transcript with BM25 in Python, computes cosine against every vector with numpy, and fuses
with the same RRF, so the gap shows what the FTS5 index and the cached, normalised matrix buy.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from search.backend import GenerationSpec, VectorSpec
from search.documents import AssetDocument, DocType, MomentDocument, TimedText, Vector, VectorField
from search.embedded import EmbeddedBackend
from search.fusion import reciprocal_rank_fusion
from search.query import QueryVector, SearchQuery, tokenize

DIMS = 384
MODEL = "bench@1"
TENANT = "bench"
MOMENTS_PER_ASSET = 10
K = 100
PAGE = 20
CLUSTERS = 2000


def clustered(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    """``count`` vectors, each a random centre plus Gaussian noise of the centres' scale."""
    return (centres[rng.integers(0, len(centres), count)] + rng.normal(size=(count, DIMS))).astype(np.float32)


def resident_mb() -> float:
    """This process's resident memory (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters, size=int(rng.integers(4, 9)))))
    return sorted(words)


def zipf_words(vocab: Sequence[str], count: int, rng: np.random.Generator) -> list[str]:
    ranks = np.minimum(rng.zipf(1.2, size=count), len(vocab)) - 1
    return [vocab[i] for i in ranks]


def make_corpus(
    moments: int, rng: np.random.Generator, centres: np.ndarray
) -> tuple[list[AssetDocument], list[str], np.ndarray]:
    vocab = vocabulary(5000, rng)
    vectors = clustered(rng, centres, moments)
    texts: list[str] = []
    assets: list[AssetDocument] = []
    for asset_index in range(math.ceil(moments / MOMENTS_PER_ASSET)):
        scenes = []
        for scene in range(MOMENTS_PER_ASSET):
            row = asset_index * MOMENTS_PER_ASSET + scene
            if row >= moments:
                break
            first, second = " ".join(zipf_words(vocab, 12, rng)), " ".join(zipf_words(vocab, 12, rng))
            texts.append(f"{first}\n{second}")
            start = scene * 8.0
            scenes.append(
                MomentDocument(
                    scene_id=f"s{scene}",
                    start_s=start,
                    end_s=start + 8.0,
                    transcript=(
                        TimedText(start, start + 4.0, first),
                        TimedText(start + 4.0, start + 8.0, second),
                    ),
                    vectors={VectorField.TEXT: Vector(values=vectors[row], model_version=MODEL)},
                )
            )
        assets.append(
            AssetDocument(
                tenant_id=TENANT,
                asset_id=f"a{asset_index}",
                version=1,
                kind="video",
                title=f"asset {asset_index}",
                created_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=asset_index),
                moments=tuple(scenes),
            )
        )
    return assets, texts, vectors


class BruteForce:
    """The same data with no index: BM25 in Python over every text, cosine over every vector."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.docs = [Counter(tokenize(text)) for text in texts]
        self.lengths = np.array([sum(doc.values()) for doc in self.docs], dtype=np.float64)
        self.vectors = vectors

    def search(self, text: str, vector: np.ndarray) -> list[int]:
        terms = tokenize(text)
        n = len(self.docs)
        average = float(self.lengths.mean())
        scores: dict[int, float] = {}
        for term in terms:
            holders = [i for i, doc in enumerate(self.docs) if term in doc]
            idf = math.log(1 + (n - len(holders) + 0.5) / (len(holders) + 0.5))
            for i in holders:
                tf = self.docs[i][term]
                scores[i] = scores.get(i, 0.0) + idf * tf * 2.2 / (
                    tf + 1.2 * (0.25 + 0.75 * self.lengths[i] / average)
                )
        text_top = sorted(scores.items(), key=lambda item: -item[1])[:K]
        norms = np.linalg.norm(self.vectors, axis=1) * np.linalg.norm(vector)
        sims = (self.vectors @ vector) / norms
        best = np.argpartition(-sims, K)[:K]
        vector_top = sorted(((int(i), float(sims[i])) for i in best), key=lambda item: -item[1])
        fused = reciprocal_rank_fusion(
            {
                "text": [(str(i), s) for i, s in text_top],
                "vector:text": [(str(i), s) for i, s in vector_top],
            }
        )
        return [int(item.doc_id) for item in fused[:PAGE]]


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def run(moments: int, queries: int, seed: int, directory: Path, ann: bool) -> None:
    rng = np.random.default_rng(seed)
    out = sys.stdout.write
    out(f"load before: {uptime()}\n")
    out(f"generating {moments} moments ({DIMS}-d clustered vectors, synthetic transcripts)...\n")
    centres = rng.normal(size=(CLUSTERS, DIMS)).astype(np.float32)
    assets, texts, vectors = make_corpus(moments, rng, centres)
    path = directory / "index.sqlite3"
    backend = EmbeddedBackend(path)
    await backend.create_generation(
        GenerationSpec(name="bench", vectors={VectorField.TEXT: VectorSpec(DIMS, MODEL)})
    )
    started = time.perf_counter()
    for start in range(0, len(assets), 500):
        report = await backend.upsert(assets[start : start + 500])
        assert report.ok, report.failures
    index_s = time.perf_counter() - started
    out(f"indexed in {index_s:.1f} s ({moments / index_s:.0f} moments/s)\n")
    del assets

    vocab_counts = Counter(word for text in texts for word in tokenize(text))
    # Mid-frequency words: present in tens to hundreds of moments, like a real query term.
    candidates = [word for word, count in vocab_counts.items() if 20 <= count <= 400]
    query_vectors = clustered(rng, centres, queries)
    workload = [
        (" ".join(rng.choice(candidates, size=int(rng.integers(2, 4)), replace=False)), query_vectors[i])
        for i in range(queries)
    ]

    def query(text: str, vector: np.ndarray | None, scope: DocType = DocType.MOMENT) -> SearchQuery:
        vectors = (QueryVector.of(VectorField.TEXT, vector, MODEL),) if vector is not None else ()
        return SearchQuery(tenant_id=TENANT, text=text or None, vectors=vectors, k=K, limit=PAGE, scope=scope)

    async def measure(engine: EmbeddedBackend, label: str) -> tuple[dict[str, list[float]], list[list[str]]]:
        before = resident_mb()
        started = time.perf_counter()
        await engine.search(query(workload[0][0], workload[0][1]))
        cold_ms = (time.perf_counter() - started) * 1000
        out(f"{label}: first query {cold_ms:.0f} ms (loads or builds the vectors), ")
        out(f"resident memory +{resident_mb() - before:.0f} MB\n")
        timings: dict[str, list[float]] = {
            "hybrid": [],
            "text only": [],
            "vector only": [],
            # ASSET scope: the kNN ranks each asset at its best moment (4 x k moments asked).
            "ASSET scope hybrid": [],
            "ASSET scope vector only": [],
        }
        tops: list[list[str]] = []
        for text, vector in workload:
            for name, q in (
                ("hybrid", query(text, vector)),
                ("text only", query(text, None)),
                ("vector only", query("", vector)),
                ("ASSET scope hybrid", query(text, vector, DocType.ASSET)),
                ("ASSET scope vector only", query("", vector, DocType.ASSET)),
            ):
                started = time.perf_counter()
                result = await engine.search(q)
                timings[name].append((time.perf_counter() - started) * 1000)
                if name == "vector only":
                    tops.append([hit.doc_id for hit in result.hits[:10]])
        return timings, tops

    exact_timings, exact_tops = await measure(backend, "exact")
    await backend.aclose()
    rows: list[tuple[str, dict[str, list[float]]]] = [("exact kNN", exact_timings)]
    recall = None
    if ann:
        # Built inside the first query (not in the background, where the first queries would
        # still be exact ones): the timings below are the graph's.
        graph = EmbeddedBackend(path, ann_threshold=1, ann_background=False)
        graph_timings, graph_tops = await measure(graph, "graph (build)")
        await graph.aclose()
        # A restart: a new instance loads the saved graph instead of building it.
        reloaded = EmbeddedBackend(path, ann_threshold=1, ann_background=False)
        before = resident_mb()
        started = time.perf_counter()
        await reloaded.search(query(workload[0][0], workload[0][1]))
        restart_ms = (time.perf_counter() - started) * 1000
        out(f"graph (restart): first query {restart_ms:.0f} ms (loads the saved graph), ")
        out(f"resident memory +{resident_mb() - before:.0f} MB\n")
        await reloaded.aclose()
        saved = sum(f.stat().st_size for f in (directory / "ann").iterdir())
        out(f"saved graph: {saved / 1e6:.0f} MB; exact float32 matrix: {moments * DIMS * 4 / 1e6:.0f} MB\n")
        rows.append(("HNSW int8 graph + exact re-score", graph_timings))
        recall = sum(len(set(a) & set(b)) for a, b in zip(exact_tops, graph_tops, strict=True)) / (
            10 * len(exact_tops)
        )
    brute = BruteForce(texts, vectors)
    brute_timings = []
    for text, vector in workload[: max(10, queries // 10)]:
        started = time.perf_counter()
        brute.search(text, vector)
        brute_timings.append((time.perf_counter() - started) * 1000)

    out(f"\n| search ({moments} moments, k={K}, page {PAGE}) | queries | p50 ms | p95 ms |\n")
    out("|---|---:|---:|---:|\n")
    for label, timings in rows:
        for name, samples in timings.items():
            p50, p95 = percentiles(samples)
            out(f"| embedded {name}, {label} | {len(samples)} | {p50:.1f} | {p95:.1f} |\n")
    p50, p95 = percentiles(brute_timings)
    label = "brute force hybrid (Python BM25 scan + numpy scan + RRF)"
    out(f"| {label} | {len(brute_timings)} | {p50:.1f} | {p95:.1f} |\n")
    if recall is not None:
        out(f"\nvector recall@10 of the graph vs exact kNN: {recall:.3f} ({len(exact_tops)} queries)\n")
    out(f"load after: {uptime()}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--moments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-ann", dest="ann", action="store_false", help="exact kNN only")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the index file goes (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args.moments, args.queries, args.seed, args.dir, args.ann))
        return
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(args.moments, args.queries, args.seed, Path(directory), args.ann))


if __name__ == "__main__":
    main()

"""Hybrid search latency on the embedded backend over generated moments, next to a brute-force
baseline measured in the same run.

    .venv/bin/python benchmarks/search_bench.py [--moments 100000] [--queries 200]

The corpus: ``--moments`` scenes (10 per asset) with a 384-d random vector (the size of
all-MiniLM-L6-v2) and two transcript lines of Zipf-distributed synthetic words. Each query is
two or three mid-frequency words plus a random vector, for one tenant, k=100, page of 20.

The baseline keeps the same data in plain Python/numpy with no index: it scores every
transcript with BM25 in Python, computes cosine against every vector with numpy, and fuses
with the same RRF, so the gap shows what the FTS5 index and the cached, normalised matrix buy.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from search.backend import GenerationSpec, VectorSpec
from search.documents import AssetDocument, MomentDocument, TimedText, Vector, VectorField
from search.embedded import EmbeddedBackend
from search.fusion import reciprocal_rank_fusion
from search.query import QueryVector, SearchQuery, tokenize

DIMS = 384
MODEL = "bench@1"
TENANT = "bench"
MOMENTS_PER_ASSET = 10
K = 100
PAGE = 20


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters, size=int(rng.integers(4, 9)))))
    return sorted(words)


def zipf_words(vocab: Sequence[str], count: int, rng: np.random.Generator) -> list[str]:
    ranks = np.minimum(rng.zipf(1.2, size=count), len(vocab)) - 1
    return [vocab[i] for i in ranks]


def make_corpus(moments: int, rng: np.random.Generator) -> tuple[list[AssetDocument], list[str], np.ndarray]:
    vocab = vocabulary(5000, rng)
    vectors = rng.normal(size=(moments, DIMS)).astype(np.float32)
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


async def run(moments: int, queries: int, seed: int, directory: Path) -> None:
    rng = np.random.default_rng(seed)
    out = sys.stdout.write
    out(f"generating {moments} moments ({DIMS}-d vectors, synthetic transcripts)...\n")
    assets, texts, vectors = make_corpus(moments, rng)
    backend = EmbeddedBackend(directory / "index.sqlite3")
    await backend.create_generation(
        GenerationSpec(name="bench", vectors={VectorField.TEXT: VectorSpec(DIMS, MODEL)})
    )
    started = time.perf_counter()
    for start in range(0, len(assets), 500):
        report = await backend.upsert(assets[start : start + 500])
        assert report.ok, report.failures
    index_s = time.perf_counter() - started
    out(f"indexed in {index_s:.1f} s ({moments / index_s:.0f} moments/s)\n")

    vocab_counts = Counter(word for text in texts for word in tokenize(text))
    # Mid-frequency words: present in tens to hundreds of moments, like a real query term.
    candidates = [word for word, count in vocab_counts.items() if 20 <= count <= 400]
    workload = [
        (" ".join(rng.choice(candidates, size=int(rng.integers(2, 4)), replace=False)), rng.normal(size=DIMS))
        for _ in range(queries)
    ]

    def query(text: str, vector: np.ndarray | None) -> SearchQuery:
        vectors = (QueryVector.of(VectorField.TEXT, vector, MODEL),) if vector is not None else ()
        return SearchQuery(tenant_id=TENANT, text=text or None, vectors=vectors, k=K, limit=PAGE)

    started = time.perf_counter()
    await backend.search(query(workload[0][0], workload[0][1]))
    cold_ms = (time.perf_counter() - started) * 1000

    timings: dict[str, list[float]] = {"hybrid": [], "text only": [], "vector only": [], "brute force": []}
    for text, vector in workload:
        for name, q in (
            ("hybrid", query(text, vector)),
            ("text only", query(text, None)),
            ("vector only", query("", vector)),
        ):
            started = time.perf_counter()
            await backend.search(q)
            timings[name].append((time.perf_counter() - started) * 1000)
    brute = BruteForce(texts, vectors)
    for text, vector in workload[: max(10, queries // 10)]:
        started = time.perf_counter()
        brute.search(text, vector)
        timings["brute force"].append((time.perf_counter() - started) * 1000)
    await backend.aclose()

    out(f"\nfirst hybrid query (loads the {moments}x{DIMS} matrix): {cold_ms:.0f} ms\n\n")
    out(f"| search ({moments} moments, k={K}, page {PAGE}) | queries | p50 ms | p95 ms |\n")
    out("|---|---:|---:|---:|\n")
    labels = {
        "hybrid": "embedded hybrid (FTS5 BM25 + exact kNN + RRF)",
        "text only": "embedded BM25 only",
        "vector only": "embedded kNN only",
        "brute force": "brute force hybrid (Python BM25 scan + numpy scan + RRF)",
    }
    for name, samples in timings.items():
        p50, p95 = percentiles(samples)
        out(f"| {labels[name]} | {len(samples)} | {p50:.1f} | {p95:.1f} |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--moments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the index file goes (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args.moments, args.queries, args.seed, args.dir))
        return
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(args.moments, args.queries, args.seed, Path(directory)))


if __name__ == "__main__":
    main()

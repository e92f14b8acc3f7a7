"""Model benchmarks: quality and speed of model versions on the fixture sets, as a markdown table.

Quality per task: word error rate on espeak-ng speech (transcribe), exact-match rate on drawn
captions dark-on-light and white-on-dark (ocr), top-5 label accuracy on scikit-image's photos
(labels), recall@1 / recall@3 of a small query -> passage retrieval set (embed_text), and
recall@1 of re-encoded photos against the originals (embed_image). Speed: median latency of one
call and items per second over the set. Any backend can be measured (local, Triton, or the
fallback stack), so the same table compares versions and deployments.

The fixture sets and their generators are in :mod:`inference.benchsets`, so the benchmark runs
wherever the service is installed. Speech needs espeak-ng and the photos (labels, embed_image)
need scikit-image; without them the task's row says so (value NaN and a note) instead of failing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.backend import InferenceBackend, strings
from inference.benchsets import (
    FIRST_SENTENCE,
    LABEL_SET,
    OCR_SET,
    PHOTOS,
    RETRIEVAL_SET,
    SECOND_SENTENCE,
    VIDEO_SENTENCE,
    espeak_available,
    make_speech,
    photo,
    photos_available,
    text_image,
)
from inference.models.base import as_strings
from inference.preprocess import imagenet_pixels
from inference.quality import word_error_rate
from inference.registry import ModelRegistry, ModelSpec, Task, Tensors

NO_PHOTOS = "scikit-image not installed (it ships the photos)"


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One model version's result on one task."""

    task: Task
    model: str
    backend: str
    metric: str
    value: float
    items: int
    p50_ms: float
    items_per_s: float
    note: str = ""


class _Timer:
    def __init__(self) -> None:
        self.calls: list[float] = []
        self.items = 0

    async def run(self, backend: InferenceBackend, spec: ModelSpec, inputs: Tensors, items: int) -> Tensors:
        started = time.perf_counter()
        out = await backend.infer(spec, inputs)
        self.calls.append(time.perf_counter() - started)
        self.items += items
        return out

    def row(
        self, spec: ModelSpec, backend: InferenceBackend, metric: str, value: float, note: str = ""
    ) -> BenchRow:
        total = sum(self.calls) or 1e-9
        return BenchRow(
            spec.task,
            spec.key,
            backend.name,
            metric,
            value,
            self.items,
            1000 * statistics.median(self.calls) if self.calls else 0.0,
            self.items / total,
            note,
        )


def recall_at_k(queries: npt.NDArray[np.float32], docs: npt.NDArray[np.float32], k: int) -> float:
    """Share of queries whose own passage (same row index) is among the ``k`` most similar."""
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean([i in row for i, row in enumerate(top)]))


async def bench_embed_text(backend: InferenceBackend, spec: ModelSpec, scratch: Path) -> list[BenchRow]:
    """recall@1 and recall@3 of the retrieval set; each query is one call (latency per item)."""
    timer = _Timer()
    docs = (await backend.infer(spec, {"text": strings([d for _, d in RETRIEVAL_SET])}))["embedding"]
    queries = []
    for query, _ in RETRIEVAL_SET:
        queries.append((await timer.run(backend, spec, {"text": strings([query])}, 1))["embedding"][0])
    q = np.asarray(queries, dtype=np.float32)
    d = np.asarray(docs, dtype=np.float32)
    return [
        timer.row(spec, backend, "recall@1", recall_at_k(q, d, 1)),
        timer.row(spec, backend, "recall@3", recall_at_k(q, d, 3)),
    ]


async def bench_transcribe(backend: InferenceBackend, spec: ModelSpec, scratch: Path) -> list[BenchRow]:
    """Mean word error rate on espeak-ng speech; throughput in audio seconds per second."""
    timer = _Timer()
    if not espeak_available():
        return [timer.row(spec, backend, "WER", float("nan"), "espeak-ng not installed")]
    clips = [
        make_speech(scratch / "two.wav", (FIRST_SENTENCE, SECOND_SENTENCE)),
        make_speech(scratch / "one.wav", (VIDEO_SENTENCE,), pause_ms=500),
    ]
    wers = []
    for clip in clips:
        out = await timer.run(backend, spec, {"audio": clip.audio}, round(clip.duration))
        wers.append(word_error_rate(clip.text, " ".join(as_strings(out["segment_text"]))))
    return [timer.row(spec, backend, "WER", float(np.mean(wers)), "items = audio seconds")]


async def bench_ocr(backend: InferenceBackend, spec: ModelSpec, scratch: Path) -> list[BenchRow]:
    """Exact-match rate of drawn captions in both polarities."""
    timer = _Timer()
    hits = []
    for text in OCR_SET:
        for dark in (False, True):
            out = await timer.run(backend, spec, {"image": text_image(text, dark=dark)}, 1)
            hits.append(" ".join(as_strings(out["text"])) == text)
    return [timer.row(spec, backend, "exact match", float(np.mean(hits)))]


async def bench_labels(backend: InferenceBackend, spec: ModelSpec, scratch: Path) -> list[BenchRow]:
    """Top-5 accuracy on the labelled photos."""
    timer = _Timer()
    if not photos_available():
        return [timer.row(spec, backend, "top-5 accuracy", float("nan"), NO_PHOTOS)]
    hits = []
    for name, expected in LABEL_SET.items():
        probs = (await timer.run(backend, spec, {"pixels": imagenet_pixels([photo(name)])}, 1))["probs"][0]
        hits.append(bool(set(np.argsort(probs)[::-1][:5].tolist()) & expected))
    return [timer.row(spec, backend, "top-5 accuracy", float(np.mean(hits)))]


async def bench_embed_image(backend: InferenceBackend, spec: ModelSpec, scratch: Path) -> list[BenchRow]:
    """recall@1 of half-size re-encodings of each photo against the originals."""
    from PIL import Image

    timer = _Timer()
    if not photos_available():
        return [timer.row(spec, backend, "recall@1", float("nan"), NO_PHOTOS)]
    originals = [photo(name) for name in PHOTOS]
    smaller = [
        np.asarray(Image.fromarray(p).resize((p.shape[1] // 2, p.shape[0] // 2)), dtype=np.uint8)
        for p in originals
    ]
    docs = (await backend.infer(spec, {"pixels": imagenet_pixels(originals)}))["embedding"]
    queries = [
        (await timer.run(backend, spec, {"pixels": imagenet_pixels([s])}, 1))["embedding"][0] for s in smaller
    ]
    q = np.asarray(queries, dtype=np.float32)
    return [timer.row(spec, backend, "recall@1", recall_at_k(q, np.asarray(docs, dtype=np.float32), 1))]


BENCHES: dict[Task, Callable[[InferenceBackend, ModelSpec, Path], Awaitable[list[BenchRow]]]] = {
    "embed_text": bench_embed_text,
    "transcribe": bench_transcribe,
    "ocr": bench_ocr,
    "labels": bench_labels,
    "embed_image": bench_embed_image,
}


async def run_bench(
    backend: InferenceBackend,
    registry: ModelRegistry,
    *,
    tasks: Sequence[Task] = tuple(BENCHES),
    models: Sequence[str] = (),
) -> list[BenchRow]:
    """Every registered version of each task (or only ``models``, by key), one after another."""
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="mediakg-bench-") as scratch:
        for task in tasks:
            bench = BENCHES.get(task)
            if bench is None:
                raise ValueError(f"no benchmark for task {task!r}; known: {', '.join(BENCHES)}")
            for spec in sorted(registry.for_task(task), key=lambda s: s.key):
                if models and spec.key not in models:
                    continue
                # A first call loads the model; loading is not what the table measures.
                await bench(backend, spec, Path(scratch))
                rows += await bench(backend, spec, Path(scratch))
    return rows


def to_markdown(rows: Sequence[BenchRow]) -> str:
    """The table ``mediakg models bench`` prints and writes."""
    lines = [
        "| task | model | backend | metric | value | items | p50 ms | items/s | note |",
        "|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.task} | {r.model} | {r.backend} | {r.metric} | {r.value:.3f} | {r.items} | "
            f"{r.p50_ms:.1f} | {r.items_per_s:.1f} | {r.note} |"
        )
    return "\n".join(lines) + "\n"

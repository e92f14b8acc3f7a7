"""Shadow mode: run a candidate model version beside the live one and record how often they agree.

:class:`ShadowBackend` wraps the router's backend. Each call to a live model that has a
candidate is answered by the live model as usual; on a sample of those calls the same inputs
are also sent to the candidate, in the background, and the two outputs are compared with a
task-appropriate measure. The caller never waits for the candidate and never sees its errors;
at most ``max_pending`` comparisons run at once, further samples are skipped rather than queued,
so a slow candidate cannot build up load. The report tells whether an upgrade is safe to switch.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inference.backend import InferenceBackend
from inference.models.base import as_strings
from inference.quality import word_error_rate
from inference.registry import ModelRegistry, ModelSpec, Tensors
from inference.router import InferenceRouter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShadowConfig:
    """Which candidates shadow which live models, and how much traffic they see."""

    # Live registry key -> candidate registry key (same task and input contract).
    candidates: Mapping[str, str] = field(default_factory=dict)
    sample_rate: float = 0.1
    max_pending: int = 4
    # Embeddings agree when every row's cosine with the live row is at least this.
    min_cosine: float = 0.98
    # Transcripts agree when the candidate's word error rate against the live text is at most this.
    max_wer: float = 0.1


@dataclass(slots=True)
class ShadowRecord:
    """Agreement of one candidate with its live model so far."""

    live: str
    candidate: str
    compared: int = 0
    agreed: int = 0
    score_sum: float = 0.0
    failures: int = 0
    skipped: int = 0
    live_seconds: float = 0.0
    candidate_seconds: float = 0.0

    @property
    def agreement(self) -> float:
        """Share of compared calls where the outputs agreed."""
        return self.agreed / self.compared if self.compared else 0.0

    @property
    def mean_score(self) -> float:
        """Mean similarity score (cosine, 1 - WER, top-1 match, exact match)."""
        return self.score_sum / self.compared if self.compared else 0.0


def _cosines(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    x = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    y = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if x.shape != y.shape:
        return np.zeros(len(x))
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return np.asarray((x * y).sum(axis=1) / np.clip(norms, 1e-12, None), dtype=np.float64)


def compare(spec: ModelSpec, live: Tensors, candidate: Tensors, config: ShadowConfig) -> tuple[float, bool]:
    """(score in [0, 1], agreed) for two outputs of the same task."""
    match spec.task:
        case "embed_text" | "embed_image" | "embed_bridge" | "embed_text_clip" | "embed_image_clip":
            cos = _cosines(live["embedding"], candidate["embedding"])
            if cos.size == 0:
                return 1.0, True
            return float(cos.mean()), bool(cos.min() >= config.min_cosine)
        case "labels":
            same = np.argmax(live["probs"], axis=1) == np.argmax(candidate["probs"], axis=1)
            return float(same.mean()) if same.size else 1.0, bool(same.all())
        case "transcribe":
            ref = " ".join(as_strings(live["segment_text"]))
            hyp = " ".join(as_strings(candidate["segment_text"]))
            wer = word_error_rate(ref, hyp) if ref.strip() else float(bool(hyp.strip()))
            return max(0.0, 1.0 - wer), wer <= config.max_wer
        case "ocr":
            same = as_strings(live["text"]) == as_strings(candidate["text"])
            return float(same), same
        case "faces":
            same = live["boxes"].shape == candidate["boxes"].shape
            return float(same), same
        case "face_descriptors":
            a = np.asarray(live["descriptor"], dtype=np.float64)
            b = np.asarray(candidate["descriptor"], dtype=np.float64)
            if a.shape != b.shape:
                return 0.0, False
            gap = float(np.linalg.norm(a - b, axis=1).max()) if len(a) else 0.0
            # A tenth of the same-person threshold: numerically the same face.
            return max(0.0, 1.0 - gap), gap < 0.06
    raise ValueError(f"no shadow comparison for task {spec.task!r}")


class ShadowBackend:
    """Answers from ``inner``; compares a sample with ``candidate_backend`` in the background."""

    def __init__(
        self,
        inner: InferenceBackend,
        *,
        registry: ModelRegistry,
        config: ShadowConfig,
        candidate_backend: InferenceBackend | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.candidate_backend = candidate_backend or inner
        self.config = config
        self._rng = rng or random.Random()
        self._candidates: dict[str, ModelSpec] = {}
        self.records: dict[str, ShadowRecord] = {}
        for live_key, candidate_key in config.candidates.items():
            live = registry.get(*live_key.split(":", 1))
            candidate = registry.get(*candidate_key.split(":", 1))
            if live.task != candidate.task or live.inputs != candidate.inputs:
                raise ValueError(f"{candidate.key} cannot shadow {live.key}: different task or inputs")
            self._candidates[live.key] = candidate
            self.records[live.key] = ShadowRecord(live.key, candidate.key)
        self._pending: set[asyncio.Task[None]] = set()

    async def infer(self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]]) -> Tensors:
        """The live answer, unchanged; maybe a background comparison with the candidate."""
        started = time.perf_counter()
        outputs = await self.inner.infer(spec, inputs)
        candidate = self._candidates.get(spec.key)
        if candidate is not None and self._rng.random() < self.config.sample_rate:
            record = self.records[spec.key]
            if len(self._pending) >= self.config.max_pending:
                record.skipped += 1
            else:
                elapsed = time.perf_counter() - started
                task = asyncio.get_running_loop().create_task(
                    self._shadow(spec, candidate, dict(inputs), outputs, elapsed)
                )
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
        return outputs

    async def _shadow(
        self, live: ModelSpec, candidate: ModelSpec, inputs: Tensors, outputs: Tensors, live_seconds: float
    ) -> None:
        record = self.records[live.key]
        started = time.perf_counter()
        try:
            shadow = await self.candidate_backend.infer(candidate, inputs)
            score, agreed = compare(live, outputs, shadow, self.config)
        except Exception as exc:  # the candidate must never affect live traffic
            record.failures += 1
            log.warning("shadow %s failed: %s", candidate.key, exc)
            return
        record.compared += 1
        record.agreed += int(agreed)
        record.score_sum += score
        record.live_seconds += live_seconds
        record.candidate_seconds += time.perf_counter() - started

    async def drain(self) -> None:
        """Wait for the comparisons in flight (reports, tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def report(self) -> str:
        """A markdown table of every candidate's agreement so far."""
        header = (
            "| live | candidate | compared | agreement | mean score | failures | skipped "
            "| live ms | candidate ms |"
        )
        lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in self.records.values():
            n = max(r.compared, 1)
            live_ms, candidate_ms = 1000 * r.live_seconds / n, 1000 * r.candidate_seconds / n
            lines.append(
                f"| {r.live} | {r.candidate} | {r.compared} | {r.agreement:.3f} | {r.mean_score:.4f} | "
                f"{r.failures} | {r.skipped} | {live_ms:.1f} | {candidate_ms:.1f} |"
            )
        return "\n".join(lines)

    async def is_ready(self, spec: ModelSpec) -> bool:
        """Delegates to the live backend."""
        return await self.inner.is_ready(spec)

    async def aclose(self) -> None:
        """Finish comparisons, then close the live backend (and the candidate's, if separate)."""
        await self.drain()
        await self.inner.aclose()
        if self.candidate_backend is not self.inner:
            await self.candidate_backend.aclose()


def enable_shadow(
    router: InferenceRouter, config: ShadowConfig, candidate_backend: InferenceBackend | None = None
) -> ShadowBackend:
    """Wrap the router's backend in a shadow backend (outputs unchanged, agreement recorded)."""
    shadow = ShadowBackend(
        router.backend, registry=router.registry, config=config, candidate_backend=candidate_backend
    )
    router.backend = shadow
    return shadow

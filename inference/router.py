"""The one object pipeline stages call: task in, typed result (stamped with its model) out.

The router picks the model version for each task from :class:`InferenceConfig`, sends tensors to
the configured backend (local models behind the micro-batcher; Triton-first with local fallback
in :class:`inference.fallback.ResilientRouter`), serves repeated content from the embedding
cache, and composes derived models (the text-to-image bridge).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.backend import InferenceBackend, strings
from inference.batching import BatchingBackend
from inference.cache import EmbeddingCache, content_hash
from inference.config import BRIDGE_MODELS, FACE_DETECTORS, TEXT_MODELS, WHISPER_MODELS, InferenceConfig
from inference.errors import ModelNotConfiguredError, UnknownModelError
from inference.label_vectors import stored_vectors
from inference.local import LocalBackend, ModelPool
from inference.models.base import as_strings
from inference.preprocess import RGBImage, as_rgb, imagenet_pixels
from inference.registry import (
    DLIB_FACE_DESCRIPTOR,
    MOBILENET_FEATURES_SPEC,
    MOBILENET_LABELS,
    RAPIDOCR,
    SAMPLE_RATE,
    ModelRef,
    ModelRegistry,
    ModelSpec,
    Task,
    Tensors,
    default_registry,
)
from inference.telemetry import InputUnit, model_use, record_confidences, record_embedding_norms
from inference.types import (
    Embeddings,
    Face,
    FaceDescriptors,
    Faces,
    Label,
    Labels,
    OcrResult,
    Segment,
    TextRegion,
    Transcript,
    Word,
)

# What each task's inputs are counted in (the model-use records of ``inference.telemetry``).
INPUT_UNITS: dict[Task, InputUnit] = {
    "embed_text": "texts",
    "embed_text_clip": "texts",
    "transcribe": "audio_seconds",
    "ocr": "images",
    "labels": "images",
    "embed_image": "images",
    "embed_image_clip": "images",
    "embed_bridge": "images",
    "faces": "images",
    "face_descriptors": "faces",
}


# True while the router makes calls of its own (warm-up on blank inputs, the label-name
# vectors): their outputs are not the traffic the confidence and drift metrics describe.
_internal: ContextVar[bool] = ContextVar("inference_internal_call", default=False)


def _confidences(ref: ModelRef, values: Sequence[float]) -> None:
    if not _internal.get():
        record_confidences(ref.name, ref.version, values)


def _observed(embeddings: Embeddings) -> Embeddings:
    """``embeddings``, after exporting their norms (histogram and drift of the model)."""
    if len(embeddings.vectors) and not _internal.get():
        norms = np.linalg.norm(embeddings.vectors, axis=1)
        record_embedding_norms(embeddings.model.name, embeddings.model.version, norms.tolist())
    return embeddings


def _chunks(count: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(count, start + size)) for start in range(0, count, max(1, size))]


class InferenceRouter:
    """Typed, cached, batched access to every task's model."""

    def __init__(
        self,
        config: InferenceConfig | None = None,
        *,
        pool: ModelPool | None = None,
        backend: InferenceBackend | None = None,
        registry: ModelRegistry | None = None,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.config = config or InferenceConfig()
        self.registry = registry or default_registry()
        # "is None", not "or": an empty cache is falsy (it has a length) but must still be used.
        self.cache = (
            cache
            if cache is not None
            else EmbeddingCache(self.config.cache_max_entries, self.config.cache_max_bytes)
        )
        self.pool = pool if pool is not None else ModelPool(self.config.local_options())
        self._clip: tuple[ModelSpec, ModelSpec] | None = None
        if self.config.clip_model_dir is not None:
            self._clip = self._register_clip(self.config.clip_model_dir)
        if backend is None:
            backend = self._make_backend()
        self.backend = backend
        # The bridge's label-name vectors per text model key: while Triton is down the bridge may
        # be substituted (fp32 -> int8 MiniLM), and each version mixes its own text model's.
        self._label_matrices: dict[str, npt.NDArray[np.float32]] = {}
        self._label_lock: asyncio.Lock | None = None

    def _make_backend(self) -> InferenceBackend:
        if not self.config.url.startswith("local://"):
            raise ModelNotConfiguredError(
                f"InferenceRouter runs local:// models only; {self.config.url!r} needs the Triton-first "
                "router of inference.factory.build_router"
            )
        local: InferenceBackend = LocalBackend(
            self.pool,
            threads=self.config.threads,
            max_concurrency=self.config.max_concurrency,
            cpu_budget=self.config.cpu_budget,
        )
        if self.config.batching:
            return BatchingBackend(
                local, max_items=self.config.batch_max_items, max_delay_ms=self.config.batch_max_delay_ms
            )
        return local

    def _register_clip(self, path: Path) -> tuple[ModelSpec, ModelSpec]:
        from inference.models.clip import inspect_clip_dir, load_clip_image, load_clip_text

        text, image = inspect_clip_dir(path).specs()
        self.registry.register(text)
        self.registry.register(image)
        self.pool.add_factory(text, load_clip_text)
        self.pool.add_factory(image, load_clip_image)
        return text, image

    # --- selection -------------------------------------------------------------------------

    def _model_for_call(self, task: Task, requested: ModelSpec | None = None) -> ModelSpec:
        """The model that runs a call for ``task`` now (``requested``, when the caller routes to
        one on purpose). Only model calls ask this, so a router that substitutes models counts
        substitutions here (``model_for`` is a plain question stages and status pages ask as
        often as they like)."""
        return requested if requested is not None else self.model_for(task)

    def model_for(self, task: Task) -> ModelSpec:
        """The model version serving ``task`` under the current configuration."""
        config = self.config
        match task:
            case "embed_text":
                spec = TEXT_MODELS[config.text_embedding]
            case "transcribe":
                spec = WHISPER_MODELS[config.whisper_model]
            case "ocr":
                spec = RAPIDOCR
            case "labels":
                spec = MOBILENET_LABELS
            case "embed_image":
                spec = MOBILENET_FEATURES_SPEC
            case "faces":
                spec = FACE_DETECTORS[config.face_detector]
            case "face_descriptors":
                spec = DLIB_FACE_DESCRIPTOR
            case "embed_bridge":
                spec = BRIDGE_MODELS[config.text_embedding]
            case "embed_text_clip" | "embed_image_clip":
                if self._clip is None:
                    raise ModelNotConfiguredError("CLIP needs clip_model_dir (MEDIAKG_CLIP_MODEL_DIR)")
                spec = self._clip[0] if task == "embed_text_clip" else self._clip[1]
            case _:
                raise UnknownModelError(f"unknown task {task!r}")
        return self.registry.get(spec.name, spec.version)

    def models_in_use(self) -> dict[Task, ModelRef]:
        """Task -> model name and version, for status pages and job records."""
        tasks: list[Task] = [
            "embed_text",
            "transcribe",
            "ocr",
            "labels",
            "embed_image",
            "faces",
            "face_descriptors",
            "embed_bridge",
        ]
        if self._clip is not None:
            tasks += ["embed_text_clip", "embed_image_clip"]
        return {task: self.model_for(task).ref for task in tasks}

    async def _infer(
        self, spec: ModelSpec, inputs: Mapping[str, npt.NDArray[np.generic]], *, amount: float
    ) -> Tensors:
        """One request to ``spec``'s backend, as a use of the model for the caller: ``amount``
        inputs in the task's unit (the router's own calls, warm-up and label vectors, are none)."""
        if _internal.get():
            return await self.backend.infer(spec, inputs)
        with model_use(spec.name, spec.version, spec.task, inputs=amount, unit=INPUT_UNITS[spec.task]):
            return await self.backend.infer(spec, inputs)

    # --- the cached, chunked path of batchable models --------------------------------------

    async def _cached_rows(
        self,
        spec: ModelSpec,
        output: str,
        digests: Sequence[str],
        make_inputs: Callable[[list[int]], Mapping[str, npt.NDArray[np.generic]]],
    ) -> npt.NDArray[np.float32]:
        """Outputs row by row, computing only rows whose (content, model) is not cached."""
        dims = spec.output(output).dims
        rows: list[npt.NDArray[np.generic] | None] = [self.cache.get(spec.key, d) for d in digests]
        # Identical inputs in one call are computed once.
        first_index: dict[str, int] = {}
        todo: list[int] = []
        for i, (digest, row) in enumerate(zip(digests, rows, strict=True)):
            if row is None and digest not in first_index:
                first_index[digest] = i
                todo.append(i)

        async def run(indexes: list[int]) -> None:
            outputs = await self._infer(spec, make_inputs(indexes), amount=len(indexes))
            for i, row in zip(indexes, outputs[output], strict=True):
                self.cache.put(spec.key, digests[i], row)
                rows[i] = row

        limit = spec.max_batch_size or 1
        await asyncio.gather(*(run(todo[a:b]) for a, b in _chunks(len(todo), limit)))
        result = np.empty((len(digests), *dims), dtype=np.float32)
        for i, digest in enumerate(digests):
            row = rows[i] if rows[i] is not None else rows[first_index[digest]]
            assert row is not None  # every digest was either cached or computed above
            result[i] = row
        return result

    # --- tasks -----------------------------------------------------------------------------

    async def embed_text(self, texts: Sequence[str]) -> Embeddings:
        """MiniLM embeddings (384-d, normalised) of ``texts``; also embeds search queries."""
        return await self._embed_texts(self._model_for_call("embed_text"), texts)

    async def _embed_texts(self, spec: ModelSpec, texts: Sequence[str]) -> Embeddings:
        items = list(texts)
        vectors = await self._cached_rows(
            spec,
            "embedding",
            [content_hash(t) for t in items],
            lambda idx: {"text": strings([items[i] for i in idx])},
        )
        return _observed(Embeddings(vectors, spec.ref))

    async def _image_rows(
        self, spec: ModelSpec, output: str, images: Sequence[RGBImage]
    ) -> npt.NDArray[np.float32]:
        rgb = [as_rgb(image) for image in images]
        return await self._cached_rows(
            spec,
            output,
            [content_hash(image) for image in rgb],
            lambda idx: {"pixels": imagenet_pixels([rgb[i] for i in idx])},
        )

    async def embed_image(self, images: Sequence[RGBImage]) -> Embeddings:
        """Visual embeddings (MobileNetV2 pooled features, 1280-d, normalised) for similarity."""
        spec = self._model_for_call("embed_image")
        return _observed(Embeddings(await self._image_rows(spec, "embedding", images), spec.ref))

    async def label_probabilities(
        self, images: Sequence[RGBImage]
    ) -> tuple[npt.NDArray[np.float32], ModelRef]:
        """The full (N, 1000) ImageNet softmax, cached per image."""
        spec = self._model_for_call("labels")
        return await self._image_rows(spec, "probs", images), spec.ref

    async def labels(
        self, images: Sequence[RGBImage], *, top_k: int = 5, min_score: float = 0.0
    ) -> list[Labels]:
        """Top ImageNet labels per image, best first, at or above ``min_score``."""
        from inference.models.vision import imagenet_class_names

        probs, ref = await self.label_probabilities(images)
        # A classifier's confidence is its top-1 probability; the tail of the softmax is noise.
        _confidences(ref, probs.max(axis=1).tolist() if len(probs) else [])
        names = imagenet_class_names()
        results = []
        for row in probs:
            order = np.argsort(row)[::-1][:top_k]
            labels = tuple(Label(int(i), names[int(i)], float(row[i])) for i in order if row[i] >= min_score)
            results.append(Labels(labels, ref))
        return results

    async def _label_name_vectors(self, text_model: ModelSpec) -> npt.NDArray[np.float32]:
        if self._label_lock is None:
            self._label_lock = asyncio.Lock()
        async with self._label_lock:
            if text_model.key not in self._label_matrices:
                from inference.models.vision import imagenet_class_names

                names = imagenet_class_names()

                async def compute() -> npt.NDArray[np.float32]:
                    token = _internal.set(True)
                    try:
                        return (await self._embed_texts(text_model, names)).vectors
                    finally:
                        _internal.reset(token)

                self._label_matrices[text_model.key] = await stored_vectors(
                    self.config.label_vectors_dir, text_model, names, compute
                )
            return self._label_matrices[text_model.key]

    async def embed_bridge(self, images: Sequence[RGBImage]) -> Embeddings:
        """Text-space (384-d) image vectors: top-k label probabilities over label-name embeddings.

        Compare them with :meth:`embed_text` of a query; both live in MiniLM's space.
        """
        spec = self._model_for_call("embed_bridge")
        probs, _ = await self.label_probabilities(images)
        # The text model of *this* bridge version, not whatever embed_text serves now: the two
        # differ while a substitute is in use, and the stamp must name what was mixed.
        parts = [self.registry.get(*key.split(":", 1)) for key in spec.derived_from]
        (text_model,) = [part for part in parts if part.task == "embed_text"]
        names = await self._label_name_vectors(text_model)
        k = max(1, min(self.config.bridge_top_k, probs.shape[1]))
        top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
        weights = np.take_along_axis(probs, top, axis=1)
        mixed = np.einsum("nk,nkd->nd", weights, names[top]).astype(np.float32)
        norms = np.linalg.norm(mixed, axis=1, keepdims=True)
        return _observed(Embeddings((mixed / np.clip(norms, 1e-12, None)).astype(np.float32), spec.ref))

    async def transcribe(
        self, audio: npt.NDArray[np.float32], *, model: ModelSpec | None = None
    ) -> Transcript:
        """Speech to text with word timings; ``audio`` is 16 kHz mono float32 (see media.decode_audio).

        ``model``: a speech model the caller routes to on purpose (``inference.routing``); by
        default the configured one (or its substitute while Triton is down)."""
        if model is not None and model.task != "transcribe":
            raise UnknownModelError(f"{model.key} does not transcribe")
        spec = self._model_for_call("transcribe", model)
        samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        out = await self._infer(spec, {"audio": samples}, amount=samples.size / SAMPLE_RATE)
        words_by_segment: dict[int, list[Word]] = {}
        for text, start, end, prob, seg in zip(
            as_strings(out["word_text"]),
            out["word_start"].tolist(),
            out["word_end"].tolist(),
            out["word_probability"].tolist(),
            out["word_segment"].tolist(),
            strict=True,
        ):
            words_by_segment.setdefault(int(seg), []).append(
                Word(text, float(start), float(end), float(prob))
            )
        segments = tuple(
            Segment(
                float(start),
                float(end),
                text,
                tuple(words_by_segment.get(i, ())),
                avg_logprob=float(logprob),
                no_speech_prob=float(no_speech),
            )
            for i, (start, end, text, logprob, no_speech) in enumerate(
                zip(
                    out["segment_start"].tolist(),
                    out["segment_end"].tolist(),
                    as_strings(out["segment_text"]),
                    out["segment_avg_logprob"].tolist(),
                    out["segment_no_speech_prob"].tolist(),
                    strict=True,
                )
            )
        )
        _confidences(spec.ref, out["word_probability"].tolist())
        return Transcript(
            language=as_strings(out["language"])[0],
            language_probability=float(out["language_probability"][0]),
            segments=segments,
            model=spec.ref,
        )

    async def ocr(self, image: RGBImage) -> OcrResult:
        """Text lines in one RGB image."""
        spec = self._model_for_call("ocr")
        out = await self._infer(spec, {"image": as_rgb(image)}, amount=1)
        regions = tuple(
            TextRegion(text, float(score), tuple((float(x), float(y)) for x, y in polygon.tolist()))
            for text, score, polygon in zip(
                as_strings(out["text"]), out["score"].tolist(), out["boxes"], strict=True
            )
        )
        _confidences(spec.ref, [region.score for region in regions])
        return OcrResult(regions, spec.ref)

    async def faces(self, image: RGBImage, *, min_score: float = 0.0) -> Faces:
        """Frontal faces in one RGB image."""
        spec = self._model_for_call("faces")
        out = await self._infer(spec, {"image": as_rgb(image)}, amount=1)
        faces = tuple(
            Face(float(x), float(y), float(w), float(h), float(score))
            for (x, y, w, h), score in zip(out["boxes"].tolist(), out["score"].tolist(), strict=True)
            if score >= min_score
        )
        _confidences(spec.ref, out["score"].tolist())
        return Faces(faces, spec.ref)

    async def face_descriptors(
        self, image: RGBImage, boxes: Sequence[tuple[float, float, float, float]]
    ) -> FaceDescriptors:
        """128-d descriptors of the faces at ``boxes`` (x, y, w, h in pixels) of one RGB image."""
        spec = self._model_for_call("face_descriptors")
        if not boxes:
            return FaceDescriptors(
                np.zeros((0, spec.output("descriptor").dims[-1]), dtype=np.float32), spec.ref
            )
        out = await self._infer(
            spec,
            {"image": as_rgb(image), "boxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4)},
            amount=len(boxes),
        )
        return FaceDescriptors(np.asarray(out["descriptor"], dtype=np.float32), spec.ref)

    async def embed_text_clip(self, texts: Sequence[str]) -> Embeddings:
        """CLIP text embeddings (needs ``clip_model_dir``)."""
        spec = self._model_for_call("embed_text_clip")
        items = list(texts)
        vectors = await self._cached_rows(
            spec,
            "embedding",
            [content_hash(t) for t in items],
            lambda idx: {"text": strings([items[i] for i in idx])},
        )
        return _observed(Embeddings(vectors, spec.ref))

    async def embed_image_clip(self, images: Sequence[RGBImage]) -> Embeddings:
        """CLIP image embeddings, same space as :meth:`embed_text_clip` (needs ``clip_model_dir``)."""
        spec = self._model_for_call("embed_image_clip")
        rgb = [as_rgb(image) for image in images]
        dim = spec.output("embedding").dims[0]
        vectors = np.empty((len(rgb), dim), dtype=np.float32)

        async def one(i: int) -> None:
            digest = content_hash(rgb[i])
            cached = self.cache.get(spec.key, digest)
            if cached is None:
                cached = (await self._infer(spec, {"image": rgb[i]}, amount=1))["embedding"]
                self.cache.put(spec.key, digest, cached)
            vectors[i] = cached

        await asyncio.gather(*(one(i) for i in range(len(rgb))))
        return _observed(Embeddings(vectors, spec.ref))

    # --- lifecycle -------------------------------------------------------------------------

    async def warmup(self, tasks: Sequence[Task]) -> None:
        """Load the models of ``tasks`` now so the first real call is not slow."""
        warmers: dict[Task, Callable[[], Awaitable[object]]] = {
            "embed_text": lambda: self.embed_text(["warm up"]),
            "embed_text_clip": lambda: self.embed_text_clip(["warm up"]),
            "transcribe": lambda: self.transcribe(np.zeros(16_000, dtype=np.float32)),
            "ocr": lambda: self.ocr(np.full((64, 64, 3), 255, dtype=np.uint8)),
            "faces": lambda: self.faces(np.zeros((64, 64, 3), dtype=np.uint8)),
            "face_descriptors": lambda: self.face_descriptors(
                np.zeros((64, 64, 3), dtype=np.uint8), [(8.0, 8.0, 48.0, 48.0)]
            ),
        }
        blank = np.zeros((64, 64, 3), dtype=np.uint8)
        image_tasks: dict[Task, Callable[[], Awaitable[object]]] = {
            "labels": lambda: self.label_probabilities([blank]),
            "embed_image": lambda: self.embed_image([blank]),
            "embed_bridge": lambda: self.embed_bridge([blank]),
            "embed_image_clip": lambda: self.embed_image_clip([blank]),
        }
        warmers.update(image_tasks)
        token = _internal.set(True)
        try:
            for task in tasks:
                await warmers[task]()
        finally:
            _internal.reset(token)

    async def aclose(self) -> None:
        """Close the backend (worker threads, connections)."""
        await self.backend.aclose()

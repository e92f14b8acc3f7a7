"""Which search generations exist and for which models: the open ones writes go to, the spec
of a generation for the models served now, and the first generation of a fresh install."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from inference.errors import ModelNotConfiguredError
from search.backend import (
    GenerationError,
    GenerationInfo,
    GenerationSpec,
    GenerationState,
    SearchBackend,
    VectorSpec,
)
from search.documents import FIELD_TASK, VectorField, model_key

log = logging.getLogger(__name__)

# Fields a generation has only when the router serves their model (CLIP: clip_model_dir set).
OPTIONAL_FIELDS = frozenset({VectorField.CLIP})


async def open_generations(backend: SearchBackend) -> list[GenerationInfo]:
    """The generations writes go to: the live one and any being built."""
    return [g for g in await backend.list_generations() if g.state is not GenerationState.RETIRED]


class ModelRouter(Protocol):
    """What indexing needs of ``inference.router.InferenceRouter`` (typed here, no import)."""

    def model_for(self, task: Any) -> Any:
        """The model spec serving ``task``."""
        ...

    async def embed_text(self, texts: Sequence[str]) -> Any:
        """Text embeddings with the model that made them."""
        ...


def generation_spec(router: ModelRouter, name: str) -> GenerationSpec:
    """A generation for the models ``router`` serves now (one vector field per task; the CLIP
    field only when a CLIP model is configured), dims from the model registry."""
    vectors: dict[VectorField, VectorSpec] = {}
    for vector_field, task in FIELD_TASK.items():
        try:
            spec = router.model_for(task)
        except ModelNotConfiguredError:
            if vector_field in OPTIONAL_FIELDS:
                continue
            raise
        dims = int(spec.output("embedding").dims[-1])
        vectors[vector_field] = VectorSpec(dims=dims, model_version=model_key(spec.name, spec.version))
    return GenerationSpec(name=name, vectors=vectors)


def initial_generation_name(spec: GenerationSpec) -> str:
    """A name fixed by the models, so two workers bootstrapping at once agree on it."""
    raw = "|".join(f"{f.value}={v.model_version}/{v.dims}" for f, v in sorted(spec.vectors.items()))
    return "g-" + hashlib.sha256(raw.encode()).hexdigest()[:12]


async def ensure_generation(
    backend: SearchBackend, router: Callable[[], Awaitable[ModelRouter]]
) -> list[GenerationInfo]:
    """The open generations; on a fresh install, first creates one for the current models."""
    generations = await open_generations(backend)
    if generations:
        return generations
    spec = generation_spec(await router(), "bootstrap")
    spec = GenerationSpec(name=initial_generation_name(spec), vectors=spec.vectors)
    try:
        await backend.create_generation(spec)
    except GenerationError:
        # Another worker created it first (same name: same models), or it exists retired.
        log.info("search generation %s exists already", spec.name)
        if not await open_generations(backend):
            await backend.activate_generation(spec.name)
    return await open_generations(backend)


def new_generation_name(now: datetime | None = None) -> str:
    """A fresh generation name: ``g`` and the UTC time to the second."""
    moment = now or datetime.now(UTC)
    return "g" + moment.strftime("%Y%m%d-%H%M%S")

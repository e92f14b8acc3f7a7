"""The search backend interface every engine implements, and the types it speaks.

Two implementations: :class:`search.embedded.EmbeddedBackend` (SQLite FTS5 + numpy, the
default) and :class:`search.elasticsearch.ElasticsearchBackend`. Both pass
``tests/search/test_search_behaviour.py``. Callers (the pipeline's index stage, the GraphQL search
field, ``mediakg search reindex``) depend on :class:`SearchBackend` only.

Generations: an index generation is a complete, separately stored index whose vector fields
are bound to model versions (:class:`GenerationSpec`). Exactly one generation is live and
serves searches. A new embedding model builds a new generation in the background (state
``building``); writes go to every open generation (live and building), each keeping only the
vectors of its own model versions; ``activate_generation`` switches atomically; the old one
stays (``retired``) until dropped, so a switch can be undone by activating it again.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from search.documents import AssetDocument, DocumentError, Vector, VectorField, asset_doc_id
from search.query import FacetQuery, FacetResults, QueryError, SearchQuery, SearchResults

_GENERATION_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


class SearchError(RuntimeError):
    """The backend failed (engine unreachable, corrupt index): not the caller's fault."""


class GenerationError(ValueError):
    """A generation operation that cannot be done (unknown name, dropping the live one...)."""


class GenerationState(enum.StrEnum):
    """Where a generation is in its life."""

    BUILDING = "building"
    LIVE = "live"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class VectorSpec:
    """One vector field of a generation: its dimensionality and the model version it holds."""

    dims: int
    model_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationSpec:
    """What a generation stores: its name and, per vector field, the model that fills it."""

    name: str
    vectors: Mapping[VectorField, VectorSpec] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``GenerationError`` for a name or spec no backend can store."""
        if not _GENERATION_RE.match(self.name):
            raise GenerationError(f"generation name {self.name!r} must match {_GENERATION_RE.pattern}")
        for vector_field, spec in self.vectors.items():
            # 4096 is Elasticsearch's dense_vector limit; the embedded backend keeps the same.
            if not 1 <= spec.dims <= 4096:
                raise GenerationError(f"{vector_field} dims must be between 1 and 4096")
            if not spec.model_version:
                raise GenerationError(f"{vector_field} needs a model version")


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationInfo:
    """A stored generation."""

    spec: GenerationSpec
    state: GenerationState
    created_at: datetime
    document_count: int

    @property
    def name(self) -> str:
        """The generation's name."""
        return self.spec.name


@dataclass(frozen=True, slots=True)
class DocumentFailure:
    """A document one generation did not store, and why."""

    generation: str
    doc_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteReport:
    """What one ``upsert`` or ``delete_asset`` did, per document."""

    written: int = 0
    # Documents left alone because the stored version is newer (a late write lost the race).
    stale: tuple[str, ...] = ()
    failures: tuple[DocumentFailure, ...] = ()
    # ``generation/doc_id/field`` of vectors a generation dropped: another model version.
    skipped_vectors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing failed (stale writes are expected and not failures)."""
        return not self.failures

    def merge(self, other: WriteReport) -> WriteReport:
        """Both reports added together."""
        return WriteReport(
            written=self.written + other.written,
            stale=self.stale + other.stale,
            failures=self.failures + other.failures,
            skipped_vectors=self.skipped_vectors + other.skipped_vectors,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """Whether the backend can serve searches."""

    ok: bool
    backend: str
    live_generation: str | None
    detail: str = ""


@runtime_checkable
class SearchBackend(Protocol):
    """Hybrid search over assets and their moments, per tenant, in index generations.

    Every method is safe to call concurrently, from any event loop or thread.
    """

    async def create_generation(self, spec: GenerationSpec) -> GenerationInfo:
        """Create an empty generation in state ``building`` (the first one created goes
        live at once, so a fresh install can serve). Raises ``GenerationError`` if the name
        exists."""
        ...

    async def activate_generation(self, name: str) -> GenerationInfo:
        """Make ``name`` live in one atomic step; the previously live one becomes retired."""
        ...

    async def drop_generation(self, name: str) -> None:
        """Delete a generation that is not live (``GenerationError`` for the live one)."""
        ...

    async def list_generations(self) -> list[GenerationInfo]:
        """Every stored generation, oldest first."""
        ...

    async def live_generation(self) -> GenerationInfo | None:
        """The generation searches use, or None before the first one exists."""
        ...

    async def upsert(self, assets: Sequence[AssetDocument], *, generation: str | None = None) -> WriteReport:
        """Store each asset and its moments, replacing what was stored for that asset
        (moments missing from the new document are removed).

        ``generation=None`` writes to every live or building generation; a name writes to that
        one only (a reindex filling a new generation). Per-document failures are reported, not
        raised; a write older than the stored version is reported as ``stale``.
        """
        ...

    async def delete_asset(self, *, tenant_id: str, asset_id: str, version: int) -> WriteReport:
        """Remove an asset and all its moments from every generation. A later write with a
        version <= ``version`` is stale, so a delayed index message cannot bring it back."""
        ...

    async def search(self, query: SearchQuery) -> SearchResults:
        """Run BM25 and kNN retrievers under the filters, fuse them (RRF) and return a page."""
        ...

    async def facets(self, query: FacetQuery) -> FacetResults:
        """Count values of the requested fields over the documents matching the filters."""
        ...

    async def refresh(self) -> None:
        """Make every completed write visible to searches (a no-op where that is immediate)."""
        ...

    async def health(self) -> Health:
        """Whether the engine answers and a generation is live."""
        ...

    async def aclose(self) -> None:
        """Release connections; the backend is unusable afterwards."""
        ...


def valid_assets(assets: Sequence[AssetDocument]) -> tuple[list[AssetDocument], WriteReport]:
    """The assets a backend can store, and a report of the others' failures (none of them is
    written)."""
    valid: list[AssetDocument] = []
    failures: list[DocumentFailure] = []
    for asset in assets:
        try:
            asset.validate()
        except DocumentError as exc:
            failures.append(DocumentFailure("*", asset_doc_id(asset.asset_id), str(exc)))
            continue
        valid.append(asset)
    return valid, WriteReport(failures=tuple(failures))


def split_vectors(
    spec: GenerationSpec, doc_id: str, vectors: Mapping[VectorField, Vector]
) -> tuple[dict[VectorField, Vector], list[str]]:
    """Split ``vectors`` into those the generation stores and ``generation/doc/field`` it skips.

    A vector is kept only when the generation has that field for exactly its model version
    and dimensionality, so a generation never mixes two models' vectors.
    """
    kept: dict[VectorField, Vector] = {}
    skipped: list[str] = []
    for vector_field, vector in vectors.items():
        want = spec.vectors.get(vector_field)
        if want is not None and want.model_version == vector.model_version and want.dims == vector.dims:
            kept[vector_field] = vector
        else:
            skipped.append(f"{spec.name}/{doc_id}/{vector_field.value}")
    return kept, skipped


def check_query_vectors(spec: GenerationSpec, query: SearchQuery) -> None:
    """Refuse query vectors the generation cannot compare against (wrong model or dims)."""
    for query_vector in query.vectors:
        want = spec.vectors.get(query_vector.field)
        if want is None:
            raise QueryError(f"generation {spec.name} has no {query_vector.field} vectors")
        if want.model_version != query_vector.vector.model_version:
            raise QueryError(
                f"generation {spec.name} holds {query_vector.field} vectors of model "
                f"{want.model_version}, the query's are {query_vector.vector.model_version}"
            )
        if want.dims != query_vector.vector.dims:
            raise QueryError(f"{query_vector.field} vectors have {want.dims} dims")

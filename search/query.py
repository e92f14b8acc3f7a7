"""What callers ask a search backend and what they get back.

A query names its tenant (never optional), an optional text for BM25, any number of query
vectors (one per vector field), structured filters and fusion settings. Every backend runs
one retriever per input (``text``, ``vector:text``, ``vector:visual``, ``vector:bridge``,
``vector:clip``),
fuses them with :func:`search.fusion.reciprocal_rank_fusion`, and pages the fused list.
"""

from __future__ import annotations

import dataclasses
import enum
import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from search.calibration import Calibration, query_terms, relevances, shipped_calibration
from search.documents import (
    DocType,
    DocumentError,
    MetadataValue,
    TimedText,
    Vector,
    VectorField,
    VectorLike,
    asset_doc_id,
    check_id,
)
from search.fusion import FusedItem, reciprocal_rank_fusion

TEXT_RETRIEVER = "text"
HIGHLIGHT_PRE = "<mark>"
HIGHLIGHT_POST = "</mark>"
# Beyond this many candidates per retriever the fused tail carries no signal, and
# Elasticsearch caps kNN num_candidates at 10 000.
MAX_K = 1000
MAX_PAGE = 100
# ASSET scope: a vector retriever asks for this many documents per asset it returns, since an
# asset's own document and its moments compete for the places (see :func:`best_per_asset`).
ASSET_VECTOR_FACTOR = 4


class Fusion(enum.StrEnum):
    """How retrievers' lists become one order."""

    # Reciprocal rank fusion (search.fusion): ``score`` in RRF units.
    RRF = "rrf"
    # Calibrated relevance (search.calibration) orders the hits: ``score == relevance``.
    RELEVANCE = "relevance"


class QueryError(ValueError):
    """A query the backend cannot run as asked (the caller's mistake)."""


def vector_retriever(field: VectorField) -> str:
    """Name of the retriever that searches one vector field."""
    return f"vector:{field.value}"


class FacetField(enum.StrEnum):
    """Fields a facet can count."""

    KIND = "kind"
    TAGS = "tags"
    LABELS = "labels"
    LANGUAGE = "language"


class TextField(enum.StrEnum):
    """Text fields BM25 searches and highlights come from."""

    TITLE = "title"
    DESCRIPTION = "description"
    TAGS = "tags"
    LABELS = "labels"
    TRANSCRIPT = "transcript"
    OCR = "ocr"


# Why these weights: a title or tag match names what the asset is about, a transcript word
# may be incidental. Both backends use the same numbers (FTS5 column weights, ES boosts).
TEXT_FIELD_WEIGHTS: Mapping[TextField, float] = {
    TextField.TITLE: 3.0,
    TextField.DESCRIPTION: 1.5,
    TextField.TAGS: 2.0,
    TextField.LABELS: 1.5,
    TextField.TRANSCRIPT: 1.0,
    TextField.OCR: 1.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """Structured filters; every given condition must hold (tenant is on the query itself)."""

    kinds: tuple[str, ...] = ()  # any of
    tags: tuple[str, ...] = ()  # all of
    labels: tuple[str, ...] = ()  # all of
    languages: tuple[str, ...] = ()  # any of
    duration_min_s: float | None = None  # inclusive
    duration_max_s: float | None = None  # inclusive
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    asset_ids: tuple[str, ...] = ()  # any of
    person_ids: tuple[str, ...] = ()  # any of (assets where one of these people appears)
    exclude_asset_ids: tuple[str, ...] = ()
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)  # all equal

    def validate(self) -> None:
        """Raise ``QueryError`` for filters no backend could apply."""
        for moment in (self.created_from, self.created_to):
            if moment is not None and moment.tzinfo is None:
                raise QueryError("created_from/created_to must be timezone-aware")
        try:
            for asset_id in (*self.asset_ids, *self.exclude_asset_ids):
                check_id(asset_id, "asset id")
            for person_id in self.person_ids:
                check_id(person_id, "person id")
        except DocumentError as exc:
            raise QueryError(str(exc)) from exc
        for key in self.metadata:
            if not key or "." in key:
                raise QueryError(f"metadata key {key!r} must be non-empty and dot-free")


@dataclass(frozen=True, slots=True)
class QueryVector:
    """A query embedding for one vector field, from the model version the generation uses."""

    field: VectorField
    vector: Vector

    @classmethod
    def of(cls, field: VectorField, values: VectorLike, model_version: str) -> QueryVector:
        """Validate and wrap one query embedding."""
        try:
            return cls(field=field, vector=Vector.of(values, model_version))
        except DocumentError as exc:
            raise QueryError(str(exc)) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchQuery:
    """One hybrid search: any mix of text and vectors, fused, filtered and paged."""

    tenant_id: str
    text: str | None = None
    vectors: tuple[QueryVector, ...] = ()
    filters: Filters = field(default_factory=Filters)
    scope: DocType = DocType.MOMENT
    # Per-retriever RRF weights; a retriever not named weighs 1.0.
    weights: Mapping[str, float] = field(default_factory=dict)
    # Retriever -> group name: a group adds only its best member per document (see
    # search.fusion); a retriever not named is a group of its own (plain RRF).
    groups: Mapping[str, str] = field(default_factory=dict)
    rank_constant: int = 60
    # Candidates each retriever contributes before fusion; pages come from the fused list.
    k: int = 100
    limit: int = 20
    offset: int = 0
    min_score: float | None = None
    # Hits whose calibrated relevance (0..1) is below this are dropped before paging.
    min_relevance: float | None = None
    fusion: Fusion = Fusion.RRF
    # None = the calibration committed for the backend (search/calibration.json).
    calibration: Calibration | None = None
    highlight: bool = True
    # None = the live generation; a name searches that generation (e.g. to evaluate a new
    # one before switching to it).
    generation: str | None = None

    def validate(self) -> None:
        """Raise ``QueryError`` for a query no backend could run."""
        try:
            check_id(self.tenant_id, "tenant_id")
        except DocumentError as exc:
            raise QueryError(str(exc)) from exc
        if not (self.text and self.text.strip()) and not self.vectors:
            raise QueryError("a query needs text, a vector, or both")
        fields = [vector.field for vector in self.vectors]
        if len(set(fields)) != len(fields):
            raise QueryError("at most one query vector per field")
        if not 1 <= self.k <= MAX_K:
            raise QueryError(f"k must be between 1 and {MAX_K}")
        if not 1 <= self.limit <= MAX_PAGE:
            raise QueryError(f"limit must be between 1 and {MAX_PAGE}")
        if self.offset < 0:
            raise QueryError("offset must be >= 0")
        if self.rank_constant < 0:
            raise QueryError("rank_constant must be >= 0")
        if self.min_relevance is not None and not 0.0 <= self.min_relevance <= 1.0:
            raise QueryError("min_relevance must be between 0 and 1")
        for name, weight in self.weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise QueryError(f"weight of {name} must be a finite number >= 0")
        self.filters.validate()

    @property
    def vector_doc_types(self) -> tuple[DocType, ...]:
        """The documents a vector retriever searches: the scope's, and in ASSET scope the assets'
        moments too (:func:`best_per_asset` turns them into their assets)."""
        return (DocType.ASSET, DocType.MOMENT) if self.scope is DocType.ASSET else (self.scope,)

    @property
    def vector_k(self) -> int:
        """How many documents a vector retriever asks for (``k`` assets need more in ASSET scope)."""
        return self.k * ASSET_VECTOR_FACTOR if self.scope is DocType.ASSET else self.k

    def fused(
        self, ranked: Mapping[str, Sequence[tuple[str, float]]], *, backend: str = "embedded"
    ) -> tuple[list[FusedItem], list[FusedItem]]:
        """The retrievers' ranked lists fused with this query's settings, each item with its
        calibrated relevance (``backend`` picks the calibration of its BM25 scale), and the page."""
        calibration = self.calibration or shipped_calibration(backend)
        relevance = relevances(
            ranked,
            calibration=calibration,
            groups=self.groups,
            terms=query_terms(self.text, tokenize(self.text or "")),
            k=self.k,
        )
        fused = [
            dataclasses.replace(item, relevance=relevance[item.doc_id])
            for item in reciprocal_rank_fusion(
                ranked, rank_constant=self.rank_constant, weights=self.weights, groups=self.groups
            )
        ]
        if self.fusion is Fusion.RELEVANCE:
            fused = [dataclasses.replace(item, score=item.relevance) for item in fused]
            fused.sort(key=lambda item: (-item.score, min(item.ranks.values()), item.doc_id))
        fused = [
            item
            for item in fused
            if (self.min_score is None or item.score >= self.min_score)
            and (self.min_relevance is None or item.relevance >= self.min_relevance)
        ]
        return fused, fused[self.offset : self.offset + self.limit]


@dataclass(frozen=True, slots=True, kw_only=True)
class FacetQuery:
    """Counts of distinct values over the documents matching the filters."""

    tenant_id: str
    fields: tuple[FacetField, ...] = tuple(FacetField)
    filters: Filters = field(default_factory=Filters)
    scope: DocType = DocType.ASSET
    size: int = 20
    generation: str | None = None

    def validate(self) -> None:
        """Raise ``QueryError`` for a facet request no backend could run."""
        try:
            check_id(self.tenant_id, "tenant_id")
        except DocumentError as exc:
            raise QueryError(str(exc)) from exc
        if not 1 <= self.size <= MAX_PAGE:
            raise QueryError(f"size must be between 1 and {MAX_PAGE}")
        self.filters.validate()


@dataclass(frozen=True, slots=True)
class Highlight:
    """A fragment of one text field with matched words inside ``<mark>`` (HTML-escaped)."""

    field: TextField
    fragment: str


@dataclass(frozen=True, slots=True)
class TimeCode:
    """Where a matched word is spoken (transcript) or shown (OCR) inside the moment."""

    field: TextField
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    """One fused result: an asset, or a moment of an asset with its time range."""

    doc_id: str
    doc_type: DocType
    asset_id: str
    scene_id: str | None
    start_s: float | None
    end_s: float | None
    title: str
    score: float
    # 1-based rank of this hit in each retriever that returned it.
    ranks: Mapping[str, int]
    # Each retriever's own score (BM25, or cosine similarity in [-1, 1]).
    retriever_scores: Mapping[str, float]
    highlights: tuple[Highlight, ...] = ()
    time_codes: tuple[TimeCode, ...] = ()
    # Calibrated chance that the hit is relevant, 0..1, comparable across queries.
    relevance: float = 0.0

    @property
    def matched_fields(self) -> tuple[TextField, ...]:
        """Text fields with a highlighted match, in a stable order."""
        present = {highlight.field for highlight in self.highlights}
        return tuple(field for field in TextField if field in present)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResults:
    """One page of fused hits."""

    hits: tuple[SearchHit, ...]
    # Fused candidates available to page through (bounded by k per retriever).
    total: int
    offset: int
    generation: str

    @property
    def has_more(self) -> bool:
        """True when another page follows this one."""
        return self.offset + len(self.hits) < self.total


@dataclass(frozen=True, slots=True)
class FacetValue:
    """One value of a facet and how many documents carry it."""

    value: str
    count: int


@dataclass(frozen=True, slots=True)
class FacetResults:
    """Facet values by field, most frequent first (ties by value)."""

    facets: Mapping[FacetField, tuple[FacetValue, ...]]
    generation: str


def best_per_asset(hits: Iterable[tuple[str, float]], k: int) -> list[tuple[str, float]]:
    """ASSET scope: a vector retriever's hits over assets' own documents and their moments,
    ``(asset id, similarity)`` best first, as one hit per asset document at its best similarity
    (at most ``k``).

    An asset's own vector is its title's and its moments' mean (search.render): a video whose one
    shot answers the query is diluted by its other shots, and a title such as a file name pulls
    every asset toward one point. Its best moment says what the asset holds, as Elasticsearch
    scores a nested multi-vector document by its best vector; the asset's own vector still counts
    when it is closer (a title that names the subject).
    """
    best: dict[str, float] = {}
    for asset_id, similarity in hits:
        if asset_id not in best or similarity > best[asset_id]:
            best[asset_id] = similarity
    ordered = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [(asset_doc_id(asset_id), similarity) for asset_id, similarity in ordered]


def tokenize(text: str) -> tuple[str, ...]:
    """Lower-cased runs of letters and digits: the words a BM25 query is built from."""
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if char.isalnum():
            current.append(char.lower())
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return tuple(words)


def time_codes(
    highlights: Iterable[Highlight], segments: Callable[[TextField], Sequence[TimedText]]
) -> tuple[TimeCode, ...]:
    """Where a hit's transcript and OCR highlights are spoken or shown: the segments holding
    their marked words, each once (a field can come back in several fragments), in the order
    found. ``segments(field)`` gives the hit's timed texts of ``field``."""
    codes: list[TimeCode] = []
    for highlight in highlights:
        if highlight.field not in (TextField.TRANSCRIPT, TextField.OCR):
            continue
        words = marked_words(highlight.fragment)
        for code in _find_time_codes(highlight.field, segments(highlight.field), words):
            if code not in codes:
                codes.append(code)
    return tuple(codes)


def _find_time_codes(
    field: TextField, segments: Sequence[TimedText], marked_words: Sequence[str], limit: int = 5
) -> tuple[TimeCode, ...]:
    """The segments containing any of the highlighted words, in time order.

    Both backends highlight the surface form found in the text (``running`` for a query
    ``run``), so a whole-word, case-insensitive comparison finds the segment it came from.
    """
    wanted = {word.lower() for word in marked_words if word}
    if not wanted:
        return ()
    found: list[TimeCode] = []
    for segment in segments:
        if wanted.intersection(tokenize(segment.text)):
            # Timed words: play from the first matched word (whisper's segment starts often
            # lie in the pause before the speech); else from the segment's start.
            start = next(
                (word.start_s for word in segment.words if wanted.intersection(tokenize(word.text))),
                segment.start_s,
            )
            found.append(TimeCode(field, start, segment.end_s, segment.text))
            if len(found) == limit:
                break
    return tuple(found)


def marked_words(fragment: str) -> tuple[str, ...]:
    """Words inside ``<mark>`` tags of a highlight fragment."""
    words: list[str] = []
    rest = fragment
    while True:
        start = rest.find(HIGHLIGHT_PRE)
        if start < 0:
            return tuple(words)
        end = rest.find(HIGHLIGHT_POST, start)
        if end < 0:
            return tuple(words)
        words.extend(tokenize(html.unescape(rest[start + len(HIGHLIGHT_PRE) : end])))
        rest = rest[end + len(HIGHLIGHT_POST) :]

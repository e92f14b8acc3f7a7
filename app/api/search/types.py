"""Types of hybrid search: the input, the hits (moments and assets) and their connection.

A hit is not a Node: it is a transient answer to one query. Pages are cut from the fused
list by offset, so the cursor carries the offset and a fingerprint of the query that issued
it (a cursor of another query is refused rather than silently paging through other results).
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.api.context import Info
from app.api.enums import AssetKind
from app.api.errors import InvalidCursorError, SearchUnavailableError
from app.api.fields import field
from app.api.ids import decode_id
from app.api.media.types import SceneType
from app.api.pagination import PageInfoType
from app.core.errors import InvalidInputError
from app.core.pagination import decode_cursor, encode_cursor
from search.backend import SearchBackend, SearchError
from search.documents import DocType
from search.query import MAX_PAGE, FacetField, FacetQuery, Filters, QueryError, TextField

if TYPE_CHECKING:
    from app.api.assets.types import AssetType

_ASSETS = "app.api.assets.types"
# Longest query text: a sentence or a short paragraph. Longer texts are documents, not queries,
# and cost BM25 one term lookup per word.
MAX_QUERY_CHARS = 1000
# List filters accept this many values each (saleor's rule: every list input is capped).
MAX_FILTER_VALUES = 50


# --- enums -----------------------------------------------------------------------------------


@strawberry.enum(name="SearchMode", description="Which retrievers answer a search.")
class SearchMode(enum.Enum):
    """TEXT: BM25 only; SEMANTIC: vectors only; HYBRID: both, fused."""

    TEXT = strawberry.enum_value("text", description="Words only: BM25 over the text fields.")
    SEMANTIC = strawberry.enum_value(
        "semantic", description="Meaning only: kNN of the text's embeddings over the vector fields."
    )
    HYBRID = strawberry.enum_value("hybrid", description="Both, fused by reciprocal rank fusion.")


@strawberry.enum(name="SearchScope", description="What a search returns.")
class SearchScope(enum.Enum):
    """Moments (scenes with their time range) or whole assets."""

    MOMENT = strawberry.enum_value("moment", description="Scenes of assets, with their time range.")
    ASSET = strawberry.enum_value("asset", description="Whole assets.")


@strawberry.enum(name="SearchHitKind", description="What a hit stands for.")
class SearchHitKind(enum.Enum):
    """A moment of an asset, or an asset as a whole."""

    MOMENT = strawberry.enum_value("moment", description="A scene of an asset (or a chunk of a text).")
    ASSET = strawberry.enum_value("asset", description="An asset as a whole.")


@strawberry.enum(name="SearchTextField", description="Text fields a search matches and highlights.")
class SearchTextField(enum.Enum):
    """The text fields of search documents."""

    TITLE = strawberry.enum_value("title", description="The asset's title.")
    DESCRIPTION = strawberry.enum_value("description", description="The asset's or moment's description.")
    TAGS = strawberry.enum_value("tags", description="The asset's tags.")
    LABELS = strawberry.enum_value("labels", description="Recognised labels (ImageNet classes).")
    TRANSCRIPT = strawberry.enum_value("transcript", description="What is said (speech, or a text's words).")
    OCR = strawberry.enum_value("ocr", description="Text shown on screen or in the picture.")


@strawberry.enum(name="SearchRetriever", description="One ranked list that search fuses.")
class SearchRetriever(enum.Enum):
    """BM25 over the text fields, or kNN over one vector field."""

    TEXT = strawberry.enum_value("text", description="BM25 over the text fields.")
    VECTOR_TEXT = strawberry.enum_value(
        "vector:text", description="kNN of the MiniLM text embedding over moments' words."
    )
    VECTOR_VISUAL = strawberry.enum_value(
        "vector:visual", description="kNN of a picture's MobileNetV2 features over keyframes."
    )
    VECTOR_BRIDGE = strawberry.enum_value(
        "vector:bridge",
        description="kNN over keyframes described by their ImageNet labels in MiniLM's space.",
    )
    VECTOR_CLIP = strawberry.enum_value(
        "vector:clip",
        description="kNN of a CLIP embedding over keyframes' CLIP image vectors (if configured).",
    )


@strawberry.enum(name="SearchFacetField", description="Fields search facets can count.")
class SearchFacetField(enum.Enum):
    """Facet fields."""

    KIND = strawberry.enum_value("kind", description="The asset kind (video, audio, image, text).")
    TAGS = strawberry.enum_value("tags", description="The asset's tags.")
    LABELS = strawberry.enum_value("labels", description="Recognised labels.")
    LANGUAGE = strawberry.enum_value("language", description="The detected or given language.")


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input(name="SearchFilter", description="Structured conditions; every given one must hold.")
class SearchFilterInput:
    """Filters of a search (applied before ranking, inside every retriever)."""

    kinds: list[AssetKind] | None = strawberry.field(
        default=None, description="Keep assets of any of these kinds."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Keep assets carrying all these tags."
    )
    labels: list[str] | None = strawberry.field(
        default=None,
        description="Keep hits showing all these labels (a moment's own labels; an asset's from any scene).",
    )
    languages: list[str] | None = strawberry.field(
        default=None, description="Keep assets in any of these languages (BCP 47, as detected)."
    )
    min_duration_seconds: float | None = strawberry.field(
        default=None, description="Keep assets at least this long."
    )
    max_duration_seconds: float | None = strawberry.field(
        default=None, description="Keep assets at most this long."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Keep assets registered at or after this time."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Keep assets registered before this time."
    )
    asset_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Keep hits of these assets only (e.g. search inside one video)."
    )
    person_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Keep hits of assets where any of these people (Person IDs) appear; hidden people "
        "match nothing.",
    )
    metadata: JSON | None = strawberry.field(
        default=None,
        description="Keep assets whose metadata has all these key/value pairs (a JSON object of "
        "strings, numbers and booleans; 2 and 2.0 are equal).",
    )
    include_duplicates: bool = strawberry.field(
        default=False,
        description="Also find assets an editor marked as duplicates of another (resolveDuplicates); "
        "hidden by default.",
    )

    def to_filters(self, path: list[str]) -> Filters:
        """The backend filters, validated (GraphQL errors with the input path)."""
        lists = {"kinds": self.kinds, "tags": self.tags, "labels": self.labels, "languages": self.languages}
        ids = (("assetIds", self.asset_ids), ("personIds", self.person_ids))
        for name, values in (*lists.items(), *ids):
            if values is not None and len(values) > MAX_FILTER_VALUES:
                raise InvalidInputError(f"at most {MAX_FILTER_VALUES} values per filter", field=[*path, name])
        low, high = self.min_duration_seconds, self.max_duration_seconds
        for name, value in (("minDurationSeconds", low), ("maxDurationSeconds", high)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InvalidInputError("durations are finite numbers >= 0", field=[*path, name])
        if low is not None and high is not None and low > high:
            raise InvalidInputError(
                "minDurationSeconds exceeds maxDurationSeconds", field=[*path, "minDurationSeconds"]
            )
        for name, moment in (("createdAfter", self.created_after), ("createdBefore", self.created_before)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInputError("timestamps need a time zone offset", field=[*path, name])
        if self.created_after and self.created_before and self.created_after > self.created_before:
            raise InvalidInputError("createdAfter is later than createdBefore", field=[*path, "createdAfter"])
        asset_ids: list[str] = []
        for i, raw_id in enumerate(self.asset_ids or ()):
            asset_ids.append(str(decode_id(str(raw_id), "Asset", field=[*path, "assetIds", str(i)])))
        person_ids = sorted(
            {
                str(decode_id(str(raw), "Person", field=[*path, "personIds", str(i)]))
                for i, raw in enumerate(self.person_ids or ())
            }
        )
        return Filters(
            kinds=tuple(sorted({kind.value for kind in self.kinds or ()})),
            tags=tuple(sorted(set(self.tags or ()))),
            labels=tuple(sorted(set(self.labels or ()))),
            languages=tuple(sorted(set(self.languages or ()))),
            duration_min_s=low,
            duration_max_s=high,
            created_from=self.created_after,
            created_to=self.created_before,
            asset_ids=tuple(asset_ids),
            person_ids=tuple(person_ids),
            metadata=_metadata_filter(self.metadata, [*path, "metadata"]),
        )


def _metadata_filter(raw: Any, path: list[str]) -> dict[str, str | int | float | bool]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError("metadata must be a JSON object", field=path)
    if len(raw) > MAX_FILTER_VALUES:
        raise InvalidInputError(f"at most {MAX_FILTER_VALUES} metadata conditions", field=path)
    kept: dict[str, str | int | float | bool] = {}
    for key, value in raw.items():
        if not key or "." in key:
            raise InvalidInputError(
                f"metadata key {key!r} must be non-empty and contain no dots", field=[*path, key]
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError("metadata numbers must be finite", field=[*path, key])
        if not isinstance(value, str | int | float | bool):
            # The index keeps scalar values only (see docs/search.md): no nested objects.
            raise InvalidInputError(
                "metadata values must be strings, numbers or booleans", field=[*path, key]
            )
        kept[key] = value
    return kept


@strawberry.input(name="SearchInput", description="What to search for, how, and among what.")
class SearchInput:
    """A search request (paging is in the field's `first` / `after`)."""

    text: str = strawberry.field(description="The words or sentence to find (1 to 1000 characters).")
    mode: SearchMode = strawberry.field(
        default=SearchMode.HYBRID,
        description="TEXT matches words (BM25), SEMANTIC meaning (vectors), HYBRID fuses both.",
    )
    scope: SearchScope = strawberry.field(
        default=SearchScope.MOMENT, description="Return moments (default) or whole assets."
    )
    filter: SearchFilterInput | None = strawberry.field(default=None, description="Structured conditions.")
    min_score: float | None = strawberry.field(
        default=None,
        description="Drop hits whose fused score is below this (RRF: about 0.016 per retriever at rank 1).",
    )
    min_relevance: float | None = strawberry.field(
        default=None,
        description="Drop hits whose relevance (0 to 1) is below this; unset applies the server's default "
        "cutoff (MEDIAKG_SEARCH_MIN_RELEVANCE) in SEMANTIC and HYBRID mode, none in TEXT; 0 keeps every "
        "hit. A search with no good match returns an empty or short page.",
    )

    def clean_text(self) -> str:
        """The query text, stripped and checked."""
        text = self.text.strip()
        if not text:
            raise InvalidInputError("the search text must not be empty", field=["query", "text"])
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInputError(
                f"the search text exceeds {MAX_QUERY_CHARS} characters", field=["query", "text"]
            )
        return text

    def fingerprint(self, filters: Filters) -> str:
        """What a cursor of this query is tied to (text, mode, scope, filters, threshold)."""
        raw = json.dumps(
            [
                self.text.strip(),
                self.mode.value,
                self.scope.value,
                repr(filters),
                self.min_score,
                bool(self.filter and self.filter.include_duplicates),
                self.min_relevance,
            ],
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


# --- cursors ---------------------------------------------------------------------------------


def encode_offset(offset: int, fingerprint: str) -> str:
    """The cursor after the hit at 0-based position ``offset - 1``."""
    return encode_cursor("search", [offset, fingerprint])


def decode_offset(cursor: str, fingerprint: str) -> int:
    """The offset inside ``cursor``; INVALID_CURSOR unless this query issued it."""
    try:
        offset, issued_for = decode_cursor("search", cursor)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or issued_for != fingerprint:
            raise ValueError("a cursor of another search")
        return offset
    except (ValueError, TypeError) as exc:
        raise InvalidCursorError("the cursor was not issued by this search", field=["after"]) from exc


# --- results ---------------------------------------------------------------------------------


@strawberry.type(name="SearchHighlight", description="A fragment of a matched text field.")
class SearchHighlightType:
    """One highlighted fragment."""

    field: SearchTextField = strawberry.field(description="The field the fragment comes from.")
    fragment: str = strawberry.field(
        description="HTML-escaped text with the matched words inside <mark>...</mark>."
    )


@strawberry.type(
    name="SearchTimeCode",
    description="Where a matched word is spoken (transcript) or shown (on-screen text): "
    "a player can jump there.",
)
class SearchTimeCodeType:
    """A matched transcript segment or on-screen line with its time range."""

    field: SearchTextField = strawberry.field(description="TRANSCRIPT or OCR.")
    start_seconds: float = strawberry.field(description="Start, in seconds from the beginning of the asset.")
    end_seconds: float = strawberry.field(description="End, in seconds from the beginning of the asset.")
    text: str = strawberry.field(description="The segment or line (plain text).")


@strawberry.type(name="SearchRank", description="How one retriever ranked a hit before fusion.")
class SearchRankType:
    """A retriever's rank and own score for a hit."""

    retriever: SearchRetriever = strawberry.field(description="Which retriever.")
    rank: int = strawberry.field(description="1-based rank in that retriever's list.")
    score: float = strawberry.field(
        description="That retriever's score: BM25, or cosine similarity in [-1, 1]."
    )


@strawberry.type(name="SearchHit", description="One result: a moment of an asset, or an asset as a whole.")
class SearchHitType:
    """A fused search result with everything needed to show and play it."""

    kind: SearchHitKind = strawberry.field(description="MOMENT or ASSET.")
    asset_row: strawberry.Private[Any]
    scene_row: strawberry.Private[Any]
    start_seconds: float | None = strawberry.field(
        description="Start of the moment in seconds (null for asset hits)."
    )
    end_seconds: float | None = strawberry.field(
        description="End of the moment in seconds (null for asset hits)."
    )
    play_from_seconds: float = strawberry.field(
        description="Where a player should start: the first matched time code, else the moment's "
        "start (0 for assets)."
    )
    score: float = strawberry.field(
        description="Fused score that orders the hits (reciprocal rank fusion, or the relevance itself "
        "when the server fuses by calibrated relevance); higher is better, comparable within one search only."
    )
    relevance: float = strawberry.field(
        description="Calibrated chance, 0 to 1, that this hit answers the search: the same scale for every "
        "query and mode (fitted per retriever on a labelled set), so a threshold means the same everywhere."
    )
    highlights: list[SearchHighlightType] = strawberry.field(description="Matched text fragments.")
    time_codes: list[SearchTimeCodeType] = strawberry.field(
        description="Matched transcript segments and on-screen lines, in time order."
    )
    matched_fields: list[SearchTextField] = strawberry.field(description="Text fields with a match.")
    ranks: list[SearchRankType] = strawberry.field(description="Each retriever's rank of this hit.")

    @field(description="The asset of the hit.")
    def asset(self) -> Annotated[AssetType, strawberry.lazy(_ASSETS)]:
        from app.api.assets.types import AssetType

        return AssetType.from_row(self.asset_row)

    @field(description="The scene of a moment (null for asset hits and for chunks of text documents).")
    def scene(self) -> SceneType | None:
        return SceneType.from_row(self.scene_row) if self.scene_row is not None else None


@strawberry.type(name="SearchEdge", description="One hit and its cursor.")
class SearchEdgeType:
    """Edge of SearchConnection."""

    cursor: str = strawberry.field(
        description="Opaque position; pass it as `after` to continue after this hit."
    )
    node: SearchHitType = strawberry.field(description="The hit.")


@strawberry.type(name="SearchFacetValue", description="A value of a facet and how many documents carry it.")
class SearchFacetValueType:
    """One facet bucket."""

    value: str = strawberry.field(description="The value (for KIND: video, audio, image or text).")
    count: int = strawberry.field(description="Documents of the search's scope carrying it.")


@strawberry.type(name="SearchFacet", description="Counts of one field's values.")
class SearchFacetType:
    """One facet."""

    field: SearchFacetField = strawberry.field(description="The counted field.")
    values: list[SearchFacetValueType] = strawberry.field(description="Most frequent first, ties by value.")


@dataclass(frozen=True, slots=True)
class FacetContext:
    """What the facets field of a result needs to count the same documents."""

    backend: SearchBackend
    tenant_id: uuid.UUID
    filters: Filters
    scope: DocType
    generation: str


@strawberry.type(name="SearchConnection", description="A page of search hits, best first.")
class SearchConnectionType:
    """Relay-shaped connection of hits, with totals and facets."""

    edges: list[SearchEdgeType] = strawberry.field(description="The hits of this page, in order.")
    page_info: PageInfoType = strawberry.field(description="Pagination state of this page.")
    total_count: int = strawberry.field(
        description="Fused candidates available to page through (each retriever contributes up to "
        "its top 100, or more on deep pages)."
    )
    retrievers: list[SearchRetriever] = strawberry.field(
        description="The retrievers that ran (HYBRID without a usable vector model runs TEXT only)."
    )
    generation: str = strawberry.field(description="The index generation that answered.")
    facet_context: strawberry.Private[FacetContext]

    @field(description="Counts of values over the documents matching the filter (not the text).")
    async def facets(
        self,
        info: Info,
        fields: Annotated[
            list[SearchFacetField] | None,
            strawberry.argument(description="Fields to count (default: all)."),
        ] = None,
        size: Annotated[int, strawberry.argument(description="Values per field, 1 to 100.")] = 10,
    ) -> list[SearchFacetType]:
        return await count_facets(self.facet_context, fields, size, ["facets"])


async def count_facets(
    ctx: FacetContext, fields: list[SearchFacetField] | None, size: int, path: list[str]
) -> list[SearchFacetType]:
    """The facets of ``fields`` (all when None) over what ``ctx`` selects, in the asked order."""
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInputError(f"size must be between 1 and {MAX_PAGE}", field=[*path, "size"])
    wanted = list(dict.fromkeys(fields)) if fields else list(SearchFacetField)
    try:
        results = await ctx.backend.facets(
            FacetQuery(
                tenant_id=str(ctx.tenant_id),
                fields=tuple(FacetField[f.name] for f in wanted),
                filters=ctx.filters,
                scope=ctx.scope,
                size=size,
                generation=ctx.generation,
            )
        )
    except QueryError as exc:
        raise InvalidInputError(str(exc), field=path or ["filter"]) from exc
    except SearchError as exc:
        raise SearchUnavailableError(f"the facets failed: {exc}") from exc
    return [
        SearchFacetType(
            field=f,
            values=[
                SearchFacetValueType(value=v.value, count=v.count)
                for v in results.facets.get(FacetField[f.name], ())
            ],
        )
        for f in wanted
    ]


def text_field(value: TextField) -> SearchTextField:
    """The GraphQL enum member of a backend text field."""
    return SearchTextField(value.value)

from datetime import datetime
from typing import Any, Optional

from pydantic import Field

from .base_model import BaseModel, Upload
from .enums import (
    AssetKind,
    AssetOrderField,
    AssetStatus,
    DetectionKind,
    DuplicateAction,
    JobQuality,
    OrderDirection,
    PipelineStage,
    SearchMode,
    SearchScope,
    SimilarityKind,
)


class AssetFilter(BaseModel):
    """Which assets to list; every given criterion must hold."""

    kind: Optional[list[AssetKind]] = None
    "Keep assets of these kinds."
    status: Optional[list[AssetStatus]] = None
    "Keep assets in these states."
    tag: Optional[str] = None
    "Keep assets carrying this tag (exact match)."
    created_after: Optional[datetime] = Field(alias="createdAfter", default=None)
    "Keep assets registered at or after this time."
    created_before: Optional[datetime] = Field(alias="createdBefore", default=None)
    "Keep assets registered before this time."
    min_duration_seconds: Optional[float] = Field(
        alias="minDurationSeconds", default=None
    )
    "Keep assets at least this long (assets without a duration are dropped)."
    max_duration_seconds: Optional[float] = Field(
        alias="maxDurationSeconds", default=None
    )
    "Keep assets at most this long (assets without a duration are dropped)."
    title_contains: Optional[str] = Field(alias="titleContains", default=None)
    "Keep assets whose title contains this text (case-insensitive)."
    person_id: Optional[str] = Field(alias="personId", default=None)
    "Keep assets in which this Person appears (a merged-away person's ID stands for the person it was merged into)."
    language: Optional[str] = None
    "Keep assets whose detected language is this (BCP 47, exact match)."
    include_duplicates: bool = Field(alias="includeDuplicates", default=False)
    "Also list assets an editor marked as duplicates of another (resolveDuplicates); hidden by default."


class AssetOrder(BaseModel):
    """How to sort assets."""

    field: AssetOrderField = AssetOrderField.CREATED_AT
    "Sort key."
    direction: OrderDirection = OrderDirection.DESC
    "Sort direction."


class AuditEventFilter(BaseModel):
    """Which audit events to list; every condition given must hold."""

    actor: Optional[str] = None
    "Who acted: an API key's name, exactly."
    action: Optional[str] = None
    "What was done, exactly (e.g. asset.update)."
    entity_type: Optional[str] = Field(alias="entityType", default=None)
    "Kind of entity acted on (asset, job, api_key, ...)."
    entity_id: Optional[str] = Field(alias="entityId", default=None)
    "The entity acted on: its ID (or, for entities without one, its UUID)."
    occurred_after: Optional[datetime] = Field(alias="occurredAfter", default=None)
    "Only events at or after this time."
    occurred_before: Optional[datetime] = Field(alias="occurredBefore", default=None)
    "Only events before this time."


class CancelJobInput(BaseModel):
    """The job to cancel."""

    id: str
    "The job to cancel."


class CreateWebhookInput(BaseModel):
    """An endpoint to register."""

    url: str
    "http(s) URL on a public address (same rules as URL ingest)."
    events: list[str]
    "Event types to receive: job.succeeded, job.failed, asset.ready, asset.deleted."
    secret: Optional[str] = None
    "The signing secret (16-200 characters); omitted: one is generated."


class DeleteAssetInput(BaseModel):
    """The asset to delete."""

    id: str
    "The asset to delete."


class DetectionFilter(BaseModel):
    """Which detections to return; every given criterion must hold."""

    kind: Optional[list[DetectionKind]] = None
    "Keep detections of these kinds."
    label: Optional[str] = None
    "Keep detections with this label or text (case-insensitive, whole value)."
    min_confidence: Optional[float] = Field(alias="minConfidence", default=None)
    "Keep detections at least this confident (0 to 1)."


class DuplicateFilter(BaseModel):
    """Which near-duplicate links form clusters."""

    kinds: Optional[list[AssetKind]] = None
    "Only assets of these kinds (near-duplicates always share a kind)."
    min_score: Optional[float] = Field(alias="minScore", default=None)
    "Only links scoring at least this (0 to 1): a stricter threshold splits clusters."


class IngestAssetInput(BaseModel):
    """One asset to register."""

    source: "IngestSource"
    "Where the content comes from."
    title: Optional[str] = None
    "Title; defaults to the file name."
    tags: Optional[list[str]] = None
    "Tags to attach."
    metadata: Optional[Any] = None
    "Free-form metadata (a JSON object)."
    idempotency_key: Optional[str] = Field(alias="idempotencyKey", default=None)
    "Client key making retries safe: the same key with the same content returns what its first call returned (restoring the asset if it was deleted since); with different content it is an IdempotencyConflict."


class IngestAssetsInput(BaseModel):
    """Several assets to register in one call."""

    items: list["IngestAssetInput"]
    "The assets, at most 50; each is registered on its own (one failing does not stop the others)."


class IngestSource(BaseModel):
    """Where the content comes from: exactly one of a local path, an uploaded file or a URL."""

    path: Optional[str] = None
    "A file on the server, inside the allowed ingestion roots."
    upload: Optional[Upload] = None
    "A file sent with the request (GraphQL multipart request spec), within the size limit."
    url: Optional[str] = None
    "An http(s) URL the server fetches: its host must resolve to public addresses only (every redirect is checked again); size and time are capped."


class PeopleFilter(BaseModel):
    """Which people to list."""

    name_contains: Optional[str] = Field(alias="nameContains", default=None)
    "Name contains this (any case)."
    hidden: Optional[bool] = False
    "Hidden people only (true), visible only (false, the default), or both (null)."


class ReprocessAssetInput(BaseModel):
    """Run (part of) the pipeline again over an asset."""

    id: str
    "The asset to reprocess."
    stages: Optional[list[PipelineStage]] = None
    "Stages to re-run, with everything downstream of them; omitted or empty: the whole pipeline."
    quality: JobQuality = JobQuality.ROUTED
    "How the job chooses its models: ACCURATE runs the accurate ones (today: speech) instead of the batch queue's route."


class ResolveDuplicatesInput(BaseModel):
    """A verdict on one near-duplicate cluster."""

    cluster_id: str = Field(alias="clusterId")
    "The cluster's `id` (from `duplicates`)."
    keep: str
    "The asset of the cluster to keep (an Asset ID)."
    action: DuplicateAction
    "The verdict."


class RetryJobInput(BaseModel):
    """The job to retry."""

    id: str
    "The failed or cancelled job to run again."


class SearchFilter(BaseModel):
    """Structured conditions; every given one must hold."""

    kinds: Optional[list[AssetKind]] = None
    "Keep assets of any of these kinds."
    tags: Optional[list[str]] = None
    "Keep assets carrying all these tags."
    labels: Optional[list[str]] = None
    "Keep hits showing all these labels (a moment's own labels; an asset's from any scene)."
    languages: Optional[list[str]] = None
    "Keep assets in any of these languages (BCP 47, as detected)."
    min_duration_seconds: Optional[float] = Field(
        alias="minDurationSeconds", default=None
    )
    "Keep assets at least this long."
    max_duration_seconds: Optional[float] = Field(
        alias="maxDurationSeconds", default=None
    )
    "Keep assets at most this long."
    created_after: Optional[datetime] = Field(alias="createdAfter", default=None)
    "Keep assets registered at or after this time."
    created_before: Optional[datetime] = Field(alias="createdBefore", default=None)
    "Keep assets registered before this time."
    asset_ids: Optional[list[str]] = Field(alias="assetIds", default=None)
    "Keep hits of these assets only (e.g. search inside one video)."
    person_ids: Optional[list[str]] = Field(alias="personIds", default=None)
    "Keep hits of assets where any of these people (Person IDs) appear; hidden people match nothing."
    metadata: Optional[Any] = None
    "Keep assets whose metadata has all these key/value pairs (a JSON object of strings, numbers and booleans; 2 and 2.0 are equal)."
    include_duplicates: bool = Field(alias="includeDuplicates", default=False)
    "Also find assets an editor marked as duplicates of another (resolveDuplicates); hidden by default."


class SearchInput(BaseModel):
    """What to search for, how, and among what."""

    text: str
    "The words or sentence to find (1 to 1000 characters)."
    mode: SearchMode = SearchMode.HYBRID
    "TEXT matches words (BM25), SEMANTIC meaning (vectors), HYBRID fuses both."
    scope: SearchScope = SearchScope.MOMENT
    "Return moments (default) or whole assets."
    filter_: Optional["SearchFilter"] = Field(alias="filter", default=None)
    "Structured conditions."
    min_score: Optional[float] = Field(alias="minScore", default=None)
    "Drop hits whose fused score is below this (RRF: about 0.016 per retriever at rank 1)."
    min_relevance: Optional[float] = Field(alias="minRelevance", default=None)
    "Drop hits whose relevance (0 to 1) is below this; unset applies the server's default cutoff (MEDIAKG_SEARCH_MIN_RELEVANCE) in SEMANTIC and HYBRID mode, none in TEXT; 0 keeps every hit. A search with no good match returns an empty or short page."


class SimilarityFilter(BaseModel):
    """Which similarity links to follow."""

    kind: Optional[list[SimilarityKind]] = None
    "Keep links of these kinds."
    min_score: Optional[float] = Field(alias="minScore", default=None)
    "Keep links scoring at least this (0 to 1)."


class UpdateAssetInput(BaseModel):
    """Changes to an asset; omitted fields stay as they are."""

    id: str
    "The asset to change."
    title: Optional[str] = None
    "New title."
    tags: Optional[list[str]] = None
    "New tags (replace the old ones)."
    metadata: Optional[Any] = None
    "New metadata (replaces the old object)."


class UpdateWebhookInput(BaseModel):
    """What to change of an endpoint (omitted: kept)."""

    id: str
    "The endpoint."
    url: Optional[str] = None
    "A new URL (checked like at creation)."
    events: Optional[list[str]] = None
    "New event types."
    active: Optional[bool] = None
    "false: pause deliveries."


IngestAssetInput.model_rebuild()
IngestAssetsInput.model_rebuild()
SearchInput.model_rebuild()

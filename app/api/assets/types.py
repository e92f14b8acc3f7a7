"""The Asset type: an ingested item and the entry point to everything learned about it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from app.api.batching import PagedKey
from app.api.context import Info
from app.api.enums import AssetKind, AssetStatus, JobStatus
from app.api.fields import field
from app.api.ids import decode_id
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, BigInt, First
from app.api.urls import blob_url
from app.assets import repository as assets_repo
from app.assets.models import Asset
from app.assets.sources import relative_source
from app.audit import repository as audit_repo
from app.core.errors import InvalidInputError
from app.jobs import repository as jobs_repo
from app.media import repository as repo

if TYPE_CHECKING:
    from app.api.audit.types import AuditEventType
    from app.api.jobs.types import JobType, ModelUsageType
    from app.api.media.relations import RelatedAssetConnectionType
    from app.api.media.types import (
        DetectionFilterInput,
        DetectionType,
        SceneType,
        SimilarAssetConnection,
        SimilarityFilterInput,
        TranscriptSegmentType,
    )
    from app.api.people.types import PersonType

_MEDIA = "app.api.media.types"
_RELATIONS = "app.api.media.relations"


@strawberry.type(
    name="Asset",
    description="An ingested video, audio file, image or text document, and the entry point to "
    "everything the pipeline learned about it.",
)
class AssetType(relay.Node):
    """GraphQL view of an ``Asset`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[Asset]

    @classmethod
    def from_row(cls, row: Asset) -> AssetType:
        """The GraphQL object of ``row``."""
        return cls(node_id=str(row.id), row=row)

    @field(description="What the asset is.")
    def kind(self) -> AssetKind:
        return self.row.kind

    @field(description="Where the asset is in its life (registered, processing, ready, failed).")
    def status(self) -> AssetStatus:
        return self.row.status

    @field(description="Human title; defaults to the file name without extension.")
    def title(self) -> str:
        return self.row.title

    @field(
        description="Where the content came from, if known: the URL it was fetched from (without its "
        "query), or for a file on the server its path relative to the ingestion root it lies in (server "
        "directories are never shown)."
    )
    def source_uri(self, info: Info) -> str | None:
        return relative_source(self.row.source_uri, info.context.settings.allowed_roots)

    @field(description="MIME type detected from the content.")
    def mime_type(self) -> str:
        return self.row.mime_type

    @field(
        description="URL of the content itself (same origin as the API), for a player or a download: "
        "signed like keyframe URLs, it loads without a header and expires (signed_url_ttl_seconds); "
        "answers HTTP range requests."
    )
    def content_url(self, info: Info) -> str:
        return blob_url(
            self.row.blob_key, signer=info.context.url_signer, tenant_id=info.context.caller.tenant_id
        )

    @field(description="Size of the content in bytes.")
    def size_bytes(self) -> BigInt:
        return BigInt(self.row.size_bytes)

    @field(description="SHA-256 of the content (hex); identical uploads share it.")
    def content_sha256(self) -> str:
        return self.row.content_sha256

    @field(description="Duration in seconds (video and audio, once probed).")
    def duration_seconds(self) -> float | None:
        return self.row.duration_s

    @field(description="Frame width in pixels (video and images, once probed).")
    def width(self) -> int | None:
        return self.row.width

    @field(description="Frame height in pixels (video and images, once probed).")
    def height(self) -> int | None:
        return self.row.height

    @field(description="Frames per second (video, once probed).")
    def frame_rate(self) -> float | None:
        return self.row.frame_rate

    @field(description="Number of audio channels (video and audio, once probed).")
    def audio_channels(self) -> int | None:
        return self.row.audio_channels

    @field(description="Main spoken or written language (BCP 47), once detected.")
    def language(self) -> str | None:
        return self.row.language

    @field(description="Tags, sorted and unique.")
    def tags(self) -> list[str]:
        return list(self.row.tags)

    @field(description="Free-form metadata supplied by clients (a JSON object).")
    def metadata(self) -> JSON:
        return JSON(self.row.user_metadata)

    @field(description="Technical facts from probing: container, codecs, streams (a JSON object).")
    def media_info(self) -> JSON:
        return JSON(self.row.media_info)

    @field(description="When the asset was registered.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @field(description="When the asset last changed.")
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @field(description="Scenes (shots of a video, the frame of an image) in time order.")
    async def scenes(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = None
    ) -> Connection[Annotated[SceneType, strawberry.lazy(_MEDIA)]]:
        from app.api.media.types import SceneType

        page = page_of(info, repo.SCENE_ORDER, first, after, field=["scenes"])
        rows = await info.context.loaders.media.scenes_by_asset.load(PagedKey(self.row.id, page, None))
        return connection(rows, repo.SCENE_ORDER, SceneType.from_row)

    @field(
        description="Transcript segments in time order; `from`/`to` keep those overlapping that "
        "range (seconds), `contains` those whose text contains the phrase (case-insensitive)."
    )
    async def transcript(
        self,
        info: Info,
        from_: Annotated[
            float | None, strawberry.argument(name="from", description="Start of the time range, in seconds.")
        ] = None,
        to: Annotated[
            float | None, strawberry.argument(description="End of the time range, in seconds.")
        ] = None,
        contains: Annotated[
            str | None, strawberry.argument(description="Keep segments whose text contains this phrase.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[Annotated[TranscriptSegmentType, strawberry.lazy(_MEDIA)]]:
        from app.api.media.types import TranscriptSegmentType, segment_filter

        where = segment_filter(from_, to, contains, field=["transcript"])
        page = page_of(info, repo.SEGMENT_ORDER, first, after, field=["transcript"])
        rows = await info.context.loaders.media.transcript_segments_by_asset.load(
            PagedKey(self.row.id, page, where)
        )
        return connection(rows, repo.SEGMENT_ORDER, TranscriptSegmentType.from_row)

    @field(
        description="Labels, faces and on-screen text found in the asset, in time order; `from`/`to` "
        "keep those seen in that range (seconds; from inclusive, to exclusive)."
    )
    async def detections(
        self,
        info: Info,
        filter: Annotated[
            Annotated[DetectionFilterInput, strawberry.lazy(_MEDIA)] | None,
            strawberry.argument(description="Which detections to return."),
        ] = None,
        from_: Annotated[
            float | None,
            strawberry.argument(name="from", description="Start of the time range, in seconds (inclusive)."),
        ] = None,
        to: Annotated[
            float | None, strawberry.argument(description="End of the time range, in seconds (exclusive).")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[Annotated[DetectionType, strawberry.lazy(_MEDIA)]]:
        from app.api.media.types import DetectionType, detection_filter

        where = detection_filter(filter, field=["detections"], start=from_, end=to)
        page = page_of(info, repo.DETECTION_ORDER, first, after, field=["detections"])
        rows = await info.context.loaders.media.detections_by_asset.load(PagedKey(self.row.id, page, where))
        return connection(rows, repo.DETECTION_ORDER, DetectionType.from_row)

    @field(description="Assets linked to this one by similarity, best score first.")
    async def similar_assets(
        self,
        info: Info,
        filter: Annotated[
            Annotated[SimilarityFilterInput, strawberry.lazy(_MEDIA)] | None,
            strawberry.argument(description="Which similarity links to follow."),
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Annotated[SimilarAssetConnection, strawberry.lazy(_MEDIA)]:
        from app.api.media.types import similar_assets, similarity_filter

        where = similarity_filter(filter, field=["similarAssets", "filter"])
        page = page_of(info, repo.EDGE_ORDER, first, after, field=["similarAssets"])
        return await similar_assets(info, self.row.id, page, where)

    @field(
        description="Assets related to this one and why: same person, near-duplicate, similar scenes, shared "
        "on-screen text, shared labels; each reason with its score and evidence, strongest combined first. "
        "Deleted assets and marked duplicates never appear."
    )
    async def related(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = None
    ) -> Annotated[RelatedAssetConnectionType, strawberry.lazy(_RELATIONS)]:
        from app.api.media.relations import related_assets

        return await related_assets(info, self.row.id, first, after)

    @field(description="The people seen in this asset (not hidden ones), by first appearance.")
    async def people(
        self, info: Info
    ) -> list[Annotated[PersonType, strawberry.lazy("app.api.people.types")]]:
        from app.api.people.types import PersonType

        rows = await info.context.loaders.media.people_by_asset.load(self.row.id)
        return [PersonType.from_row(r) for r in rows]

    @field(
        description=(
            "Which models ran on this asset: per model, summed over every job that processed it "
            "(superseded and failed runs included: what it cost), in the order they first ran."
        )
    )
    async def model_usage(
        self, info: Info
    ) -> list[Annotated[ModelUsageType, strawberry.lazy("app.api.jobs.types")]]:
        from app.api.jobs.types import ModelUsageType

        usage = await info.context.loaders.jobs.model_usage_by_asset.load(self.row.id)
        return [ModelUsageType(usage=u) for u in usage]

    @field(description="Pipeline runs over this asset, newest first.")
    async def jobs(
        self,
        info: Info,
        status: Annotated[
            list[JobStatus] | None, strawberry.argument(description="Keep jobs in one of these states.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[Annotated[JobType, strawberry.lazy("app.api.jobs.types")]]:
        from app.api.jobs.types import JobType

        page = page_of(info, jobs_repo.JOB_ORDER, first, after, field=["jobs"])
        key = PagedKey(self.row.id, page, tuple(sorted(set(status or []))))
        rows = await info.context.loaders.jobs.jobs_by_asset.load(key)
        return connection(rows, jobs_repo.JOB_ORDER, JobType.from_row)

    @field(description="Audit trail of this asset (who changed what), newest first.")
    async def audit_events(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = None
    ) -> Connection[Annotated[AuditEventType, strawberry.lazy("app.api.audit.types")]]:
        from app.api.audit.types import AuditEventType

        page = page_of(info, audit_repo.AUDIT_ORDER, first, after, field=["auditEvents"])
        rows = await info.context.loaders.audit.audit_events_by_entity.load(PagedKey(self.row.id, page, None))
        return connection(rows, audit_repo.AUDIT_ORDER, AuditEventType.from_row)


def check_range(low: Any, high: Any, *, field: list[str], what: str) -> None:
    """InvalidInputError unless low <= high (when both are given)."""
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"{what}: the lower bound exceeds the upper bound", field=field)


@strawberry.input(name="AssetFilter", description="Which assets to list; every given criterion must hold.")
class AssetFilterInput:
    """Filters of the assets connection."""

    kind: list[AssetKind] | None = strawberry.field(default=None, description="Keep assets of these kinds.")
    status: list[AssetStatus] | None = strawberry.field(
        default=None, description="Keep assets in these states."
    )
    tag: str | None = strawberry.field(
        default=None, description="Keep assets carrying this tag (exact match)."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Keep assets registered at or after this time."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Keep assets registered before this time."
    )
    min_duration_seconds: float | None = strawberry.field(
        default=None, description="Keep assets at least this long (assets without a duration are dropped)."
    )
    max_duration_seconds: float | None = strawberry.field(
        default=None, description="Keep assets at most this long (assets without a duration are dropped)."
    )
    title_contains: str | None = strawberry.field(
        default=None, description="Keep assets whose title contains this text (case-insensitive)."
    )
    person_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Keep assets in which this Person appears (a merged-away person's ID stands for "
        "the person it was merged into).",
    )
    language: str | None = strawberry.field(
        default=None, description="Keep assets whose detected language is this (BCP 47, exact match)."
    )
    include_duplicates: bool = strawberry.field(
        default=False,
        description="Also list assets an editor marked as duplicates of another (resolveDuplicates); "
        "hidden by default.",
    )

    def to_filter(self, field: list[str]) -> assets_repo.AssetFilter:
        """The repository filter, with ranges checked."""
        check_range(self.created_after, self.created_before, field=field, what="created range")
        check_range(self.min_duration_seconds, self.max_duration_seconds, field=field, what="duration range")
        for name, moment in (("createdAfter", self.created_after), ("createdBefore", self.created_before)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInputError("timestamps need a time zone offset", field=[*field, name])
        return assets_repo.AssetFilter(
            kinds=tuple(self.kind or ()),
            statuses=tuple(self.status or ()),
            tag=self.tag,
            created_from=self.created_after,
            created_to=self.created_before,
            min_duration_s=self.min_duration_seconds,
            max_duration_s=self.max_duration_seconds,
            title=self.title_contains or None,
            person_id=None
            if self.person_id is None
            else decode_id(self.person_id, "Person", field=[*field, "personId"]),
            language=self.language,
            include_duplicates=self.include_duplicates,
        )

"""Types of the analysis graph: scenes, transcript segments, detections and similarity links."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from app.api.batching import PagedKey
from app.api.context import Info
from app.api.enums import DetectionKind, SimilarityKind
from app.api.fields import field
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, PageInfoType, connection, encode_cursor, page_of
from app.api.scalars import After, First
from app.api.urls import blob_url
from app.core.enums import OwnerType
from app.core.errors import InvalidInputError
from app.core.pagination import Page
from app.media import repository as repo
from app.media.models import Scene, SimilarityEdge

if TYPE_CHECKING:
    from app.api.assets.types import AssetType
    from app.api.people.types import PersonType

_ASSETS = "app.api.assets.types"


async def _asset(info: Info, asset_id: uuid.UUID) -> AssetType | None:
    from app.api.assets.types import AssetType

    row = await info.context.loaders.assets.asset_by_id.load(asset_id)
    return AssetType.from_row(row) if row is not None else None


# --- filters -------------------------------------------------------------------------------


@strawberry.input(
    name="DetectionFilter", description="Which detections to return; every given criterion must hold."
)
class DetectionFilterInput:
    """Filters of detection connections."""

    kind: list[DetectionKind] | None = strawberry.field(
        default=None, description="Keep detections of these kinds."
    )
    label: str | None = strawberry.field(
        default=None, description="Keep detections with this label or text (case-insensitive, whole value)."
    )
    min_confidence: float | None = strawberry.field(
        default=None, description="Keep detections at least this confident (0 to 1)."
    )


def _signed(info: Info, key: str | None) -> str | None:
    """The signed URL of a blob of the caller's tenant."""
    if not key:
        return None
    return blob_url(key, signer=info.context.url_signer, tenant_id=info.context.caller.tenant_id)


def detection_filter(
    value: DetectionFilterInput | None,
    *,
    field: list[str],
    start: float | None = None,
    end: float | None = None,
) -> repo.DetectionFilter:
    """The repository filter of ``value`` (the ``filter`` argument of connection ``field``) and a
    time range [start, end), both checked."""
    check_time_range(start, end, field=field)
    if value is None:
        return repo.DetectionFilter(start_s=start, end_s=end)
    if value.min_confidence is not None and not 0.0 <= value.min_confidence <= 1.0:
        raise InvalidInputError(
            "minConfidence must be between 0 and 1", field=[*field, "filter", "minConfidence"]
        )
    return repo.DetectionFilter(
        kinds=tuple(sorted(set(value.kind or ()))),
        label=value.label,
        min_confidence=value.min_confidence,
        start_s=start,
        end_s=end,
    )


@strawberry.input(name="SimilarityFilter", description="Which similarity links to follow.")
class SimilarityFilterInput:
    """Filters of similarity connections."""

    kind: list[SimilarityKind] | None = strawberry.field(
        default=None, description="Keep links of these kinds."
    )
    min_score: float | None = strawberry.field(
        default=None, description="Keep links scoring at least this (0 to 1)."
    )


def similarity_filter(value: SimilarityFilterInput | None, *, field: list[str]) -> repo.EdgeFilter:
    """The repository filter for ``value``, checked."""
    if value is None:
        return repo.EdgeFilter()
    if value.min_score is not None and not 0.0 <= value.min_score <= 1.0:
        raise InvalidInputError("minScore must be between 0 and 1", field=[*field, "minScore"])
    return repo.EdgeFilter(kinds=tuple(sorted(set(value.kind or ()))), min_score=value.min_score)


def check_time_range(start: float | None, end: float | None, *, field: list[str]) -> None:
    """INVALID_INPUT at ``field`` + ``from`` unless start <= end (when both are given)."""
    if start is not None and end is not None and start > end:
        raise InvalidInputError("`from` must not be after `to`", field=[*field, "from"])


def segment_filter(
    start: float | None, end: float | None, contains: str | None, *, field: list[str]
) -> repo.SegmentFilter:
    """The repository filter of a time range and a phrase, checked."""
    check_time_range(start, end, field=field)
    return repo.SegmentFilter(start_s=start, end_s=end, text=contains or None)


# --- scenes --------------------------------------------------------------------------------


@strawberry.type(
    name="Scene", description="A shot of a video, the single frame of an image, or a span of audio."
)
class SceneType(relay.Node):
    """GraphQL view of a ``Scene`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[Scene]
    # Plain fields, copied from the row: strawberry resolves them without building an Info
    # and converting arguments (a resolver method costs that per object and field).
    ordinal: int = strawberry.field(description="Position of the scene in its asset, from 0.")
    start_seconds: float = strawberry.field(description="Start, in seconds from the beginning of the asset.")
    end_seconds: float = strawberry.field(description="End, in seconds from the beginning of the asset.")
    duration_seconds: float = strawberry.field(description="Length of the scene in seconds.")

    @classmethod
    def from_row(cls, row: Scene) -> SceneType:
        """The GraphQL object of ``row``."""
        return cls(
            node_id=str(row.id),
            row=row,
            ordinal=row.ordinal,
            start_seconds=row.start_s,
            end_seconds=row.end_s,
            duration_seconds=row.end_s - row.start_s,
        )

    @field(
        description="URL of the keyframe image (same origin as the API), once extracted: signed, it loads "
        "without a header and expires (signed_url_ttl_seconds)."
    )
    def keyframe_url(self, info: Info) -> str | None:
        return _signed(info, self.row.keyframe_blob_key)

    @field(description="URL of a small thumbnail of the keyframe, once extracted (signed like keyframeUrl).")
    def thumbnail_url(self, info: Info) -> str | None:
        return _signed(info, self.row.thumbnail_blob_key)

    @field(description="Model that found the scene.")
    def model_name(self) -> str:
        return self.row.model_name

    @field(description="Version of that model.")
    def model_version(self) -> str:
        return self.row.model_version

    @field(description="The asset the scene belongs to.")
    async def asset(self, info: Info) -> Annotated[AssetType, strawberry.lazy(_ASSETS)] | None:
        return await _asset(info, self.row.asset_id)

    @field(
        description="Transcript segments spoken during the scene (overlapping its time span), in time order."
    )
    async def transcript(
        self,
        info: Info,
        contains: Annotated[
            str | None, strawberry.argument(description="Keep segments whose text contains this phrase.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[TranscriptSegmentType]:
        where = segment_filter(None, None, contains, field=["transcript"])
        page = page_of(info, repo.SEGMENT_ORDER, first, after, field=["transcript"])
        rows = await info.context.loaders.media.transcript_segments_by_scene.load(
            PagedKey(self.row.id, page, where)
        )
        return connection(rows, repo.SEGMENT_ORDER, TranscriptSegmentType.from_row)

    @field(description="The people seen in this scene (not hidden ones), by first appearance.")
    async def people(
        self, info: Info
    ) -> list[Annotated[PersonType, strawberry.lazy("app.api.people.types")]]:
        from app.api.people.types import PersonType

        rows = await info.context.loaders.media.people_by_scene.load(self.row.id)
        return [PersonType.from_row(r) for r in rows]

    @field(description="Labels, faces and on-screen text found in the scene, in time order.")
    async def detections(
        self,
        info: Info,
        filter: Annotated[
            DetectionFilterInput | None, strawberry.argument(description="Which detections to return.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[DetectionType]:
        where = detection_filter(filter, field=["detections"])
        page = page_of(info, repo.DETECTION_ORDER, first, after, field=["detections"])
        rows = await info.context.loaders.media.detections_by_scene.load(PagedKey(self.row.id, page, where))
        return connection(rows, repo.DETECTION_ORDER, DetectionType.from_row)

    @field(description="Scenes (of any asset) that look or read alike, best score first.")
    async def similar_scenes(
        self,
        info: Info,
        filter: Annotated[
            SimilarityFilterInput | None, strawberry.argument(description="Which similarity links to follow.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> SimilarSceneConnection:
        where = similarity_filter(filter, field=["similarScenes", "filter"])
        page = page_of(info, repo.EDGE_ORDER, first, after, field=["similarScenes"])
        neighbours = await info.context.loaders.media.similar_scenes_by_scene.load(
            PagedKey(self.row.id, page, where)
        )
        scenes = await info.context.loaders.media.scene_by_id.load_many([n.other_id for n in neighbours.rows])
        edges = [
            SimilarSceneEdge(
                cursor=encode_cursor(repo.EDGE_ORDER, repo.EDGE_ORDER.values_of(n.edge)),
                node=SceneType.from_row(scene),
                score=n.edge.score,
                kind=n.edge.kind,
                similarity=SimilarityEdgeType.from_row(n.edge),
            )
            for n, scene in zip(neighbours.rows, scenes, strict=True)
            # A scene deleted between the two reads is skipped rather than returned as null.
            if scene is not None
        ]
        return SimilarSceneConnection(edges=edges, page_info=_page_info(edges, neighbours.has_next))


# --- transcript ------------------------------------------------------------------------------


@strawberry.type(name="WordTiming", description="One recognised word and when it was spoken.")
class WordTimingType:
    """A word of a transcript segment."""

    word: str = strawberry.field(
        description="The word as recognised (may carry leading spaces or punctuation)."
    )
    start_seconds: float = strawberry.field(
        description="When the word starts, in seconds from the asset start."
    )
    end_seconds: float = strawberry.field(description="When the word ends, in seconds from the asset start.")
    probability: float | None = strawberry.field(description="Recogniser confidence in the word (0 to 1).")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> WordTimingType:
        """A word from the segment's JSON word list."""
        probability = raw.get("probability")
        return cls(
            word=str(raw.get("word", "")),
            start_seconds=float(raw.get("start", 0.0)),
            end_seconds=float(raw.get("end", 0.0)),
            probability=float(probability) if probability is not None else None,
        )


@strawberry.type(
    name="TranscriptSegment",
    description="A span of recognised speech (or a chunk of a text document) with word timings.",
)
class TranscriptSegmentType(relay.Node):
    """GraphQL view of a ``TranscriptSegment`` row."""

    node_id: relay.NodeID[str]
    # The ORM object, or a row of its columns (pages per parent: app/media/repository.py).
    row: strawberry.Private[repo.SegmentRow]
    # Plain fields, copied from the row (see SceneType).
    start_seconds: float = strawberry.field(
        description="Start, in seconds from the beginning of the asset; for a chunk of a text "
        "document, the character offset where it starts."
    )
    end_seconds: float = strawberry.field(
        description="End, in seconds from the beginning of the asset; for a chunk of a text "
        "document, the character offset where it ends."
    )
    text: str = strawberry.field(description="The recognised text, or the chunk's text for a document.")
    language: str | None = strawberry.field(description="Language of the text (BCP 47), if detected.")
    confidence: float | None = strawberry.field(
        description="Recogniser confidence in the segment (0 to 1), if known."
    )

    @classmethod
    def from_row(cls, row: repo.SegmentRow) -> TranscriptSegmentType:
        """The GraphQL object of ``row``."""
        return cls(
            node_id=str(row.id),
            row=row,
            start_seconds=row.start_s,
            end_seconds=row.end_s,
            text=row.text,
            language=row.language,
            confidence=row.confidence,
        )

    @field(description="Every word with its timing, in order (a segment holds a sentence or so).")
    def words(self) -> list[WordTimingType]:
        return [WordTimingType.from_json(word) for word in self.row.words]

    @field(
        description="Model that produced the segment (the accurate model where a low-confidence "
        "span was escalated to it)."
    )
    def model_name(self) -> str:
        return self.row.produced_by.partition(":")[0] if self.row.produced_by else self.row.model_name

    @field(description="Version of that model.")
    def model_version(self) -> str:
        return self.row.produced_by.partition(":")[2] if self.row.produced_by else self.row.model_version

    @field(description="The asset the segment belongs to.")
    async def asset(self, info: Info) -> Annotated[AssetType, strawberry.lazy(_ASSETS)] | None:
        return await _asset(info, self.row.asset_id)

    @field(description="The scene the transcriber attributed the segment to, if any.")
    async def scene(self, info: Info) -> SceneType | None:
        if self.row.scene_id is None:
            return None
        row = await info.context.loaders.media.scene_by_id.load(self.row.scene_id)
        return SceneType.from_row(row) if row is not None else None


# --- detections ------------------------------------------------------------------------------


@strawberry.type(
    name="BoundingBox", description="A box in normalised coordinates (0 to 1 of width and height)."
)
class BoundingBoxType:
    """Where in the frame a detection is."""

    x: float = strawberry.field(description="Left edge.")
    y: float = strawberry.field(description="Top edge.")
    width: float = strawberry.field(description="Width.")
    height: float = strawberry.field(description="Height.")


@strawberry.type(
    name="Detection", description="A label, a face or a piece of on-screen text found in a frame."
)
class DetectionType(relay.Node):
    """GraphQL view of a ``Detection`` row."""

    node_id: relay.NodeID[str]
    # The ORM object, or a row of its columns (pages per parent: app/media/repository.py).
    row: strawberry.Private[repo.DetectionRow]
    # Plain fields, copied from the row (see SceneType).
    kind: DetectionKind = strawberry.field(description="What was found.")
    label: str = strawberry.field(
        description='The class name (labels), "face" (faces) or the recognised text (text).'
    )
    confidence: float = strawberry.field(description="Model confidence (0 to 1).")
    time_seconds: float = strawberry.field(description="When in the asset the frame was, in seconds.")

    @classmethod
    def from_row(cls, row: repo.DetectionRow) -> DetectionType:
        """The GraphQL object of ``row``."""
        return cls(
            node_id=str(row.id),
            row=row,
            kind=row.kind,
            label=row.label,
            confidence=row.confidence,
            time_seconds=row.time_s,
        )

    @field(description="Where in the frame; null for whole-frame labels.")
    def box(self) -> BoundingBoxType | None:
        r = self.row
        if r.box_x is None or r.box_y is None or r.box_w is None or r.box_h is None:
            return None
        return BoundingBoxType(x=r.box_x, y=r.box_y, width=r.box_w, height=r.box_h)

    @field(description="Model that produced the detection.")
    def model_name(self) -> str:
        return self.row.model_name

    @field(description="Version of that model.")
    def model_version(self) -> str:
        return self.row.model_version

    @field(description="The asset the detection belongs to.")
    async def asset(self, info: Info) -> Annotated[AssetType, strawberry.lazy(_ASSETS)] | None:
        return await _asset(info, self.row.asset_id)

    @field(description="The scene whose keyframe the detection was found in, if any.")
    async def scene(self, info: Info) -> SceneType | None:
        if self.row.scene_id is None:
            return None
        row = await info.context.loaders.media.scene_by_id.load(self.row.scene_id)
        return SceneType.from_row(row) if row is not None else None


# --- similarity ------------------------------------------------------------------------------

SimilarityEndpoint = Annotated[
    Annotated["AssetType", strawberry.lazy(_ASSETS)] | SceneType,
    strawberry.union("SimilarityEndpoint", description="An end of a similarity link: an asset or a scene."),
]


@strawberry.type(
    name="SimilarityEdge", description="A scored similarity link between two assets or two scenes."
)
class SimilarityEdgeType(relay.Node):
    """GraphQL view of a ``SimilarityEdge`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[SimilarityEdge]

    @classmethod
    def from_row(cls, row: SimilarityEdge) -> SimilarityEdgeType:
        """The GraphQL object of ``row``."""
        return cls(node_id=str(row.id), row=row)

    @field(description="Why the two are linked.")
    def kind(self) -> SimilarityKind:
        return self.row.kind

    @field(description="How alike they are (0 to 1, higher is closer).")
    def score(self) -> float:
        return self.row.score

    @field(description="Model that scored the link.")
    def model_name(self) -> str:
        return self.row.model_name

    @field(description="Version of that model.")
    def model_version(self) -> str:
        return self.row.model_version

    @field(description="When the link was computed.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @field(description="One end of the link (links are symmetric: source and target are interchangeable).")
    async def source(self, info: Info) -> SimilarityEndpoint | None:
        return await _endpoint(info, self.row.source_type, self.row.source_id)

    @field(description="The other end of the link.")
    async def target(self, info: Info) -> SimilarityEndpoint | None:
        return await _endpoint(info, self.row.target_type, self.row.target_id)


async def _endpoint(info: Info, owner_type: OwnerType, owner_id: uuid.UUID) -> AssetType | SceneType | None:
    if owner_type is OwnerType.ASSET:
        return await _asset(info, owner_id)
    if owner_type is OwnerType.SCENE:
        row = await info.context.loaders.media.scene_by_id.load(owner_id)
        return SceneType.from_row(row) if row is not None else None
    return None


@strawberry.type(name="SimilarAssetEdge", description="A similar asset, with how and how much it is similar.")
class SimilarAssetEdge:
    """Edge of SimilarAssetConnection."""

    cursor: str = strawberry.field(
        description="Opaque position of this row; pass it as `after` to continue after it."
    )
    node: Annotated[AssetType, strawberry.lazy(_ASSETS)] = strawberry.field(description="The similar asset.")
    score: float = strawberry.field(description="How alike (0 to 1, higher is closer).")
    kind: SimilarityKind = strawberry.field(description="Why they are linked.")
    similarity: SimilarityEdgeType = strawberry.field(
        description="The link itself (model, version, both ends)."
    )


@strawberry.type(name="SimilarAssetConnection", description="Similar assets, best score first.")
class SimilarAssetConnection:
    """Relay connection of similar assets."""

    edges: list[SimilarAssetEdge] = strawberry.field(description="The rows of this page, in order.")
    page_info: PageInfoType = strawberry.field(description="Pagination state of this page.")


@strawberry.type(name="SimilarSceneEdge", description="A similar scene, with how and how much it is similar.")
class SimilarSceneEdge:
    """Edge of SimilarSceneConnection."""

    cursor: str = strawberry.field(
        description="Opaque position of this row; pass it as `after` to continue after it."
    )
    node: SceneType = strawberry.field(description="The similar scene.")
    score: float = strawberry.field(description="How alike (0 to 1, higher is closer).")
    kind: SimilarityKind = strawberry.field(description="Why they are linked.")
    similarity: SimilarityEdgeType = strawberry.field(
        description="The link itself (model, version, both ends)."
    )


@strawberry.type(name="SimilarSceneConnection", description="Similar scenes, best score first.")
class SimilarSceneConnection:
    """Relay connection of similar scenes."""

    edges: list[SimilarSceneEdge] = strawberry.field(description="The rows of this page, in order.")
    page_info: PageInfoType = strawberry.field(description="Pagination state of this page.")


def _page_info(edges: list[SimilarAssetEdge] | list[SimilarSceneEdge], has_next: bool) -> PageInfoType:
    return PageInfoType(
        has_next_page=has_next,
        has_previous_page=False,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


async def similar_assets(
    info: Info, asset_id: uuid.UUID, page: Page, where: repo.EdgeFilter
) -> SimilarAssetConnection:
    """The similarAssets connection of one asset."""
    from app.api.assets.types import AssetType

    neighbours = await info.context.loaders.media.similar_assets_by_asset.load(
        PagedKey(asset_id, page, where)
    )
    assets = await info.context.loaders.assets.asset_by_id.load_many([n.other_id for n in neighbours.rows])
    edges = [
        SimilarAssetEdge(
            cursor=encode_cursor(repo.EDGE_ORDER, repo.EDGE_ORDER.values_of(n.edge)),
            node=AssetType.from_row(asset),
            score=n.edge.score,
            kind=n.edge.kind,
            similarity=SimilarityEdgeType.from_row(n.edge),
        )
        for n, asset in zip(neighbours.rows, assets, strict=True)
        # An asset deleted between the two reads is skipped rather than returned as null.
        if asset is not None
    ]
    return SimilarAssetConnection(edges=edges, page_info=_page_info(edges, neighbours.has_next))

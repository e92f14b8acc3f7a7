from typing import Any, Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind, AssetStatus, JobStatus, SimilarityKind


class AssetPage(BaseModel):
    asset: Optional["AssetPageAsset"]


class AssetPageAsset(BaseModel):
    id: str
    title: str
    kind: AssetKind
    status: AssetStatus
    mime_type: str = Field(alias="mimeType")
    size_bytes: int = Field(alias="sizeBytes")
    duration_seconds: Optional[float] = Field(alias="durationSeconds")
    width: Optional[int]
    height: Optional[int]
    tags: list[str]
    metadata: Any
    scenes: "AssetPageAssetScenes"
    jobs: "AssetPageAssetJobs"
    similar_assets: "AssetPageAssetSimilarAssets" = Field(alias="similarAssets")
    audit_events: "AssetPageAssetAuditEvents" = Field(alias="auditEvents")


class AssetPageAssetScenes(BaseModel):
    edges: list["AssetPageAssetScenesEdges"]
    page_info: "AssetPageAssetScenesPageInfo" = Field(alias="pageInfo")


class AssetPageAssetScenesEdges(BaseModel):
    node: "AssetPageAssetScenesEdgesNode"


class AssetPageAssetScenesEdgesNode(BaseModel):
    id: str
    ordinal: int
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")
    keyframe_url: Optional[str] = Field(alias="keyframeUrl")


class AssetPageAssetScenesPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


class AssetPageAssetJobs(BaseModel):
    edges: list["AssetPageAssetJobsEdges"]


class AssetPageAssetJobsEdges(BaseModel):
    node: "AssetPageAssetJobsEdgesNode"


class AssetPageAssetJobsEdgesNode(BaseModel):
    id: str
    status: JobStatus
    progress: float


class AssetPageAssetSimilarAssets(BaseModel):
    edges: list["AssetPageAssetSimilarAssetsEdges"]


class AssetPageAssetSimilarAssetsEdges(BaseModel):
    score: float
    kind: SimilarityKind
    node: "AssetPageAssetSimilarAssetsEdgesNode"


class AssetPageAssetSimilarAssetsEdgesNode(BaseModel):
    id: str
    title: str


class AssetPageAssetAuditEvents(BaseModel):
    edges: list["AssetPageAssetAuditEventsEdges"]


class AssetPageAssetAuditEventsEdges(BaseModel):
    node: "AssetPageAssetAuditEventsEdgesNode"


class AssetPageAssetAuditEventsEdgesNode(BaseModel):
    action: str
    actor: str


AssetPage.model_rebuild()
AssetPageAsset.model_rebuild()
AssetPageAssetScenes.model_rebuild()
AssetPageAssetScenesEdges.model_rebuild()
AssetPageAssetJobs.model_rebuild()
AssetPageAssetJobsEdges.model_rebuild()
AssetPageAssetSimilarAssets.model_rebuild()
AssetPageAssetSimilarAssetsEdges.model_rebuild()
AssetPageAssetAuditEvents.model_rebuild()
AssetPageAssetAuditEventsEdges.model_rebuild()

from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind
from .fragments import RelationReasonFields


class RelatedAssets(BaseModel):
    asset: Optional["RelatedAssetsAsset"]


class RelatedAssetsAsset(BaseModel):
    id: str
    title: str
    related: "RelatedAssetsAssetRelated"


class RelatedAssetsAssetRelated(BaseModel):
    edges: list["RelatedAssetsAssetRelatedEdges"]
    page_info: "RelatedAssetsAssetRelatedPageInfo" = Field(alias="pageInfo")


class RelatedAssetsAssetRelatedEdges(BaseModel):
    cursor: str
    score: float
    node: "RelatedAssetsAssetRelatedEdgesNode"
    reasons: list["RelatedAssetsAssetRelatedEdgesReasons"]


class RelatedAssetsAssetRelatedEdgesNode(BaseModel):
    id: str
    title: str
    kind: AssetKind


RelatedAssetsAssetRelatedEdgesReasons = RelationReasonFields


class RelatedAssetsAssetRelatedPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


RelatedAssets.model_rebuild()
RelatedAssetsAsset.model_rebuild()
RelatedAssetsAssetRelated.model_rebuild()
RelatedAssetsAssetRelatedEdges.model_rebuild()

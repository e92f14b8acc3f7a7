from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind, AssetStatus


class AssetList(BaseModel):
    assets: "AssetListAssets"


class AssetListAssets(BaseModel):
    edges: list["AssetListAssetsEdges"]
    page_info: "AssetListAssetsPageInfo" = Field(alias="pageInfo")


class AssetListAssetsEdges(BaseModel):
    cursor: str
    node: "AssetListAssetsEdgesNode"


class AssetListAssetsEdgesNode(BaseModel):
    id: str
    title: str
    kind: AssetKind
    status: AssetStatus
    duration_seconds: Optional[float] = Field(alias="durationSeconds")
    tags: list[str]


class AssetListAssetsPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


AssetList.model_rebuild()
AssetListAssets.model_rebuild()
AssetListAssetsEdges.model_rebuild()

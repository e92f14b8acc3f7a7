from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind, SearchHitKind, SearchRetriever


class SearchByImage(BaseModel):
    search_by_image: "SearchByImageSearchByImage" = Field(alias="searchByImage")


class SearchByImageSearchByImage(BaseModel):
    total_count: int = Field(alias="totalCount")
    retrievers: list[SearchRetriever]
    edges: list["SearchByImageSearchByImageEdges"]
    page_info: "SearchByImageSearchByImagePageInfo" = Field(alias="pageInfo")


class SearchByImageSearchByImageEdges(BaseModel):
    cursor: str
    node: "SearchByImageSearchByImageEdgesNode"


class SearchByImageSearchByImageEdgesNode(BaseModel):
    kind: SearchHitKind
    score: float
    start_seconds: Optional[float] = Field(alias="startSeconds")
    end_seconds: Optional[float] = Field(alias="endSeconds")
    ranks: list["SearchByImageSearchByImageEdgesNodeRanks"]
    asset: "SearchByImageSearchByImageEdgesNodeAsset"
    scene: Optional["SearchByImageSearchByImageEdgesNodeScene"]


class SearchByImageSearchByImageEdgesNodeRanks(BaseModel):
    retriever: SearchRetriever
    rank: int


class SearchByImageSearchByImageEdgesNodeAsset(BaseModel):
    id: str
    title: str
    kind: AssetKind


class SearchByImageSearchByImageEdgesNodeScene(BaseModel):
    id: str
    thumbnail_url: Optional[str] = Field(alias="thumbnailUrl")


class SearchByImageSearchByImagePageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


SearchByImage.model_rebuild()
SearchByImageSearchByImage.model_rebuild()
SearchByImageSearchByImageEdges.model_rebuild()
SearchByImageSearchByImageEdgesNode.model_rebuild()

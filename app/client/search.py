from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind, SearchHitKind, SearchRetriever, SearchTextField


class Search(BaseModel):
    search: "SearchSearch"


class SearchSearch(BaseModel):
    total_count: int = Field(alias="totalCount")
    retrievers: list[SearchRetriever]
    edges: list["SearchSearchEdges"]
    page_info: "SearchSearchPageInfo" = Field(alias="pageInfo")


class SearchSearchEdges(BaseModel):
    cursor: str
    node: "SearchSearchEdgesNode"


class SearchSearchEdgesNode(BaseModel):
    kind: SearchHitKind
    score: float
    relevance: float
    start_seconds: Optional[float] = Field(alias="startSeconds")
    end_seconds: Optional[float] = Field(alias="endSeconds")
    play_from_seconds: float = Field(alias="playFromSeconds")
    matched_fields: list[SearchTextField] = Field(alias="matchedFields")
    highlights: list["SearchSearchEdgesNodeHighlights"]
    time_codes: list["SearchSearchEdgesNodeTimeCodes"] = Field(alias="timeCodes")
    ranks: list["SearchSearchEdgesNodeRanks"]
    asset: "SearchSearchEdgesNodeAsset"
    scene: Optional["SearchSearchEdgesNodeScene"]


class SearchSearchEdgesNodeHighlights(BaseModel):
    field: SearchTextField
    fragment: str


class SearchSearchEdgesNodeTimeCodes(BaseModel):
    field: SearchTextField
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")
    text: str


class SearchSearchEdgesNodeRanks(BaseModel):
    retriever: SearchRetriever
    rank: int


class SearchSearchEdgesNodeAsset(BaseModel):
    id: str
    title: str
    kind: AssetKind


class SearchSearchEdgesNodeScene(BaseModel):
    id: str
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")
    keyframe_url: Optional[str] = Field(alias="keyframeUrl")


class SearchSearchPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


Search.model_rebuild()
SearchSearch.model_rebuild()
SearchSearchEdges.model_rebuild()
SearchSearchEdgesNode.model_rebuild()

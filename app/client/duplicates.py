from datetime import datetime
from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind


class Duplicates(BaseModel):
    duplicates: "DuplicatesDuplicates"


class DuplicatesDuplicates(BaseModel):
    total_count: int = Field(alias="totalCount")
    edges: list["DuplicatesDuplicatesEdges"]
    page_info: "DuplicatesDuplicatesPageInfo" = Field(alias="pageInfo")


class DuplicatesDuplicatesEdges(BaseModel):
    cursor: str
    node: "DuplicatesDuplicatesEdgesNode"


class DuplicatesDuplicatesEdgesNode(BaseModel):
    id: str
    size: int
    pair_count: int = Field(alias="pairCount")
    best_score: float = Field(alias="bestScore")
    worst_score: float = Field(alias="worstScore")
    assets: list["DuplicatesDuplicatesEdgesNodeAssets"]
    pairs: list["DuplicatesDuplicatesEdgesNodePairs"]


class DuplicatesDuplicatesEdgesNodeAssets(BaseModel):
    id: str
    title: str
    kind: AssetKind
    created_at: datetime = Field(alias="createdAt")


class DuplicatesDuplicatesEdgesNodePairs(BaseModel):
    score: float
    source: "DuplicatesDuplicatesEdgesNodePairsSource"
    target: "DuplicatesDuplicatesEdgesNodePairsTarget"
    similarity: "DuplicatesDuplicatesEdgesNodePairsSimilarity"


class DuplicatesDuplicatesEdgesNodePairsSource(BaseModel):
    id: str


class DuplicatesDuplicatesEdgesNodePairsTarget(BaseModel):
    id: str


class DuplicatesDuplicatesEdgesNodePairsSimilarity(BaseModel):
    id: str
    model_name: str = Field(alias="modelName")
    model_version: str = Field(alias="modelVersion")


class DuplicatesDuplicatesPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


Duplicates.model_rebuild()
DuplicatesDuplicates.model_rebuild()
DuplicatesDuplicatesEdges.model_rebuild()
DuplicatesDuplicatesEdgesNode.model_rebuild()
DuplicatesDuplicatesEdgesNodePairs.model_rebuild()

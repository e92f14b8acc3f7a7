from typing import Optional

from pydantic import Field

from .base_model import BaseModel


class TranscriptSearch(BaseModel):
    asset: Optional["TranscriptSearchAsset"]


class TranscriptSearchAsset(BaseModel):
    id: str
    transcript: "TranscriptSearchAssetTranscript"


class TranscriptSearchAssetTranscript(BaseModel):
    edges: list["TranscriptSearchAssetTranscriptEdges"]
    page_info: "TranscriptSearchAssetTranscriptPageInfo" = Field(alias="pageInfo")


class TranscriptSearchAssetTranscriptEdges(BaseModel):
    node: "TranscriptSearchAssetTranscriptEdgesNode"


class TranscriptSearchAssetTranscriptEdgesNode(BaseModel):
    id: str
    text: str
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")
    words: list["TranscriptSearchAssetTranscriptEdgesNodeWords"]
    scene: Optional["TranscriptSearchAssetTranscriptEdgesNodeScene"]


class TranscriptSearchAssetTranscriptEdgesNodeWords(BaseModel):
    word: str
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")


class TranscriptSearchAssetTranscriptEdgesNodeScene(BaseModel):
    id: str


class TranscriptSearchAssetTranscriptPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")


TranscriptSearch.model_rebuild()
TranscriptSearchAsset.model_rebuild()
TranscriptSearchAssetTranscript.model_rebuild()
TranscriptSearchAssetTranscriptEdges.model_rebuild()
TranscriptSearchAssetTranscriptEdgesNode.model_rebuild()

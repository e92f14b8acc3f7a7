from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import DetectionKind, SimilarityKind


class SceneBrowser(BaseModel):
    scene: Optional["SceneBrowserScene"]


class SceneBrowserScene(BaseModel):
    id: str
    ordinal: int
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")
    keyframe_url: Optional[str] = Field(alias="keyframeUrl")
    thumbnail_url: Optional[str] = Field(alias="thumbnailUrl")
    asset: Optional["SceneBrowserSceneAsset"]
    transcript: "SceneBrowserSceneTranscript"
    detections: "SceneBrowserSceneDetections"
    similar_scenes: "SceneBrowserSceneSimilarScenes" = Field(alias="similarScenes")


class SceneBrowserSceneAsset(BaseModel):
    id: str
    title: str


class SceneBrowserSceneTranscript(BaseModel):
    edges: list["SceneBrowserSceneTranscriptEdges"]


class SceneBrowserSceneTranscriptEdges(BaseModel):
    node: "SceneBrowserSceneTranscriptEdgesNode"


class SceneBrowserSceneTranscriptEdgesNode(BaseModel):
    text: str
    start_seconds: float = Field(alias="startSeconds")
    end_seconds: float = Field(alias="endSeconds")


class SceneBrowserSceneDetections(BaseModel):
    edges: list["SceneBrowserSceneDetectionsEdges"]


class SceneBrowserSceneDetectionsEdges(BaseModel):
    node: "SceneBrowserSceneDetectionsEdgesNode"


class SceneBrowserSceneDetectionsEdgesNode(BaseModel):
    kind: DetectionKind
    label: str
    confidence: float
    time_seconds: float = Field(alias="timeSeconds")
    box: Optional["SceneBrowserSceneDetectionsEdgesNodeBox"]


class SceneBrowserSceneDetectionsEdgesNodeBox(BaseModel):
    x: float
    y: float
    width: float
    height: float


class SceneBrowserSceneSimilarScenes(BaseModel):
    edges: list["SceneBrowserSceneSimilarScenesEdges"]


class SceneBrowserSceneSimilarScenesEdges(BaseModel):
    score: float
    kind: SimilarityKind
    node: "SceneBrowserSceneSimilarScenesEdgesNode"


class SceneBrowserSceneSimilarScenesEdgesNode(BaseModel):
    id: str
    start_seconds: float = Field(alias="startSeconds")
    asset: Optional["SceneBrowserSceneSimilarScenesEdgesNodeAsset"]


class SceneBrowserSceneSimilarScenesEdgesNodeAsset(BaseModel):
    title: str


SceneBrowser.model_rebuild()
SceneBrowserScene.model_rebuild()
SceneBrowserSceneTranscript.model_rebuild()
SceneBrowserSceneTranscriptEdges.model_rebuild()
SceneBrowserSceneDetections.model_rebuild()
SceneBrowserSceneDetectionsEdges.model_rebuild()
SceneBrowserSceneDetectionsEdgesNode.model_rebuild()
SceneBrowserSceneSimilarScenes.model_rebuild()
SceneBrowserSceneSimilarScenesEdges.model_rebuild()
SceneBrowserSceneSimilarScenesEdgesNode.model_rebuild()

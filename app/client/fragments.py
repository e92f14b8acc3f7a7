from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import ModelInputUnit, RelationReason, SimilarityKind


class ModelUsageParts(BaseModel):
    name: str
    version: str
    task: str
    stages: list[str]
    calls: int
    inputs: float
    input_unit: ModelInputUnit = Field(alias="inputUnit")
    wall_seconds: float = Field(alias="wallSeconds")
    cpu_seconds: float = Field(alias="cpuSeconds")
    gpu_seconds: float = Field(alias="gpuSeconds")
    mean_confidence: Optional[float] = Field(alias="meanConfidence")


class RelationReasonFields(BaseModel):
    reason: RelationReason
    score: float
    weight: float
    terms: list[str]
    person_ids: list[str] = Field(alias="personIds")
    scene_pairs: list["RelationReasonFieldsScenePairs"] = Field(alias="scenePairs")
    similarities: list["RelationReasonFieldsSimilarities"]


class RelationReasonFieldsScenePairs(BaseModel):
    kind: SimilarityKind
    score: float
    scene: Optional["RelationReasonFieldsScenePairsScene"]
    other_scene: Optional["RelationReasonFieldsScenePairsOtherScene"] = Field(
        alias="otherScene"
    )


class RelationReasonFieldsScenePairsScene(BaseModel):
    id: str
    start_seconds: float = Field(alias="startSeconds")


class RelationReasonFieldsScenePairsOtherScene(BaseModel):
    id: str
    start_seconds: float = Field(alias="startSeconds")


class RelationReasonFieldsSimilarities(BaseModel):
    id: str
    kind: SimilarityKind
    score: float


ModelUsageParts.model_rebuild()
RelationReasonFields.model_rebuild()

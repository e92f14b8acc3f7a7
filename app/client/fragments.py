from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import RelationReason, SimilarityKind


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


RelationReasonFields.model_rebuild()

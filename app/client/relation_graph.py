from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind, RelationReason


class RelationGraph(BaseModel):
    relation_graph: "RelationGraphRelationGraph" = Field(alias="relationGraph")


class RelationGraphRelationGraph(BaseModel):
    nodes: list["RelationGraphRelationGraphNodes"]
    edges: list["RelationGraphRelationGraphEdges"]


class RelationGraphRelationGraphNodes(BaseModel):
    id: str
    title: str
    kind: AssetKind


class RelationGraphRelationGraphEdges(BaseModel):
    source: str
    target: str
    score: float
    reasons: list["RelationGraphRelationGraphEdgesReasons"]


class RelationGraphRelationGraphEdgesReasons(BaseModel):
    reason: RelationReason
    score: float
    terms: list[str]
    person_ids: list[str] = Field(alias="personIds")


RelationGraph.model_rebuild()
RelationGraphRelationGraph.model_rebuild()
RelationGraphRelationGraphEdges.model_rebuild()

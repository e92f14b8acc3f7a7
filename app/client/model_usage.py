from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import JobStatus
from .fragments import ModelUsageParts


class ModelUsage(BaseModel):
    job: Optional["ModelUsageJob"]


class ModelUsageJob(BaseModel):
    status: JobStatus
    cost: Optional["ModelUsageJobCost"]
    models: list["ModelUsageJobModels"]
    stages: "ModelUsageJobStages"
    asset: Optional["ModelUsageJobAsset"]


class ModelUsageJobCost(BaseModel):
    cpu_seconds: float = Field(alias="cpuSeconds")
    gpu_seconds: float = Field(alias="gpuSeconds")


ModelUsageJobModels = ModelUsageParts


class ModelUsageJobStages(BaseModel):
    edges: list["ModelUsageJobStagesEdges"]


class ModelUsageJobStagesEdges(BaseModel):
    node: "ModelUsageJobStagesEdgesNode"


class ModelUsageJobStagesEdgesNode(BaseModel):
    name: str
    model_usage: list["ModelUsageJobStagesEdgesNodeModelUsage"] = Field(
        alias="modelUsage"
    )


ModelUsageJobStagesEdgesNodeModelUsage = ModelUsageParts


class ModelUsageJobAsset(BaseModel):
    model_usage: list["ModelUsageJobAssetModelUsage"] = Field(alias="modelUsage")


ModelUsageJobAssetModelUsage = ModelUsageParts
ModelUsage.model_rebuild()
ModelUsageJob.model_rebuild()
ModelUsageJobStages.model_rebuild()
ModelUsageJobStagesEdges.model_rebuild()
ModelUsageJobStagesEdgesNode.model_rebuild()
ModelUsageJobAsset.model_rebuild()

from datetime import datetime
from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import JobStatus, StageStatus


class JobCost(BaseModel):
    job: Optional["JobCostJob"]


class JobCostJob(BaseModel):
    status: JobStatus
    cost: Optional["JobCostJobCost"]
    stages: "JobCostJobStages"


class JobCostJobCost(BaseModel):
    cpu_seconds: float = Field(alias="cpuSeconds")
    gpu_seconds: float = Field(alias="gpuSeconds")
    stored_bytes: int = Field(alias="storedBytes")
    cpu_cost: float = Field(alias="cpuCost")
    gpu_cost: float = Field(alias="gpuCost")
    storage_cost: float = Field(alias="storageCost")
    total: float
    currency: str


class JobCostJobStages(BaseModel):
    edges: list["JobCostJobStagesEdges"]


class JobCostJobStagesEdges(BaseModel):
    node: "JobCostJobStagesEdgesNode"


class JobCostJobStagesEdgesNode(BaseModel):
    name: str
    status: StageStatus
    attempts: int
    started_at: Optional[datetime] = Field(alias="startedAt")
    finished_at: Optional[datetime] = Field(alias="finishedAt")
    duration_seconds: Optional[float] = Field(alias="durationSeconds")


JobCost.model_rebuild()
JobCostJob.model_rebuild()
JobCostJobStages.model_rebuild()
JobCostJobStagesEdges.model_rebuild()

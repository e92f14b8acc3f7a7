from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import JobQuality, JobStatus, StageStatus


class JobMonitor(BaseModel):
    jobs: "JobMonitorJobs"


class JobMonitorJobs(BaseModel):
    edges: list["JobMonitorJobsEdges"]
    page_info: "JobMonitorJobsPageInfo" = Field(alias="pageInfo")


class JobMonitorJobsEdges(BaseModel):
    node: "JobMonitorJobsEdgesNode"


class JobMonitorJobsEdgesNode(BaseModel):
    id: str
    status: JobStatus
    quality: JobQuality
    progress: float
    current_stage: Optional[str] = Field(alias="currentStage")
    error_code: Optional[str] = Field(alias="errorCode")
    asset: Optional["JobMonitorJobsEdgesNodeAsset"]
    stages: "JobMonitorJobsEdgesNodeStages"


class JobMonitorJobsEdgesNodeAsset(BaseModel):
    id: str
    title: str


class JobMonitorJobsEdgesNodeStages(BaseModel):
    edges: list["JobMonitorJobsEdgesNodeStagesEdges"]


class JobMonitorJobsEdgesNodeStagesEdges(BaseModel):
    node: "JobMonitorJobsEdgesNodeStagesEdgesNode"


class JobMonitorJobsEdgesNodeStagesEdgesNode(BaseModel):
    name: str
    status: StageStatus
    progress: float
    attempts: int
    error_code: Optional[str] = Field(alias="errorCode")
    skip_reason: Optional[str] = Field(alias="skipReason")


class JobMonitorJobsPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


JobMonitor.model_rebuild()
JobMonitorJobs.model_rebuild()
JobMonitorJobsEdges.model_rebuild()
JobMonitorJobsEdgesNode.model_rebuild()
JobMonitorJobsEdgesNodeStages.model_rebuild()
JobMonitorJobsEdgesNodeStagesEdges.model_rebuild()

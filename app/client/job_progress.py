from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import JobProgressEventKind, JobStatus, StageStatus


class JobProgress(BaseModel):
    job_progress: "JobProgressJobProgress" = Field(alias="jobProgress")


class JobProgressJobProgress(BaseModel):
    kind: JobProgressEventKind
    job_status: JobStatus = Field(alias="jobStatus")
    job_progress: float = Field(alias="jobProgress")
    stage: Optional[str]
    stage_status: Optional[StageStatus] = Field(alias="stageStatus")
    stage_progress: Optional[float] = Field(alias="stageProgress")
    error_code: Optional[str] = Field(alias="errorCode")


JobProgress.model_rebuild()

from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import JobStatus, UserErrorCode


class CancelJob(BaseModel):
    cancel_job: Union[
        "CancelJobCancelJobCancelJobSuccess",
        "CancelJobCancelJobMalformedId",
        "CancelJobCancelJobWrongIdType",
        "CancelJobCancelJobNotFound",
        "CancelJobCancelJobInvalidState",
        "CancelJobCancelJobForbidden",
    ] = Field(alias="cancelJob", discriminator="typename__")


class CancelJobCancelJobCancelJobSuccess(BaseModel):
    typename__: Literal["CancelJobSuccess"] = Field(alias="__typename")
    job: "CancelJobCancelJobCancelJobSuccessJob"


class CancelJobCancelJobCancelJobSuccessJob(BaseModel):
    id: str
    status: JobStatus


class CancelJobCancelJobMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class CancelJobCancelJobWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class CancelJobCancelJobNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class CancelJobCancelJobInvalidState(BaseModel):
    typename__: Literal["InvalidState"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class CancelJobCancelJobForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


CancelJob.model_rebuild()
CancelJobCancelJobCancelJobSuccess.model_rebuild()

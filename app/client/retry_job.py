from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import JobStatus, UserErrorCode


class RetryJob(BaseModel):
    retry_job: Union[
        "RetryJobRetryJobRetryJobSuccess",
        "RetryJobRetryJobMalformedId",
        "RetryJobRetryJobWrongIdType",
        "RetryJobRetryJobNotFound",
        "RetryJobRetryJobInvalidState",
        "RetryJobRetryJobBackpressure",
        "RetryJobRetryJobForbidden",
    ] = Field(alias="retryJob", discriminator="typename__")


class RetryJobRetryJobRetryJobSuccess(BaseModel):
    typename__: Literal["RetryJobSuccess"] = Field(alias="__typename")
    job: "RetryJobRetryJobRetryJobSuccessJob"


class RetryJobRetryJobRetryJobSuccessJob(BaseModel):
    id: str
    status: JobStatus
    attempts: int


class RetryJobRetryJobMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RetryJobRetryJobWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RetryJobRetryJobNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RetryJobRetryJobInvalidState(BaseModel):
    typename__: Literal["InvalidState"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RetryJobRetryJobBackpressure(BaseModel):
    typename__: Literal["Backpressure"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]
    retry_after_seconds: float = Field(alias="retryAfterSeconds")


class RetryJobRetryJobForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


RetryJob.model_rebuild()
RetryJobRetryJobRetryJobSuccess.model_rebuild()

from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import JobQuality, JobStatus, UserErrorCode


class ReprocessAsset(BaseModel):
    reprocess_asset: Union[
        "ReprocessAssetReprocessAssetReprocessAssetSuccess",
        "ReprocessAssetReprocessAssetMalformedId",
        "ReprocessAssetReprocessAssetWrongIdType",
        "ReprocessAssetReprocessAssetNotFound",
        "ReprocessAssetReprocessAssetInvalidInput",
        "ReprocessAssetReprocessAssetInvalidState",
        "ReprocessAssetReprocessAssetBackpressure",
        "ReprocessAssetReprocessAssetForbidden",
    ] = Field(alias="reprocessAsset", discriminator="typename__")


class ReprocessAssetReprocessAssetReprocessAssetSuccess(BaseModel):
    typename__: Literal["ReprocessAssetSuccess"] = Field(alias="__typename")
    job: "ReprocessAssetReprocessAssetReprocessAssetSuccessJob"


class ReprocessAssetReprocessAssetReprocessAssetSuccessJob(BaseModel):
    id: str
    status: JobStatus
    quality: JobQuality
    requested_stages: Optional[list[str]] = Field(alias="requestedStages")


class ReprocessAssetReprocessAssetMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ReprocessAssetReprocessAssetWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ReprocessAssetReprocessAssetNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ReprocessAssetReprocessAssetInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ReprocessAssetReprocessAssetInvalidState(BaseModel):
    typename__: Literal["InvalidState"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ReprocessAssetReprocessAssetBackpressure(BaseModel):
    typename__: Literal["Backpressure"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]
    retry_after_seconds: float = Field(alias="retryAfterSeconds")


class ReprocessAssetReprocessAssetForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


ReprocessAsset.model_rebuild()
ReprocessAssetReprocessAssetReprocessAssetSuccess.model_rebuild()

from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import AssetKind, JobStatus, UserErrorCode


class IngestAsset(BaseModel):
    ingest_asset: Union[
        "IngestAssetIngestAssetIngestAssetSuccess",
        "IngestAssetIngestAssetPathNotAllowed",
        "IngestAssetIngestAssetUnreadableFile",
        "IngestAssetIngestAssetEmptyFile",
        "IngestAssetIngestAssetFileTooLarge",
        "IngestAssetIngestAssetUnsupportedMedia",
        "IngestAssetIngestAssetIdempotencyConflict",
        "IngestAssetIngestAssetInvalidInput",
        "IngestAssetIngestAssetBackpressure",
        "IngestAssetIngestAssetUrlNotAllowed",
        "IngestAssetIngestAssetFetchFailed",
        "IngestAssetIngestAssetRateLimited",
        "IngestAssetIngestAssetForbidden",
    ] = Field(alias="ingestAsset", discriminator="typename__")


class IngestAssetIngestAssetIngestAssetSuccess(BaseModel):
    typename__: Literal["IngestAssetSuccess"] = Field(alias="__typename")
    created: bool
    asset: "IngestAssetIngestAssetIngestAssetSuccessAsset"
    job: Optional["IngestAssetIngestAssetIngestAssetSuccessJob"]


class IngestAssetIngestAssetIngestAssetSuccessAsset(BaseModel):
    id: str
    title: str
    kind: AssetKind
    tags: list[str]


class IngestAssetIngestAssetIngestAssetSuccessJob(BaseModel):
    id: str
    status: JobStatus


class IngestAssetIngestAssetPathNotAllowed(BaseModel):
    typename__: Literal["PathNotAllowed"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetUnreadableFile(BaseModel):
    typename__: Literal["UnreadableFile"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetEmptyFile(BaseModel):
    typename__: Literal["EmptyFile"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetFileTooLarge(BaseModel):
    typename__: Literal["FileTooLarge"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]
    max_bytes: int = Field(alias="maxBytes")


class IngestAssetIngestAssetUnsupportedMedia(BaseModel):
    typename__: Literal["UnsupportedMedia"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetIdempotencyConflict(BaseModel):
    typename__: Literal["IdempotencyConflict"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetBackpressure(BaseModel):
    typename__: Literal["Backpressure"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]
    retry_after_seconds: float = Field(alias="retryAfterSeconds")


class IngestAssetIngestAssetUrlNotAllowed(BaseModel):
    typename__: Literal["UrlNotAllowed"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetFetchFailed(BaseModel):
    typename__: Literal["FetchFailed"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetIngestAssetRateLimited(BaseModel):
    typename__: Literal["RateLimited"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]
    retry_after_seconds: float = Field(alias="retryAfterSeconds")


class IngestAssetIngestAssetForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


IngestAsset.model_rebuild()
IngestAssetIngestAssetIngestAssetSuccess.model_rebuild()

from typing import Annotated, Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import UserErrorCode


class IngestAssets(BaseModel):
    ingest_assets: Union[
        "IngestAssetsIngestAssetsIngestAssetsSuccess",
        "IngestAssetsIngestAssetsBatchTooLarge",
        "IngestAssetsIngestAssetsInvalidInput",
        "IngestAssetsIngestAssetsForbidden",
    ] = Field(alias="ingestAssets", discriminator="typename__")


class IngestAssetsIngestAssetsIngestAssetsSuccess(BaseModel):
    typename__: Literal["IngestAssetsSuccess"] = Field(alias="__typename")
    results: list[
        Annotated[
            Union[
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsIngestAssetSuccess",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsPathNotAllowed",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsUnreadableFile",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsEmptyFile",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsFileTooLarge",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsUnsupportedMedia",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsIdempotencyConflict",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsInvalidInput",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsBackpressure",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsUrlNotAllowed",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsFetchFailed",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsRateLimited",
                "IngestAssetsIngestAssetsIngestAssetsSuccessResultsForbidden",
            ],
            Field(discriminator="typename__"),
        ]
    ]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsIngestAssetSuccess(BaseModel):
    typename__: Literal["IngestAssetSuccess"] = Field(alias="__typename")
    created: bool
    asset: "IngestAssetsIngestAssetsIngestAssetsSuccessResultsIngestAssetSuccessAsset"


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsIngestAssetSuccessAsset(
    BaseModel
):
    title: str


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsPathNotAllowed(BaseModel):
    typename__: Literal["PathNotAllowed"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsUnreadableFile(BaseModel):
    typename__: Literal["UnreadableFile"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsEmptyFile(BaseModel):
    typename__: Literal["EmptyFile"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsFileTooLarge(BaseModel):
    typename__: Literal["FileTooLarge"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsUnsupportedMedia(BaseModel):
    typename__: Literal["UnsupportedMedia"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsIdempotencyConflict(BaseModel):
    typename__: Literal["IdempotencyConflict"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsBackpressure(BaseModel):
    typename__: Literal["Backpressure"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsUrlNotAllowed(BaseModel):
    typename__: Literal["UrlNotAllowed"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsFetchFailed(BaseModel):
    typename__: Literal["FetchFailed"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsRateLimited(BaseModel):
    typename__: Literal["RateLimited"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsIngestAssetsSuccessResultsForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsBatchTooLarge(BaseModel):
    typename__: Literal["BatchTooLarge"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]
    max_items: int = Field(alias="maxItems")


class IngestAssetsIngestAssetsInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class IngestAssetsIngestAssetsForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


IngestAssets.model_rebuild()
IngestAssetsIngestAssetsIngestAssetsSuccess.model_rebuild()
IngestAssetsIngestAssetsIngestAssetsSuccessResultsIngestAssetSuccess.model_rebuild()

from typing import Any, Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import UserErrorCode


class UpdateAsset(BaseModel):
    update_asset: Union[
        "UpdateAssetUpdateAssetUpdateAssetSuccess",
        "UpdateAssetUpdateAssetMalformedId",
        "UpdateAssetUpdateAssetWrongIdType",
        "UpdateAssetUpdateAssetNotFound",
        "UpdateAssetUpdateAssetInvalidInput",
        "UpdateAssetUpdateAssetForbidden",
    ] = Field(alias="updateAsset", discriminator="typename__")


class UpdateAssetUpdateAssetUpdateAssetSuccess(BaseModel):
    typename__: Literal["UpdateAssetSuccess"] = Field(alias="__typename")
    asset: "UpdateAssetUpdateAssetUpdateAssetSuccessAsset"


class UpdateAssetUpdateAssetUpdateAssetSuccessAsset(BaseModel):
    id: str
    title: str
    tags: list[str]
    metadata: Any


class UpdateAssetUpdateAssetMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class UpdateAssetUpdateAssetWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class UpdateAssetUpdateAssetNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class UpdateAssetUpdateAssetInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class UpdateAssetUpdateAssetForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


UpdateAsset.model_rebuild()
UpdateAssetUpdateAssetUpdateAssetSuccess.model_rebuild()

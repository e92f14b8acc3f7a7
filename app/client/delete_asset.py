from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import UserErrorCode


class DeleteAsset(BaseModel):
    delete_asset: Union[
        "DeleteAssetDeleteAssetDeleteAssetSuccess",
        "DeleteAssetDeleteAssetMalformedId",
        "DeleteAssetDeleteAssetWrongIdType",
        "DeleteAssetDeleteAssetNotFound",
        "DeleteAssetDeleteAssetForbidden",
    ] = Field(alias="deleteAsset", discriminator="typename__")


class DeleteAssetDeleteAssetDeleteAssetSuccess(BaseModel):
    typename__: Literal["DeleteAssetSuccess"] = Field(alias="__typename")
    deleted_asset_id: str = Field(alias="deletedAssetId")


class DeleteAssetDeleteAssetMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class DeleteAssetDeleteAssetWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class DeleteAssetDeleteAssetNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class DeleteAssetDeleteAssetForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


DeleteAsset.model_rebuild()

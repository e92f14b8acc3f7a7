from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import UserErrorCode


class ResolveDuplicates(BaseModel):
    resolve_duplicates: Union[
        "ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccess",
        "ResolveDuplicatesResolveDuplicatesMalformedId",
        "ResolveDuplicatesResolveDuplicatesWrongIdType",
        "ResolveDuplicatesResolveDuplicatesNotFound",
        "ResolveDuplicatesResolveDuplicatesInvalidInput",
        "ResolveDuplicatesResolveDuplicatesForbidden",
    ] = Field(alias="resolveDuplicates", discriminator="typename__")


class ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccess(BaseModel):
    typename__: Literal["ResolveDuplicatesSuccess"] = Field(alias="__typename")
    kept: "ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccessKept"
    hidden: list["ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccessHidden"]
    pair_count: int = Field(alias="pairCount")


class ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccessKept(BaseModel):
    id: str
    title: str


class ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccessHidden(BaseModel):
    id: str
    title: str


class ResolveDuplicatesResolveDuplicatesMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ResolveDuplicatesResolveDuplicatesWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ResolveDuplicatesResolveDuplicatesNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ResolveDuplicatesResolveDuplicatesInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class ResolveDuplicatesResolveDuplicatesForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


ResolveDuplicates.model_rebuild()
ResolveDuplicatesResolveDuplicatesResolveDuplicatesSuccess.model_rebuild()

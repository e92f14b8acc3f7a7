from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import UserErrorCode


class CreateWebhook(BaseModel):
    create_webhook: Union[
        "CreateWebhookCreateWebhookCreateWebhookSuccess",
        "CreateWebhookCreateWebhookInvalidInput",
        "CreateWebhookCreateWebhookUrlNotAllowed",
        "CreateWebhookCreateWebhookForbidden",
    ] = Field(alias="createWebhook", discriminator="typename__")


class CreateWebhookCreateWebhookCreateWebhookSuccess(BaseModel):
    typename__: Literal["CreateWebhookSuccess"] = Field(alias="__typename")
    secret: str
    webhook: "CreateWebhookCreateWebhookCreateWebhookSuccessWebhook"


class CreateWebhookCreateWebhookCreateWebhookSuccessWebhook(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool


class CreateWebhookCreateWebhookInvalidInput(BaseModel):
    typename__: Literal["InvalidInput"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class CreateWebhookCreateWebhookUrlNotAllowed(BaseModel):
    typename__: Literal["UrlNotAllowed"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class CreateWebhookCreateWebhookForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


CreateWebhook.model_rebuild()
CreateWebhookCreateWebhookCreateWebhookSuccess.model_rebuild()

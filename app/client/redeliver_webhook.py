from typing import Literal, Optional, Union

from pydantic import Field

from .base_model import BaseModel
from .enums import UserErrorCode, WebhookDeliveryStatus


class RedeliverWebhook(BaseModel):
    redeliver_webhook: Union[
        "RedeliverWebhookRedeliverWebhookRedeliverWebhookSuccess",
        "RedeliverWebhookRedeliverWebhookMalformedId",
        "RedeliverWebhookRedeliverWebhookWrongIdType",
        "RedeliverWebhookRedeliverWebhookNotFound",
        "RedeliverWebhookRedeliverWebhookForbidden",
    ] = Field(alias="redeliverWebhook", discriminator="typename__")


class RedeliverWebhookRedeliverWebhookRedeliverWebhookSuccess(BaseModel):
    typename__: Literal["RedeliverWebhookSuccess"] = Field(alias="__typename")
    delivery: "RedeliverWebhookRedeliverWebhookRedeliverWebhookSuccessDelivery"


class RedeliverWebhookRedeliverWebhookRedeliverWebhookSuccessDelivery(BaseModel):
    id: str
    status: WebhookDeliveryStatus
    attempt_count: int = Field(alias="attemptCount")


class RedeliverWebhookRedeliverWebhookMalformedId(BaseModel):
    typename__: Literal["MalformedId"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RedeliverWebhookRedeliverWebhookWrongIdType(BaseModel):
    typename__: Literal["WrongIdType"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RedeliverWebhookRedeliverWebhookNotFound(BaseModel):
    typename__: Literal["NotFound"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


class RedeliverWebhookRedeliverWebhookForbidden(BaseModel):
    typename__: Literal["Forbidden"] = Field(alias="__typename")
    message: str
    code: UserErrorCode
    field: Optional[list[str]]


RedeliverWebhook.model_rebuild()
RedeliverWebhookRedeliverWebhookRedeliverWebhookSuccess.model_rebuild()

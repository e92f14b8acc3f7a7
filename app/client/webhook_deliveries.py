from datetime import datetime
from typing import Optional

from pydantic import Field

from .base_model import BaseModel
from .enums import WebhookDeliveryStatus


class WebhookDeliveries(BaseModel):
    webhook_deliveries: "WebhookDeliveriesWebhookDeliveries" = Field(
        alias="webhookDeliveries"
    )


class WebhookDeliveriesWebhookDeliveries(BaseModel):
    edges: list["WebhookDeliveriesWebhookDeliveriesEdges"]
    page_info: "WebhookDeliveriesWebhookDeliveriesPageInfo" = Field(alias="pageInfo")


class WebhookDeliveriesWebhookDeliveriesEdges(BaseModel):
    node: "WebhookDeliveriesWebhookDeliveriesEdgesNode"


class WebhookDeliveriesWebhookDeliveriesEdgesNode(BaseModel):
    id: str
    event_id: str = Field(alias="eventId")
    webhook_id: str = Field(alias="webhookId")
    event_type: str = Field(alias="eventType")
    status: WebhookDeliveryStatus
    attempt_count: int = Field(alias="attemptCount")
    last_status_code: Optional[int] = Field(alias="lastStatusCode")
    next_attempt_at: Optional[datetime] = Field(alias="nextAttemptAt")
    delivered_at: Optional[datetime] = Field(alias="deliveredAt")
    attempts: list["WebhookDeliveriesWebhookDeliveriesEdgesNodeAttempts"]


class WebhookDeliveriesWebhookDeliveriesEdgesNodeAttempts(BaseModel):
    number: int
    status_code: Optional[int] = Field(alias="statusCode")
    error: Optional[str]
    duration_ms: float = Field(alias="durationMs")
    started_at: datetime = Field(alias="startedAt")


class WebhookDeliveriesWebhookDeliveriesPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


WebhookDeliveries.model_rebuild()
WebhookDeliveriesWebhookDeliveries.model_rebuild()
WebhookDeliveriesWebhookDeliveriesEdges.model_rebuild()
WebhookDeliveriesWebhookDeliveriesEdgesNode.model_rebuild()

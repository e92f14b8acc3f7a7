from datetime import datetime
from typing import Optional

from pydantic import Field

from .base_model import BaseModel


class Webhooks(BaseModel):
    webhooks: "WebhooksWebhooks"


class WebhooksWebhooks(BaseModel):
    edges: list["WebhooksWebhooksEdges"]
    page_info: "WebhooksWebhooksPageInfo" = Field(alias="pageInfo")


class WebhooksWebhooksEdges(BaseModel):
    node: "WebhooksWebhooksEdgesNode"


class WebhooksWebhooksEdgesNode(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime = Field(alias="createdAt")


class WebhooksWebhooksPageInfo(BaseModel):
    has_next_page: bool = Field(alias="hasNextPage")
    end_cursor: Optional[str] = Field(alias="endCursor")


Webhooks.model_rebuild()
WebhooksWebhooks.model_rebuild()
WebhooksWebhooksEdges.model_rebuild()

"""Root queries of webhooks: the endpoints and their delivery log."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.fields import field
from app.api.ids import decode_id
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, First
from app.api.webhooks.types import WebhookDeliveryType, WebhookType
from app.webhooks import repository as repo
from app.webhooks.models import WebhookAttempt


@strawberry.type
class WebhookQueries:
    """Root fields of webhooks."""

    @field(description="The tenant's webhook endpoints, oldest first.")
    async def webhooks(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = None
    ) -> Connection[WebhookType]:
        page = page_of(info, repo.WEBHOOK_ORDER, first, after, field=[])
        async with info.context.session_factory() as session:
            rows = await repo.list_webhooks(session, tenant_id=info.context.caller.tenant_id, page=page)
        return connection(rows, repo.WEBHOOK_ORDER, lambda row: WebhookType(row=row))

    @field(description="The tenant's webhook deliveries, newest first, with every attempt.")
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this endpoint's deliveries.")
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[WebhookDeliveryType]:
        page = page_of(info, repo.DELIVERY_ORDER, first, after, field=[])
        endpoint = decode_id(webhook_id, "Webhook", field=["webhookId"]) if webhook_id is not None else None
        async with info.context.session_factory() as session:
            rows = await repo.list_deliveries(
                session, tenant_id=info.context.caller.tenant_id, webhook_id=endpoint, page=page
            )
            attempts: dict[object, list[WebhookAttempt]] = defaultdict(list)
            for a in await repo.attempts_of(session, delivery_ids=[r.id for r in rows.rows]):
                attempts[a.delivery_id].append(a)
        return connection(
            rows, repo.DELIVERY_ORDER, lambda row: WebhookDeliveryType(row=row, attempt_rows=attempts[row.id])
        )

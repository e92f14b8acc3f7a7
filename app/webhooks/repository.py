"""SQL of webhooks. Every read of an endpoint or delivery starts from the caller's tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Ordering, Page, PageRows, ValueKind, one_page
from app.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery

WEBHOOK_ORDER = Ordering(
    "webhooks", ((Webhook.created_at, ValueKind.DATETIME), (Webhook.id, ValueKind.UUID)), False
)
DELIVERY_ORDER = Ordering(
    "webhook_deliveries",
    ((WebhookDelivery.created_at, ValueKind.DATETIME), (WebhookDelivery.id, ValueKind.UUID)),
    True,
)


def _webhooks(tenant_id: uuid.UUID) -> Select[Webhook]:
    return select(Webhook).where(Webhook.tenant_id == tenant_id)


async def get_webhook(
    session: AsyncSession, *, tenant_id: uuid.UUID, webhook_id: uuid.UUID
) -> Webhook | None:
    """The tenant's endpoint, or None."""
    return (await session.execute(_webhooks(tenant_id).where(Webhook.id == webhook_id))).scalar_one_or_none()


async def list_webhooks(session: AsyncSession, *, tenant_id: uuid.UUID, page: Page) -> PageRows[Webhook]:
    """One page of the tenant's endpoints, oldest first."""
    return await one_page(session, _webhooks(tenant_id), WEBHOOK_ORDER, page)


async def subscribers(session: AsyncSession, *, tenant_id: uuid.UUID, event_type: str) -> list[Webhook]:
    """The tenant's active endpoints that receive ``event_type``."""
    rows = (await session.execute(_webhooks(tenant_id).where(Webhook.active.is_(True)))).scalars()
    # The event list is JSON: filtered here, portably (an endpoint list per tenant is short).
    return [w for w in rows if event_type in w.events]


async def get_delivery(
    session: AsyncSession, *, delivery_id: uuid.UUID, tenant_id: uuid.UUID | None = None
) -> WebhookDelivery | None:
    """A delivery (of the tenant, when one is given), or None."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if tenant_id is not None:
        stmt = stmt.where(WebhookDelivery.tenant_id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_delivery(session: AsyncSession, *, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    """A delivery, locked (PostgreSQL) so that two messages for it never attempt it at once."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_deliveries(
    session: AsyncSession, *, tenant_id: uuid.UUID, webhook_id: uuid.UUID | None, page: Page
) -> PageRows[WebhookDelivery]:
    """One page of the tenant's deliveries (of one endpoint if given), newest first."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
    if webhook_id is not None:
        stmt = stmt.where(WebhookDelivery.webhook_id == webhook_id)
    return await one_page(session, stmt, DELIVERY_ORDER, page)


async def attempts_of(session: AsyncSession, *, delivery_ids: Sequence[uuid.UUID]) -> list[WebhookAttempt]:
    """Every attempt of these deliveries, in order."""
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    return list((await session.execute(stmt)).scalars())


async def due_deliveries(session: AsyncSession, *, before: datetime, limit: int) -> list[uuid.UUID]:
    """Pending deliveries whose attempt was due before ``before`` (their message was lost)."""
    stmt = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at < before)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())

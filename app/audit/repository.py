"""SQL for the audit trail. Every read starts from ``_events``: the caller's tenant. Events are
never deleted, also those of deleted entities (they are the record of the deletion)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.pagination import Ordering, Page, PageRows, ValueKind, one_page, pages_of_anchors, rows_by_id

AUDIT_ORDER = Ordering(
    "audit", ((AuditEvent.occurred_at, ValueKind.DATETIME), (AuditEvent.id, ValueKind.UUID)), True
)


def _events(tenant_id: uuid.UUID) -> Select[AuditEvent]:
    """The base of every audit read."""
    return select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)


async def audit_events_by_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AuditEvent]:
    """Audit events of the tenant, by id."""
    return await rows_by_id(session, _events(tenant_id), AuditEvent.id, ids)


async def audit_events_of_entities(
    session: AsyncSession, *, tenant_id: uuid.UUID, entity_ids: Sequence[uuid.UUID], page: Page
) -> dict[uuid.UUID, PageRows[AuditEvent]]:
    """Each entity's audit trail, newest first."""
    inner = _events(tenant_id).where(AuditEvent.entity_id.in_(entity_ids))
    return await pages_of_anchors(
        session, AuditEvent, inner, AuditEvent.entity_id, entity_ids, AUDIT_ORDER, page
    )


async def list_audit_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, page: Page
) -> PageRows[AuditEvent]:
    """One page of the tenant's audit trail, newest first."""
    return await one_page(session, _events(tenant_id), AUDIT_ORDER, page)

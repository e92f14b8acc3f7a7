"""SQL for the audit trail. Every read starts from ``_events``: the caller's tenant. Events are
never deleted, also those of deleted entities (they are the record of the deletion)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Conditions on audit events (None: any); ``since`` inclusive, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_audit_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, page: Page, where: AuditFilter | None = None
) -> PageRows[AuditEvent]:
    """One page of the tenant's audit trail matching ``where``, newest first."""
    stmt = _events(tenant_id)
    if where is not None:
        for column, value in (
            (AuditEvent.actor, where.actor),
            (AuditEvent.action, where.action),
            (AuditEvent.entity_type, where.entity_type),
            (AuditEvent.entity_id, where.entity_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if where.since is not None:
            stmt = stmt.where(AuditEvent.occurred_at >= where.since)
        if where.until is not None:
            stmt = stmt.where(AuditEvent.occurred_at < where.until)
    return await one_page(session, stmt, AUDIT_ORDER, page)

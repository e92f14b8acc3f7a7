"""Loaders of the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.api.batching import PagedKey, SessionFactory, by_id_loader, clear_loaders, paged_loader
from app.audit import repository as repo
from app.audit.models import AuditEvent
from app.core.pagination import Page, PageRows


async def _events_of_entities(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], page: Page, _where: None
) -> dict[uuid.UUID, PageRows[AuditEvent]]:
    return await repo.audit_events_of_entities(session, tenant_id=tenant_id, entity_ids=ids, page=page)


@dataclass(slots=True)
class AuditLoaders:
    """Per-request loaders of the audit trail."""

    factory: SessionFactory
    tenant_id: uuid.UUID
    audit_event_by_id: DataLoader[uuid.UUID, AuditEvent | None] = field(init=False)
    audit_events_by_entity: DataLoader[PagedKey[None], PageRows[AuditEvent]] = field(init=False)

    def __post_init__(self) -> None:
        self.audit_event_by_id = by_id_loader(self.factory, self.tenant_id, repo.audit_events_by_id)
        self.audit_events_by_entity = paged_loader(self.factory, self.tenant_id, _events_of_entities)

    def clear(self) -> None:
        """Forget cached rows (long-lived subscription contexts re-read state per event)."""
        clear_loaders(self)

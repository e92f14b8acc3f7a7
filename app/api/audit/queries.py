"""Root queries of the audit trail."""

from __future__ import annotations

import strawberry

from app.api.audit.types import AuditEventType
from app.api.context import Info
from app.api.fields import field
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, First
from app.audit import repository as repo


@strawberry.type
class AuditQueries:
    """Root fields of the audit trail."""

    @field(description="The caller's audit trail, newest first.")
    async def audit_events(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = None
    ) -> Connection[AuditEventType]:
        page = page_of(info, repo.AUDIT_ORDER, first, after, field=[])
        async with info.context.read_session_factory() as session:
            rows = await repo.list_audit_events(session, tenant_id=info.context.caller.tenant_id, page=page)
        return connection(rows, repo.AUDIT_ORDER, AuditEventType.from_row)

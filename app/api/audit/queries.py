"""Root queries of the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from app.api.audit.types import AuditEventType
from app.api.context import Info
from app.api.fields import field
from app.api.ids import parse_global_id
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, First
from app.audit import repository as repo
from app.core.errors import DomainError, InvalidInputError


@strawberry.input(
    name="AuditEventFilter", description="Which audit events to list; every condition given must hold."
)
class AuditEventFilterInput:
    """Arguments of auditEvents' filter."""

    actor: str | None = strawberry.field(default=None, description="Who acted: an API key's name, exactly.")
    action: str | None = strawberry.field(
        default=None, description="What was done, exactly (e.g. asset.update)."
    )
    entity_type: str | None = strawberry.field(
        default=None, description="Kind of entity acted on (asset, job, api_key, ...)."
    )
    entity_id: strawberry.ID | None = strawberry.field(
        default=None, description="The entity acted on: its ID (or, for entities without one, its UUID)."
    )
    occurred_after: datetime | None = strawberry.field(
        default=None, description="Only events at or after this time."
    )
    occurred_before: datetime | None = strawberry.field(
        default=None, description="Only events before this time."
    )


def _entity_id(value: str) -> uuid.UUID:
    try:
        return parse_global_id(value, field=["filter", "entityId"])[1]
    except DomainError:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise InvalidInputError(
                f"{value!r} is neither an ID nor a UUID", field=["filter", "entityId"]
            ) from None


def audit_filter(value: AuditEventFilterInput | None) -> repo.AuditFilter | None:
    """The repository filter of ``value``, validated."""
    if value is None:
        return None
    after, before = value.occurred_after, value.occurred_before
    for name, moment in (("occurredAfter", after), ("occurredBefore", before)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError(f"{name} needs a time zone (e.g. ...Z)", field=["filter", name])
    if after is not None and before is not None and after >= before:
        raise InvalidInputError(
            "occurredAfter must be before occurredBefore", field=["filter", "occurredAfter"]
        )
    return repo.AuditFilter(
        actor=value.actor,
        action=value.action,
        entity_type=value.entity_type,
        entity_id=_entity_id(value.entity_id) if value.entity_id is not None else None,
        since=after,
        until=before,
    )


@strawberry.type
class AuditQueries:
    """Root fields of the audit trail."""

    @field(description="The caller's audit trail, newest first (admin scope).")
    async def audit_events(
        self,
        info: Info,
        filter: Annotated[
            AuditEventFilterInput | None,
            strawberry.argument(description="Conditions on actor, action, entity, time."),
        ] = None,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
    ) -> Connection[AuditEventType]:
        where = audit_filter(filter)
        page = page_of(info, repo.AUDIT_ORDER, first, after, field=[])
        async with info.context.read_session_factory() as session:
            rows = await repo.list_audit_events(
                session, tenant_id=info.context.caller.tenant_id, page=page, where=where
            )
        return connection(rows, repo.AUDIT_ORDER, AuditEventType.from_row)

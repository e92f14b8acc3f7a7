"""AuditEvent: who changed what, when."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from app.api.fields import field
from app.api.ids import to_global_id
from app.audit.models import AuditEvent

# Entity types audit rows record, and the GraphQL type their ids are issued for.
_ENTITY_TYPES = {"asset": "Asset", "job": "Job", "scene": "Scene"}


@strawberry.type(name="AuditEvent", description="One action taken through the API or the CLI; never changes.")
class AuditEventType(relay.Node):
    """GraphQL view of an ``AuditEvent`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[AuditEvent]

    @classmethod
    def from_row(cls, row: AuditEvent) -> AuditEventType:
        """The GraphQL object of ``row``."""
        return cls(node_id=str(row.id), row=row)

    @field(description="Who acted (an API key name, a CLI user, or anonymous@<tenant>).")
    def actor(self) -> str:
        return self.row.actor

    @field(description="What was done, as <entity>.<verb> (e.g. asset.update).")
    def action(self) -> str:
        return self.row.action

    @field(description="Kind of entity acted on (asset, job, ...).")
    def entity_type(self) -> str:
        return self.row.entity_type

    @field(description="ID of the entity acted on (usable with `node(id:)` while it exists).")
    def entity_id(self) -> strawberry.ID:
        type_name = _ENTITY_TYPES.get(self.row.entity_type)
        raw = to_global_id(type_name, self.row.entity_id) if type_name else str(self.row.entity_id)
        return strawberry.ID(raw)

    @field(description="What changed, as recorded at the time (a JSON object).")
    def details(self) -> JSON:
        return JSON(self.row.details)

    @field(description="When it happened.")
    def occurred_at(self) -> datetime:
        return self.row.occurred_at

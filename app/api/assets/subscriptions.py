"""assetEvents: changes of one asset as they happen."""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import strawberry

from app.api.assets.types import AssetType
from app.api.context import Info
from app.api.fanout import events as shared_events
from app.api.fields import field, subscription
from app.api.ids import decode_id, to_global_id
from app.api.node import resolve_node
from app.api.streams import EVENT_WINDOW_S, RESYNC_WINDOW_S, events_or_silence, shared_coalescer
from app.assets.events import asset_from_state
from app.assets.models import Asset
from app.assets.repository import assets_by_id
from app.core.db import utcnow
from app.core.errors import NotFoundError
from app.core.events import asset_channel

log = logging.getLogger(__name__)


@strawberry.enum(name="AssetEventKind", description="What changed about an asset.")
class AssetEventKind(enum.Enum):
    """Event types on an asset's channel (asset edits, and the end of its jobs)."""

    SNAPSHOT = strawberry.enum_value(
        "snapshot", description="The asset as stored when the subscription started (always first)."
    )
    UPDATED = strawberry.enum_value(
        "asset_updated", description="Its title, tags or metadata changed (see changedFields)."
    )
    DELETED = strawberry.enum_value(
        "asset_deleted", description="It was deleted (asset is null; the last event)."
    )
    JOB_QUEUED = strawberry.enum_value(
        "job_queued",
        description="A job over it was queued by a reprocess, an escalation follow-up or an upgrade pass "
        "(see jobId and the job's quality).",
    )
    JOB_COMPLETED = strawberry.enum_value("job_completed", description="A job over it succeeded (see jobId).")
    JOB_FAILED = strawberry.enum_value("job_failed", description="A job over it failed (see jobId).")
    JOB_CANCELLED = strawberry.enum_value(
        "job_cancelled", description="A job over it was cancelled (see jobId)."
    )


@strawberry.type(name="AssetEvent", description="A change of an asset.")
class AssetEvent:
    """An event of the assetEvents subscription."""

    kind: AssetEventKind = strawberry.field(description="What changed.")
    asset_id: strawberry.ID = strawberry.field(description="The asset.")
    changed_fields: list[str] = strawberry.field(
        description="For UPDATED: which of title, tags, metadata changed."
    )
    job_id: strawberry.ID | None = strawberry.field(
        description="For job events: the job that was queued or ended."
    )
    occurred_at: datetime = strawberry.field(description="When it happened.")
    row_id: strawberry.Private[uuid.UUID]
    tenant_id: strawberry.Private[uuid.UUID | None] = None
    # The asset as this event left it, when the event carries it (SNAPSHOT, UPDATED).
    state: strawberry.Private[Asset | None] = None

    @field(
        description="The asset as this event left it (SNAPSHOT, UPDATED), or as stored when the "
        "event was delivered (job events); null once deleted."
    )
    async def asset(self, info: Info) -> AssetType | None:
        if self.kind is AssetEventKind.DELETED:
            return None
        if self.state is not None:
            return AssetType.from_row(self.state)
        # Job events carry no asset state: every subscriber of the event shares one read.
        reads = shared_coalescer(info.context.services, "asset-events", assets_by_id, window_s=EVENT_WINDOW_S)
        row = await reads.load((info.context.caller.tenant_id, self.row_id))
        return AssetType.from_row(row) if row is not None else None

    @classmethod
    def from_event(cls, asset_id: uuid.UUID, event: dict[str, Any]) -> AssetEvent | None:
        """The event of a published payload; None for types this stream does not carry."""
        try:
            kind = AssetEventKind(event["type"])
        except (KeyError, ValueError):
            return None
        job_id = event.get("job_id")
        occurred = event.get("at")
        state = event.get("asset")
        row = asset_from_state(state) if isinstance(state, dict) else None
        if row is not None and row.id != asset_id:
            row = None
        try:
            return cls(
                kind=kind,
                asset_id=strawberry.ID(to_global_id("Asset", asset_id)),
                changed_fields=[str(f) for f in event.get("fields") or ()],
                job_id=strawberry.ID(to_global_id("Job", uuid.UUID(job_id))) if job_id else None,
                occurred_at=datetime.fromisoformat(occurred) if isinstance(occurred, str) else utcnow(),
                row_id=asset_id,
                state=row,
            )
        except (ValueError, TypeError):
            log.warning("ignoring a malformed asset event", extra={"asset_id": str(asset_id), "event": event})
            return None


@strawberry.type
class AssetSubscriptions:
    """Root subscription fields of assets."""

    @subscription(
        description="Changes of an asset: first a SNAPSHOT (the asset now), then edits, the end of each "
        "of its jobs, and its deletion (which ends the stream)."
    )
    async def asset_events(
        self,
        info: Info,
        asset_id: Annotated[strawberry.ID, strawberry.argument(description="The asset to follow.")],
    ) -> AsyncGenerator[AssetEvent, None]:
        ctx = info.context
        row_id = decode_id(asset_id, "Asset", field=["assetId"])
        channel = asset_channel(row_id)
        async with ctx.services.publisher.subscribe(channel) as events:
            ctx.loaders.clear()
            asset: AssetType | None = await resolve_node(info, asset_id, field=["assetId"], expected="Asset")
            if asset is None:
                raise NotFoundError(f"asset {asset_id} not found", field=["assetId"])
            yield AssetEvent(
                kind=AssetEventKind.SNAPSHOT,
                asset_id=asset_id,
                changed_fields=[],
                job_id=None,
                occurred_at=asset.row.updated_at,
                row_id=row_id,
                state=asset.row,
            )
            resync = shared_coalescer(ctx.services, "asset-resync", assets_by_id, window_s=RESYNC_WINDOW_S)
            async for payload in events_or_silence(events):
                ctx.loaders.clear()
                if payload is None:
                    # Silence: make sure the asset was not deleted while an event got lost (one
                    # statement for every subscription re-syncing in the same window).
                    if await resync.load((ctx.caller.tenant_id, row_id)) is None:
                        return
                    continue
                # One event object per published payload, so its execution and JSON are
                # shared by the subscribers of the same group (app/api/fanout.py).
                event = shared_events.get(payload, channel, partial(AssetEvent.from_event, row_id, payload))
                if event is None:
                    continue
                yield event
                if event.kind is AssetEventKind.DELETED:
                    return

"""Resolving any global ID to its object (Relay's ``node(id:)``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry import relay

from app.api.assets.types import AssetType
from app.api.audit.types import AuditEventType
from app.api.context import Info
from app.api.ids import decode_id, parse_global_id
from app.api.jobs.types import JobStageType, JobType
from app.api.media.types import DetectionType, SceneType, SimilarityEdgeType, TranscriptSegmentType
from app.api.people.types import PersonType

Resolver = Callable[[Info, uuid.UUID], Awaitable[relay.Node | None]]


def _via(loader: Callable[[Info], Any], wrap: Callable[[Any], relay.Node]) -> Resolver:
    async def resolve(info: Info, row_id: uuid.UUID) -> relay.Node | None:
        row = await loader(info).load(row_id)
        return wrap(row) if row is not None else None

    return resolve


NODE_TYPES: dict[str, Resolver] = {
    "Asset": _via(lambda i: i.context.loaders.assets.asset_by_id, AssetType.from_row),
    "Scene": _via(lambda i: i.context.loaders.media.scene_by_id, SceneType.from_row),
    "TranscriptSegment": _via(
        lambda i: i.context.loaders.media.transcript_segment_by_id, TranscriptSegmentType.from_row
    ),
    "Detection": _via(lambda i: i.context.loaders.media.detection_by_id, DetectionType.from_row),
    "SimilarityEdge": _via(
        lambda i: i.context.loaders.media.similarity_edge_by_id, SimilarityEdgeType.from_row
    ),
    "Job": _via(lambda i: i.context.loaders.jobs.job_by_id, JobType.from_row),
    "JobStage": _via(lambda i: i.context.loaders.jobs.job_stage_by_id, JobStageType.from_row),
    "AuditEvent": _via(lambda i: i.context.loaders.audit.audit_event_by_id, AuditEventType.from_row),
    "Person": _via(lambda i: i.context.loaders.people.person_by_id, PersonType.from_row),
}


async def resolve_node(info: Info, value: str, *, field: list[str], expected: str | None = None) -> Any:
    """The object ``value`` names (None if it does not exist for the caller); a GraphQL error
    with code MALFORMED_ID or WRONG_ID_TYPE for IDs that cannot name such an object."""
    if expected is not None:
        row_id = decode_id(value, expected, field=field)
        type_name = expected
    else:
        type_name, row_id = parse_global_id(value, field=field)
        if type_name not in NODE_TYPES:
            row_id = decode_id(value, tuple(NODE_TYPES), field=field)
    return await NODE_TYPES[type_name](info, row_id)

"""Progress events of a job, as published on ``job_channel(job.id)`` (and terminal ones on the
asset's channel too).

Every event is a JSON object with the same keys, so a subscriber needs no per-type parsing:
``type`` (see ``EventType``), ``job_id``, ``asset_id``, ``tenant_id``, ``status`` (the job's),
``progress`` (the job's overall fraction), ``current_stage``, ``stage``, ``stage_status``,
``stage_progress``, ``attempts`` (of the stage), ``error_code``, ``error_message`` and ``at``
(ISO-8601 UTC). Keys that do not apply are null.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from app.core.db import utcnow
from app.jobs.models import Job, JobStage


class EventType(enum.StrEnum):
    """What happened."""

    JOB_QUEUED = "job_queued"
    STAGE_STARTED = "stage_started"
    PROGRESS = "progress"
    STAGE_COMPLETED = "stage_completed"
    STAGE_RETRYING = "stage_retrying"
    STAGE_FAILED = "stage_failed"
    STAGE_CANCELLED = "stage_cancelled"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    JOB_CANCELLED = "job_cancelled"


TERMINAL_EVENTS = frozenset({EventType.JOB_COMPLETED, EventType.JOB_FAILED, EventType.JOB_CANCELLED})


def job_event(
    event_type: EventType, job: Job, stage: JobStage | None = None, *, at: datetime | None = None
) -> dict[str, Any]:
    """The event of ``event_type`` for ``job`` (and ``stage``), from the rows' current values."""
    return {
        "type": event_type.value,
        "job_id": str(job.id),
        "asset_id": str(job.asset_id),
        "tenant_id": str(job.tenant_id),
        "status": job.status.value,
        "progress": job.progress,
        "current_stage": job.current_stage,
        "stage": stage.name if stage is not None else None,
        "stage_status": stage.status.value if stage is not None else None,
        "stage_progress": stage.progress if stage is not None else None,
        "attempts": stage.attempts if stage is not None else None,
        "error_code": (stage.error_code if stage is not None else job.error_code),
        "error_message": (stage.error_message if stage is not None else job.error_message),
        "at": (at or utcnow()).isoformat(),
    }

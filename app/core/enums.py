"""Enumerations shared by the ORM, the services and the API."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum

# Defined by the search library, whose vector fields are filled per modality; the ORM stores it.
from search.documents import Modality as Modality


class AssetKind(enum.StrEnum):
    """What an asset is."""

    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"


class AssetStatus(enum.StrEnum):
    """Where an asset is in its life."""

    REGISTERED = "registered"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"


class DetectionKind(enum.StrEnum):
    """What a detection found."""

    LABEL = "label"
    FACE = "face"
    TEXT = "text"


class OwnerType(enum.StrEnum):
    """What an embedding or a similarity edge endpoint belongs to."""

    ASSET = "asset"
    SCENE = "scene"
    SEGMENT = "segment"


class SimilarityKind(enum.StrEnum):
    """Why two things are linked."""

    NEAR_DUPLICATE = "near_duplicate"
    VISUAL = "visual"
    SEMANTIC = "semantic"


class DuplicateVerdict(enum.StrEnum):
    """What an editor decided about a pair of suggested near-duplicates."""

    DUPLICATE = "duplicate"
    NOT_DUPLICATE = "not_duplicate"


class RelationReason(enum.StrEnum):
    """Why two assets are related (app/media/relations.py)."""

    SAME_PERSON = "same_person"
    NEAR_DUPLICATE = "near_duplicate"
    SIMILAR_SCENE = "similar_scene"
    SHARED_TEXT = "shared_text"
    SHARED_LABEL = "shared_label"


class JobStatus(enum.StrEnum):
    """Lifecycle of a job."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobQuality(enum.StrEnum):
    """How a job chooses its models (``app.core.routing_policy``, ``inference.routing``)."""

    # The queue's routing policy: the fast model first on realtime jobs, the batch model on batch.
    ROUTED = "routed"
    # The accurate model on everything: an upgrade pass, or reprocessAsset(quality: ACCURATE).
    ACCURATE = "accurate"
    # A follow-up of a fast pass: only its low-confidence spans re-run on the accurate model.
    ESCALATION = "escalation"


class StageStatus(enum.StrEnum):
    """Lifecycle of one stage of a job."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


def enum_column(enum_cls: type[enum.Enum]) -> Any:
    """A portable enum column: VARCHAR storing the member *values* (no native PG type)."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )

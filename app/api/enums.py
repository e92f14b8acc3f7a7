"""The domain enums registered as GraphQL enums (names are the members, values stay the domain's).

Registering mutates nothing but a marker attribute on the domain classes, so resolvers keep
returning domain values and the domain keeps no strawberry import. The domain classes cannot
use ``strawberry.enum_value``, so their members' descriptions are given here, one per member
(``register`` refuses a missing or unknown one).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from app.core.enums import (
    AssetKind,
    AssetStatus,
    DetectionKind,
    JobQuality,
    JobStatus,
    RelationReason,
    SimilarityKind,
    StageStatus,
)
from app.jobs.pipeline import StageName as PipelineStage


def register(cls: type[enum.Enum], *, name: str, description: str, values: Mapping[str, str]) -> None:
    """Register ``cls`` as the GraphQL enum ``name``, describing every member."""
    members = {member.name for member in cls}
    if members != set(values):
        raise ValueError(f"{name}: describe exactly {sorted(members)}, got {sorted(values)}")
    strawberry.enum(cls, name=name, description=description)
    definition = getattr(cls, "__strawberry_definition__", None)
    assert isinstance(definition, StrawberryEnumDefinition)
    for value in definition.values:
        value.description = values[value.name]


register(
    AssetKind,
    name="AssetKind",
    description="What an asset is.",
    values={
        "VIDEO": "A video file (with or without a sound track).",
        "AUDIO": "A sound recording.",
        "IMAGE": "A still picture.",
        "TEXT": "A text document (plain text, Markdown, HTML or PDF).",
    },
)
register(
    AssetStatus,
    name="AssetStatus",
    description="Where an asset is in its life.",
    values={
        "REGISTERED": "Stored, not analysed: no job has run yet, or its last one was cancelled.",
        "PROCESSING": "A job is analysing it.",
        "READY": "Analysed: its scenes, transcript, detections and links are available.",
        "FAILED": "Its last job failed (see the job's errorCode); retryJob or reprocessAsset runs it again.",
        "DELETED": "Deleted (soft): no query or list returns it any more.",
    },
)
register(
    DetectionKind,
    name="DetectionKind",
    description="What a detection found.",
    values={
        "LABEL": "A class of object or scene recognised in the whole frame (e.g. boat).",
        "FACE": "A human face, with its box.",
        "TEXT": "A line of text read from the picture (OCR), with its box.",
    },
)
register(
    SimilarityKind,
    name="SimilarityKind",
    description="Why two assets or scenes are linked.",
    values={
        "NEAR_DUPLICATE": "Two assets of the same kind with the same content (re-encoded, resized or "
        "trimmed copies).",
        "VISUAL": "Two scenes whose keyframes look alike.",
        "SEMANTIC": "Two scenes (or text documents) about the same thing: what is shown, written and said.",
    },
)
register(
    JobStatus,
    name="JobStatus",
    description="Lifecycle of a job.",
    values={
        "QUEUED": "Created; no stage has started yet.",
        "RUNNING": "A stage has started and the job has not ended.",
        "SUCCEEDED": "Ended: every stage that applies succeeded (final).",
        "FAILED": "Ended: a stage failed for good, see errorCode (final; retryJob resumes it).",
        "CANCELLED": "Ended: cancelled with cancelJob (final; retryJob resumes it).",
    },
)
register(
    JobQuality,
    name="JobQuality",
    description="How a job chooses its models (the routing policy: systemStatus.routing, docs/models.md).",
    values={
        "ROUTED": "The queue's route: the fast model first on realtime jobs (its unsure spans escalated, "
        "by default in an ESCALATION job that follows), the batch model on batch jobs.",
        "ACCURATE": "The accurate model on everything: an idle-time upgrade pass, or "
        "reprocessAsset(quality: ACCURATE).",
        "ESCALATION": "Only the low-confidence spans of the stored fast transcript re-run on the accurate "
        "model; the better reading of each span replaces it.",
    },
)
register(
    StageStatus,
    name="StageStatus",
    description="Lifecycle of one stage of a job.",
    values={
        "PENDING": "Waiting for the stages it depends on.",
        "QUEUED": "Sent to the workers and waiting for one (or for its retry after a transient failure).",
        "RUNNING": "Running on a worker.",
        "SUCCEEDED": "Finished; what it found is stored.",
        "FAILED": "Failed for good (see errorCode); the job failed with it.",
        "SKIPPED": "Not run: it does not apply to the asset's kind or was not requested (see skipReason).",
        "CANCELLED": "Stopped, or never started, because the job was cancelled.",
    },
)
register(
    PipelineStage,
    name="PipelineStage",
    description="A stage of the media pipeline.",
    values={
        "PROBE": "Read the file's technical facts: container, codecs, duration, size.",
        "TEXT": "Extract a text document's text and cut it into chunks (text assets only).",
        "SCENES": "Cut the asset into scenes (shots of a video, spans of audio, the frame of an "
        "image) with keyframes.",
        "TRANSCRIBE": "Recognise speech, with word timings (video and audio).",
        "OCR": "Read on-screen text (video and images).",
        "DETECT": "Recognise labels and faces (video and images).",
        "EMBED": "Compute the text and image vectors of the asset and its scenes.",
        "SIMILARITY": "Link the asset and its scenes to near-duplicates and look-alikes.",
        "INDEX": "Write the asset and its moments to the search index.",
    },
)


@strawberry.enum(name="OrderDirection", description="Sort direction.")
class OrderDirection(enum.Enum):
    """Ascending or descending."""

    ASC = strawberry.enum_value("asc", description="Ascending: oldest or A first.")
    DESC = strawberry.enum_value("desc", description="Descending: newest or Z first.")


@strawberry.enum(name="ModelInputUnit", description="What a model's inputs are counted in.")
class ModelInputUnit(enum.Enum):
    """The unit of ``ModelUsage.inputs`` (``inference.router.INPUT_UNITS``)."""

    AUDIO_SECONDS = strawberry.enum_value("audio_seconds", description="Seconds of audio (speech models).")
    IMAGES = strawberry.enum_value("images", description="Images or video frames.")
    TEXTS = strawberry.enum_value("texts", description="Texts (text embedding models).")
    FACES = strawberry.enum_value("faces", description="Faces (face descriptor models).")


__all__ = [
    "AssetKind",
    "AssetStatus",
    "DetectionKind",
    "JobQuality",
    "JobStatus",
    "ModelInputUnit",
    "OrderDirection",
    "PipelineStage",
    "SimilarityKind",
    "StageStatus",
]
register(
    RelationReason,
    name="RelationReason",
    description="Why two assets are related.",
    values={
        "SAME_PERSON": "The same person appears in both.",
        "NEAR_DUPLICATE": "One is a copy of the other (re-encoded, resized, trimmed).",
        "SIMILAR_SCENE": "Some of their scenes look or mean alike.",
        "SHARED_TEXT": "Both show the same distinctive on-screen text (a code, a name).",
        "SHARED_LABEL": "Both show the same recognised things, weighted by how rare they are.",
    },
)

"""Imports every ORM model so that ``Base.metadata`` is complete (Alembic, tests)."""

from app.assets.models import Asset, DuplicateDecision, IngestKey
from app.audit.models import AuditEvent
from app.core.db import Base
from app.jobs.models import Job, JobStage
from app.media.models import (
    AudioFingerprint,
    Detection,
    Embedding,
    Scene,
    SimilarityEdge,
    TranscriptSegment,
)
from app.people.models import Face, FaceTrack, Person
from app.tenancy.models import ApiKey, Tenant
from app.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery

__all__ = [
    "ApiKey",
    "Asset",
    "AudioFingerprint",
    "AuditEvent",
    "Base",
    "Detection",
    "DuplicateDecision",
    "Embedding",
    "Face",
    "FaceTrack",
    "IngestKey",
    "Job",
    "JobStage",
    "Person",
    "Scene",
    "SimilarityEdge",
    "Tenant",
    "TranscriptSegment",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]

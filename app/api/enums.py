"""The domain enums registered as GraphQL enums (names are the members, values stay the domain's).

Registering mutates nothing but a marker attribute on the domain classes, so resolvers keep
returning domain values and the domain keeps no strawberry import.
"""

from __future__ import annotations

import enum

import strawberry

from app.enums import AssetKind, AssetStatus, DetectionKind, JobStatus, SimilarityKind, StageStatus
from app.jobs.pipeline import StageName as PipelineStage

strawberry.enum(AssetKind, name="AssetKind", description="What an asset is.")
strawberry.enum(AssetStatus, name="AssetStatus", description="Where an asset is in its life.")
strawberry.enum(DetectionKind, name="DetectionKind", description="What a detection found.")
strawberry.enum(SimilarityKind, name="SimilarityKind", description="Why two assets or scenes are linked.")
strawberry.enum(JobStatus, name="JobStatus", description="Lifecycle of a job.")
strawberry.enum(StageStatus, name="StageStatus", description="Lifecycle of one stage of a job.")
strawberry.enum(PipelineStage, name="PipelineStage", description="A stage of the media pipeline.")


@strawberry.enum(name="OrderDirection", description="Sort direction.")
class OrderDirection(enum.Enum):
    """Ascending or descending."""

    ASC = "asc"
    DESC = "desc"


__all__ = [
    "AssetKind",
    "AssetStatus",
    "DetectionKind",
    "JobStatus",
    "OrderDirection",
    "PipelineStage",
    "SimilarityKind",
    "StageStatus",
]

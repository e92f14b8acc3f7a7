"""Job and JobStage: pipeline runs and their stages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from app.api.batching import PagedKey
from app.api.context import Info
from app.api.enums import JobQuality, JobStatus, ModelInputUnit, StageStatus
from app.api.fields import field
from app.api.pagination import DEFAULT_PAGE_SIZE, Connection, connection, page_of
from app.api.scalars import After, BigInt, First
from app.core.db import utcnow
from app.core.telemetry.model_usage import ModelUsage, stored
from app.jobs import repository as repo
from app.jobs import service as jobs
from app.jobs.models import Job, JobStage

if TYPE_CHECKING:
    from app.api.assets.types import AssetType


@strawberry.type(name="Job", description="One run of a pipeline over one asset.")
class JobType(relay.Node):
    """GraphQL view of a ``Job`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[Job]

    @classmethod
    def from_row(cls, row: Job) -> JobType:
        """The GraphQL object of ``row``."""
        return cls(node_id=str(row.id), row=row)

    @field(description="Name of the pipeline that runs.")
    def pipeline(self) -> str:
        return self.row.pipeline

    @field(description="Queue the job runs on (realtime before batch).")
    def queue(self) -> str:
        return self.row.queue

    @field(description="Where the job is in its life.")
    def status(self) -> JobStatus:
        return self.row.status

    @field(
        description="How the job chooses its models: ROUTED (the queue's route), ACCURATE (an upgrade "
        "pass) or ESCALATION (a fast pass's unsure spans re-run on the accurate model)."
    )
    def quality(self) -> JobQuality:
        return self.row.quality

    @field(description="Overall progress from 0 to 1, weighted by stage.")
    def progress(self) -> float:
        return self.row.progress

    @field(description="Name of the stage running now, if any.")
    def current_stage(self) -> str | None:
        return self.row.current_stage

    @field(description="How many times the job was started (retries included).")
    def attempts(self) -> int:
        return self.row.attempts

    @field(description="Code of the error that failed the job, if it failed.")
    def error_code(self) -> str | None:
        return self.row.error_code

    @field(description="Message of the error that failed the job, if it failed.")
    def error_message(self) -> str | None:
        return self.row.error_message

    @field(description="Scheduling priority (higher runs first within a queue).")
    def priority(self) -> int:
        return self.row.priority

    @field(description="Stages this run was asked for; null means the whole pipeline.")
    def requested_stages(self) -> list[str] | None:
        return list(self.row.requested_stages) if self.row.requested_stages is not None else None

    @field(description="When the job was created.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @field(description="When the job last changed.")
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @field(description="When the first stage started.")
    def started_at(self) -> datetime | None:
        return self.row.started_at

    @field(description="When the job reached a final state.")
    def finished_at(self) -> datetime | None:
        return self.row.finished_at

    @field(description="When cancellation was requested, if it was.")
    def cancel_requested_at(self) -> datetime | None:
        return self.row.cancel_requested_at

    @field(
        description=(
            "True while one of its stages waits for another worker because its own stopped "
            "mid-run (killed, crashed or hung: its lease ran out); the job resumes from that stage."
        )
    )
    async def waiting_to_resume(self, info: Info) -> bool:
        if self.row.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return False
        page = page_of(
            info, repo.STAGE_ORDER, info.context.settings.max_page_size, None, field=["waitingToResume"]
        )
        stages = await info.context.loaders.jobs.job_stages_by_job.load(PagedKey(self.row.id, page, None))
        now = utcnow()
        return any(jobs.waiting_to_resume(stage, now) for stage in stages.rows)

    @field(
        description=(
            "What processing cost so far: every stage run's CPU and GPU time and stored bytes, "
            "priced (null until a stage has run)."
        )
    )
    def cost(self) -> JobCostType | None:
        return JobCostType(cost=self.row.cost) if self.row.cost else None

    @field(
        description=(
            "Which models the job's stages ran: per model, summed over its stages (retried runs "
            "included), in the order they first ran."
        )
    )
    async def models(self, info: Info) -> list[ModelUsageType]:
        usage = await info.context.loaders.jobs.model_usage_by_job.load(self.row.id)
        return [ModelUsageType(usage=u) for u in usage]

    @field(description="The asset the job processes (null once the asset is deleted).")
    async def asset(self, info: Info) -> Annotated[AssetType, strawberry.lazy("app.api.assets.types")] | None:
        from app.api.assets.types import AssetType

        row = await info.context.loaders.assets.asset_by_id.load(self.row.asset_id)
        return AssetType.from_row(row) if row is not None else None

    @field(description="The job's stages in pipeline order.")
    async def stages(
        self, info: Info, first: First = DEFAULT_PAGE_SIZE, after: After = None
    ) -> Connection[JobStageType]:
        page = page_of(info, repo.STAGE_ORDER, first, after, field=["stages"])
        rows = await info.context.loaders.jobs.job_stages_by_job.load(PagedKey(self.row.id, page, None))
        return connection(rows, repo.STAGE_ORDER, JobStageType.from_row)


@strawberry.type(
    name="JobCost", description="Resources a job used and their price (configured per deployment)."
)
class JobCostType:
    """GraphQL view of ``Job.cost`` (see ``app.core.telemetry.cost``)."""

    cost: strawberry.Private[Mapping[str, Any]]

    @field(description="Process CPU-seconds its stage runs used (retried runs included).")
    def cpu_seconds(self) -> float:
        return float(self.cost.get("cpu_seconds", 0.0))

    @field(description="GPU-seconds its model calls used.")
    def gpu_seconds(self) -> float:
        return float(self.cost.get("gpu_seconds", 0.0))

    @field(description="Bytes its stages wrote to the blob store (keyframes, thumbnails).")
    def stored_bytes(self) -> BigInt:
        return BigInt(int(self.cost.get("stored_bytes", 0)))

    @field(description="Price of the CPU time.")
    def cpu_cost(self) -> float:
        return float(self.cost.get("cpu_cost", 0.0))

    @field(description="Price of the GPU time.")
    def gpu_cost(self) -> float:
        return float(self.cost.get("gpu_cost", 0.0))

    @field(description="Price of the stored bytes.")
    def storage_cost(self) -> float:
        return float(self.cost.get("storage_cost", 0.0))

    @field(description="Total price.")
    def total(self) -> float:
        return float(self.cost.get("total", 0.0))

    @field(description="Currency of the prices (ISO 4217 code).")
    def currency(self) -> str:
        return str(self.cost.get("currency", ""))


@strawberry.type(
    name="ModelUsage",
    description=(
        "What one model did for a stage, a job or an asset: its calls, inputs, time and estimated "
        "quality (see docs/models.md, 'Model usage')."
    ),
)
class ModelUsageType:
    """GraphQL view of a ``ModelUsage`` (``app.core.telemetry.model_usage``)."""

    usage: strawberry.Private[ModelUsage]

    @field(description="Name of the model.")
    def name(self) -> str:
        return self.usage.name

    @field(description="Version of the model (as stamped on its outputs).")
    def version(self) -> str:
        return self.usage.version

    @field(description="The model's task (transcribe, ocr, labels, faces, embed_text, ...).")
    def task(self) -> str:
        return self.usage.task

    @field(description="Stages whose runs used the model, in the order they first did.")
    def stages(self) -> list[str]:
        return list(self.usage.stages)

    @field(description="Requests made to the model (a batch shared with other callers counts once each).")
    def calls(self) -> int:
        return self.usage.calls

    @field(description="What the model was given, in inputUnit (cached results are not counted).")
    def inputs(self) -> float:
        return self.usage.inputs

    @field(description="What inputs counts.")
    def input_unit(self) -> ModelInputUnit:
        return ModelInputUnit(self.usage.input_unit)

    @field(description="Seconds the stages waited for the model's answers (queueing and batching included).")
    def wall_seconds(self) -> float:
        return self.usage.wall_seconds

    @field(
        description=(
            "Process CPU-seconds charged to the model: the thread of a call it ran alone by its "
            "own clock, and its stage's share of the rest while its calls were in flight (part "
            "of the job's cost.cpuSeconds)."
        )
    )
    def cpu_seconds(self) -> float:
        return self.usage.cpu_seconds

    @field(description="GPU-seconds its calls used (0 on CPU backends).")
    def gpu_seconds(self) -> float:
        return self.usage.gpu_seconds

    @field(
        description=(
            "Estimated quality: mean confidence (0 to 1) of the outputs kept of this model "
            "(transcripts weighted by seconds of speech; OCR lines, labels and faces by row); null "
            "for models whose outputs carry none (embeddings)."
        )
    )
    def mean_confidence(self) -> float | None:
        return self.usage.mean_confidence


@strawberry.type(name="JobStage", description="One stage of a job (probe, scenes, transcribe, ...).")
class JobStageType(relay.Node):
    """GraphQL view of a ``JobStage`` row."""

    node_id: relay.NodeID[str]
    row: strawberry.Private[JobStage]

    @classmethod
    def from_row(cls, row: JobStage) -> JobStageType:
        """The GraphQL object of ``row``."""
        return cls(node_id=str(row.id), row=row)

    @field(description="Stage name (see PipelineStage).")
    def name(self) -> str:
        return self.row.name

    @field(description="Position in the pipeline, from 0.")
    def ordinal(self) -> int:
        return self.row.ordinal

    @field(description="Where the stage is in its life.")
    def status(self) -> StageStatus:
        return self.row.status

    @field(
        description=(
            "True while the stage waits for another worker because its own stopped mid-run "
            "(killed, crashed or hung: its lease ran out); it resumes on the next worker."
        )
    )
    def waiting_to_resume(self) -> bool:
        return jobs.waiting_to_resume(self.row, utcnow())

    @field(description="Progress of this stage from 0 to 1.")
    def progress(self) -> float:
        return self.row.progress

    @field(description="How many times the stage was started (retries included).")
    def attempts(self) -> int:
        return self.row.attempts

    @field(description="When the stage last started.")
    def started_at(self) -> datetime | None:
        return self.row.started_at

    @field(description="When the stage finished.")
    def finished_at(self) -> datetime | None:
        return self.row.finished_at

    @field(description="How long the last run took, in seconds.")
    def duration_seconds(self) -> float | None:
        return self.row.duration_s

    @field(description="Models (name to version) the stage used (a JSON object).")
    def model_versions(self) -> JSON:
        return JSON(self.row.model_versions)

    @field(
        description=(
            "Which models the stage ran (its retried runs included): calls, inputs, CPU and GPU "
            "seconds and the estimated quality of each; empty before it ran or without models."
        )
    )
    def model_usage(self) -> list[ModelUsageType]:
        return [ModelUsageType(usage=u) for u in stored([(self.row.name, self.row.model_usage or [])])]

    @field(description="Code of the error that failed the stage, if it failed.")
    def error_code(self) -> str | None:
        return self.row.error_code

    @field(description="Message of the error that failed the stage, if it failed.")
    def error_message(self) -> str | None:
        return self.row.error_message

    @field(description="Why the stage was skipped (e.g. it does not apply to images), if it was.")
    def skip_reason(self) -> str | None:
        return self.row.skip_reason

    @field(description="The job the stage belongs to.")
    async def job(self, info: Info) -> JobType | None:
        row = await info.context.loaders.jobs.job_by_id.load(self.row.job_id)
        return JobType.from_row(row) if row is not None else None

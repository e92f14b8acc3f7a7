"""Mutations of assets: ingest (one or a batch), update, delete, reprocess.

Mutations validate, call one domain service in one unit of work and map its typed errors to
their union members; the services do the work, record the audit event and announce changes
after commit.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from app.api.assets.types import AssetType
from app.api.context import Context, Info
from app.api.enums import JobQuality, PipelineStage
from app.api.errors import (
    BackpressureErrorType,
    BatchTooLargeError,
    BatchTooLargeErrorType,
    EmptyFileErrorType,
    FetchFailedErrorType,
    FileTooLargeErrorType,
    ForbiddenErrorType,
    IdempotencyConflictErrorType,
    InvalidInputErrorType,
    InvalidStateErrorType,
    MalformedIdErrorType,
    NotFoundErrorType,
    PathNotAllowedErrorType,
    RateLimitedErrorType,
    UnreadableFileErrorType,
    UnsupportedMediaErrorType,
    UrlNotAllowedErrorType,
    UserErrorCode,
    UserErrorType,
    WrongIdTypeErrorType,
    field_mapper,
    user_error,
)
from app.api.fields import mutation
from app.api.ids import decode_id
from app.api.jobs.types import JobType
from app.api.rate_limits import charge_ingest, check_ingest_budget
from app.assets import service as assets
from app.assets.service import IngestResult
from app.audit import service as audit
from app.core.db import session_scope
from app.core.errors import DomainError, InvalidInputError
from app.jobs import service as jobs

# One ingestAssets call may register this many items; bigger imports page through calls
# (and the CLI), so one request never holds a worker for minutes.
MAX_INGEST_BATCH = 50
MAX_IDEMPOTENCY_KEY_CHARS = 200  # the column's width


# --- ingest --------------------------------------------------------------------------------


@strawberry.input(
    name="IngestSource",
    one_of=True,
    description="Where the content comes from: exactly one of a local path, an uploaded file or a URL.",
)
class IngestSourceInput:
    """The content of an ingest."""

    path: str | None = strawberry.field(
        default=strawberry.UNSET, description="A file on the server, inside the allowed ingestion roots."
    )
    upload: Upload | None = strawberry.field(
        default=strawberry.UNSET,
        description="A file sent with the request (GraphQL multipart request spec), within the size limit.",
    )
    url: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="An http(s) URL the server fetches: its host must resolve to public addresses only "
        "(every redirect is checked again); size and time are capped.",
    )


@strawberry.input(name="IngestAssetInput", description="One asset to register.")
class IngestAssetInput:
    """Arguments of ingestAsset."""

    source: IngestSourceInput = strawberry.field(description="Where the content comes from.")
    title: str | None = strawberry.field(default=None, description="Title; defaults to the file name.")
    tags: list[str] | None = strawberry.field(default=None, description="Tags to attach.")
    metadata: JSON | None = strawberry.field(default=None, description="Free-form metadata (a JSON object).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Client key making retries safe: the same key with the same content returns what "
        "its first call returned (restoring the asset if it was deleted since); with different content "
        "it is an IdempotencyConflict.",
    )


@strawberry.type(
    name="IngestAssetSuccess", description="The asset is registered and its processing is queued."
)
class IngestAssetSuccess:
    """Result of a successful ingest."""

    asset: AssetType = strawberry.field(
        description="The asset (an existing one if the same content was registered)."
    )
    job: JobType | None = strawberry.field(
        description="The job processing it; for a repeated idempotency key, the job created under that "
        "key; null when the content was already registered (for a key: when the key was first used)."
    )
    created: bool = strawberry.field(description="False when the content or idempotency key was seen before.")


_INGEST_ERRORS: tuple[type[UserErrorType], ...] = (
    PathNotAllowedErrorType,
    UnreadableFileErrorType,
    EmptyFileErrorType,
    FileTooLargeErrorType,
    UnsupportedMediaErrorType,
    IdempotencyConflictErrorType,
    InvalidInputErrorType,
    BackpressureErrorType,
    UrlNotAllowedErrorType,
    FetchFailedErrorType,
    RateLimitedErrorType,
)

IngestAssetResult = Annotated[
    IngestAssetSuccess
    | PathNotAllowedErrorType
    | UnreadableFileErrorType
    | EmptyFileErrorType
    | FileTooLargeErrorType
    | UnsupportedMediaErrorType
    | IdempotencyConflictErrorType
    | InvalidInputErrorType
    | BackpressureErrorType
    | UrlNotAllowedErrorType
    | FetchFailedErrorType
    | RateLimitedErrorType
    | ForbiddenErrorType,
    strawberry.union("IngestAssetResult", description="The ingested asset, or why it was not ingested."),
]


def _check_ingest_input(item: IngestAssetInput) -> dict[str, Any]:
    """Keyword arguments for the ingest services, validated."""
    if item.idempotency_key is not None and not 0 < len(item.idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidInputError(
            f"the idempotency key must have 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters",
            field=["idempotencyKey"],
        )
    return {
        "title": assets.clean_title(item.title, field=["title"]) if item.title is not None else None,
        "tags": assets.clean_tags(item.tags, field=["tags"]) if item.tags is not None else None,
        "metadata": assets.clean_metadata(item.metadata, field=["metadata"])
        if item.metadata is not None
        else None,
        "idempotency_key": item.idempotency_key,
    }


async def _ingest_one(ctx: Context, item: IngestAssetInput, *, queue: str, prefix: list[str]) -> Any:
    remap = field_mapper(
        prefix, {"path": ["source", "path"], "upload": ["source", "upload"], "url": ["source", "url"]}
    )
    # Uploaded bytes were received whatever the outcome; fetched or read ones count once registered.
    upload: Any = item.source.upload  # a starlette UploadFile
    received: int = (upload.size or 0) if upload else 0
    try:
        kwargs = _check_ingest_input(item)
        await check_ingest_budget(ctx.services, ctx.caller)
        async with session_scope(ctx.session_factory) as session:
            result: IngestResult
            if item.source.path:
                result = await assets.ingest_path(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    path=Path(item.source.path),
                    actor=ctx.caller.actor,
                    queue=queue,
                    **kwargs,
                )
            elif upload:
                result = await assets.ingest_stream(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    stream=upload.file,
                    filename=upload.filename or "upload",
                    size=upload.size,
                    actor=ctx.caller.actor,
                    queue=queue,
                    **kwargs,
                )
            elif item.source.url:
                result = await assets.ingest_url(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    url=item.source.url,
                    actor=ctx.caller.actor,
                    queue=queue,
                    **kwargs,
                )
            else:
                raise InvalidInputError("give a path, an upload or a URL", field=["source"])
            if not result.created:
                # The services audit what they create; a replay is audited here so every
                # call of the mutation leaves a trace.
                await audit.record(
                    session,
                    tenant_id=ctx.caller.tenant_id,
                    actor=ctx.caller.actor,
                    action="asset.ingest_repeated",
                    entity_type="asset",
                    entity_id=result.asset.id,
                    details={"job_id": str(result.job.id) if result.job else None},
                )
    except DomainError as exc:
        await charge_ingest(ctx.services, ctx.caller, received)
        return user_error(remap(exc), allowed=_INGEST_ERRORS, max_bytes=ctx.settings.max_upload_bytes)
    await charge_ingest(ctx.services, ctx.caller, received or result.asset.size_bytes)
    return IngestAssetSuccess(
        asset=AssetType.from_row(result.asset),
        job=JobType.from_row(result.job) if result.job is not None else None,
        created=result.created,
    )


@strawberry.input(name="IngestAssetsInput", description="Several assets to register in one call.")
class IngestAssetsInput:
    """Arguments of ingestAssets."""

    items: list[IngestAssetInput] = strawberry.field(
        description=f"The assets, at most {MAX_INGEST_BATCH}; each is registered on its own (one failing "
        "does not stop the others)."
    )


@strawberry.type(name="IngestAssetsSuccess", description="Every item was attempted; each has its own result.")
class IngestAssetsSuccess:
    """Result of a batch ingest."""

    results: list[IngestAssetResult] = strawberry.field(description="One result per item, in input order.")


IngestAssetsResult = Annotated[
    IngestAssetsSuccess | BatchTooLargeErrorType | InvalidInputErrorType | ForbiddenErrorType,
    strawberry.union("IngestAssetsResult", description="Per-item results, or why the batch was refused."),
]


# --- update, delete, reprocess -------------------------------------------------------------


@strawberry.input(
    name="UpdateAssetInput", description="Changes to an asset; omitted fields stay as they are."
)
class UpdateAssetInput:
    """Arguments of updateAsset."""

    id: strawberry.ID = strawberry.field(description="The asset to change.")
    title: str | None = strawberry.field(default=None, description="New title.")
    tags: list[str] | None = strawberry.field(default=None, description="New tags (replace the old ones).")
    metadata: JSON | None = strawberry.field(
        default=None, description="New metadata (replaces the old object)."
    )


@strawberry.type(name="UpdateAssetSuccess", description="The asset after the change.")
class UpdateAssetSuccess:
    """Result of a successful update."""

    asset: AssetType = strawberry.field(description="The changed asset.")


_ID_ERRORS: tuple[type[UserErrorType], ...] = (MalformedIdErrorType, WrongIdTypeErrorType, NotFoundErrorType)

UpdateAssetResult = Annotated[
    UpdateAssetSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | InvalidInputErrorType
    | ForbiddenErrorType,
    strawberry.union("UpdateAssetResult", description="The changed asset, or why it was not changed."),
]


@strawberry.input(name="DeleteAssetInput", description="The asset to delete.")
class DeleteAssetInput:
    """Arguments of deleteAsset."""

    id: strawberry.ID = strawberry.field(description="The asset to delete.")


@strawberry.type(
    name="DeleteAssetSuccess", description="The asset is deleted (hidden everywhere, kept on disk)."
)
class DeleteAssetSuccess:
    """Result of a successful delete."""

    deleted_asset_id: strawberry.ID = strawberry.field(description="ID of the deleted asset.")


DeleteAssetResult = Annotated[
    DeleteAssetSuccess | MalformedIdErrorType | WrongIdTypeErrorType | NotFoundErrorType | ForbiddenErrorType,
    strawberry.union("DeleteAssetResult", description="Confirmation, or why nothing was deleted."),
]


@strawberry.input(name="ReprocessAssetInput", description="Run (part of) the pipeline again over an asset.")
class ReprocessAssetInput:
    """Arguments of reprocessAsset."""

    id: strawberry.ID = strawberry.field(description="The asset to reprocess.")
    stages: list[PipelineStage] | None = strawberry.field(
        default=None,
        description="Stages to re-run, with everything downstream of them; omitted or empty: "
        "the whole pipeline.",
    )
    quality: JobQuality = strawberry.field(
        default=JobQuality.ROUTED,
        description="How the job chooses its models: ACCURATE runs the accurate ones (today: speech) "
        "instead of the batch queue's route.",
    )


@strawberry.type(name="ReprocessAssetSuccess", description="A new job was queued.")
class ReprocessAssetSuccess:
    """Result of a successful reprocess."""

    job: JobType = strawberry.field(description="The new job.")


_REPROCESS_ERRORS = (*_ID_ERRORS, InvalidInputErrorType, InvalidStateErrorType, BackpressureErrorType)

ReprocessAssetResult = Annotated[
    ReprocessAssetSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | InvalidInputErrorType
    | InvalidStateErrorType
    | BackpressureErrorType
    | ForbiddenErrorType,
    strawberry.union("ReprocessAssetResult", description="The new job, or why none was queued."),
]


def _asset_id(value: str) -> uuid.UUID:
    return decode_id(value, "Asset", field=["id"])


@strawberry.type
class AssetMutations:
    """Root mutation fields of assets."""

    @mutation(
        description="Register one asset from a server path or an upload and queue its processing. "
        "Idempotent: the same content returns the existing asset."
    )
    async def ingest_asset(
        self,
        info: Info,
        input: Annotated[IngestAssetInput, strawberry.argument(description="What to ingest.")],
    ) -> IngestAssetResult:
        result: IngestAssetResult = await _ingest_one(info.context, input, queue="realtime", prefix=["input"])
        return result

    @mutation(
        description=f"Register up to {MAX_INGEST_BATCH} assets; each item succeeds or fails on its own. "
        "Runs on the batch queue (behind interactive uploads)."
    )
    async def ingest_assets(
        self,
        info: Info,
        input: Annotated[IngestAssetsInput, strawberry.argument(description="What to ingest.")],
    ) -> IngestAssetsResult:
        if not input.items:
            return InvalidInputErrorType(
                message="give at least one item", code=UserErrorCode.INVALID_INPUT, field=["input", "items"]
            )
        if len(input.items) > MAX_INGEST_BATCH:
            exc = BatchTooLargeError(
                f"{len(input.items)} items given; one call accepts at most {MAX_INGEST_BATCH}",
                field=["input", "items"],
            )
            result: IngestAssetsResult = user_error(
                exc, allowed=(BatchTooLargeErrorType,), max_items=MAX_INGEST_BATCH
            )
            return result
        # Sequential on purpose: items share the queue bound and the database write lock.
        results = [
            await _ingest_one(info.context, item, queue="batch", prefix=["input", "items", str(i)])
            for i, item in enumerate(input.items)
        ]
        return IngestAssetsSuccess(results=results)

    @mutation(description="Change an asset's title, tags or metadata.")
    async def update_asset(
        self, info: Info, input: Annotated[UpdateAssetInput, strawberry.argument(description="The changes.")]
    ) -> UpdateAssetResult:
        ctx = info.context
        remap = field_mapper(["input"], {})
        try:
            asset_id = _asset_id(input.id)
            async with session_scope(ctx.session_factory) as session:
                asset = await assets.update_asset(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    asset_id=asset_id,
                    actor=ctx.caller.actor,
                    title=input.title,
                    tags=input.tags,
                    metadata=(
                        assets.clean_metadata(input.metadata, field=["metadata"])
                        if input.metadata is not None
                        else None
                    ),
                )
        except DomainError as exc:
            error: UpdateAssetResult = user_error(remap(exc), allowed=(*_ID_ERRORS, InvalidInputErrorType))
            return error
        return UpdateAssetSuccess(asset=AssetType.from_row(asset))

    @mutation(
        description="Delete an asset: it disappears from every query, search and similarity list at once. "
        "Its rows and bytes are kept; ingesting the same content again restores it."
    )
    async def delete_asset(
        self,
        info: Info,
        input: Annotated[DeleteAssetInput, strawberry.argument(description="What to delete.")],
    ) -> DeleteAssetResult:
        ctx = info.context
        try:
            asset_id = _asset_id(input.id)
            async with session_scope(ctx.session_factory) as session:
                await assets.delete_asset(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    asset_id=asset_id,
                    actor=ctx.caller.actor,
                )
        except DomainError as exc:
            error: DeleteAssetResult = user_error(field_mapper(["input"], {})(exc), allowed=_ID_ERRORS)
            return error
        return DeleteAssetSuccess(deleted_asset_id=input.id)

    @mutation(description="Queue a new job re-running some stages (and everything downstream) over an asset.")
    async def reprocess_asset(
        self,
        info: Info,
        input: Annotated[ReprocessAssetInput, strawberry.argument(description="What to re-run.")],
    ) -> ReprocessAssetResult:
        ctx = info.context
        remap = field_mapper(["input"], {"assetId": ["id"]})
        try:
            asset_id = _asset_id(input.id)
            async with session_scope(ctx.session_factory) as session:
                job = await jobs.reprocess_asset(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    asset_id=asset_id,
                    stages=[stage.value for stage in input.stages or ()],
                    actor=ctx.caller.actor,
                    quality=input.quality,
                )
        except DomainError as exc:
            error: ReprocessAssetResult = user_error(remap(exc), allowed=_REPROCESS_ERRORS)
            return error
        return ReprocessAssetSuccess(job=JobType.from_row(job))

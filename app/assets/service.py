"""Registering assets: from an allowed local path or from a stream of bytes (uploads).

Ingestion is idempotent twice over: the same bytes registered again by one tenant return
the existing asset (content sha256 is unique per tenant), and a client idempotency key
replays what the first call with that key returned, or is a typed conflict if the content
differs. A key is recorded whatever its first call found (a new asset or one registered
before) before that call writes anything else, so concurrent calls with one key take turns
and the later ones replay the first. A key whose asset was deleted since restores it, as a
call without a key does, and then stands for the restored asset and its new job.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets import repository
from app.assets.events import asset_event
from app.assets.kinds import detect_kind
from app.assets.models import Asset, IngestKey
from app.assets.sources import resolve_allowed_path
from app.audit import service as audit
from app.core import netguard
from app.core.blobs import HEAD_BYTES, StoredBlob
from app.core.container import Enqueuer, Services
from app.core.db import utcnow
from app.core.enums import AssetKind, AssetStatus
from app.core.errors import (
    EmptyFileError,
    FileTooLargeError,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    UnreadableFileError,
    UnsupportedMediaError,
)
from app.core.events import asset_channel
from app.core.settings import Settings
from app.jobs import service as jobs
from app.jobs.models import Job
from app.jobs.outbox import defer_publish, defer_send
from app.webhooks import service as webhooks

# The actor (jobs/runtime.py) that re-indexes an asset, or removes it from search once deleted.
SEARCH_SYNC_ACTOR = "search.sync_asset"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What an ingest call produced or found."""

    asset: Asset
    job: Job | None
    created: bool


def size_cap(settings: Settings, kind: AssetKind | None) -> int:
    """The largest accepted content of ``kind`` (of any kind for None)."""
    if kind is None:
        return settings.max_upload_bytes
    cap = settings.max_bytes_per_kind.get(kind.value, settings.max_upload_bytes)
    return min(settings.max_upload_bytes, cap)


def _too_large(cap: int) -> FileTooLargeError:
    return FileTooLargeError(f"content exceeds the limit of {cap} bytes", max_bytes=cap)


async def ingest_path(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    path: Path,
    actor: str,
    title: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    queue: str = "realtime",
) -> IngestResult:
    """Register the file at ``path`` (inside an allowed root) and start its pipeline."""
    resolved = resolve_allowed_path(path, services.settings.allowed_roots)
    try:
        stream = resolved.open("rb")
        size = os.fstat(stream.fileno()).st_size
    except OSError as exc:
        reason = "permission denied" if exc.errno == errno.EACCES else (exc.strerror or str(exc))
        raise UnreadableFileError(f"{path}: {reason}", field=["path"]) from exc
    with stream:
        return await ingest_stream(
            session,
            services=services,
            tenant_id=tenant_id,
            stream=stream,
            filename=resolved.name,
            source_uri=resolved.as_uri(),
            actor=actor,
            title=title,
            tags=tags,
            metadata=metadata,
            idempotency_key=idempotency_key,
            queue=queue,
            source_field="path",
            size=size,
        )


async def ingest_url(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    url: str,
    actor: str,
    title: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    queue: str = "realtime",
) -> IngestResult:
    """Fetch ``url`` under the outbound address policy (app/core/netguard.py) and register it.

    The first bytes are sniffed as they arrive: unsupported content, or content over its kind's
    cap, stops the transfer there.
    """
    settings = services.settings
    limits = netguard.FetchLimits(
        max_bytes=size_cap(settings, None),
        timeout_s=settings.url_ingest_timeout_seconds,
        max_redirects=settings.url_ingest_max_redirects,
    )
    name = netguard.check_url(url).path.rstrip("/").rsplit("/", 1)[-1]

    def check_head(head: bytes, length: int | None) -> int:
        cap = size_cap(settings, detect_kind(head, unquote(name) or "download")[0])
        if length is not None and length > cap:
            raise _too_large(cap)
        return cap

    with tempfile.TemporaryFile() as sink:
        try:
            fetched = await netguard.fetch(
                url,
                sink=sink,
                limits=limits,
                policy=netguard.AddressPolicy.from_strings(settings.outbound_allowed_networks),
                network=services.network,
                check_head=check_head,
            )
        except (EmptyFileError, FileTooLargeError, UnsupportedMediaError) as exc:
            exc.field = ["url"]
            raise
        sink.seek(0)
        return await ingest_stream(
            session,
            services=services,
            tenant_id=tenant_id,
            stream=sink,
            filename=fetched.filename,
            source_uri=fetched.url,
            actor=actor,
            title=title,
            tags=tags,
            metadata=metadata,
            idempotency_key=idempotency_key,
            queue=queue,
            source_field="url",
            size=fetched.size,
        )


async def ingest_stream(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    stream: BinaryIO,
    filename: str,
    actor: str,
    source_uri: str | None = None,
    title: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    queue: str = "realtime",
    source_field: str = "upload",
    size: int | None = None,
) -> IngestResult:
    """Store the stream's bytes, register the asset and start its pipeline (does not commit).

    ``source_field`` names the input the bytes came from in errors about them (empty, too
    large, unsupported). ``size``, when known (a file's stat, an upload's length), and the
    first bytes of a seekable stream refuse too large or unsupported content before any of
    it is copied; the copy enforces the cap again for streams that lie or grow.
    """
    try:
        kind_mime, cap = _precheck(stream, filename, size, services.settings)
        # Hashing and writing gigabytes must not stall the event loop (API requests, subscriptions).
        staged = await asyncio.to_thread(services.blobs.stage, stream, max_bytes=cap)
    except (EmptyFileError, FileTooLargeError, UnsupportedMediaError) as exc:
        exc.field = exc.field or [source_field]
        if isinstance(exc, FileTooLargeError) and exc.max_bytes is None:
            exc.max_bytes = cap
        raise
    blob: StoredBlob | None = None
    try:
        key_row: IngestKey | None = None
        key_is_new = False
        if idempotency_key is not None:
            key_row, key_is_new, replay = await _claim_key(
                session, tenant_id=tenant_id, key=idempotency_key, sha256=staged.sha256
            )
            if replay is not None:
                return replay

        existing = await repository.get_by_sha(session, tenant_id=tenant_id, sha256=staged.sha256)
        if existing is not None and existing.deleted_at is None:
            # The key (if any) records no job: what this call returns is what a replay returns.
            return IngestResult(asset=existing, job=None, created=False)

        # A full queue refuses before any row is written (create_job checks again, for its
        # other callers).
        await jobs.check_backpressure(session, queue=queue, queue_bound=services.settings.queue_bound)
        try:
            kind, mime = kind_mime or detect_kind(staged.head, filename)
            if staged.size > size_cap(services.settings, kind):
                raise _too_large(size_cap(services.settings, kind))
        except (UnsupportedMediaError, FileTooLargeError) as exc:
            exc.field = exc.field or [source_field]
            raise
        # Accepted: the blob moves into place before a row references it, so a row never
        # points at missing bytes; if the transaction fails after this, the unreferenced
        # blob is the orphan sweep's (app/assets/blob_sweep.py).
        blob = await asyncio.to_thread(services.blobs.commit, staged)
        return await _register(
            session,
            services=services,
            tenant_id=tenant_id,
            blob=blob,
            existing=existing,
            kind=kind,
            mime=mime,
            filename=filename,
            actor=actor,
            source_uri=source_uri,
            title=title,
            tags=tags,
            metadata=metadata,
            idempotency_key=idempotency_key,
            key_row=key_row,
            key_is_new=key_is_new,
            queue=queue,
        )
    finally:
        if blob is None:
            # Refused, a duplicate, or failed (the client went away included): staged
            # content never stays. Shielded: a cancelled request still drops it.
            await asyncio.shield(asyncio.to_thread(services.blobs.discard, staged))


async def _register(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    blob: StoredBlob,
    existing: Asset | None,
    kind: AssetKind,
    mime: str,
    filename: str,
    actor: str,
    source_uri: str | None,
    title: str | None,
    tags: list[str] | None,
    metadata: dict[str, Any] | None,
    idempotency_key: str | None,
    key_row: IngestKey | None,
    key_is_new: bool,
    queue: str,
) -> IngestResult:
    """The asset row (new, or the deleted one brought back), its job and the audit record."""
    if existing is not None:
        # Same content as a deleted asset: bring it back rather than violate uniqueness.
        asset = existing
        asset.deleted_at = None
        asset.status = AssetStatus.REGISTERED
        if title:
            asset.title = title
    else:
        asset = Asset(
            tenant_id=tenant_id,
            kind=kind,
            title=title or Path(filename).stem or blob.sha256[:12],
            source_uri=source_uri,
            blob_key=blob.key,
            content_sha256=blob.sha256,
            mime_type=mime,
            size_bytes=blob.size,
            tags=sorted(set(tags or [])),
            user_metadata=metadata or {},
        )
        try:
            # A savepoint: a concurrent ingest of the same bytes wins the unique constraint
            # and this call returns its asset instead of failing the whole transaction.
            async with session.begin_nested():
                session.add(asset)
                await session.flush()
        except IntegrityError:
            # (A concurrent call with the same key cannot be the winner: it took its turn
            # at the key; this call's key, if any, keeps recording no job.)
            winner = await repository.get_by_sha(session, tenant_id=tenant_id, sha256=blob.sha256)
            if winner is None:
                raise
            return IngestResult(asset=winner, job=None, created=False)

    job = await jobs.create_job(
        session,
        services=services,
        asset=asset,
        queue=queue,
        # The job column holds the key of the call that created the job; a key restoring
        # its deleted asset already named an earlier job.
        idempotency_key=idempotency_key if key_is_new else None,
    )
    if key_row is not None:
        key_row.job_id = job.id
    await audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="asset.ingest",
        entity_type="asset",
        entity_id=asset.id,
        details={"job_id": str(job.id), "sha256": blob.sha256, "size": blob.size, "filename": filename},
    )
    return IngestResult(asset=asset, job=job, created=True)


def _precheck(
    stream: BinaryIO, filename: str, size: int | None, settings: Settings
) -> tuple[tuple[AssetKind, str] | None, int]:
    """The content's kind and MIME type when its first bytes can be read and put back, and the
    cap the copy must hold; raises when the declared size or the first bytes refuse it."""
    cap = size_cap(settings, None)
    if size is not None and size > cap:
        raise _too_large(cap)
    if not stream.seekable():
        return None, cap
    start = stream.tell()
    header = stream.read(HEAD_BYTES)
    stream.seek(start)
    if not header:
        raise EmptyFileError("the content is empty")
    kind, mime = detect_kind(header, filename)
    cap = size_cap(settings, kind)
    if size is not None and size > cap:
        raise _too_large(cap)
    return (kind, mime), cap


async def _claim_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key: str, sha256: str
) -> tuple[IngestKey, bool, IngestResult | None]:
    """The key's record (and whether this call created it) and, for a repeated key whose
    asset is live, the result to replay; IdempotencyConflictError if the key stands for
    other content."""
    row = await repository.get_ingest_key(session, tenant_id=tenant_id, key=key, lock=True)
    if row is None:
        row = IngestKey(tenant_id=tenant_id, key=key, content_sha256=sha256)
        try:
            # First write of the call: a concurrent call with this key waits on the unique
            # constraint until this transaction ends, then replays it (or claims the key if
            # this one rolled back).
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            row = await repository.get_ingest_key(session, tenant_id=tenant_id, key=key, lock=True)
            if row is None:
                raise
        else:
            return row, True, None
    if row.content_sha256 != sha256:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was already used for different content",
            field=["idempotencyKey"],
        )
    asset = await repository.get_by_sha(session, tenant_id=tenant_id, sha256=sha256)
    if asset is None or asset.deleted_at is not None:
        # Deleted since the key was used: the call goes on and restores the asset.
        return row, False, None
    job = await session.get(Job, row.job_id) if row.job_id is not None else None
    return row, False, IngestResult(asset=asset, job=job, created=False)


# --- editing and deleting ------------------------------------------------------------------

MAX_TITLE_CHARS = 500  # the column's width
MAX_TAGS = 50
MAX_TAG_CHARS = 100
# User metadata lives in the asset row and is read with every asset: keep it a small document.
MAX_METADATA_BYTES = 64 * 1024


def clean_title(title: str, *, field: list[str]) -> str:
    """``title`` stripped; InvalidInputError when empty or too long."""
    cleaned = title.strip()
    if not cleaned:
        raise InvalidInputError("the title must not be empty", field=field)
    if len(cleaned) > MAX_TITLE_CHARS:
        raise InvalidInputError(f"the title exceeds {MAX_TITLE_CHARS} characters", field=field)
    return cleaned


def clean_tags(tags: list[str], *, field: list[str]) -> list[str]:
    """Tags stripped, unique and sorted; InvalidInputError for empty, long or too many tags."""
    cleaned = sorted({tag.strip() for tag in tags})
    if any(not tag for tag in cleaned):
        raise InvalidInputError("tags must not be empty", field=field)
    if any(len(tag) > MAX_TAG_CHARS for tag in cleaned):
        raise InvalidInputError(f"tags are at most {MAX_TAG_CHARS} characters", field=field)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInputError(f"an asset has at most {MAX_TAGS} tags", field=field)
    return cleaned


def clean_metadata(metadata: object, *, field: list[str]) -> dict[str, Any]:
    """``metadata`` if it is a JSON object of bounded size; InvalidInputError otherwise."""
    if not isinstance(metadata, dict):
        raise InvalidInputError("metadata must be a JSON object", field=field)
    try:
        size = len(json.dumps(metadata, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("metadata must be JSON-serialisable", field=field) from exc
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata exceeds {MAX_METADATA_BYTES} bytes as JSON", field=field)
    return metadata


async def _live_asset(session: AsyncSession, *, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> Asset:
    asset = await repository.get(session, tenant_id=tenant_id, asset_id=asset_id)
    if asset is None:
        raise NotFoundError(f"asset {asset_id} not found", field=["id"])
    return asset


def _sync_search(session: AsyncSession, enqueuer: Enqueuer | None, asset: Asset) -> None:
    # After commit, so the actor reads the change; if the message is lost, the search
    # reconciler (deletions) or the next index run / reindex (edits) catches up.
    defer_send(
        session,
        enqueuer,
        actor_name=SEARCH_SYNC_ACTOR,
        queue="realtime",
        args={"tenant_id": str(asset.tenant_id), "asset_id": str(asset.id)},
    )


async def update_asset(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    actor: str,
    title: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Asset:
    """Change the title, tags and/or metadata (None leaves a field as it is); audited, announced,
    re-indexed for search."""
    asset = await _live_asset(session, tenant_id=tenant_id, asset_id=asset_id)
    changes: dict[str, Any] = {}
    if title is not None:
        new_title = clean_title(title, field=["title"])
        if new_title != asset.title:
            changes["title"] = {"from": asset.title, "to": new_title}
            asset.title = new_title
    if tags is not None:
        new_tags = clean_tags(tags, field=["tags"])
        if new_tags != list(asset.tags):
            changes["tags"] = {"from": list(asset.tags), "to": new_tags}
            asset.tags = new_tags
    if metadata is not None:
        new_metadata = clean_metadata(metadata, field=["metadata"])
        if new_metadata != asset.user_metadata:
            # Only the key names: metadata may be large and the audit row is permanent.
            changes["metadata"] = {"keys": sorted(new_metadata)}
            asset.user_metadata = new_metadata
    if changes:
        asset.updated_at = utcnow()
    await session.flush()
    # Audited even when nothing changed: the trail records what callers asked for.
    await audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="asset.update",
        entity_type="asset",
        entity_id=asset.id,
        details={"changes": changes},
    )
    if changes:
        event = asset_event("asset_updated", asset, fields=sorted(changes), with_state=True)
        defer_publish(session, services.publisher, asset_channel(asset.id), event)
        _sync_search(session, services.enqueuer, asset)
    return asset


async def delete_asset(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    asset_id: uuid.UUID,
    actor: str,
) -> Asset:
    """Soft-delete an asset: hidden everywhere at once, rows and blobs kept (re-ingesting the same
    bytes brings it back). The ``search.sync_asset`` message removes it from the index."""
    asset = await _live_asset(session, tenant_id=tenant_id, asset_id=asset_id)
    asset.deleted_at = utcnow()
    asset.status = AssetStatus.DELETED
    await session.flush()
    await audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="asset.delete",
        entity_type="asset",
        entity_id=asset.id,
        details={"title": asset.title, "sha256": asset.content_sha256},
    )
    # After commit only: a subscriber or indexer acting on the event must find the row deleted.
    defer_publish(session, services.publisher, asset_channel(asset.id), asset_event("asset_deleted", asset))
    _sync_search(session, services.enqueuer, asset)
    await webhooks.emit(
        session,
        services.enqueuer,
        tenant_id=tenant_id,
        event_type="asset.deleted",
        data={"assetId": webhooks.global_id("Asset", asset.id), "status": asset.status.name},
    )
    return asset

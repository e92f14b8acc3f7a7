"""Refused or failed content never stays in the blob store, and the sweep removes what was
left behind (staged uploads of a killed process, blobs no row references) but never a blob a
row references. Each test runs on a local directory and on S3 (moto's emulator, see
tests/fixtures/s3.py)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.blob_sweep import sweep_blobs
from app.assets.models import Asset
from app.assets.service import IngestResult, delete_asset, ingest_path, ingest_stream
from app.core.blobs import STAGING_PREFIX, BlobStore, LocalBlobStore
from app.core.blobs.s3 import S3BlobStore
from app.core.container import Services
from app.core.db import utcnow
from app.core.errors import BackpressureError, IdempotencyConflictError, UnsupportedMediaError
from app.media.models import Scene
from app.tenancy.models import Tenant
from app.tenancy.service import ensure_tenant
from tests.app.assets.test_service import PNG_1PX
from tests.fixtures.s3 import s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]  # fixtures used by this module

MIB = 1024 * 1024
# Bytes no sniffer recognises: refused as unsupported once staged (the 8 MiB case).
UNSUPPORTED = b"\x00\x01\x02\x03" * (2 * MIB)


@pytest.fixture(params=["file", "s3"])
def blobs(request: pytest.FixtureRequest, services: Services, tmp_path: Path) -> BlobStore:
    """The services' blob store, on each backend in turn."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        services.blobs = S3BlobStore(
            f"s3://{bucket}",
            endpoint=endpoint,
            region="us-east-1",
            cache_dir=tmp_path / "cache",
            cache_max_bytes=MIB * 100,
            part_bytes=5 * MIB,
        )
    else:
        assert isinstance(services.blobs, LocalBlobStore)
    return services.blobs


def _stored(blobs: BlobStore) -> dict[str, int]:
    """Every object (blobs and staged) with its size."""
    return {info.key: info.size for prefix in ("sha256/", STAGING_PREFIX) for info in blobs.list(prefix)}


async def _upload(
    session: AsyncSession,
    services: Services,
    tenant: Tenant,
    data: bytes,
    filename: str,
    idempotency_key: str | None = None,
) -> IngestResult:
    return await ingest_stream(
        session,
        services=services,
        tenant_id=tenant.id,
        stream=io.BytesIO(data),
        filename=filename,
        actor="t",
        idempotency_key=idempotency_key,
    )


def _disk_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


async def test_refused_uploads_and_path_ingests_leave_the_store_as_it_was(
    services: Services, blobs: BlobStore, tenant: Tenant, media_root: Path
) -> None:
    async with services.session_factory() as session:
        kept = await _upload(session, services, tenant, PNG_1PX, "a.png")
        await session.commit()
    before = _stored(blobs)
    assert before == {kept.asset.blob_key: len(PNG_1PX)}
    (media_root / "clip.mp4").write_bytes(UNSUPPORTED)
    async with services.session_factory() as session:
        for attempt in range(3):
            with pytest.raises(UnsupportedMediaError):
                await _upload(session, services, tenant, UNSUPPORTED, f"clip{attempt}.mp4")
            with pytest.raises(UnsupportedMediaError):
                await ingest_path(
                    session, services=services, tenant_id=tenant.id, path=media_root / "clip.mp4", actor="t"
                )
    assert _stored(blobs) == before
    if isinstance(blobs, LocalBlobStore):
        # The directory itself is back to its size: 8 MiB refused six times left 0 bytes.
        assert _disk_bytes(blobs.root) == len(PNG_1PX)


class _Unseekable(io.RawIOBase):
    """A body read once, front to back (a socket): nothing can be sniffed before it is copied,
    so the kind is known only once it is staged. ``fail_after`` bytes in, the client is gone."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._fail_after is not None and self._data.tell() >= self._fail_after:
            raise ConnectionResetError("client disconnected")
        return self._data.readinto(buffer)


async def test_content_refused_or_cut_off_after_staging_leaves_nothing(
    services: Services, blobs: BlobStore, tenant: Tenant
) -> None:
    async with services.session_factory() as session:
        for attempt in range(3):
            with pytest.raises(UnsupportedMediaError, match="unrecognised"):
                await ingest_stream(
                    session,
                    services=services,
                    tenant_id=tenant.id,
                    stream=io.BufferedReader(_Unseekable(UNSUPPORTED)),
                    filename=f"clip{attempt}.bin",
                    actor="t",
                )
        with pytest.raises(ConnectionResetError):
            await ingest_stream(
                session,
                services=services,
                tenant_id=tenant.id,
                stream=io.BufferedReader(_Unseekable(PNG_1PX + bytes(12 * MIB), fail_after=11 * MIB)),
                filename="cut.png",
                actor="t",
            )
    assert _stored(blobs) == {}
    if isinstance(blobs, LocalBlobStore):
        assert _disk_bytes(blobs.root) == 0


async def test_other_refusals_discard_the_staged_content(
    services: Services, blobs: BlobStore, tenant: Tenant
) -> None:
    async with services.session_factory() as session:
        first = await _upload(session, services, tenant, b"first text", "a.txt", idempotency_key="k1")
        await session.commit()
    before = _stored(blobs)
    async with services.session_factory() as session:
        # The same key for other content: a conflict, its bytes dropped.
        with pytest.raises(IdempotencyConflictError):
            await _upload(session, services, tenant, b"other text", "b.txt", idempotency_key="k1")
        # The same content again: the existing asset, no second copy.
        again = await _upload(session, services, tenant, b"first text", "c.txt")
        assert (again.created, again.asset.id) == (False, first.asset.id)
        # A full queue refuses before any row is written.
        services.settings.queue_bound = 1
        with pytest.raises(BackpressureError):
            await _upload(session, services, tenant, b"third text", "d.txt")
    assert _stored(blobs) == before


async def test_sweep_removes_stale_staging_and_orphans_but_never_referenced_blobs(
    services: Services, blobs: BlobStore, tenant: Tenant
) -> None:
    async with services.session_factory() as session:
        live = await _upload(session, services, tenant, PNG_1PX, "a.png")
        gone = await _upload(session, services, tenant, b"deleted text", "d.txt")
        # Another tenant's rows protect its blobs too: the sweep is not scoped to a tenant.
        other = await ensure_tenant(session, slug="other")
        theirs = await _upload(session, services, other, b"another tenant's text", "o.txt")
        await session.commit()
        await delete_asset(session, services=services, tenant_id=tenant.id, asset_id=gone.asset.id, actor="t")
        keyframe = blobs.put_bytes(b"keyframe jpeg", suffix=".jpg")
        thumbnail = blobs.put_bytes(b"thumbnail jpeg", suffix=".jpg")
        session.add(
            Scene(
                tenant_id=tenant.id,
                asset_id=live.asset.id,
                ordinal=0,
                start_s=0.0,
                end_s=1.0,
                keyframe_blob_key=keyframe.key,
                thumbnail_blob_key=thumbnail.key,
                model_name="test",
                model_version="1",
            )
        )
        await session.commit()
    orphan = blobs.put_bytes(b"a keyframe whose stage failed", suffix=".jpg")
    staged = blobs.stage(io.BytesIO(b"upload of a killed process"), max_bytes=100)
    assets = {live.asset.blob_key, gone.asset.blob_key, theirs.asset.blob_key}
    referenced = {*assets, keyframe.key, thumbnail.key}
    everything = {*referenced, orphan.key, staged.staging_key}
    assert set(_stored(blobs)) == everything

    async def sweep(*, hours_later: float) -> tuple[int, int]:
        report = await sweep_blobs(
            session_factory=services.session_factory,
            blobs=blobs,
            staging_max_age=timedelta(hours=1),
            orphan_grace=timedelta(hours=24),
            now=utcnow() + timedelta(hours=hours_later),
        )
        return report.staged_deleted, report.orphans_deleted

    # Young: an upload may still be committing, a stage's rows may not be written yet.
    assert await sweep(hours_later=0) == (0, 0)
    assert set(_stored(blobs)) == everything
    assert await sweep(hours_later=2) == (1, 0)
    assert set(_stored(blobs)) == everything - {staged.staging_key}
    assert await sweep(hours_later=25) == (0, 1)
    # What any row references stays, a deleted asset's content included (re-ingest restores it).
    assert set(_stored(blobs)) == referenced
    async with services.session_factory() as session:
        rows = (await session.scalars(select(Asset))).all()
    assert {row.blob_key for row in rows} == assets
    assert await sweep(hours_later=48) == (0, 0)

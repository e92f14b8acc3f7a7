"""Asset registration: idempotency, allowed roots and every kind of bad file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset
from app.assets.service import ingest_path, ingest_stream
from app.audit.models import AuditEvent
from app.container import Services
from app.enums import AssetKind, StageStatus
from app.errors import (
    EmptyFileError,
    FileTooLargeError,
    IdempotencyConflictError,
    PathNotAllowedError,
    UnreadableFileError,
    UnsupportedMediaError,
)
from app.jobs.models import Job, JobStage
from app.tenancy.models import Tenant

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_ingest_path_registers_asset_job_stages_and_audit(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    path = media_root / "notes.md"
    path.write_text("# Title\n\nSome words.\n")
    async with services.session_factory() as session:
        result = await ingest_path(
            session, services, tenant_id=tenant.id, path=path, actor="test", tags=["b", "a", "a"]
        )
        await session.commit()
    assert result.created
    assert result.asset.kind == AssetKind.TEXT
    assert result.asset.mime_type == "text/markdown"
    assert result.asset.title == "notes"
    assert result.asset.tags == ["a", "b"]
    assert result.asset.size_bytes == len(path.read_bytes())
    assert services.blobs.read_bytes(result.asset.blob_key) == path.read_bytes()
    async with services.session_factory() as session:
        stages = (await session.scalars(select(JobStage).order_by(JobStage.ordinal))).all()
        assert [(s.name, s.status) for s in stages] == [
            ("probe", StageStatus.PENDING),
            ("text", StageStatus.PENDING),
            ("scenes", StageStatus.SKIPPED),
            ("transcribe", StageStatus.SKIPPED),
            ("ocr", StageStatus.SKIPPED),
            ("detect", StageStatus.SKIPPED),
            ("embed", StageStatus.PENDING),
            ("similarity", StageStatus.PENDING),
            ("index", StageStatus.PENDING),
        ]
        audit = (await session.scalars(select(AuditEvent))).one()
        assert (audit.action, audit.entity_id, audit.actor) == ("asset.ingest", result.asset.id, "test")


async def test_reingesting_same_content_returns_existing_asset(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    (media_root / "a.png").write_bytes(PNG_1PX)
    (media_root / "copy.png").write_bytes(PNG_1PX)
    async with services.session_factory() as session:
        first = await ingest_path(
            session, services, tenant_id=tenant.id, path=media_root / "a.png", actor="t"
        )
        await session.commit()
    async with services.session_factory() as session:
        again = await ingest_path(
            session, services, tenant_id=tenant.id, path=media_root / "copy.png", actor="t"
        )
        await session.commit()
        assert not again.created
        assert again.job is None
        assert again.asset.id == first.asset.id
        assert first.asset.kind == AssetKind.IMAGE
        assert (await _count(session, Asset), await _count(session, Job)) == (1, 1)


async def test_idempotency_key_replays_and_conflicts(
    services: Services, tenant: Tenant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        first = await ingest_stream(
            session,
            services,
            tenant_id=tenant.id,
            stream=io.BytesIO(b"hello world"),
            filename="a.txt",
            actor="t",
            idempotency_key="k1",
        )
        await session.commit()
    async with session_factory() as session:
        replay = await ingest_stream(
            session,
            services,
            tenant_id=tenant.id,
            stream=io.BytesIO(b"hello world"),
            filename="a.txt",
            actor="t",
            idempotency_key="k1",
        )
        assert not replay.created
        assert replay.job is not None
        assert first.job is not None
        assert replay.job.id == first.job.id
        with pytest.raises(IdempotencyConflictError) as info:
            await ingest_stream(
                session,
                services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"other bytes"),
                filename="b.txt",
                actor="t",
                idempotency_key="k1",
            )
        assert info.value.code == "IDEMPOTENCY_CONFLICT"
        assert info.value.field == ["idempotencyKey"]
        await session.rollback()
    async with session_factory() as session:
        assert (await _count(session, Asset), await _count(session, Job)) == (1, 1)


async def test_path_outside_allowed_roots_is_refused(
    services: Services, tenant: Tenant, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    link = services.settings.allowed_roots[0] / "link.txt"
    link.symlink_to(outside)
    async with services.session_factory() as session:
        for path in (outside, link, services.settings.allowed_roots[0] / ".." / "secret.txt"):
            with pytest.raises(PathNotAllowedError) as info:
                await ingest_path(session, services, tenant_id=tenant.id, path=path, actor="t")
            assert "outside the allowed ingestion roots" in info.value.message
        assert await _count(session, Asset) == 0


async def test_missing_directory_and_unreadable_files(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    locked = media_root / "locked.txt"
    locked.write_text("x")
    locked.chmod(0)
    async with services.session_factory() as session:
        with pytest.raises(UnreadableFileError, match="no such file"):
            await ingest_path(session, services, tenant_id=tenant.id, path=media_root / "nope.mp4", actor="t")
        with pytest.raises(UnreadableFileError, match="not a regular file"):
            await ingest_path(session, services, tenant_id=tenant.id, path=media_root, actor="t")
        if os.geteuid() != 0:  # root reads files whatever their mode
            with pytest.raises(UnreadableFileError, match="permission denied"):
                await ingest_path(session, services, tenant_id=tenant.id, path=locked, actor="t")


async def test_empty_oversized_and_unsupported_content(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    (media_root / "empty.mp4").write_bytes(b"")
    services.settings.max_upload_bytes = 10
    async with services.session_factory() as session:
        with pytest.raises(EmptyFileError):
            await ingest_path(
                session, services, tenant_id=tenant.id, path=media_root / "empty.mp4", actor="t"
            )
        with pytest.raises(FileTooLargeError, match="limit of 10 bytes"):
            await ingest_stream(
                session,
                services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"x" * 11),
                filename="big.txt",
                actor="t",
            )
        services.settings.max_upload_bytes = 1000
        with pytest.raises(UnsupportedMediaError, match="binary"):
            await ingest_stream(
                session,
                services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"\x00\x01\x02garbage"),
                filename="x.txt",
                actor="t",
            )
        with pytest.raises(UnsupportedMediaError, match="unrecognised"):
            await ingest_stream(
                session,
                services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"\x00\x01\x02garbage"),
                filename="x.bin",
                actor="t",
            )
        assert await _count(session, Asset) == 0
    # No half-written temporary files are left behind by refused content.
    assert list((services.settings.data_dir / "blobs" / "tmp").iterdir()) == []

"""Asset registration: idempotency, allowed roots and every kind of bad file."""

from __future__ import annotations

import asyncio
import errno
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assets.models import Asset, IngestKey
from app.assets.service import IngestResult, delete_asset, ingest_path, ingest_stream
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.enums import AssetKind, StageStatus
from app.core.errors import (
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
            session, services=services, tenant_id=tenant.id, path=path, actor="test", tags=["b", "a", "a"]
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
            session, services=services, tenant_id=tenant.id, path=media_root / "a.png", actor="t"
        )
        await session.commit()
    async with services.session_factory() as session:
        again = await ingest_path(
            session, services=services, tenant_id=tenant.id, path=media_root / "copy.png", actor="t"
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
            services=services,
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
            services=services,
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
                services=services,
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


async def _ingest_text(
    session: AsyncSession, services: Services, tenant: Tenant, data: bytes, key: str | None = "k"
) -> IngestResult:
    return await ingest_stream(
        session,
        services=services,
        tenant_id=tenant.id,
        stream=io.BytesIO(data),
        filename="a.txt",
        actor="t",
        idempotency_key=key,
    )


async def test_a_key_first_used_on_registered_content_replays_and_conflicts(
    services: Services, tenant: Tenant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        original = await _ingest_text(session, services, tenant, b"hello world", key=None)
        await session.commit()
    async with session_factory() as session:
        first = await _ingest_text(session, services, tenant, b"hello world")
        await session.commit()
    assert (first.asset.id, first.job, first.created) == (original.asset.id, None, False)
    async with session_factory() as session:
        # The key stands for that content now, though its first call created nothing.
        with pytest.raises(IdempotencyConflictError, match="'k' was already used for different content"):
            await _ingest_text(session, services, tenant, b"other bytes")
        await session.rollback()
    async with session_factory() as session:
        replay = await _ingest_text(session, services, tenant, b"hello world")
        assert (replay.asset.id, replay.job, replay.created) == (original.asset.id, None, False)
        await session.commit()
        assert (await _count(session, Asset), await _count(session, Job)) == (1, 1)
        key = (await session.scalars(select(IngestKey))).one()
        assert (key.key, key.content_sha256, key.job_id) == ("k", original.asset.content_sha256, None)


async def test_a_key_of_a_deleted_asset_restores_it_like_a_call_without_key(
    services: Services, tenant: Tenant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        first = await _ingest_text(session, services, tenant, b"hello world")
        await session.commit()
    assert first.job is not None
    async with session_factory() as session:
        await delete_asset(
            session, services=services, tenant_id=tenant.id, asset_id=first.asset.id, actor="t"
        )
        await session.commit()
    async with session_factory() as session:
        restored = await _ingest_text(session, services, tenant, b"hello world")
        await session.commit()
    assert restored.created
    assert restored.asset.id == first.asset.id
    assert restored.asset.deleted_at is None
    assert restored.job is not None
    assert restored.job.id != first.job.id
    async with session_factory() as session:
        # From now on the key replays the restored asset and its new job.
        replay = await _ingest_text(session, services, tenant, b"hello world")
        await session.commit()
    assert replay.job is not None
    assert (replay.asset.id, replay.job.id, replay.created) == (first.asset.id, restored.job.id, False)

    # The same as what a call without a key does with a deleted asset.
    async with session_factory() as session:
        await delete_asset(
            session, services=services, tenant_id=tenant.id, asset_id=first.asset.id, actor="t"
        )
        await session.commit()
    async with session_factory() as session:
        keyless = await _ingest_text(session, services, tenant, b"hello world", key=None)
        await session.commit()
    assert (keyless.asset.id, keyless.created) == (first.asset.id, True)
    async with session_factory() as session:
        assert (await _count(session, Asset), await _count(session, Job)) == (1, 3)


async def _wait_until_blocked(services: Services, task: asyncio.Task[IngestResult]) -> None:
    """Until ``task`` waits for the other transaction: a lock wait on PostgreSQL; on SQLite
    (BEGIN IMMEDIATE queues writers, nothing shows the wait) a moment."""
    if services.engine.dialect.name != "postgresql":
        await asyncio.sleep(0.3)
    else:
        for _ in range(200):
            async with services.engine.connect() as conn:
                waiting = await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                break
            await asyncio.sleep(0.025)
        else:
            pytest.fail("the second call never waited for the first")
    assert not task.done()


@pytest.mark.parametrize("second_content", [b"same bytes", b"other bytes"])
async def test_concurrent_calls_with_one_key_take_turns(
    services: Services,
    tenant: Tenant,
    session_factory: async_sessionmaker[AsyncSession],
    second_content: bytes,
) -> None:
    async with session_factory() as first_session, session_factory() as second_session:
        first = await _ingest_text(first_session, services, tenant, b"same bytes")
        # The first call holds the key (uncommitted) while the second one runs.
        second = asyncio.create_task(_ingest_text(second_session, services, tenant, second_content))
        await _wait_until_blocked(services, second)
        await first_session.commit()
        if second_content == b"same bytes":
            result = await second
            await second_session.commit()
            assert first.job is not None
            assert result.job is not None
            assert (result.asset.id, result.job.id, result.created) == (first.asset.id, first.job.id, False)
        else:
            with pytest.raises(IdempotencyConflictError) as info:
                await second
            assert (info.value.message, info.value.field) == (
                "idempotency key 'k' was already used for different content",
                ["idempotencyKey"],
            )
            await second_session.rollback()
    async with session_factory() as session:
        counts = [await _count(session, model) for model in (Asset, Job, IngestKey)]
        assert counts == [1, 1, 1]


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
                await ingest_path(session, services=services, tenant_id=tenant.id, path=path, actor="t")
            assert "outside the allowed ingestion roots" in info.value.message
        assert await _count(session, Asset) == 0


async def test_missing_directory_and_unreadable_files(
    services: Services, tenant: Tenant, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = media_root / "locked.txt"
    locked.write_text("x")
    real_open = Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        # Root reads files whatever their mode (and CI runs as root): the refusal is injected.
        if self == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    async with services.session_factory() as session:
        with pytest.raises(UnreadableFileError, match="no such file"):
            await ingest_path(
                session, services=services, tenant_id=tenant.id, path=media_root / "nope.mp4", actor="t"
            )
        with pytest.raises(UnreadableFileError, match="not a regular file"):
            await ingest_path(session, services=services, tenant_id=tenant.id, path=media_root, actor="t")
        with pytest.raises(UnreadableFileError) as info:
            await ingest_path(session, services=services, tenant_id=tenant.id, path=locked, actor="t")
        assert (info.value.message, info.value.code, info.value.field) == (
            f"{locked}: permission denied",
            "UNREADABLE_FILE",
            ["path"],
        )
        assert await _count(session, Asset) == 0


async def test_empty_oversized_and_unsupported_content(
    services: Services, tenant: Tenant, media_root: Path
) -> None:
    (media_root / "empty.mp4").write_bytes(b"")
    (media_root / "a.txt").write_bytes(b"x" * 11)
    services.settings.max_upload_bytes = 10
    async with services.session_factory() as session:
        with pytest.raises(EmptyFileError) as empty:
            await ingest_path(
                session, services=services, tenant_id=tenant.id, path=media_root / "empty.mp4", actor="t"
            )
        assert (empty.value.message, empty.value.field) == ("the content is empty", ["path"])
        with pytest.raises(FileTooLargeError) as big:
            await ingest_path(
                session, services=services, tenant_id=tenant.id, path=media_root / "a.txt", actor="t"
            )
        assert (big.value.message, big.value.field) == ("content exceeds the limit of 10 bytes", ["path"])
        with pytest.raises(FileTooLargeError) as big:
            await ingest_stream(
                session,
                services=services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"x" * 11),
                filename="big.txt",
                actor="t",
            )
        assert (big.value.message, big.value.field) == ("content exceeds the limit of 10 bytes", ["upload"])
        with pytest.raises(EmptyFileError) as empty:
            await ingest_stream(
                session,
                services=services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b""),
                filename="e.txt",
                actor="t",
            )
        assert empty.value.field == ["upload"]
        services.settings.max_upload_bytes = 1000
        with pytest.raises(UnsupportedMediaError, match="binary") as unsupported:
            await ingest_stream(
                session,
                services=services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"\x00\x01\x02garbage"),
                filename="x.txt",
                actor="t",
            )
        assert unsupported.value.field == ["upload"]
        with pytest.raises(UnsupportedMediaError, match="unrecognised"):
            await ingest_stream(
                session,
                services=services,
                tenant_id=tenant.id,
                stream=io.BytesIO(b"\x00\x01\x02garbage"),
                filename="x.bin",
                actor="t",
            )
        assert await _count(session, Asset) == 0
    # Refused content leaves nothing behind: no blob, no staged or half-written file.
    assert [path for path in (services.settings.data_dir / "blobs").rglob("*") if path.is_file()] == []

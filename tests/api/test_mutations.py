"""The mutation documents of graphql/operations/: success payloads, every typed error, audit."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.api.ids import decode_id
from app.assets.models import Asset
from app.audit.models import AuditEvent
from app.core.container import Services
from app.core.enums import JobQuality
from app.jobs.models import Job
from app.tenancy.models import Tenant
from tests.api.conftest import GraphQLClient, operation
from tests.api.graph import gid

ONE = uuid.UUID(int=1)
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


async def _audit(services: Services) -> list[tuple[str, str]]:
    async with services.session_factory() as session:
        rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.action))
        return [(r.action, r.actor) for r in rows]


async def _ingest_path(gql: GraphQLClient, path: Path, **extra: Any) -> dict[str, Any]:
    body = await gql(operation("IngestAsset"), {"input": {"source": {"path": str(path)}, **extra}})
    result: dict[str, Any] = body["data"]["ingestAsset"]
    return result


def _row_id(global_id: str) -> uuid.UUID:
    return uuid.UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


async def _job(services: Services, job_gid: str) -> Job:
    job_id = _row_id(job_gid)
    async with services.session_factory() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_ingest_from_a_path_then_again(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    path = media_root / "notes.md"
    path.write_text("# Harbour\n\nBoats leave at dawn.\n")
    first = await _ingest_path(gql, path, title=" Harbour notes ", tags=["b", "a", "a"], metadata={"k": 1})
    job = await _job(services, first["job"]["id"])
    assert first == {
        "__typename": "IngestAssetSuccess",
        "created": True,
        "asset": {
            "id": gid("Asset", job.asset_id),
            "title": "Harbour notes",
            "kind": "TEXT",
            "tags": ["a", "b"],
        },
        "job": {"id": gid("Job", job.id), "status": "QUEUED"},
    }
    again = await _ingest_path(gql, path)
    assert again == {**first, "created": False, "job": None}
    assert await _audit(services) == [
        ("asset.ingest", "test-admin"),
        ("asset.ingest_repeated", "test-admin"),
    ]


async def test_idempotency_key_returns_the_first_job_or_a_conflict(
    gql: GraphQLClient, media_root: Path
) -> None:
    (media_root / "a.txt").write_text("first text")
    (media_root / "b.txt").write_text("other text")
    first = await _ingest_path(gql, media_root / "a.txt", idempotencyKey="k-1")
    replay = await _ingest_path(gql, media_root / "a.txt", idempotencyKey="k-1")
    assert replay == {**first, "created": False}
    conflict = await _ingest_path(gql, media_root / "b.txt", idempotencyKey="k-1")
    assert conflict == {
        "__typename": "IdempotencyConflict",
        "message": "idempotency key 'k-1' was already used for different content",
        "code": "IDEMPOTENCY_CONFLICT",
        "field": ["input", "idempotencyKey"],
    }


async def test_concurrent_calls_with_one_key_return_one_asset_and_job(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    (media_root / "a.txt").write_text("first text")
    results = await asyncio.gather(
        *(_ingest_path(gql, media_root / "a.txt", idempotencyKey="k-2") for _ in "ab")
    )
    async with services.session_factory() as session:
        job = (await session.scalars(select(Job))).one()
    expected = {
        "__typename": "IngestAssetSuccess",
        "asset": {"id": gid("Asset", job.asset_id), "title": "a", "kind": "TEXT", "tags": []},
        "job": {"id": gid("Job", job.id), "status": "QUEUED"},
    }
    assert sorted(results, key=lambda r: not r["created"]) == [
        {**expected, "created": True},
        {**expected, "created": False},
    ]


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


_UNRECOGNISED = "unrecognised content; supported are video, audio, images, plain text, Markdown, HTML and PDF"


@pytest.mark.parametrize(
    ("make", "typename", "code", "message"),
    [
        (lambda root: Path("/etc/hostname"), "PathNotAllowed", "PATH_NOT_ALLOWED",
         "/etc/hostname: outside the allowed ingestion roots"),
        # Outside the roots, a missing file is refused the same way: no probing of the server.
        (lambda root: Path("/etc/no-such-file"), "PathNotAllowed", "PATH_NOT_ALLOWED",
         "/etc/no-such-file: outside the allowed ingestion roots"),
        (lambda root: Path(f"{root}/poster.png\x00.txt"), "InvalidInput", "INVALID_INPUT",
         "the path contains a null byte"),
        (lambda root: root / "missing.mp4", "UnreadableFile", "UNREADABLE_FILE",
         "{root}/missing.mp4: no such file"),
        (lambda root: root, "UnreadableFile", "UNREADABLE_FILE", "{root}: not a regular file"),
        (lambda root: _file(root / "empty.txt", b""), "EmptyFile", "EMPTY_FILE", "the content is empty"),
        (lambda root: _file(root / "x.bin", b"\x00\x01"), "UnsupportedMedia", "UNSUPPORTED_MEDIA",
         f"x.bin: {_UNRECOGNISED}"),
        (lambda root: _file(root / "big.txt", b"x" * 17), "FileTooLarge", "FILE_TOO_LARGE",
         "content exceeds the limit of 16 bytes"),
    ],
)  # fmt: skip
async def test_ingest_path_errors(
    gql: GraphQLClient,
    services: Services,
    media_root: Path,
    make: Any,
    typename: str,
    code: str,
    message: str,
) -> None:
    services.settings.max_upload_bytes = 16
    result = await _ingest_path(gql, make(media_root))
    expected: dict[str, Any] = {
        "__typename": typename,
        "message": message.format(root=media_root),
        "code": code,
        "field": ["input", "source", "path"],
    }
    if typename == "FileTooLarge":
        expected["maxBytes"] = 16
    assert result == expected
    assert await _audit(services) == []  # nothing changed, nothing audited


async def test_ingest_rejects_bad_titles_tags_and_keys(gql: GraphQLClient, media_root: Path) -> None:
    path = media_root / "a.txt"
    path.write_text("words")
    assert await _ingest_path(gql, path, title="  ") == {
        "__typename": "InvalidInput",
        "message": "the title must not be empty",
        "code": "INVALID_INPUT",
        "field": ["input", "title"],
    }
    assert (await _ingest_path(gql, path, tags=["x" * 101]))["field"] == ["input", "tags"]
    assert (await _ingest_path(gql, path, metadata=[1, 2]))["field"] == ["input", "metadata"]
    assert (await _ingest_path(gql, path, idempotencyKey="k" * 201))["field"] == ["input", "idempotencyKey"]


async def test_ingest_by_multipart_upload(http: httpx.AsyncClient, services: Services) -> None:
    response = await _upload(http, PNG_1PX, "dot.png", title="A dot", tags=["pixel"])
    assert response.status_code == 200, response.text
    async with services.session_factory() as session:
        job = (await session.scalars(select(Job))).one()
        asset = (await session.scalars(select(Asset))).one()
    assert response.json() == {
        "data": {
            "ingestAsset": {
                "__typename": "IngestAssetSuccess",
                "created": True,
                "asset": {"id": gid("Asset", asset.id), "title": "A dot", "kind": "IMAGE", "tags": ["pixel"]},
                "job": {"id": gid("Job", job.id), "status": "QUEUED"},
            }
        }
    }
    assert job.asset_id == asset.id
    assert (asset.mime_type, asset.size_bytes, asset.source_uri) == ("image/png", len(PNG_1PX), None)
    assert services.blobs.read_bytes(asset.blob_key) == PNG_1PX


@pytest.mark.parametrize(
    ("data", "typename", "code", "message"),
    [
        (b"", "EmptyFile", "EMPTY_FILE", "the content is empty"),
        (b"\x00\x01\x02", "UnsupportedMedia", "UNSUPPORTED_MEDIA", f"blob.bin: {_UNRECOGNISED}"),
    ],
)  # fmt: skip
async def test_ingest_upload_errors(
    http: httpx.AsyncClient, services: Services, data: bytes, typename: str, code: str, message: str
) -> None:
    response = await _upload(http, data, "blob.bin")
    assert response.json() == {
        "data": {
            "ingestAsset": {
                "__typename": typename,
                "message": message,
                "code": code,
                "field": ["input", "source", "upload"],
            }
        }
    }
    assert await _audit(services) == []


async def _upload(http: httpx.AsyncClient, data: bytes, filename: str, **extra: Any) -> httpx.Response:
    operations = {
        "query": operation("IngestAsset"),
        "variables": {"input": {"source": {"upload": None}, **extra}},
    }
    return await http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.source.upload"]}),
        },
        files={"0": (filename, data, "application/octet-stream")},
    )


async def test_batch_ingest_reports_each_item(gql: GraphQLClient, media_root: Path) -> None:
    (media_root / "ok.txt").write_text("fine")
    (media_root / "empty.txt").write_text("")
    items = [
        {"source": {"path": str(media_root / "ok.txt")}},
        {"source": {"path": "/etc/hostname"}},
        {"source": {"path": str(media_root / "empty.txt")}},
    ]
    body = await gql(operation("IngestAssets"), {"input": {"items": items}})
    assert body == {
        "data": {
            "ingestAssets": {
                "__typename": "IngestAssetsSuccess",
                "results": [
                    {"__typename": "IngestAssetSuccess", "created": True, "asset": {"title": "ok"}},
                    {"__typename": "PathNotAllowed", "code": "PATH_NOT_ALLOWED",
                     "field": ["input", "items", "1", "source", "path"]},
                    {"__typename": "EmptyFile", "code": "EMPTY_FILE",
                     "field": ["input", "items", "2", "source", "path"]},
                ],
            }
        }
    }  # fmt: skip


async def test_batch_ingest_is_capped(gql: GraphQLClient) -> None:
    items = [{"source": {"path": f"/nowhere/{i}"}} for i in range(51)]
    body = await gql(operation("IngestAssets"), {"input": {"items": items}})
    assert body == {
        "data": {
            "ingestAssets": {
                "__typename": "BatchTooLarge",
                "message": "51 items given; one call accepts at most 50",
                "code": "BATCH_TOO_LARGE",
                "field": ["input", "items"],
                "maxItems": 50,
            }
        }
    }


async def test_backpressure_when_the_queue_is_full(
    gql: GraphQLClient, services: Services, media_root: Path
) -> None:
    services.settings.queue_bound = 1
    (media_root / "a.txt").write_text("one")
    (media_root / "b.txt").write_text("two")
    assert (await _ingest_path(gql, media_root / "a.txt"))["__typename"] == "IngestAssetSuccess"
    full = await _ingest_path(gql, media_root / "b.txt")
    assert full["__typename"] == "Backpressure"
    assert full["code"] == "BACKPRESSURE"
    assert full["retryAfterSeconds"] >= 1.0


@pytest.fixture
async def asset_id(gql: GraphQLClient, media_root: Path) -> str:
    (media_root / "clip.txt").write_text("some words")
    result = await _ingest_path(gql, media_root / "clip.txt", tags=["old"])
    value: str = result["asset"]["id"]
    return value


async def test_update_asset(gql: GraphQLClient, services: Services, asset_id: str) -> None:
    changes = {"id": asset_id, "title": "Renamed", "tags": ["sea", "boats", "sea"], "metadata": {"reel": 7}}
    body = await gql(operation("UpdateAsset"), {"input": changes})
    assert body == {
        "data": {
            "updateAsset": {
                "__typename": "UpdateAssetSuccess",
                "asset": {
                    "id": asset_id,
                    "title": "Renamed",
                    "tags": ["boats", "sea"],
                    "metadata": {"reel": 7},
                },
            }
        }
    }
    history = await gql(
        "query($id: ID!) { asset(id: $id) { auditEvents { edges { node { action details } } } } }",
        {"id": asset_id},
    )
    assert [e["node"] for e in history["data"]["asset"]["auditEvents"]["edges"]] == [
        {
            "action": "asset.update",
            "details": {
                "changes": {
                    "title": {"from": "clip", "to": "Renamed"},
                    "tags": {"from": ["old"], "to": ["boats", "sea"]},
                    "metadata": {"keys": ["reel"]},
                }
            },
        },
        {"action": "asset.ingest", "details": history_details(history)},
    ]


def history_details(history: dict[str, Any]) -> Any:
    # The ingest event's details hold the job id and hash: checked in the assets service tests.
    return history["data"]["asset"]["auditEvents"]["edges"][1]["node"]["details"]


@pytest.mark.parametrize(
    ("value", "typename", "message"),
    [
        ("not-an-id", "MalformedId", "'not-an-id' is not a valid ID"),
        (gid("Job", ONE), "WrongIdType", "expected an ID of Asset, got an ID of Job"),
        (gid("Asset", ONE), "NotFound", f"asset {ONE} not found"),
    ],
)  # fmt: skip
async def test_update_and_delete_refuse_bad_ids(
    gql: GraphQLClient, value: str, typename: str, message: str
) -> None:
    code = {"MalformedId": "MALFORMED_ID", "WrongIdType": "WRONG_ID_TYPE", "NotFound": "NOT_FOUND"}[typename]
    expected = {"__typename": typename, "message": message, "code": code, "field": ["input", "id"]}
    update = await gql(operation("UpdateAsset"), {"input": {"id": value, "title": "x"}})
    assert update == {"data": {"updateAsset": expected}}
    delete = await gql(operation("DeleteAsset"), {"id": value})
    assert delete == {"data": {"deleteAsset": expected}}


async def test_delete_asset_hides_it(gql: GraphQLClient, services: Services, asset_id: str) -> None:
    body = await gql(operation("DeleteAsset"), {"id": asset_id})
    assert body == {"data": {"deleteAsset": {"__typename": "DeleteAssetSuccess", "deletedAssetId": asset_id}}}
    gone = await gql("query($id: ID!) { asset(id: $id) { id } node(id: $id) { id } }", {"id": asset_id})
    assert gone == {"data": {"asset": None, "node": None}}
    again = await gql(operation("DeleteAsset"), {"id": asset_id})
    assert again["data"]["deleteAsset"]["__typename"] == "NotFound"
    assert [a for a, _ in await _audit(services)] == ["asset.ingest", "asset.delete"]


async def test_reprocess_cancel_and_retry(gql: GraphQLClient, services: Services, asset_id: str) -> None:
    # The ingest job is still queued: one active job per asset.
    asset_uuid = _row_id(asset_id)
    busy = await gql(operation("ReprocessAsset"), {"id": asset_id, "stages": ["EMBED"]})
    assert busy == {
        "data": {
            "reprocessAsset": {
                "__typename": "InvalidState",
                "message": f"asset {asset_uuid} already has a queued or running job: "
                "cancel it or wait for it to finish",
                "code": "INVALID_STATE",
                "field": None,
            }
        }
    }

    ingest_job = (
        await gql("query($id: ID!) { asset(id: $id) { jobs { edges { node { id } } } } }", {"id": asset_id})
    )["data"]["asset"]["jobs"]["edges"][0]["node"]["id"]
    cancelled = await gql(operation("CancelJob"), {"id": ingest_job})
    assert cancelled == {
        "data": {
            "cancelJob": {"__typename": "CancelJobSuccess", "job": {"id": ingest_job, "status": "CANCELLED"}}
        }
    }
    twice = await gql(operation("CancelJob"), {"id": ingest_job})
    assert twice["data"]["cancelJob"]["__typename"] == "InvalidState"
    assert twice["data"]["cancelJob"]["code"] == "INVALID_STATE"

    retried = await gql(operation("RetryJob"), {"id": ingest_job})
    assert retried == {
        "data": {
            "retryJob": {
                "__typename": "RetryJobSuccess",
                "job": {"id": ingest_job, "status": "QUEUED", "attempts": 2},
            }
        }
    }
    await gql(operation("CancelJob"), {"id": ingest_job})

    bad_stage = await gql(operation("ReprocessAsset"), {"id": asset_id, "stages": ["OCR"]})
    assert bad_stage["data"]["reprocessAsset"] == {
        "__typename": "InvalidInput",
        "message": "stage(s) ocr do not apply to text assets",
        "code": "INVALID_INPUT",
        "field": ["input", "stages"],
    }
    reprocessed = await gql(operation("ReprocessAsset"), {"id": asset_id, "stages": ["EMBED"]})
    async with services.session_factory() as session:
        jobs = (await session.scalars(select(Job).where(Job.asset_id == asset_uuid))).all()
    new_job = next(job for job in jobs if gid("Job", job.id) != ingest_job)
    assert (len(jobs), new_job.requested_stages, new_job.queue) == (2, ["embed"], "batch")
    assert reprocessed == {
        "data": {
            "reprocessAsset": {
                "__typename": "ReprocessAssetSuccess",
                "job": {
                    "id": gid("Job", new_job.id),
                    "status": "QUEUED",
                    "quality": "ROUTED",
                    "requestedStages": ["embed"],
                },
            }
        }
    }
    assert [a for a, _ in await _audit(services)] == [
        "asset.ingest",
        "job.cancel",
        "job.retry",
        "job.cancel",
        "asset.reprocess",
    ]
    # An upgrade on demand: the accurate models, the job says so.
    await gql(operation("CancelJob"), {"id": gid("Job", new_job.id)})
    upgraded = await gql(
        operation("ReprocessAsset"), {"id": asset_id, "stages": ["EMBED"], "quality": "ACCURATE"}
    )
    job = upgraded["data"]["reprocessAsset"]["job"]
    assert (job["quality"], job["requestedStages"]) == ("ACCURATE", ["embed"])
    async with services.session_factory() as session:
        row = await session.get(Job, decode_id(job["id"], "Job", field=["id"]))
    assert row is not None
    assert (row.quality, row.queue) == (JobQuality.ACCURATE, "batch")


async def test_cancel_and_retry_refuse_asset_ids(gql: GraphQLClient, asset_id: str) -> None:
    body = await gql(operation("RetryJob"), {"id": asset_id})
    assert body == {
        "data": {
            "retryJob": {
                "__typename": "WrongIdType",
                "message": "expected an ID of Job, got an ID of Asset",
                "code": "WRONG_ID_TYPE",
                "field": ["input", "id"],
            }
        }
    }


async def test_mutations_record_the_tenant(
    services: Services, tenant: Tenant, gql: GraphQLClient, asset_id: str
) -> None:
    async with services.session_factory() as session:
        tenants = set(await session.scalars(select(AuditEvent.tenant_id)))
    assert tenants == {tenant.id}

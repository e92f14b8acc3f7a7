"""The webhook API: register, list, change, remove endpoints; the delivery log; redelivery.
The receiver is a real HTTP server on 127.0.0.1, reachable through the test-only allowance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.container import Services
from app.core.settings import Settings
from app.tenancy.models import Tenant
from app.webhooks import service as webhooks
from app.webhooks.models import WebhookDelivery
from tests.api.conftest import GraphQLClient, operation
from tests.fixtures.local_http import LocalServer, Reply, local_http_server


@pytest.fixture
def receiver(services: Services) -> Iterator[LocalServer]:
    services.settings.outbound_allowed_networks = ["127.0.0.1/32"]
    with local_http_server() as running:
        yield running


async def test_an_endpoint_is_registered_listed_logged_and_redelivered(
    gql: GraphQLClient, services: Services, tenant: Tenant, receiver: LocalServer
) -> None:
    receiver.route("/hook", Reply(status=500))
    created = (
        await gql(
            operation("CreateWebhook"),
            {"url": f"{receiver.url}/hook?token=t", "events": ["asset.deleted", "job.succeeded"]},
        )
    )["data"]["createWebhook"]
    assert created["__typename"] == "CreateWebhookSuccess", created
    assert created["secret"].startswith("whsec_")
    webhook = created["webhook"]
    assert webhook["events"] == ["job.succeeded", "asset.deleted"]  # in the documented order
    listed = (await gql(operation("Webhooks"), {"first": 10}))["data"]["webhooks"]
    assert [e["node"]["id"] for e in listed["edges"]] == [webhook["id"]]
    assert "secret" not in listed["edges"][0]["node"]

    async with services.session_factory() as session:
        [delivery] = await webhooks.emit(
            session, None, tenant_id=tenant.id, event_type="asset.deleted", data={"assetId": "a"}
        )
        await session.commit()
    assert await webhooks.attempt(services, delivery_id=delivery.id) == "PENDING"
    log = (await gql(operation("WebhookDeliveries"), {"webhookId": webhook["id"], "first": 5}))["data"][
        "webhookDeliveries"
    ]
    [node] = [e["node"] for e in log["edges"]]
    assert (node["eventId"], node["eventType"], node["status"], node["attemptCount"]) == (
        str(delivery.id),
        "asset.deleted",
        "PENDING",
        1,
    )
    [attempt] = node["attempts"]
    assert (attempt["number"], attempt["statusCode"], attempt["error"]) == (
        1,
        500,
        "the receiver answered HTTP 500",
    )
    assert attempt["durationMs"] >= 0

    receiver.route("/hook", Reply(status=200))
    redelivered = (await gql(operation("RedeliverWebhook"), {"id": node["id"]}))["data"]["redeliverWebhook"]
    assert redelivered["__typename"] == "RedeliverWebhookSuccess", redelivered
    assert redelivered["delivery"]["status"] == "PENDING"
    assert await webhooks.attempt(services, delivery_id=delivery.id) == "SUCCEEDED"

    deleted = (
        await gql(
            "mutation($id: ID!) { deleteWebhook(id: $id) { __typename"
            " ... on DeleteWebhookSuccess { deletedId } } }",
            {"id": webhook["id"]},
        )
    )["data"]["deleteWebhook"]
    assert deleted == {"__typename": "DeleteWebhookSuccess", "deletedId": webhook["id"]}
    assert (await gql(operation("Webhooks"), {"first": 10}))["data"]["webhooks"]["edges"] == []


async def test_a_loopback_endpoint_is_refused_without_the_allowance(gql: GraphQLClient) -> None:
    result = (
        await gql(operation("CreateWebhook"), {"url": "http://127.0.0.1:9/hook", "events": ["job.failed"]})
    )["data"]["createWebhook"]
    assert result == {
        "__typename": "UrlNotAllowed",
        "message": "127.0.0.1: resolves to a loopback address",
        "code": "URL_NOT_ALLOWED",
        "field": ["input", "url"],
    }


async def test_update_validates_like_create(gql: GraphQLClient, receiver: LocalServer) -> None:
    created = (await gql(operation("CreateWebhook"), {"url": f"{receiver.url}/h", "events": ["job.failed"]}))[
        "data"
    ]["createWebhook"]
    update = """mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { __typename
        ... on WebhookSuccess { webhook { events active } } ... on UserError { code field } } }"""
    changed = (
        await gql(
            update, {"input": {"id": created["webhook"]["id"], "events": ["asset.ready"], "active": False}}
        )
    )["data"]["updateWebhook"]
    assert changed == {
        "__typename": "WebhookSuccess",
        "webhook": {"events": ["asset.ready"], "active": False},
    }
    refused = (await gql(update, {"input": {"id": created["webhook"]["id"], "events": ["nope"]}}))["data"][
        "updateWebhook"
    ]
    assert refused == {"__typename": "InvalidInput", "code": "INVALID_INPUT", "field": ["input", "events"]}


async def test_deleting_an_asset_records_an_asset_deleted_delivery(
    gql: GraphQLClient, services: Services, receiver: LocalServer, media_root: Path
) -> None:
    (media_root / "note.txt").write_text("some words")
    ingested = await gql(
        operation("IngestAsset"), {"input": {"source": {"path": str(media_root / "note.txt")}}}
    )
    asset_id = ingested["data"]["ingestAsset"]["asset"]["id"]
    created = (
        await gql(operation("CreateWebhook"), {"url": f"{receiver.url}/h", "events": ["asset.deleted"]})
    )["data"]["createWebhook"]
    assert created["__typename"] == "CreateWebhookSuccess", created
    deleted = (await gql(operation("DeleteAsset"), {"id": asset_id}))["data"]["deleteAsset"]
    assert deleted["__typename"] == "DeleteAssetSuccess", deleted
    async with services.session_factory() as session:
        [delivery] = list(await session.scalars(select(WebhookDelivery)))
    assert (delivery.event_type, delivery.payload) == (
        "asset.deleted",
        {"assetId": asset_id, "status": "DELETED"},
    )


def test_the_default_schedule_outlasts_a_day_long_outage_of_hours() -> None:
    settings = Settings()
    delays = [
        webhooks.retry_delay(settings.webhook_retry_base_seconds, n).total_seconds()
        for n in range(1, settings.webhook_max_attempts)
    ]
    assert delays[:3] == [40, 80, 160]
    # The last attempt about a day after the first: a receiver down for 10 minutes (or hours) gets it.
    assert 20 * 3600 < sum(delays) < 26 * 3600

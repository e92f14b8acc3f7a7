"""Registering webhook endpoints, and delivering events to them through the job system.

An event becomes one ``WebhookDelivery`` row per subscribed endpoint, in the transaction of the
change it reports, and a ``webhooks.deliver`` message sent after that commit (app/jobs/outbox.py).
Each message makes one attempt; a failed attempt schedules the next one itself, waiting
``webhook_retry_base_seconds`` doubled per attempt, until ``webhook_max_attempts`` have failed
and the delivery is dead-lettered (status DEAD; ``redeliver`` tries once more). The delivery id
is the idempotency id (``Idempotency-Key`` header): the same on every attempt.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.core import netguard
from app.core.container import Enqueuer, Services
from app.core.db import session_scope, utcnow
from app.core.errors import DomainError, InvalidInputError, NotFoundError
from app.jobs.outbox import defer_send
from app.webhooks import repository
from app.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from app.webhooks.signing import SIGNATURE_HEADER, signature_header

EVENT_TYPES = ("job.succeeded", "job.failed", "asset.ready", "asset.deleted")
DELIVER_ACTOR = "webhooks.deliver"
DELIVER_QUEUE = "batch"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "Mediakg-Event"
ATTEMPT_HEADER = "Mediakg-Attempt"
_MAX_URL = 2000
# How long past its timeout an attempt's lease lasts (the time to record it).
_LEASE_MARGIN_S = 10.0


def global_id(type_name: str, row_id: uuid.UUID) -> str:
    """The API's ID of an object (what ``node(id:)`` takes): base64 of ``<Type>:<uuid>``."""
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def _policy(services: Services) -> netguard.AddressPolicy:
    return netguard.AddressPolicy.from_strings(services.settings.outbound_allowed_networks)


async def _check_target(services: Services, url: str) -> str:
    """``url`` if it may receive webhooks: the same outbound rules as URL ingest, checked now
    (and again at every delivery: the name may resolve elsewhere later)."""
    if len(url) > _MAX_URL:
        raise InvalidInputError(f"the URL is longer than {_MAX_URL} characters", field=["url"])
    parsed = netguard.check_url(url)
    await netguard.pinned_address(parsed, policy=_policy(services), resolver=services.network.resolver)
    return url


def _check_events(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidInputError(
            f"events must be a non-empty list of {', '.join(EVENT_TYPES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            field=["events"],
        )
    return [e for e in EVENT_TYPES if e in events]


def _check_secret(secret: str) -> str:
    if not 16 <= len(secret) <= 200:
        raise InvalidInputError("a secret must have 16 to 200 characters", field=["secret"])
    return secret


async def create_webhook(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    url: str,
    events: Sequence[str],
    secret: str | None,
    actor: str,
) -> Webhook:
    """Register an endpoint. Without ``secret`` one is generated; either way the returned row
    carries it (the API shows it this once)."""
    webhook = Webhook(
        tenant_id=tenant_id,
        url=await _check_target(services, url),
        events=_check_events(events),
        secret=_check_secret(secret) if secret is not None else f"whsec_{secrets.token_urlsafe(32)}",
    )
    session.add(webhook)
    await session.flush()
    await _audit(session, webhook, actor=actor, action="webhook.create")
    return webhook


async def update_webhook(
    session: AsyncSession,
    *,
    services: Services,
    tenant_id: uuid.UUID,
    webhook_id: uuid.UUID,
    actor: str,
    url: str | None = None,
    events: Sequence[str] | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change an endpoint's URL, events or whether it receives deliveries."""
    webhook = await _webhook(session, tenant_id=tenant_id, webhook_id=webhook_id)
    if url is not None:
        webhook.url = await _check_target(services, url)
    if events is not None:
        webhook.events = _check_events(events)
    if active is not None:
        webhook.active = active
    await session.flush()
    await _audit(session, webhook, actor=actor, action="webhook.update")
    return webhook


async def delete_webhook(
    session: AsyncSession, *, tenant_id: uuid.UUID, webhook_id: uuid.UUID, actor: str
) -> uuid.UUID:
    """Remove an endpoint and its delivery log."""
    webhook = await _webhook(session, tenant_id=tenant_id, webhook_id=webhook_id)
    await _audit(session, webhook, actor=actor, action="webhook.delete")
    await session.delete(webhook)
    await session.flush()
    return webhook_id


async def _webhook(session: AsyncSession, *, tenant_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook:
    webhook = await repository.get_webhook(session, tenant_id=tenant_id, webhook_id=webhook_id)
    if webhook is None:
        raise NotFoundError("no such webhook", field=["id"])
    return webhook


async def _audit(session: AsyncSession, webhook: Webhook, *, actor: str, action: str) -> None:
    # The URL is recorded without its query: it may carry a token.
    public = netguard.public_url(netguard.check_url(webhook.url))
    await audit.record(
        session,
        tenant_id=webhook.tenant_id,
        actor=actor,
        action=action,
        entity_type="webhook",
        entity_id=webhook.id,
        details={"url": public, "events": list(webhook.events), "active": webhook.active},
    )


async def emit(
    session: AsyncSession,
    enqueuer: Enqueuer | None,
    *,
    tenant_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
) -> list[WebhookDelivery]:
    """Record ``event_type`` for every subscribed endpoint of the tenant, in the caller's
    transaction; the deliveries are sent once it commits."""
    deliveries = []
    for webhook in await repository.subscribers(session, tenant_id=tenant_id, event_type=event_type):
        delivery = WebhookDelivery(
            tenant_id=tenant_id, webhook_id=webhook.id, event_type=event_type, payload=data
        )
        session.add(delivery)
        deliveries.append(delivery)
    if deliveries:
        await session.flush()
        for delivery in deliveries:
            _send(session, enqueuer, delivery, delay_ms=0)
    return deliveries


def _send(
    session: AsyncSession, enqueuer: Enqueuer | None, delivery: WebhookDelivery, *, delay_ms: int
) -> None:
    defer_send(
        session,
        enqueuer,
        actor_name=DELIVER_ACTOR,
        queue=DELIVER_QUEUE,
        args={"delivery_id": str(delivery.id)},
        delay_ms=delay_ms,
    )


async def redeliver(
    session: AsyncSession, *, services: Services, tenant_id: uuid.UUID, delivery_id: uuid.UUID, actor: str
) -> WebhookDelivery:
    """Attempt a delivery again now (a dead-lettered one gets one more attempt)."""
    delivery = await repository.get_delivery(session, delivery_id=delivery_id, tenant_id=tenant_id)
    if delivery is None:
        raise NotFoundError("no such webhook delivery", field=["id"])
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="webhook.redeliver",
        entity_type="webhook",
        entity_id=delivery.webhook_id,
        details={"delivery": str(delivery.id), "event": delivery.event_type},
    )
    _send(session, services.enqueuer, delivery, delay_ms=0)
    return delivery


def body_of(delivery: WebhookDelivery) -> bytes:
    """The JSON body of a delivery: the same bytes on every attempt."""
    event = {
        "id": str(delivery.id),
        "type": delivery.event_type,
        "createdAt": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def retry_delay(settings_base_s: float, attempt: int) -> timedelta:
    """How long after failed attempt number ``attempt`` (1-based) the next one is due."""
    return timedelta(seconds=settings_base_s * 2 ** (attempt - 1))


async def attempt(services: Services, *, delivery_id: uuid.UUID) -> DeliveryStatus | None:
    """Make one attempt of a pending delivery and record it; None when there was nothing to do
    (delivered, dead, deleted, or a duplicate message arriving before its time)."""
    factory: async_sessionmaker[AsyncSession] = services.session_factory
    settings = services.settings
    async with session_scope(factory) as session:
        delivery = await repository.lock_delivery(session, delivery_id=delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        now = utcnow()
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + timedelta(seconds=1):
            # Another message is attempting it (it holds the lease below), or this one is a
            # duplicate arriving before the retry scheduled later with its own message.
            return None
        webhook = await repository.get_webhook(
            session, tenant_id=delivery.tenant_id, webhook_id=delivery.webhook_id
        )
        if webhook is None:
            return None
        # A lease: until this attempt is recorded, duplicates (the sweeper's resend) skip it.
        lease = settings.webhook_timeout_seconds + _LEASE_MARGIN_S
        delivery.next_attempt_at = now + timedelta(seconds=lease)
        number = delivery.attempts + 1
        url, secret, active, body = webhook.url, webhook.secret, webhook.active, body_of(delivery)
    status_code, error, started_at, duration_ms = await _post(
        services, url, secret, body, delivery_id, number, active
    )
    async with session_scope(factory) as session:
        delivery = await repository.lock_delivery(session, delivery_id=delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.attempts >= number:
            return None  # deleted meanwhile, or another message attempted it concurrently
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=number,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
                started_at=started_at,
            )
        )
        delivery.attempts = number
        delivery.last_status_code = status_code
        delivery.last_error = error
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = utcnow()
            delivery.next_attempt_at = None
        elif number >= settings.webhook_max_attempts:
            delivery.status = DeliveryStatus.DEAD
            delivery.next_attempt_at = None
        else:
            delay = retry_delay(settings.webhook_retry_base_seconds, number)
            delivery.next_attempt_at = utcnow() + delay
            _send(session, services.enqueuer, delivery, delay_ms=int(delay.total_seconds() * 1000))
        return DeliveryStatus(delivery.status)


async def _post(
    services: Services, url: str, secret: str, body: bytes, delivery_id: uuid.UUID, number: int, active: bool
) -> tuple[int | None, str | None, datetime, float]:
    """One signed POST: (status code, error, start, milliseconds). Never raises for the receiver's faults."""
    started_at = utcnow()
    started = time.monotonic()
    if not active:
        return None, "the endpoint is disabled", started_at, 0.0
    headers = {
        "content-type": "application/json",
        "user-agent": "mediakg-webhooks",
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
        IDEMPOTENCY_HEADER: str(delivery_id),
        ATTEMPT_HEADER: str(number),
    }
    headers[EVENT_HEADER] = json.loads(body)["type"]
    try:
        code = await netguard.post(
            url,
            body=body,
            headers=headers,
            timeout_s=services.settings.webhook_timeout_seconds,
            policy=_policy(services),
            network=services.network,
        )
    except DomainError as exc:  # refused address, no answer, time out
        return None, f"{exc.code}: {exc.message}", started_at, _ms(started)
    error = None if 200 <= code < 300 else f"the receiver answered HTTP {code}"
    return code, error, started_at, _ms(started)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


async def resend_due(
    session: AsyncSession, enqueuer: Enqueuer, *, lost_after: timedelta, limit: int = 500
) -> int:
    """Send again the pending deliveries whose message is overdue by ``lost_after`` (lost with a
    broker restart, or never sent because the enqueue after commit failed)."""
    ids = await repository.due_deliveries(session, before=utcnow() - lost_after, limit=limit)
    for delivery_id in ids:
        defer_send(
            session,
            enqueuer,
            actor_name=DELIVER_ACTOR,
            queue=DELIVER_QUEUE,
            args={"delivery_id": str(delivery_id)},
        )
    return len(ids)

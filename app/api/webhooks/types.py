"""Webhook endpoints and their delivery log, as the API shows them (never the secret, except once)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.api.enums import register
from app.api.fields import field
from app.api.ids import to_global_id
from app.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery

register(
    DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="Where a delivery of an event to a webhook stands.",
    values={
        "PENDING": "Queued: the first attempt or a retry is due at nextAttemptAt.",
        "SUCCEEDED": "The receiver answered 2xx (final).",
        "DEAD": "Every attempt of the retry schedule failed (final; redeliverWebhook tries again).",
    },
)


@strawberry.type(name="Webhook", description="An endpoint that receives the tenant's events, signed.")
class WebhookType:
    """GraphQL view of a ``Webhook`` row."""

    row: strawberry.Private[Webhook]

    @field(description="The ID (Webhook).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Webhook", self.row.id))

    @field(description="Where events are POSTed.")
    def url(self) -> str:
        return self.row.url

    @field(description="The event types it receives (job.succeeded, job.failed, asset.ready, asset.deleted).")
    def events(self) -> list[str]:
        return list(self.row.events)

    @field(description="Whether it receives deliveries.")
    def active(self) -> bool:
        return self.row.active

    @field(description="When it was registered.")
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(name="WebhookAttempt", description="One HTTP request of a delivery.")
class WebhookAttemptType:
    """GraphQL view of a ``WebhookAttempt`` row."""

    number: int = strawberry.field(description="1 for the first attempt, then 2, 3, ...")
    status_code: int | None = strawberry.field(description="The receiver's HTTP status; null: no answer.")
    error: str | None = strawberry.field(description="Why it failed (null when it succeeded).")
    duration_ms: float = strawberry.field(description="How long the request took, in milliseconds.")
    started_at: datetime = strawberry.field(description="When it was sent.")

    @classmethod
    def from_row(cls, row: WebhookAttempt) -> WebhookAttemptType:
        """The GraphQL object of ``row``."""
        return cls(
            number=row.number,
            status_code=row.status_code,
            error=row.error,
            duration_ms=row.duration_ms,
            started_at=row.started_at,
        )


@strawberry.type(name="WebhookDelivery", description="One event for one endpoint, and every attempt at it.")
class WebhookDeliveryType:
    """GraphQL view of a ``WebhookDelivery`` row."""

    row: strawberry.Private[WebhookDelivery]
    attempt_rows: strawberry.Private[list[WebhookAttempt]]

    @field(description="The ID (WebhookDelivery); also the idempotency id sent as `Idempotency-Key`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("WebhookDelivery", self.row.id))

    @field(description="The idempotency id (a UUID): the `Idempotency-Key` header and the body's `id`.")
    def event_id(self) -> str:
        return str(self.row.id)

    @field(description="The endpoint's ID (Webhook).")
    def webhook_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Webhook", self.row.webhook_id))

    @field(description="The event type.")
    def event_type(self) -> str:
        return self.row.event_type

    @field(description="Where the delivery stands.")
    def status(self) -> DeliveryStatus:
        return DeliveryStatus(self.row.status)

    @field(description="Attempts made so far.")
    def attempt_count(self) -> int:
        return self.row.attempts

    @field(description="The HTTP status of the last attempt (null: none yet, or no answer).")
    def last_status_code(self) -> int | None:
        return self.row.last_status_code

    @field(description="When the next attempt is due (null once delivered or dead).")
    def next_attempt_at(self) -> datetime | None:
        return self.row.next_attempt_at

    @field(description="When the event happened.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @field(description="When the receiver accepted it.")
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at

    @field(description="Every attempt, first to last, with status codes and timings.")
    def attempts(self) -> list[WebhookAttemptType]:
        return [WebhookAttemptType.from_row(a) for a in self.attempt_rows]

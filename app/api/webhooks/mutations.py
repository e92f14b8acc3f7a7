"""Mutations of webhooks: register, change, remove an endpoint; redeliver an event."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.errors import (
    ForbiddenErrorType,
    InvalidInputErrorType,
    MalformedIdErrorType,
    NotFoundErrorType,
    UrlNotAllowedErrorType,
    WrongIdTypeErrorType,
    user_error,
)
from app.api.fields import mutation
from app.api.ids import decode_id
from app.api.webhooks.types import WebhookDeliveryType, WebhookType
from app.core.db import session_scope
from app.core.errors import DomainError, FetchFailedError, UrlNotAllowedError
from app.webhooks import service as webhooks

_ERRORS = (
    InvalidInputErrorType,
    UrlNotAllowedErrorType,
    MalformedIdErrorType,
    WrongIdTypeErrorType,
    NotFoundErrorType,
)


def _in_input(exc: DomainError) -> DomainError:
    if isinstance(exc, FetchFailedError):
        # A name that does not resolve cannot be checked: refused like a non-public one.
        exc = UrlNotAllowedError(exc.message, field=["url"])
    exc.field = ["input", *(exc.field or [])]
    return exc


@strawberry.input(name="CreateWebhookInput", description="An endpoint to register.")
class CreateWebhookInput:
    """Arguments of createWebhook."""

    url: str = strawberry.field(description="http(s) URL on a public address (same rules as URL ingest).")
    events: list[str] = strawberry.field(
        description="Event types to receive: job.succeeded, job.failed, asset.ready, asset.deleted."
    )
    secret: str | None = strawberry.field(
        default=None, description="The signing secret (16-200 characters); omitted: one is generated."
    )


@strawberry.type(name="CreateWebhookSuccess", description="The endpoint is registered.")
class CreateWebhookSuccess:
    """Result of createWebhook."""

    webhook: WebhookType = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(description="The signing secret. Shown this once: store it now.")


CreateWebhookResult = Annotated[
    CreateWebhookSuccess | InvalidInputErrorType | UrlNotAllowedErrorType | ForbiddenErrorType,
    strawberry.union("CreateWebhookResult", description="The endpoint, or why it was refused."),
]


@strawberry.input(name="UpdateWebhookInput", description="What to change of an endpoint (omitted: kept).")
class UpdateWebhookInput:
    """Arguments of updateWebhook."""

    id: strawberry.ID = strawberry.field(description="The endpoint.")
    url: str | None = strawberry.field(default=None, description="A new URL (checked like at creation).")
    events: list[str] | None = strawberry.field(default=None, description="New event types.")
    active: bool | None = strawberry.field(default=None, description="false: pause deliveries.")


@strawberry.type(name="WebhookSuccess", description="The endpoint as it is now.")
class WebhookSuccess:
    """Result of updateWebhook."""

    webhook: WebhookType = strawberry.field(description="The endpoint.")


UpdateWebhookResult = Annotated[
    WebhookSuccess
    | InvalidInputErrorType
    | UrlNotAllowedErrorType
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | ForbiddenErrorType,
    strawberry.union("UpdateWebhookResult", description="The endpoint, or why it was not changed."),
]


@strawberry.type(name="DeleteWebhookSuccess", description="The endpoint and its delivery log are removed.")
class DeleteWebhookSuccess:
    """Result of deleteWebhook."""

    deleted_id: strawberry.ID = strawberry.field(description="The removed endpoint's ID.")


DeleteWebhookResult = Annotated[
    DeleteWebhookSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | ForbiddenErrorType,
    strawberry.union("DeleteWebhookResult", description="The removal, or why it failed."),
]


@strawberry.type(name="RedeliverWebhookSuccess", description="The delivery is queued for an attempt now.")
class RedeliverWebhookSuccess:
    """Result of redeliverWebhook."""

    delivery: WebhookDeliveryType = strawberry.field(description="The delivery (status PENDING).")


RedeliverWebhookResult = Annotated[
    RedeliverWebhookSuccess
    | MalformedIdErrorType
    | WrongIdTypeErrorType
    | NotFoundErrorType
    | ForbiddenErrorType,
    strawberry.union("RedeliverWebhookResult", description="The queued delivery, or why not."),
]


@strawberry.type
class WebhookMutations:
    """Root mutation fields of webhooks."""

    @mutation(description="Register an endpoint for some of the tenant's events (admin).")
    async def create_webhook(
        self,
        info: Info,
        input: Annotated[CreateWebhookInput, strawberry.argument(description="The endpoint.")],
    ) -> CreateWebhookResult:
        ctx = info.context
        try:
            async with session_scope(ctx.session_factory) as session:
                row = await webhooks.create_webhook(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    url=input.url,
                    events=input.events,
                    secret=input.secret,
                    actor=ctx.caller.actor,
                )
                secret = row.secret
        except DomainError as exc:
            error: CreateWebhookResult = user_error(_in_input(exc), allowed=_ERRORS)
            return error
        return CreateWebhookSuccess(webhook=WebhookType(row=row), secret=secret)

    @mutation(description="Change an endpoint's URL, events or whether it is active (admin).")
    async def update_webhook(
        self, info: Info, input: Annotated[UpdateWebhookInput, strawberry.argument(description="The change.")]
    ) -> UpdateWebhookResult:
        ctx = info.context
        try:
            webhook_id = decode_id(input.id, "Webhook", field=["id"])
            async with session_scope(ctx.session_factory) as session:
                row = await webhooks.update_webhook(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    webhook_id=webhook_id,
                    actor=ctx.caller.actor,
                    url=input.url,
                    events=input.events,
                    active=input.active,
                )
        except DomainError as exc:
            error: UpdateWebhookResult = user_error(_in_input(exc), allowed=_ERRORS)
            return error
        return WebhookSuccess(webhook=WebhookType(row=row))

    @mutation(description="Remove an endpoint and its delivery log (admin).")
    async def delete_webhook(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint.")]
    ) -> DeleteWebhookResult:
        ctx = info.context
        try:
            webhook_id = decode_id(id, "Webhook", field=["id"])
            async with session_scope(ctx.session_factory) as session:
                await webhooks.delete_webhook(
                    session, tenant_id=ctx.caller.tenant_id, webhook_id=webhook_id, actor=ctx.caller.actor
                )
        except DomainError as exc:
            error: DeleteWebhookResult = user_error(exc, allowed=_ERRORS)
            return error
        return DeleteWebhookSuccess(deleted_id=id)

    @mutation(description="Attempt a delivery again now; a dead-lettered one gets one more attempt (admin).")
    async def redeliver_webhook(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The delivery.")]
    ) -> RedeliverWebhookResult:
        ctx = info.context
        try:
            delivery_id = decode_id(id, "WebhookDelivery", field=["id"])
            async with session_scope(ctx.session_factory) as session:
                row = await webhooks.redeliver(
                    session,
                    services=ctx.services,
                    tenant_id=ctx.caller.tenant_id,
                    delivery_id=delivery_id,
                    actor=ctx.caller.actor,
                )
        except DomainError as exc:
            error: RedeliverWebhookResult = user_error(exc, allowed=_ERRORS)
            return error
        return RedeliverWebhookSuccess(delivery=WebhookDeliveryType(row=row, attempt_rows=[]))

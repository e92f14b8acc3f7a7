"""Shared fan-out (app/api/fanout.py): one execution and one JSON encoding per event and group
of identical subscribers, and never a result shared across tenants, scopes, selections or
variables."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, cast

from app.api.assets.subscriptions import AssetEvent
from app.api.context import Caller, Context, Loaders
from app.api.fanout import SharedEventExecutor, encode_next
from app.api.fanout import events as shared_events
from app.api.ids import to_global_id
from app.api.schema import create_schema
from app.assets.models import Asset
from app.core.container import Services
from app.core.db import session_scope
from app.core.enums import AssetKind, AssetStatus
from app.core.signing import UrlSigner
from app.tenancy.models import Scope, Tenant
from app.tenancy.service import ensure_tenant
from graphql import ExecutionResult, parse

SCHEMA = create_schema()
TITLE = "subscription ($id: ID!) { assetEvents(assetId: $id) { kind asset { title } } }"
LIGHT = "subscription ($id: ID!) { assetEvents(assetId: $id) { kind jobId } }"
DOCUMENTS = {text: parse(text) for text in (TITLE, LIGHT)}


async def _asset(services: Services, tenant_id: uuid.UUID, title: str) -> Asset:
    async with session_scope(services.session_factory) as session:
        asset = Asset(
            tenant_id=tenant_id, kind=AssetKind.VIDEO, status=AssetStatus.READY, title=title,
            blob_key="k", content_sha256=uuid.uuid4().hex * 2, mime_type="video/mp4", size_bytes=10,
        )  # fmt: skip
        session.add(asset)
    return asset


def _context(services: Services, tenant_id: uuid.UUID, scopes: frozenset[Scope]) -> Context:
    caller = Caller(tenant_id=tenant_id, tenant_slug="t", actor="a", scopes=scopes)
    return Context(
        services=services,
        caller=caller,
        loaders=Loaders.create(services.read_session_factory, tenant_id),
        request_id="r",
        url_signer=UrlSigner(b"s" * 32, ttl_seconds=60),
    )


async def _deliver(event: Any, context: Context, document: str, asset_gid: str) -> ExecutionResult:
    """What graphql-core does for one subscriber and one event of its source stream."""
    executor = SharedEventExecutor.build(
        SCHEMA._schema, DOCUMENTS[document], context_value=context, raw_variable_values={"id": asset_gid}
    )
    assert isinstance(executor, SharedEventExecutor), executor
    return await cast(
        Awaitable[ExecutionResult], executor.build_per_event_executor(event).execute_operation(False)
    )


def _job_event(asset: Asset) -> tuple[dict[str, Any], AssetEvent]:
    """A job event (it carries no asset state: ``asset`` is read with the caller's tenant)."""
    payload = {"type": "job_completed", "asset_id": str(asset.id), "job_id": str(uuid.uuid4())}
    event = shared_events.get(payload, ("asset", asset.id), lambda: AssetEvent.from_event(asset.id, payload))
    assert event is not None
    return payload, event


async def test_one_group_shares_one_execution_and_one_encoding(services: Services, tenant: Tenant) -> None:
    asset = await _asset(services, tenant.id, "mine")
    gid_ = to_global_id("Asset", asset.id)
    payload, event = _job_event(asset)
    # The same payload gives the same event object (built once).
    assert shared_events.get(payload, ("asset", asset.id), lambda: None) is event
    reader = frozenset({Scope.READ})
    first = await _deliver(event, _context(services, tenant.id, reader), TITLE, gid_)
    second = await _deliver(event, _context(services, tenant.id, reader), TITLE, gid_)
    assert first.data == {"assetEvents": {"kind": "JOB_COMPLETED", "asset": {"title": "mine"}}}
    assert second is first
    frames = [
        encode_next({"id": op_id, "type": "next", "payload": {"data": first.data}}) for op_id in ("1", "x")
    ]
    assert frames == [
        '{"id":"1","type":"next","payload":{"data":{"assetEvents":{"kind":"JOB_COMPLETED",'
        '"asset":{"title":"mine"}}}}}',
        '{"id":"x","type":"next","payload":{"data":{"assetEvents":{"kind":"JOB_COMPLETED",'
        '"asset":{"title":"mine"}}}}}',
    ]
    # An equal but unshared result is encoded the usual way (None: not ours).
    assert encode_next({"id": "1", "type": "next", "payload": {"data": dict(first.data or {})}}) is None


async def test_tenants_scopes_selections_and_variables_never_share(
    services: Services, tenant: Tenant
) -> None:
    async with session_scope(services.session_factory) as session:
        other = await ensure_tenant(session, slug=f"other-{uuid.uuid4().hex[:8]}")
    asset = await _asset(services, tenant.id, "tenant one's title")
    gid_ = to_global_id("Asset", asset.id)
    _, event = _job_event(asset)
    everything, reader = frozenset(Scope), frozenset({Scope.READ})

    own = await _deliver(event, _context(services, tenant.id, everything), TITLE, gid_)
    # Another tenant's caller executing the same event and document reads with its own tenant:
    # the asset is not visible to it. A result shared across tenants would show the title.
    foreign = await _deliver(event, _context(services, other.id, everything), TITLE, gid_)
    fewer_scopes = await _deliver(event, _context(services, tenant.id, reader), TITLE, gid_)
    light = await _deliver(event, _context(services, tenant.id, everything), LIGHT, gid_)
    other_variables = await _deliver(
        event, _context(services, tenant.id, everything), TITLE, to_global_id("Asset", uuid.uuid4())
    )

    assert own.data == {"assetEvents": {"kind": "JOB_COMPLETED", "asset": {"title": "tenant one's title"}}}
    assert foreign.data == {"assetEvents": {"kind": "JOB_COMPLETED", "asset": None}}
    assert fewer_scopes is not own
    assert fewer_scopes.data == own.data
    assert light.data is not None
    assert set(light.data["assetEvents"]) == {"kind", "jobId"}
    assert other_variables is not own


async def test_events_built_per_subscriber_are_not_shared(services: Services, tenant: Tenant) -> None:
    asset = await _asset(services, tenant.id, "snap")
    own = AssetEvent.from_event(asset.id, {"type": "job_completed"})
    assert own is not None
    context = _context(services, tenant.id, frozenset(Scope))
    first = await _deliver(own, context, TITLE, own.asset_id)
    second = await _deliver(own, context, TITLE, own.asset_id)
    assert first.data == second.data == {"assetEvents": {"kind": "JOB_COMPLETED", "asset": {"title": "snap"}}}
    assert second is not first

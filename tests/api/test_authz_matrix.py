"""The authorization matrix, generated from the schema: every root query, mutation and
subscription, every ``node`` type and the blob route, each called by

- ``own``: a key of the data's tenant with the field's scope (app/api/authz.py),
- ``read``: a read-only key of that tenant,
- ``other``: a key of another tenant with every scope,
- ``none``, ``revoked``, ``expired``: no live key,

with the outcome each must get. A root field or node type without a rule (or without a probe
below) fails ``test_every_root_field_has_a_rule_and_a_probe``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import uvicorn
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from sqlalchemy import select
from starlette.applications import Starlette

from app.api.authz import NODE_RULES, ROOT_RULES
from app.api.schema import schema
from app.core.container import Services
from app.core.db import utcnow
from app.core.signing import UrlSigner, signing_secret
from app.jobs.models import JobStage
from app.tenancy.models import Scope, Tenant
from app.webhooks.models import Webhook, WebhookDelivery
from tests.api.conftest import BASE_URL
from tests.api.graph import KEYFRAME_BYTES, Graph, build_graph, gid
from tests.fixtures.keys import ALL_SCOPES, auth, issue_key

CALLERS = ("none", "revoked", "expired", "read", "other", "own")
"""In the order each probe runs them: ``own`` last, as its mutations change the data."""


@dataclass(frozen=True)
class Probe:
    """One call of a root field against tenant A's graph, and how to tell whether A's data
    came back. None where this graph cannot show it: ``systemStatus`` has no tenant data, and
    the graph is not in the search index (search, facets, searchByImage, duplicates: their
    tenant filters are tested with indexed data in tests/api/test_search*.py)."""

    document: str
    variables: Callable[[Graph, Path], dict[str, Any]]
    sees_tenant_data: Callable[[dict[str, Any]], bool] | None = None


def _edges(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: bool(data[name]["edges"])


def _present(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: data[name] is not None


def _typename_not_found(name: str) -> Callable[[dict[str, Any]], bool]:
    # A mutation "sees" the data when it did not answer NotFound.
    return lambda data: data[name]["__typename"] != "NotFound"


def _note(_graph: Graph, media: Path) -> dict[str, Any]:
    path = media / "note.md"
    path.write_text("# Note\n\nThe ferry leaves at nine.\n")
    return {"input": {"source": {"path": str(path)}}}


RESULT = "{ __typename ... on UserError { code } }"
# Tenant A's webhook endpoint and one delivery of it (rows of the world, fixed ids).
WEBHOOK_ID = uuid.UUID(int=0xB00C)
DELIVERY_ID = uuid.UUID(int=0xD0C)
PROBES: dict[str, dict[str, Probe]] = {
    "Query": {
        "asset": Probe(
            "query($id: ID!) { asset(id: $id) { id } }",
            lambda g, _: {"id": gid("Asset", g.harbour.id)},
            _present("asset"),
        ),
        "assets": Probe("{ assets(first: 5) { edges { node { id } } } }", lambda g, _: {}, _edges("assets")),
        "scene": Probe(
            "query($id: ID!) { scene(id: $id) { id } }",
            lambda g, _: {"id": gid("Scene", g.scenes[0].id)},
            _present("scene"),
        ),
        "job": Probe(
            "query($id: ID!) { job(id: $id) { id } }",
            lambda g, _: {"id": gid("Job", g.jobs["harbour"].id)},
            _present("job"),
        ),
        "jobs": Probe("{ jobs(first: 5) { edges { node { id } } } }", lambda g, _: {}, _edges("jobs")),
        "auditEvents": Probe(
            "{ auditEvents(first: 5) { edges { node { id } } } }", lambda g, _: {}, _edges("auditEvents")
        ),
        "webhooks": Probe(
            "{ webhooks(first: 5) { edges { node { id } } } }", lambda g, _: {}, _edges("webhooks")
        ),
        "webhookDeliveries": Probe(
            "{ webhookDeliveries(first: 5) { edges { node { id } } } }",
            lambda g, _: {},
            _edges("webhookDeliveries"),
        ),
        "search": Probe('{ search(query: {text: "harbour"}, first: 5) { totalCount } }', lambda g, _: {}),
        "facets": Probe("{ facets { field values { value count } } }", lambda g, _: {}),
        "searchByImage": Probe(
            "query($id: ID!) { searchByImage(assetId: $id, first: 5) { totalCount } }",
            lambda g, _: {"id": gid("Asset", g.poster.id)},
        ),
        "duplicates": Probe("{ duplicates(first: 5) { edges { node { size } } } }", lambda g, _: {}),
        "relationGraph": Probe(
            "query($id: ID!) { relationGraph(assetId: $id) { nodes { id } } }",
            lambda g, _: {"id": gid("Asset", g.harbour.id)},
            lambda data: data["relationGraph"] is not None,
        ),
        "systemStatus": Probe("{ systemStatus { workersAlive } }", lambda g, _: {}),
        "people": Probe("{ people(first: 5) { edges { node { id } } } }", lambda g, _: {}, _edges("people")),
        "node": Probe(
            "query($id: ID!) { node(id: $id) { id } }",
            lambda g, _: {"id": gid("Asset", g.harbour.id)},
            _present("node"),
        ),
    },
    "Mutation": {
        "ingestAsset": Probe(
            f"mutation($input: IngestAssetInput!) {{ ingestAsset(input: $input) {RESULT} }}", _note
        ),
        "ingestAssets": Probe(
            f"mutation($input: IngestAssetsInput!) {{ ingestAssets(input: $input) {RESULT} }}",
            lambda g, m: {"input": {"items": [_note(g, m)["input"]]}},
        ),
        "updateAsset": Probe(
            f"mutation($input: UpdateAssetInput!) {{ updateAsset(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"id": gid("Asset", g.harbour.id), "title": "changed"}},
            _typename_not_found("updateAsset"),
        ),
        "deleteAsset": Probe(
            f"mutation($input: DeleteAssetInput!) {{ deleteAsset(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"id": gid("Asset", g.harbour.id)}},
            _typename_not_found("deleteAsset"),
        ),
        "reprocessAsset": Probe(
            f"mutation($input: ReprocessAssetInput!) {{ reprocessAsset(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"id": gid("Asset", g.harbour.id)}},
            _typename_not_found("reprocessAsset"),
        ),
        "cancelJob": Probe(
            f"mutation($input: CancelJobInput!) {{ cancelJob(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"id": gid("Job", g.jobs["interview"].id)}},
            _typename_not_found("cancelJob"),
        ),
        "retryJob": Probe(
            f"mutation($input: RetryJobInput!) {{ retryJob(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"id": gid("Job", g.jobs["poster"].id)}},
            _typename_not_found("retryJob"),
        ),
        "resolveDuplicates": Probe(
            f"mutation($input: ResolveDuplicatesInput!) {{ resolveDuplicates(input: $input) {RESULT} }}",
            lambda g, _: {
                "input": {
                    "clusterId": gid("DuplicateCluster", g.harbour.id),
                    "keep": gid("Asset", g.harbour.id),
                    "action": "NOT_DUPLICATES",
                }
            },
            _typename_not_found("resolveDuplicates"),
        ),
        "renamePerson": Probe(
            f'mutation($id: ID!) {{ renamePerson(id: $id, name: "Grace") {RESULT} }}',
            lambda g, _: {"id": gid("Person", g.people[0].id)},
            _typename_not_found("renamePerson"),
        ),
        "hidePerson": Probe(
            f"mutation($id: ID!) {{ hidePerson(id: $id, hidden: false) {RESULT} }}",
            lambda g, _: {"id": gid("Person", g.people[0].id)},
            _typename_not_found("hidePerson"),
        ),
        "mergePeople": Probe(
            f"mutation($into: ID!, $ids: [ID!]!) {{ mergePeople(into: $into, ids: $ids) {RESULT} }}",
            lambda g, _: {"into": gid("Person", g.people[0].id), "ids": [gid("Person", g.people[1].id)]},
            _typename_not_found("mergePeople"),
        ),
        "moveFaces": Probe(
            f"mutation($ids: [ID!]!, $to: ID) {{ moveFaces(ids: $ids, to: $to) {RESULT} }}",
            lambda g, _: {"ids": [gid("Face", g.faces[1].id)], "to": gid("Person", g.people[0].id)},
            _typename_not_found("moveFaces"),
        ),
        # Loopback without the allowance: refused (UrlNotAllowed) before any connection.
        "createWebhook": Probe(
            f"mutation($input: CreateWebhookInput!) {{ createWebhook(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"url": "http://127.0.0.1:9/hook", "events": ["job.failed"]}},
        ),
        "updateWebhook": Probe(
            f"mutation($input: UpdateWebhookInput!) {{ updateWebhook(input: $input) {RESULT} }}",
            lambda g, _: {"input": {"id": gid("Webhook", WEBHOOK_ID), "active": False}},
            _typename_not_found("updateWebhook"),
        ),
        "deleteWebhook": Probe(
            f"mutation($id: ID!) {{ deleteWebhook(id: $id) {RESULT} }}",
            lambda g, _: {"id": gid("Webhook", WEBHOOK_ID)},
            _typename_not_found("deleteWebhook"),
        ),
        "redeliverWebhook": Probe(
            f"mutation($id: ID!) {{ redeliverWebhook(id: $id) {RESULT} }}",
            lambda g, _: {"id": gid("WebhookDelivery", DELIVERY_ID)},
            _typename_not_found("redeliverWebhook"),
        ),
    },
    "Subscription": {
        "jobProgress": Probe(
            "subscription($id: ID!) { jobProgress(jobId: $id) { kind } }",
            lambda g, _: {"id": gid("Job", g.jobs["harbour"].id)},
        ),
        "assetEvents": Probe(
            "subscription($id: ID!) { assetEvents(assetId: $id) { kind } }",
            lambda g, _: {"id": gid("Asset", g.harbour.id)},
        ),
    },
}


def _root_fields() -> list[tuple[str, str]]:
    graphql = schema._schema
    roots = {
        "Query": graphql.query_type,
        "Mutation": graphql.mutation_type,
        "Subscription": graphql.subscription_type,
    }
    return [(root, name) for root, gtype in roots.items() if gtype is not None for name in gtype.fields]


def _node_types() -> list[str]:
    graphql = schema._schema
    node = graphql.get_type("Node")
    assert node is not None
    return sorted(t.name for t in graphql.get_possible_types(node))  # type: ignore[arg-type]


def test_every_root_field_has_a_rule_and_a_probe() -> None:
    fields = _root_fields()
    assert len(fields) >= 20  # the schema was read
    missing_rule = [f"{root}.{name}" for root, name in fields if name not in ROOT_RULES.get(root, {})]
    missing_probe = [f"{root}.{name}" for root, name in fields if name not in PROBES.get(root, {})]
    assert missing_rule == [], "add an authorization rule to app/api/authz.py"
    assert missing_probe == [], "add a probe of the new field to this matrix"
    assert sorted(NODE_RULES) == _node_types(), "every Node type needs a rule in NODE_RULES"


def test_the_rules_are_the_documented_policy() -> None:
    # docs/security.md: write for every mutation, admin for the audit trail and webhooks, read
    # for the rest.
    admin = {("Query", "auditEvents"), ("Query", "webhooks"), ("Query", "webhookDeliveries")} | {
        ("Mutation", name) for name in ("createWebhook", "updateWebhook", "deleteWebhook", "redeliverWebhook")
    }
    for root, rules in ROOT_RULES.items():
        for name, scope in rules.items():
            wanted = (
                Scope.ADMIN if (root, name) in admin else Scope.WRITE if root == "Mutation" else Scope.READ
            )
            assert scope == wanted, f"{root}.{name}"
    assert {t: s for t, s in NODE_RULES.items() if s != Scope.READ} == {"AuditEvent": Scope.ADMIN}


# --- the world the matrix runs in --------------------------------------------------------------


@dataclass
class World:
    graph: Graph
    keys: dict[str, str | None]
    app: Starlette
    media: Path


@pytest.fixture
async def world(services: Services, tenant: Tenant, media_root: Path) -> World:
    graph = await build_graph(services.session_factory, tenant.id, services.blobs)
    factory = services.session_factory
    async with factory() as session:
        session.add(
            Webhook(id=WEBHOOK_ID, tenant_id=tenant.id, url="http://198.51.100.7/hook", secret="s" * 20)
        )
        await session.flush()
        session.add(
            WebhookDelivery(
                id=DELIVERY_ID, tenant_id=tenant.id, webhook_id=WEBHOOK_ID, event_type="job.failed"
            )
        )
        await session.commit()
    keys: dict[str, str | None] = {
        "none": None,
        "revoked": await issue_key(factory, tenant="default", name="revoked", revoked_at=utcnow()),
        "expired": await issue_key(
            factory, tenant="default", name="expired", expires_at=utcnow() - timedelta(minutes=1)
        ),
        "read": await issue_key(factory, tenant="default", name="reader", scopes=["read"]),
        "other": await issue_key(factory, tenant="other", name="intruder", scopes=ALL_SCOPES),
        "own": await issue_key(factory, tenant="default", name="owner", scopes=ALL_SCOPES),
    }
    from app.api.http import create_graphql_app

    return World(graph=graph, keys=keys, app=create_graphql_app(services), media=media_root)


def _headers(key: str | None) -> dict[str, str]:
    return auth(key) if key is not None else {}


async def _http(world: World, caller: str, document: str, variables: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return await client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=_headers(world.keys[caller])
        )


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def _expect(root: str, name: str, caller: str, response: httpx.Response, probe: Probe) -> None:
    """The outcome the matrix demands of ``caller`` calling ``root.name``."""
    label = f"{root}.{name} as {caller}"
    if caller in ("none", "revoked", "expired"):
        assert response.status_code == 401, label
        assert _codes(response.json()) == ["UNAUTHENTICATED"], label
        return
    body = response.json()
    scope = ROOT_RULES[root][name]
    held = set(Scope) if caller in ("own", "other") else {Scope.READ}
    if scope not in held:
        if root == "Mutation":
            assert body["data"][name]["__typename"] == "Forbidden", label
            assert body["data"][name]["code"] == "FORBIDDEN", label
        else:
            assert _codes(body) == ["FORBIDDEN"], label
        return
    assert "FORBIDDEN" not in _codes(body), label
    if root == "Mutation":
        assert body["data"][name]["__typename"] != "Forbidden", label
    if probe.sees_tenant_data is None:
        return
    if caller == "other":
        # Another tenant's key finds nothing of this tenant: "not found" or empty, never its rows.
        assert body.get("data") is None or not probe.sees_tenant_data(body["data"]), (label, body)
    else:
        assert "errors" not in body, (label, body)
        assert probe.sees_tenant_data(body["data"]), (label, body)


QUERY_AND_MUTATION = [(r, n) for r, n in _root_fields() if r != "Subscription"]


@pytest.mark.parametrize(
    ("root", "name"), QUERY_AND_MUTATION, ids=[f"{r}.{n}" for r, n in QUERY_AND_MUTATION]
)
async def test_root_field(world: World, root: str, name: str) -> None:
    probe = PROBES[root][name]
    for caller in CALLERS:
        response = await _http(world, caller, probe.document, probe.variables(world.graph, world.media))
        _expect(root, name, caller, response, probe)


# --- node(id:) per type --------------------------------------------------------------------------


async def _node_ids(services: Services, graph: Graph) -> dict[str, str]:
    async with services.session_factory() as session:
        stage = await session.scalar(
            select(JobStage).where(JobStage.job_id == graph.jobs["harbour"].id).limit(1)
        )
    assert stage is not None
    return {
        "Asset": gid("Asset", graph.harbour.id),
        "Scene": gid("Scene", graph.scenes[0].id),
        "TranscriptSegment": gid("TranscriptSegment", graph.segments[0].id),
        "Detection": gid("Detection", graph.detections[0].id),
        "SimilarityEdge": gid(
            "SimilarityEdge", next(e for e in graph.edges if e.target_asset_id != graph.deleted.id).id
        ),
        "Job": gid("Job", graph.jobs["harbour"].id),
        "JobStage": gid("JobStage", stage.id),
        "AuditEvent": gid("AuditEvent", graph.audit[0].id),
        "Person": gid("Person", graph.people[0].id),
    }


@pytest.mark.parametrize("type_name", _node_types())
async def test_node_type(world: World, services: Services, type_name: str) -> None:
    node_id = (await _node_ids(services, world.graph))[type_name]
    document = "query($id: ID!) { node(id: $id) { id } }"
    scope = NODE_RULES[type_name]
    for caller in CALLERS:
        response = await _http(world, caller, document, {"id": node_id})
        label = f"node({type_name}) as {caller}"
        if caller in ("none", "revoked", "expired"):
            assert response.status_code == 401, label
            continue
        body = response.json()
        held = set(Scope) if caller in ("own", "other") else {Scope.READ}
        if scope not in held:
            assert _codes(body) == ["FORBIDDEN"], label
        elif caller == "other":
            assert body == {"data": {"node": None}}, label
        else:
            assert body == {"data": {"node": {"id": node_id}}}, label


# --- the blob route ------------------------------------------------------------------------------


async def test_blob_route(world: World) -> None:
    expected = {"none": 401, "revoked": 401, "expired": 401, "read": 200, "other": 404, "own": 200}
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for caller in CALLERS:
            response = await client.get(
                f"/blobs/{world.graph.keyframe_key}", headers=_headers(world.keys[caller])
            )
            assert response.status_code == expected[caller], caller


async def test_signed_blob_urls(world: World, services: Services, tenant: Tenant) -> None:
    """What the API hands out loads without a header (an <img src>); a URL cannot be forged,
    moved to another blob or tenant, or used after its expiry."""
    key = world.graph.keyframe_key
    document = "query($id: ID!) { scene(id: $id) { keyframeUrl } }"
    variables = {"id": gid("Scene", world.graph.scenes[0].id)}
    url = (await _http(world, "read", document, variables)).json()["data"]["scene"]["keyframeUrl"]
    signer = UrlSigner(
        signing_secret(services.settings), ttl_seconds=services.settings.signed_url_ttl_seconds
    )
    path, _, query = url.partition("?")
    params = dict(parse_qsl(query))
    other = await _tenant_id(services, "other")

    def signed(tenant_id: uuid.UUID, blob: str, *, now: float | None = None) -> str:
        s = signer.sign(tenant_id=tenant_id, key=blob, now=now)
        return f"/blobs/{blob}?" + urlencode(
            {"tenant": s.tenant_id.hex, "expires": s.expires, "signature": s.signature}
        )

    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        served = await client.get(url)
        assert (served.status_code, served.content) == (200, KEYFRAME_BYTES)
        forged = {
            **params,
            "signature": params["signature"][:-2]
            + ("AA" if not params["signature"].endswith("AA") else "BB"),
        }
        later = {**params, "expires": str(int(params["expires"]) + 3600)}
        moved = {**params, "tenant": other.hex}
        for bad in (forged, later, moved):
            response = await client.get(f"{path}?{urlencode(bad)}")
            assert response.status_code == 403, bad
            assert response.json()["code"] == "INVALID_SIGNATURE"
        assert (await client.get(f"/blobs/sha256/00/00/other.jpg?{query}")).status_code == 403
        # Signed an hour and a half ago with a one-hour lifetime: expired.
        expired = signed(tenant.id, key, now=time.time() - 5400)
        assert (await client.get(expired)).status_code == 403
        # A valid signature for another tenant: that tenant does not own the blob.
        assert (await client.get(signed(other, key))).status_code == 404
        assert (await client.get(signed(tenant.id, key))).status_code == 200


async def _tenant_id(services: Services, slug: str) -> uuid.UUID:
    async with services.session_factory() as session:
        row = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    assert row is not None
    return row.id


# --- subscriptions, over graphql-transport-ws ---------------------------------------------------


class _Server:
    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", ws="wsproto", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110  (uvicorn exposes no event)
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}/graphql"

    async def __aexit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await self.task


async def _first_message(url: str, key: str | None, document: str, variables: dict[str, Any]) -> Any:
    """The close code, or the first message after subscribing."""
    async with httpx.AsyncClient() as client:
        connecting: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
            url, client, subprotocols=["graphql-transport-ws"]
        )
        async with connecting as ws:
            payload = {"Authorization": f"Bearer {key}"} if key is not None else {}
            await ws.send_json({"type": "connection_init", "payload": payload})
            try:
                ack = await asyncio.wait_for(ws.receive_json(), 10)
                assert ack == {"type": "connection_ack"}
                await ws.send_json(
                    {"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}}
                )
                return await asyncio.wait_for(ws.receive_json(), 10)
            except WebSocketDisconnect as closed:
                return closed.code


SUBSCRIPTIONS = [n for r, n in _root_fields() if r == "Subscription"]


@pytest.mark.parametrize("name", SUBSCRIPTIONS)
async def test_subscription(world: World, name: str) -> None:
    probe = PROBES["Subscription"][name]
    variables = probe.variables(world.graph, world.media)
    async with _Server(world.app) as url:
        for caller in CALLERS:
            message = await _first_message(url, world.keys[caller], probe.document, variables)
            label = f"{name} as {caller}"
            if caller in ("none", "revoked", "expired"):
                assert message == 4401, label
            elif caller == "other":
                # The id names a row of another tenant: not found, and no event of it.
                assert message["type"] == "next", label
                assert _codes(message["payload"]) == ["NOT_FOUND"], (label, message)
            else:
                assert message["type"] == "next", label
                assert message["payload"]["data"][name]["kind"] == "SNAPSHOT", (label, message)


# Marks every case as needing the database (SQLite, and PostgreSQL in its pass of CI).
pytestmark = pytest.mark.db

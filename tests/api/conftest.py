"""Fixtures of the API tests: the ASGI app over the test services, API keys of the default
tenant (admin, read-only, read+write), a GraphQL client authenticated as the admin key, the
operation documents of graphql/operations/, and a SQL statement counter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from app.api.http import create_graphql_app
from app.core.container import Services
from app.core.settings import Settings
from app.core.signing import UrlSigner, signing_secret
from app.tenancy.models import Tenant
from tests.fixtures.keys import auth, issue_key

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def operation(name: str) -> str:
    """The document graphql/operations/<name>.graphql."""
    return (OPERATIONS / f"{name}.graphql").read_text(encoding="utf-8")


@pytest.fixture
def api_app(services: Services) -> Starlette:
    """The API app over the test services."""
    return create_graphql_app(services)


# The host the in-process clients call (one of the default allowed_hosts).
BASE_URL = "http://localhost"


@dataclass(frozen=True)
class Keys:
    """Secrets of the default tenant's test keys."""

    admin: str
    read: str
    write: str


@pytest.fixture
async def keys(services: Services, settings: Settings, tenant: Tenant) -> Keys:
    """An admin key (every scope), a read-only key and a read+write key of the default tenant."""
    factory = services.session_factory
    slug = settings.default_tenant
    return Keys(
        admin=await issue_key(factory, tenant=slug, name="test-admin"),
        read=await issue_key(factory, tenant=slug, name="test-read", scopes=["read"]),
        write=await issue_key(factory, tenant=slug, name="test-write", scopes=["read", "write"]),
    )


@pytest.fixture
async def http(api_app: Starlette, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process with the admin key. It also sends the CSRF
    header, as the explorer and upload clients do (multipart requests need it)."""
    transport = httpx.ASGITransport(app=api_app)
    headers = {**auth(keys.admin), "x-mediakg-csrf": "1"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as client:
        yield client


@pytest.fixture
async def anonymous_http(api_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app that sends no key."""
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


class SignedBlobUrl:
    """Equal to a URL of the /blobs route for ``key`` whose signature names ``tenant_id`` and
    has not expired (the expiry depends on the clock, so the URL is checked, not spelled)."""

    def __init__(self, settings: Settings, tenant_id: uuid.UUID, key: str) -> None:
        self.signer = UrlSigner(signing_secret(settings), ttl_seconds=settings.signed_url_ttl_seconds)
        self.tenant_id = tenant_id
        self.key = key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        url = urlsplit(other)
        params = dict(parse_qsl(url.query))
        verified = self.signer.verify(
            key=self.key,
            tenant=params.get("tenant", ""),
            expires=params.get("expires", ""),
            signature=params.get("signature", ""),
        )
        return url.path == f"/blobs/{quote(self.key)}" and verified == self.tenant_id

    def __repr__(self) -> str:
        return f"<signed URL of {self.key} for tenant {self.tenant_id}>"


@pytest.fixture
def signed_url(settings: Settings, tenant: Tenant) -> Callable[[str], SignedBlobUrl]:
    """``signed_url(key)``: what a blob URL of the default tenant must equal."""
    return lambda key: SignedBlobUrl(settings, tenant.id, key)


class GraphQLClient:
    """Posts GraphQL documents and returns the decoded response body."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.last_response: httpx.Response | None = None

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        self.last_response = response
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    """A GraphQL client of the app."""
    return GraphQLClient(http)


class StatementCounter:
    """SQL statements sent to the database while counting."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)


@pytest.fixture
def count_sql(services: Services) -> Any:
    """``with count_sql() as counter:`` records every statement executed inside the block."""

    @contextmanager
    def counting() -> Iterator[StatementCounter]:
        counter = StatementCounter()

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # Transaction control is not a query: SQLite's engines emit their own BEGIN
            # (app/core/db.py) where PostgreSQL's driver begins implicitly. Nor is the key
            # check, which a process does once per key and cache period
            # (api_key_cache_seconds), not once per query.
            if (
                statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}
                and "api_key" not in statement
            ):
                counter.statements.append(statement)

        # Queries read through the read engine (SQLite), mutations write through the other.
        engines = {services.engine.sync_engine}
        if services.read_engine is not None:
            engines.add(services.read_engine.sync_engine)
        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", record)

    return counting

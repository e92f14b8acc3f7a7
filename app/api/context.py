"""What every resolver gets: the caller, per-request loaders, the services and a session factory.

The caller is resolved once per request (or per WebSocket connection, from its
``connection_init`` payload) from the ``Authorization: Bearer <key>`` it presents;
``CallerResolver`` is the one place keys are checked, and every query filters by
``caller.tenant_id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from strawberry.types import Info as StrawberryInfo

from app.api.assets.loaders import AssetLoaders
from app.api.audit.loaders import AuditLoaders
from app.api.batching import ReadSessions
from app.api.jobs.loaders import JobLoaders
from app.api.media.loaders import MediaLoaders
from app.api.people.loaders import PeopleLoaders
from app.core.container import Services
from app.core.db import session_scope, utcnow
from app.core.errors import DatabaseBusyError
from app.core.settings import Settings
from app.core.signing import UrlSigner
from app.tenancy.models import Scope
from app.tenancy.service import (
    UnauthenticatedError,
    VerifiedKey,
    ensure_tenant,
    record_key_use,
    verify_key,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the tenant every query is scoped to, what the key may do, and the name
    audit events record (the key's name)."""

    tenant_id: uuid.UUID
    tenant_slug: str
    actor: str
    scopes: frozenset[Scope] = frozenset()
    key_id: uuid.UUID | None = None

    def has(self, scope: Scope) -> bool:
        """Whether the caller's key grants ``scope``."""
        return scope in self.scopes


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (None when absent or another scheme)."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class CallerResolver:
    """Finds the caller of a request from its API key.

    A verified key is remembered for ``api_key_cache_seconds`` (by a hash of the whole key,
    so a wrong secret never hits the cache): a busy client costs no key lookup per request,
    and a key revoked in another process stops working within that time (at once when it
    expires). Each lookup records the key's last use.
    """

    def __init__(self, services: Services) -> None:
        self._services = services
        self._anonymous: Caller | None = None
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[float, VerifiedKey]] = {}
        self._inflight: dict[str, asyncio.Future[VerifiedKey]] = {}

    @property
    def auth_disabled(self) -> bool:
        """Whether every caller is the default tenant's administrator (loopback-only setting)."""
        return self._services.settings.auth_disabled

    async def resolve(self, connection: HTTPConnection) -> Caller:
        """The caller of an HTTP request; UnauthenticatedError without a live key."""
        return await self.authenticate(bearer_token(connection.headers.get("authorization")))

    async def resolve_params(self, params: dict[str, Any] | None, *, handshake: str | None = None) -> Caller:
        """The caller of a WebSocket from its ``connection_init`` payload (``Authorization``
        as clients send it in headers; ``authorization`` as some lowercase it), else from the
        handshake's Authorization header."""
        value = handshake
        for name, item in (params or {}).items():
            if isinstance(name, str) and name.lower() == "authorization" and isinstance(item, str):
                value = item
        return await self.authenticate(bearer_token(value))

    async def authenticate(self, token: str | None) -> Caller:
        """The caller ``token`` stands for; UnauthenticatedError when it is not a live key."""
        if self.auth_disabled:
            return await self.anonymous()
        if token is None:
            raise UnauthenticatedError("send an API key: Authorization: Bearer <key>")
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._verified.get(digest)
        ttl = self._services.settings.api_key_cache_seconds
        if cached is not None and now - cached[0] < ttl:
            key = cached[1]
            if key.expires_at is None or key.expires_at > utcnow():
                return _caller_of(key)
        # Single flight: the requests that miss the cache together (a burst of clients, or all
        # of them when the entry expires) wait for one lookup instead of each writing the key's
        # last use and queueing for the write lock.
        pending = self._inflight.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(token, digest, now, ttl))
            self._inflight[digest] = pending
            pending.add_done_callback(lambda _done: self._inflight.pop(digest, None))
        return _caller_of(await asyncio.shield(pending))

    async def _look_up(self, token: str, digest: str, now: float, ttl: float) -> VerifiedKey:
        # Verifying is a read: it never waits for SQLite's write lock.
        async with self._services.read_session_factory() as session:
            try:
                key = await verify_key(session, presented=token)
            except UnauthenticatedError:
                self._verified.pop(digest, None)
                raise
        # Recording the use is bookkeeping: a database too busy to take the write (the typed
        # DatabaseBusyError) must not turn the request away; the next lookup records it.
        try:
            async with session_scope(self._services.session_factory) as session:
                await record_key_use(session, key_id=key.key_id)
        except DatabaseBusyError:
            log.info("API key %s used; its last use not recorded (database busy)", key.name)
        if ttl > 0:
            self._verified[digest] = (now, key)
        return key

    def forget(self) -> None:
        """Drop every remembered key (the next request of each looks it up again)."""
        self._verified.clear()

    async def anonymous(self) -> Caller:
        """The caller when authentication is disabled: the default tenant, every scope."""
        if self._anonymous is None:
            async with self._lock:
                if self._anonymous is None:
                    slug = self._services.settings.default_tenant
                    async with session_scope(self._services.session_factory) as session:
                        tenant = await ensure_tenant(session, slug=slug)
                    self._anonymous = Caller(
                        tenant_id=tenant.id,
                        tenant_slug=slug,
                        actor=f"anonymous@{slug}",
                        scopes=frozenset(Scope),
                    )
        return self._anonymous


def _caller_of(key: VerifiedKey) -> Caller:
    return Caller(
        tenant_id=key.tenant_id,
        tenant_slug=key.tenant_slug,
        actor=key.name,
        scopes=key.scopes,
        key_id=key.key_id,
    )


@dataclass(slots=True)
class Loaders:
    """Every DataLoader of one request, grouped by domain."""

    assets: AssetLoaders
    media: MediaLoaders
    jobs: JobLoaders
    audit: AuditLoaders
    people: PeopleLoaders

    @classmethod
    def create(
        cls, factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, *, per_request: bool = False
    ) -> Loaders:
        """Fresh loaders: their caches live as long as the request. ``per_request``: the
        context of one HTTP request, whose query operations read in one shared session."""
        reads = ReadSessions(factory, shareable=per_request)
        return cls(
            assets=AssetLoaders(reads, tenant_id),
            media=MediaLoaders(reads, tenant_id),
            jobs=JobLoaders(reads, tenant_id),
            audit=AuditLoaders(reads, tenant_id),
            people=PeopleLoaders(reads, tenant_id),
        )

    @property
    def reads(self) -> ReadSessions | None:
        """Where every loader reads (one shared session per HTTP query when shareable)."""
        reads = self.assets.factory
        return reads if isinstance(reads, ReadSessions) else None

    def clear(self) -> None:
        """Forget every cached row."""
        self.assets.clear()
        self.media.clear()
        self.jobs.clear()
        self.audit.clear()
        self.people.clear()


@dataclass(slots=True)
class Context:
    """The strawberry context of one HTTP request or one WebSocket connection."""

    services: Services
    caller: Caller
    loaders: Loaders
    request_id: str
    # Signs the blob URLs the API hands out (app/api/urls.py).
    url_signer: UrlSigner
    # Set by strawberry's WebSocket handlers (graphql-transport-ws connection_init payload):
    # the caller is resolved from its Authorization entry (app/api/auth.py).
    connection_params: dict[str, Any] | None = field(default=None)
    # A WebSocket handshake's Authorization header: non-browser clients may authenticate
    # there instead of in the connection_init payload (browsers cannot set it).
    handshake_authorization: str | None = field(default=None)

    @property
    def settings(self) -> Settings:
        """The process settings."""
        return self.services.settings

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for mutations (each opens its own unit of work)."""
        return self.services.session_factory

    @property
    def read_session_factory(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for queries: they never take (or wait for) the database's write lock."""
        return self.services.read_session_factory


Info = StrawberryInfo[Context, None]

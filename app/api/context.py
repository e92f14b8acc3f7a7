"""What every resolver gets: the caller, per-request loaders, the services and a session factory.

The caller is resolved once per request (or per WebSocket connection). Until the security
issue lands, every caller is the default tenant; ``CallerResolver.resolve`` is the one place
API keys will plug in, and every query already filters by ``caller.tenant_id``.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from strawberry.types import Info as StrawberryInfo

from app.api.assets.loaders import AssetLoaders
from app.api.audit.loaders import AuditLoaders
from app.api.jobs.loaders import JobLoaders
from app.api.media.loaders import MediaLoaders
from app.core.container import Services
from app.core.db import session_scope
from app.core.settings import Settings
from app.tenancy.service import ensure_tenant


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the tenant every query is scoped to, and the name audit events record."""

    tenant_id: uuid.UUID
    tenant_slug: str
    actor: str


class CallerResolver:
    """Finds the caller of a request. Today: the default tenant, looked up once per process."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._default: Caller | None = None
        self._lock = asyncio.Lock()

    async def resolve(self, connection: HTTPConnection | None) -> Caller:
        """The caller of ``connection`` (None: an internal caller such as a test)."""
        if self._default is None:
            async with self._lock:
                if self._default is None:
                    slug = self._services.settings.default_tenant
                    async with session_scope(self._services.session_factory) as session:
                        tenant = await ensure_tenant(session, slug=slug)
                    # "anonymous" until API keys exist: audit rows then name the key instead.
                    self._default = Caller(tenant_id=tenant.id, tenant_slug=slug, actor=f"anonymous@{slug}")
        return self._default


@dataclass(slots=True)
class Loaders:
    """Every DataLoader of one request, grouped by domain."""

    assets: AssetLoaders
    media: MediaLoaders
    jobs: JobLoaders
    audit: AuditLoaders

    @classmethod
    def create(cls, factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID) -> Loaders:
        """Fresh loaders: their caches live as long as the request."""
        return cls(
            assets=AssetLoaders(factory, tenant_id),
            media=MediaLoaders(factory, tenant_id),
            jobs=JobLoaders(factory, tenant_id),
            audit=AuditLoaders(factory, tenant_id),
        )

    def clear(self) -> None:
        """Forget every cached row."""
        self.assets.clear()
        self.media.clear()
        self.jobs.clear()
        self.audit.clear()


@dataclass(slots=True)
class Context:
    """The strawberry context of one HTTP request or one WebSocket connection."""

    services: Services
    caller: Caller
    loaders: Loaders
    request_id: str
    # Set by strawberry's WebSocket handlers (graphql-transport-ws connection_init payload):
    # the security issue reads an API key from here.
    connection_params: dict[str, Any] | None = field(default=None)

    @property
    def settings(self) -> Settings:
        """The process settings."""
        return self.services.settings

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for mutations (each opens its own unit of work)."""
        return self.services.session_factory


Info = StrawberryInfo[Context, None]

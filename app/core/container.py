"""The services one process wires together at start-up, chosen by settings URLs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.blobs import BlobStore
from app.core.events import Publisher
from app.core.netguard import Network
from app.core.ratelimit import InProcessRateLimiter, RateLimiter
from app.core.settings import Settings


class Enqueuer(Protocol):
    """Sends work to the job system by actor name (domain code never imports ``jobs``)."""

    def send(
        self,
        actor_name: str,
        *,
        queue: str,
        args: dict[str, Any],
        delay_ms: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Send one message. Called only after the transaction that created the work commits."""
        ...


@dataclass
class Services:
    """Everything request handlers, actors and the CLI share within one process."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    publisher: Publisher
    enqueuer: Enqueuer | None = None
    # Filled by the search and inference layers at start-up (typed there; Any here keeps
    # the import direction app -> nothing).
    search: Any = None
    inference: Any = None
    # Builds ``inference`` on first use; the composition root that builds the services sets
    # it, so stages and resolvers reach the models through ``inference_router()`` without
    # importing the composition root.
    inference_factory: Callable[[Services], Awaitable[Any]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Resolver and transport of outbound fetches (URL ingest): tests swap in a resolver stub.
    network: Network = field(default_factory=Network)
    # Per-caller request and ingest-byte counters (Redis-backed when rate_limit_url says so).
    rate_limiter: RateLimiter = field(default_factory=InProcessRateLimiter)
    # Sessions that only read (SQLite: pooled, deferred, query-only connections that never
    # wait for the write lock). None: reads share ``session_factory`` (PostgreSQL).
    read_engine: AsyncEngine | None = None
    read_sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def read_session_factory(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for reads that write nothing (a write through one fails on SQLite)."""
        return self.read_sessions if self.read_sessions is not None else self.session_factory

    async def inference_router(self) -> Any:
        """The process's inference router (``inference.router.InferenceRouter``), built on first use."""
        if self.inference is not None:
            return self.inference
        if self.inference_factory is None:
            raise RuntimeError("no inference is wired into these services (build them with build_services)")
        return await self.inference_factory(self)

    async def aclose(self) -> None:
        """Release connections and pools."""
        # Search and inference first: closing them touches no database or publisher.
        if self.search is not None:
            await self.search.aclose()
        if self.inference is not None:
            await self.inference.aclose()
        await self.publisher.close()
        await self.rate_limiter.aclose()
        if self.read_engine is not None and self.read_engine is not self.engine:
            await self.read_engine.dispose()
        await self.engine.dispose()

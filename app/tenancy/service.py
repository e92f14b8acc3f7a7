"""Tenants and their API keys.

A key reads ``mkg_<prefix>_<secret>``: the prefix finds the row, the secret is checked
against the stored SHA-256 in constant time. The secret has 256 random bits, so a fast hash
is enough (no password stretching: nothing can be guessed from it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.db import utcnow
from app.core.errors import DomainError, InvalidInputError, NotFoundError
from app.tenancy import repository
from app.tenancy.models import ApiKey, Scope, Tenant

KEY_PREFIX = "mkg_"
_PREFIX_CHARS = 12  # hex: 48 bits, enough that two keys practically never collide
_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}([0-9a-f]{{{_PREFIX_CHARS}}})_([A-Za-z0-9_-]{{20,128}})$")
_NAME_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_SCOPE_NAMES = frozenset(s.value for s in Scope)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class UnauthenticatedError(DomainError):
    """No key, or one that is unknown, revoked or expired."""

    code = "UNAUTHENTICATED"


class ForbiddenError(DomainError):
    """The key is valid but lacks the scope the operation needs."""

    code = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key: the row, and the secret, which exists only here (it is never stored)."""

    key: ApiKey
    tenant: Tenant
    secret: str


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """A key that passed every check, with what a caller needs from it."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    name: str
    scopes: frozenset[Scope]
    expires_at: datetime | None


async def ensure_tenant(session: AsyncSession, *, slug: str, name: str | None = None) -> Tenant:
    """The tenant with ``slug``, created if missing (does not commit)."""
    tenant = await repository.tenant_by_slug(session, slug=slug)
    if tenant is not None:
        return tenant
    tenant = Tenant(slug=slug, name=name or slug)
    try:
        # Two processes starting at once (API and worker) both try to create it: the
        # savepoint lets the loser read the winner's row instead of failing its transaction.
        async with session.begin_nested():
            session.add(tenant)
            await session.flush()
    except IntegrityError:
        winner = await repository.tenant_by_slug(session, slug=slug)
        if winner is None:
            raise
        return winner
    return tenant


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """Scopes from their names; an unknown name is an InvalidInputError."""
    scopes = set()
    for name in names:
        clean = name.strip().lower()
        if not clean:
            continue
        try:
            scopes.add(Scope(clean))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidInputError(f"unknown scope {name!r} (known: {known})", field=["scopes"]) from None
    if not scopes:
        raise InvalidInputError("a key needs at least one scope", field=["scopes"])
    return frozenset(scopes)


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` as a duration (> 0)."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInputError(
            f"{text!r} is not a duration such as 30d, 12h, 90m, 2w or 45s", field=["expiresIn"]
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


async def create_key(
    session: AsyncSession,
    *,
    tenant_slug: str,
    name: str,
    scopes: Iterable[Scope],
    actor: str,
    expires_in: timedelta | None = None,
) -> CreatedKey:
    """A new key of the tenant (created if missing); the secret is returned once, never stored."""
    if not _NAME_SHAPE.match(name):
        raise InvalidInputError(
            f"{name!r} is not a key name (letters, digits and . _ @ -, up to 200 characters)", field=["name"]
        )
    tenant = await ensure_tenant(session, slug=tenant_slug)
    if await repository.key_by_name(session, tenant_id=tenant.id, name=name) is not None:
        raise InvalidInputError(
            f"tenant {tenant_slug!r} already has a key named {name!r} (names are never reused)",
            field=["name"],
        )
    key, secret = mint_key(
        tenant_id=tenant.id,
        name=name,
        scopes=scopes,
        expires_at=utcnow() + expires_in if expires_in is not None else None,
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        tenant_id=tenant.id,
        actor=actor,
        action="api_key.create",
        entity_type="api_key",
        entity_id=key.id,
        details={"name": name, "scopes": key.scopes, "expiresAt": _iso(key.expires_at)},
    )
    return CreatedKey(key=key, tenant=tenant, secret=secret)


def mint_key(
    *, tenant_id: uuid.UUID, name: str, scopes: Iterable[Scope], expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """A new key row (not added to any session) and the secret a client presents for it."""
    prefix = secrets.token_hex(_PREFIX_CHARS // 2)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=sorted(s.value for s in scopes),
        expires_at=expires_at,
    )
    return key, f"{KEY_PREFIX}{prefix}_{secret}"


async def list_keys(
    session: AsyncSession, *, tenant_slug: str | None = None
) -> Sequence[tuple[ApiKey, Tenant]]:
    """Every key (of one tenant, or of all)."""
    tenant_id = None
    if tenant_slug is not None:
        tenant = await repository.tenant_by_slug(session, slug=tenant_slug)
        if tenant is None:
            return []
        tenant_id = tenant.id
    return await repository.list_keys(session, tenant_id=tenant_id)


async def revoke_key(session: AsyncSession, *, tenant_slug: str, name: str, actor: str) -> ApiKey:
    """Revoke the tenant's key ``name`` (revoking twice keeps the first time)."""
    tenant = await repository.tenant_by_slug(session, slug=tenant_slug)
    key = None if tenant is None else await repository.key_by_name(session, tenant_id=tenant.id, name=name)
    if tenant is None or key is None:
        raise NotFoundError(f"tenant {tenant_slug!r} has no key named {name!r}", field=["name"])
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            tenant_id=tenant.id,
            actor=actor,
            action="api_key.revoke",
            entity_type="api_key",
            entity_id=key.id,
            details={"name": name},
        )
    return key


async def verify_key(session: AsyncSession, *, presented: str, now: datetime | None = None) -> VerifiedKey:
    """The key ``presented`` stands for; UnauthenticatedError if it is not a live key. Every
    failure gives the same message: a client cannot probe which keys exist. Reads only: the
    caller records the use with :func:`record_key_use` (a write a busy database may refuse)."""
    now = now or utcnow()
    denied = UnauthenticatedError("the API key is missing, unknown, revoked or expired")
    match = _KEY_SHAPE.match(presented)
    if match is None:
        raise denied
    found = await repository.key_by_prefix(session, prefix=match.group(1))
    # Hash even when no row matched, so timing does not tell a known prefix from an unknown one.
    expected = found[0].secret_hash if found is not None else hash_secret(secrets.token_urlsafe(32))
    if not hmac.compare_digest(hash_secret(match.group(2)), expected) or found is None:
        raise denied
    key, tenant = found
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise denied
    return VerifiedKey(
        key_id=key.id,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        name=key.name,
        scopes=frozenset(Scope(s) for s in key.scopes if s in _SCOPE_NAMES),
        expires_at=key.expires_at,
    )


async def record_key_use(session: AsyncSession, *, key_id: uuid.UUID, at: datetime | None = None) -> None:
    """Record that the key was used (``last_used_at``)."""
    await repository.touch_key(session, key_id=key_id, at=at or utcnow())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

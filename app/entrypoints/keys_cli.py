"""``mediakg keys create|list|revoke`` and the admin key `mediakg serve` writes on first start.

Mount with ``cli.add_typer(app.entrypoints.keys_cli.app, name="keys")``.
"""

from __future__ import annotations

import asyncio
import getpass
import ipaddress
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from app.core.container import Services
from app.core.db import DatabaseUnavailableError, session_scope
from app.core.errors import DomainError
from app.core.secretfile import write_secret_file
from app.core.settings import Settings, get_settings
from app.entrypoints.bootstrap import build_services
from app.entrypoints.lifecycle import prepare
from app.tenancy import repository
from app.tenancy.models import Scope
from app.tenancy.service import create_key, list_keys, parse_duration, parse_scopes, revoke_key

app = typer.Typer(help="API keys (docs/security.md).", no_args_is_help=True)
err = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

ADMIN_KEY_FILE = "admin-api-key"
T = TypeVar("T")


def _actor() -> str:
    # Key operations from the command line are audited under the operating-system user.
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _run(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` against a prepared database; a domain error is one line and exit 2."""

    async def main() -> T:
        services = build_services(get_settings())
        try:
            await prepare(services)
            return await work(services)
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    except (DomainError, DatabaseUnavailableError) as exc:
        err.print(f"[bold red]error:[/] {getattr(exc, 'message', exc)}", highlight=False)
        raise typer.Exit(2) from None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Unique name within the tenant; audit events name it.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read, write, admin.")] = "read",
    tenant: Annotated[str | None, typer.Option(help="Tenant slug (default: MEDIAKG_DEFAULT_TENANT).")] = None,
    expires_in: Annotated[
        str | None, typer.Option(help="Lifetime such as 30d, 12h, 2w (default: none).")
    ] = None,
) -> None:
    """Create a key. The secret is printed once, as the last line of standard output."""
    slug = tenant or get_settings().default_tenant

    async def work(services: Services) -> str:
        parsed = parse_scopes(scopes.split(","))
        lifetime = parse_duration(expires_in) if expires_in else None
        async with session_scope(services.session_factory) as session:
            created = await create_key(
                session, tenant_slug=slug, name=name, scopes=parsed, actor=_actor(), expires_in=lifetime
            )
            key = created.key
        out.print(
            f"created key {key.name!r} of tenant {slug!r}: scopes {','.join(key.scopes)}, "
            f"expires {_when(key.expires_at)}"
        )
        out.print("the secret follows; it is not stored and cannot be shown again:")
        return created.secret

    secret = _run(work)
    typer.echo(secret)


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys (default: all).")] = None,
) -> None:
    """List keys (never their secrets)."""

    async def work(services: Services) -> None:
        async with services.session_factory() as session:
            rows = await list_keys(session, tenant_slug=tenant)
        table = Table("tenant", "name", "prefix", "scopes", "created", "expires", "last used", "revoked")
        for key, owner in rows:
            table.add_row(
                owner.slug,
                key.name,
                f"mkg_{key.prefix}_…",
                ",".join(key.scopes),
                _when(key.created_at),
                _when(key.expires_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
        out.print(table)

    _run(work)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    tenant: Annotated[str | None, typer.Option(help="Tenant slug (default: MEDIAKG_DEFAULT_TENANT).")] = None,
) -> None:
    """Revoke a key: it stops working at once here, within api_key_cache_seconds in running servers."""
    slug = tenant or get_settings().default_tenant

    async def work(services: Services) -> None:
        async with session_scope(services.session_factory) as session:
            key = await revoke_key(session, tenant_slug=slug, name=name, actor=_actor())
        out.print(f"revoked key {key.name!r} of tenant {slug!r} at {_when(key.revoked_at)}")

    _run(work)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` accepts connections from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def first_start_key(services: Services) -> tuple[Path, bool] | None:
    """On a deployment without any key, an admin key of the default tenant written to
    ``<data_dir>/admin-api-key`` (mode 0600): (its path, whether it was created now). None
    when authentication is disabled, or keys exist but that file does not (an operator
    manages them)."""
    settings: Settings = services.settings
    if settings.auth_disabled:
        return None
    path = settings.data_dir / ADMIN_KEY_FILE
    if path.exists():
        return path, False
    async with session_scope(services.session_factory) as session:
        if await repository.list_keys(session, tenant_id=None):
            return None
        created = await create_key(
            session,
            tenant_slug=settings.default_tenant,
            name="admin",
            scopes=parse_scopes(s.value for s in Scope),
            actor="mediakg serve",
        )
        # Written before the commit: if the file cannot be written, no key exists whose
        # secret nobody has; a second process racing this one loses at O_EXCL and rolls back.
        if not write_secret_file(path, created.secret):
            raise DomainError(f"{path} appeared while the first admin key was being created")
    return path, True

"""Running Alembic migrations from code (CLI, start-up of the embedded default, tests)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str, stdout: io.StringIO | None = None) -> Config:
    """An Alembic config for ``database_url`` without an alembic.ini file."""
    config = Config() if stdout is None else Config(stdout=stdout)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str:
    """The revision the database is at, as Alembic names it (``<id> (head)`` at the head)."""
    buffer = io.StringIO()
    command.current(alembic_config(database_url, stdout=buffer))
    return buffer.getvalue().strip() or "base (no migration applied)"


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the database back to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """``upgrade`` off the event loop (env.py runs its own loop)."""
    await asyncio.to_thread(upgrade, database_url, revision)

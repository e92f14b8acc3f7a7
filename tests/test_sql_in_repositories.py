"""Repositories own the SQL: outside them, no module of the service builds or runs a statement.

Checked on the service's own code (``app/``, ``jobs/``); the libraries (``inference``,
``search``) cannot import SQLAlchemy at all (the import contract, tests/test_architecture.py).
A repository is a module named ``repository.py`` or ``*_repository.py``; besides them only the
keyset page reader that repositories hand their statements to (``app/core/pagination.py``)
runs statements. ORM unit-of-work calls (``session.add``, ``session.get``, ``flush``) are not
statements and stay allowed in services.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("app", "jobs")
ALLOWED = {"app/core/pagination.py"}

# SQLAlchemy's statement and expression constructors.
CONSTRUCTORS = {
    "and_",
    "asc",
    "between",
    "bindparam",
    "case",
    "cast",
    "column",
    "delete",
    "desc",
    "distinct",
    "except_",
    "exists",
    "func",
    "insert",
    "intersect",
    "join",
    "lateral",
    "literal",
    "literal_column",
    "not_",
    "null",
    "or_",
    "outerjoin",
    "select",
    "table",
    "text",
    "tuple_",
    "union",
    "union_all",
    "update",
    "values",
}
# Calls that run a statement on a session or connection.
RUNS = {"execute", "scalar", "scalars", "stream", "stream_scalars"}
RECEIVERS = {"session", "conn", "connection"}


def sql_in(source: str) -> list[str]:
    """What in ``source`` builds or runs SQL: ``import name`` and ``receiver.call`` findings."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [f"import {a.name}" for a in node.names if a.name in CONSTRUCTORS]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in RECEIVERS
        ):
            found.append(f"{node.func.value.id}.{node.func.attr}() at line {node.lineno}")
    return found


def is_repository(path: str) -> bool:
    """Whether the module at ``path`` (relative, with /) may hold SQL."""
    name = path.rsplit("/", 1)[-1]
    return name == "repository.py" or name.endswith("_repository.py") or path in ALLOWED


def test_the_detector_sees_sql_and_only_sql() -> None:
    service = (
        "from sqlalchemy import select, update\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "async def f(session):\n"
        "    await session.execute(update(X))\n"
        "    return await session.scalar(select(X))\n"
    )
    assert sql_in(service) == [
        "import select",
        "import update",
        "session.execute() at line 4",
        "session.scalar() at line 5",
    ]
    unit_of_work = (
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "async def f(session, row):\n"
        "    session.add(row)\n"
        "    await session.flush()\n"
        "    return await session.get(type(row), row.id)\n"
    )
    assert sql_in(unit_of_work) == []
    assert is_repository("app/jobs/repository.py")
    assert is_repository("app/media/stage_repository.py")
    assert not is_repository("app/jobs/service.py")
    assert not is_repository("jobs/stages/embed.py")


def test_sql_lives_in_repositories() -> None:
    outside: dict[str, list[str]] = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if is_repository(relative):
                continue
            found = sql_in(path.read_text())
            if found:
                outside[relative] = found
    assert outside == {}, "SQL outside a repository (move it into app/<domain>/repository.py)"

"""SQL lives in repositories: SQLAlchemy statement construction (select, insert, update, delete,
text, func, exists, and_/or_, ... and raw ``exec_driver_sql``) appears only in modules named
``repository.py`` or ``<purpose>_repository.py`` (or inside a ``repository/`` package) and in
migrations (not scanned here).

Services, stages and resolvers call repository functions; a repository starts every read from
its entity's base statement (tenant scope, soft delete), so a query that bypasses it cannot be
written elsewhere by accident. The search library's own SQLite index store (``search/``) speaks
sqlite3, not SQLAlchemy, and is its own storage layer: it is outside this rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "jobs", "inference", "search")

# Names whose use builds a statement or a clause of one.
CONSTRUCTION = frozenset(
    {
        "select", "insert", "update", "delete", "text", "func", "exists", "and_", "or_", "not_",
        "union", "union_all", "intersect", "except_", "literal", "literal_column", "case", "cast",
        "tuple_", "bindparam", "column", "table", "type_coerce", "values", "lateral", "join",
        "outerjoin", "true", "false", "null", "any_", "all_", "distinct", "between", "extract",
        "over", "within_group",
    }
)  # fmt: skip

# Modules that build SQL without being a domain repository, each for a reason.
EXCEPTIONS = {
    "app/core/pagination.py": "the keyset framework every repository pages with (ORDER BY, "
    "the rows-after condition, one windowed statement per batch of parents)",
    "app/core/db.py": "engine set-up (SQLite pragmas, BEGIN IMMEDIATE) and the SELECT 1 liveness probe",
}


def construction_sites(path: Path) -> list[str]:
    """``line:name`` of every SQLAlchemy statement construction in the module at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases: set[str] = set()
    sites: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            sites += [f"{node.lineno}:{a.name}" for a in node.names if a.name in CONSTRUCTION]
        elif isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in aliases and node.attr in CONSTRUCTION:
            sites.append(f"{node.lineno}:{node.value.id}.{node.attr}")
        elif node.attr == "exec_driver_sql":
            sites.append(f"{node.lineno}:exec_driver_sql")
    return sorted(sites)


def _is_repository(relative: str) -> bool:
    parts = relative.split("/")
    return parts[-1].endswith("repository.py") or "repository" in parts[:-1]


def _offenders() -> dict[str, list[str]]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if _is_repository(relative) or relative in EXCEPTIONS:
                continue
            sites = construction_sites(path)
            if sites:
                found[relative] = sites
    return found


def test_sql_is_built_only_in_repositories() -> None:
    assert _offenders() == {}, "move these statements into the domain's repository.py"


def test_the_guard_sees_construction(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy import select as pick, Integer\n"
        "from sqlalchemy.dialects.postgresql import insert\n"
        "async def run(conn):\n"
        "    await conn.exec_driver_sql('SELECT 1')\n"
        "    return sa.func.count(), pick, Integer\n"
    )
    assert construction_sites(module) == ["2:select", "3:insert", "5:exec_driver_sql", "6:sa.func"]

"""The schema contract: graphql/schema.graphql is printed from code and checked in CI."""

from __future__ import annotations

import difflib
from pathlib import Path

from app.api.schema import export_schema


def export_schema_to(path: Path) -> None:
    """Write the schema SDL to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export_schema(), encoding="utf-8")


def check_schema(path: Path) -> list[str]:
    """Unified diff lines from ``path`` to the schema printed from code (empty: no drift)."""
    expected = export_schema()
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    return list(
        difflib.unified_diff(
            actual.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=str(path),
            tofile="schema printed from app/api",
        )
    )

"""Print the settings reference table; ``--write`` replaces the table in docs/configuration.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic_core import PydanticUndefined

from app.core.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
HEADER = "| variable | default | description |"


def table() -> str:
    """The reference table, one row per settings field, in declaration order."""
    out = ["| variable | default | description |", "| --- | --- | --- |"]
    fields = Settings.model_fields
    # Settings' own fields first (locations lead), then the mixins' (app/core/settings_*.py).
    own = [name for name in Settings.__annotations__ if name in fields]
    for name in [*own, *(name for name in fields if name not in own)]:
        field = fields[name]
        if field.default is not PydanticUndefined:
            default = json.dumps(field.default, default=str)
        else:
            default = "(computed)"
        if default in ('""', "[]"):
            default = "(derived, see description)"
        out.append(f"| `MEDIAKG_{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(out) + "\n"


def write(doc: Path = DOC) -> None:
    """Replace the table in ``doc`` (from its header row to the last row after it)."""
    lines = doc.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    doc.write_text("".join(lines[:start]) + table() + "".join(lines[end:]))


def main() -> None:
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        sys.stdout.write(table())


if __name__ == "__main__":
    main()

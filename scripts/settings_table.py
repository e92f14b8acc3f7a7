"""Print the settings reference table (pasted into docs/configuration.md)."""

from __future__ import annotations

import json
import sys

from pydantic_core import PydanticUndefined

from app.core.settings import Settings


def main() -> None:
    out = ["| variable | default | description |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if field.default is not PydanticUndefined:
            default = json.dumps(field.default, default=str)
        else:
            default = "(computed)"
        if default in ('""', "[]"):
            default = "(derived, see description)"
        out.append(f"| `MEDIAKG_{name.upper()}` | `{default}` | {field.description} |")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

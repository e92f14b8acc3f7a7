"""Project invariants: graphql-core is not shadowed, settings are documented."""

from __future__ import annotations

import re
from pathlib import Path

import graphql
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_import_graphql_resolves_to_graphql_core() -> None:
    # A graphql/__init__.py (or any .py there) in the repo would shadow graphql-core.
    assert Path(graphql.__file__).resolve().parent.parent.name == "site-packages"
    assert hasattr(graphql, "graphql_sync")
    assert list((ROOT / "graphql").rglob("*.py")) == []


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`(MEDIAKG_[A-Z0-9_]+)`", doc))
    fields = {f"MEDIAKG_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from docs/configuration.md"
    assert documented - fields == set(), "docs/configuration.md names settings that do not exist"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []

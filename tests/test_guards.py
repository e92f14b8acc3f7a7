"""Project invariants: graphql-core is not shadowed, settings are documented."""

from __future__ import annotations

import re
from pathlib import Path

import graphql
from app.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_import_graphql_resolves_to_graphql_core() -> None:
    # A graphql/__init__.py (or any .py there) in the repo would shadow graphql-core.
    assert Path(graphql.__file__).resolve().parent.parent.name == "site-packages"
    assert hasattr(graphql, "graphql_sync")
    assert list((ROOT / "graphql").rglob("*.py")) == []


TRITON_ENV_SECTION = "## Environment of the Triton model repository"


def _documented_names(text: str) -> set[str]:
    return set(re.findall(r"`(MEDIAKG_[A-Z0-9_]+)`", text))


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    settings_part, _, _ = doc.partition(TRITON_ENV_SECTION)
    documented = _documented_names(settings_part)
    fields = {f"MEDIAKG_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from docs/configuration.md"
    assert documented - fields == set(), "docs/configuration.md names settings that do not exist"


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    # The service's code (tests and CI scripts have variables of their own): a MEDIAKG_ name is
    # either a setting or read by the model code inside the Triton server, listed apart.
    doc = (ROOT / "docs" / "configuration.md").read_text()
    _, found, triton_part = doc.partition(TRITON_ENV_SECTION)
    assert found, f"docs/configuration.md has no {TRITON_ENV_SECTION!r} section"
    fields = {f"MEDIAKG_{name.upper()}" for name in Settings.model_fields}
    triton_env = _documented_names(triton_part)
    assert triton_env & fields == set(), "a setting is listed as a Triton environment variable"
    used: dict[str, str] = {}
    packages = [p for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"]
    assert {"app", "inference", "jobs"} <= {p.name for p in packages}
    for path in sorted(path for package in packages for path in package.rglob("*.py")):
        for name in re.findall(r"MEDIAKG_[A-Z0-9_]*[A-Z0-9]", path.read_text()):
            used.setdefault(name, str(path.relative_to(ROOT)))
    undocumented = {name: where for name, where in used.items() if name not in fields | triton_env}
    assert undocumented == {}, "read in code but not documented in docs/configuration.md"
    assert triton_env - set(used) == set(), "documented Triton environment variables nobody reads"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []

"""API evolution rules: removing a field fails with its name; deprecating it passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.api.evolution import announced_breaking, check_evolution, latest_release

ROOT = Path(__file__).resolve().parents[2]

RELEASED = """
type Query {
  asset(id: ID!): Asset
  assets(first: Int = 20, kind: AssetKind): [Asset!]!
}

type Asset {
  id: ID!
  title: String!
  legacyName: String @deprecated(reason: "Use `title`.")
}

enum AssetKind {
  VIDEO
  AUDIO
  FAX @deprecated(reason: "Never produced.")
}
"""

CHANGELOG_NONE = "# Changelog\n\n## Unreleased\n\n### Breaking\n\n(none)\n\n## 0.1.0 - 2026-12-04\n"


def changelog_announcing(*coordinates: str) -> str:
    lines = "\n".join(f"- `{c}` removed after its deprecation in 0.1.0." for c in coordinates)
    return f"# Changelog\n\n## Unreleased\n\n### Breaking\n\n{lines}\n\n## 0.1.0 - 2026-12-04\n"


def test_removing_a_field_fails_naming_the_field() -> None:
    current = RELEASED.replace("  title: String!\n", "")
    violations = check_evolution(released_sdl=RELEASED, current_sdl=current, changelog=CHANGELOG_NONE)
    assert [v.coordinate for v in violations] == ["Asset.title"]
    assert "Asset.title was removed" in str(violations[0])
    assert "deprecated" in violations[0].reason


def test_deprecating_a_field_passes() -> None:
    current = RELEASED.replace("  title: String!\n", '  title: String! @deprecated(reason: "Use `name`.")\n')
    assert check_evolution(released_sdl=RELEASED, current_sdl=current, changelog=CHANGELOG_NONE) == []


def test_removing_a_deprecated_field_needs_the_changelog_entry() -> None:
    current = RELEASED.replace('  legacyName: String @deprecated(reason: "Use `title`.")\n', "")
    unannounced = check_evolution(released_sdl=RELEASED, current_sdl=current, changelog=CHANGELOG_NONE)
    assert [v.coordinate for v in unannounced] == ["Asset.legacyName"]
    assert "CHANGELOG.md" in unannounced[0].reason
    announced = changelog_announcing("Asset.legacyName")
    assert check_evolution(released_sdl=RELEASED, current_sdl=current, changelog=announced) == []


def test_an_announcement_does_not_excuse_removing_what_was_never_deprecated() -> None:
    current = RELEASED.replace("  title: String!\n", "")
    violations = check_evolution(
        released_sdl=RELEASED, current_sdl=current, changelog=changelog_announcing("Asset.title")
    )
    assert [v.coordinate for v in violations] == ["Asset.title"]


def test_enum_values_and_arguments_follow_the_same_rules() -> None:
    current = RELEASED.replace('  FAX @deprecated(reason: "Never produced.")\n', "").replace("  VIDEO\n", "")
    current = current.replace("assets(first: Int = 20, kind: AssetKind)", "assets(first: Int = 20)")
    violations = check_evolution(
        released_sdl=RELEASED, current_sdl=current, changelog=changelog_announcing("AssetKind.FAX")
    )
    assert sorted(v.coordinate for v in violations) == ["AssetKind.VIDEO", "Query.assets(kind:)"]


def test_a_type_change_passes_only_when_announced() -> None:
    current = RELEASED.replace("  title: String!\n", "  title: String\n")
    violations = check_evolution(released_sdl=RELEASED, current_sdl=current, changelog=CHANGELOG_NONE)
    assert [v.coordinate for v in violations] == ["Asset.title"]
    announced = changelog_announcing("Asset.title")
    assert check_evolution(released_sdl=RELEASED, current_sdl=current, changelog=announced) == []


def test_additions_are_not_breaking() -> None:
    current = RELEASED.replace("  title: String!\n", "  title: String!\n  durationSeconds: Float\n")
    assert check_evolution(released_sdl=RELEASED, current_sdl=current, changelog="") == []


def test_only_the_unreleased_breaking_section_counts() -> None:
    changelog = (
        "## Unreleased\n\n### Added\n\n- `Asset.a`\n\n### Breaking\n\n- `Asset.b` gone\n\n"
        "### Fixed\n\n- `Asset.c`\n\n## 0.1.0\n\n### Breaking\n\n- `Asset.d`\n"
    )
    assert announced_breaking(changelog) == {"Asset.b"}


def test_latest_release_is_the_highest_version(tmp_path: Path) -> None:
    for name in ("0.9.0.graphql", "0.10.0.graphql", "0.2.1.graphql", "notes.graphql"):
        (tmp_path / name).write_text(RELEASED)
    assert latest_release(tmp_path) == ("0.10.0", tmp_path / "0.10.0.graphql")
    assert latest_release(tmp_path / "missing") is None


def test_the_code_keeps_the_rules_against_the_last_release() -> None:
    latest = latest_release(ROOT / "graphql" / "releases")
    assert latest is not None, "graphql/releases/ holds one schema per release"


@pytest.mark.slow
def test_the_cli_fails_naming_a_removed_field(tmp_path: Path) -> None:
    # The CI gate (scripts/test.sh) runs `mediakg schema breaking` against graphql/releases:
    # a release that had a field the code no longer has makes it exit 1 naming the field.
    released = (ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8")
    released = released.replace("type Query {\n", "type Query {\n  retiredField: Int\n", 1)
    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "99.0.0.graphql").write_text(released, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.entrypoints.cli",
            "schema",
            "breaking",
            "--releases",
            str(releases),
            "--changelog",
            str(ROOT / "CHANGELOG.md"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Query.retiredField" in result.stderr
    passing = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.entrypoints.cli",
            "schema",
            "breaking",
            "--changelog",
            str(ROOT / "CHANGELOG.md"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr

"""API evolution rules: the schema never breaks a released client without notice.

The schema printed from code is compared with the last released schema
(``graphql/releases/<version>.graphql``, one file per release) by graphql-core's
``find_breaking_changes``. A breaking change passes only when

- it is named, by its schema coordinate in backticks (``Asset.title``,
  ``Query.search(query:)``, ``AssetKind.TEXT``), under ``### Breaking`` in the
  ``## Unreleased`` section of ``CHANGELOG.md``; and
- it removes a field, argument or enum value only after a deprecation period: the removed
  element already carried ``@deprecated`` in the last release.

Deprecating an element is never breaking, so it always passes: that is the first step of
every removal (docs/api.md, "Evolution").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    BreakingChange,
    BreakingChangeType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
)

# Coordinates as graphql-core's descriptions write them: `Type`, `Type.member`,
# `Type.field(arg:)`, `@directive(arg:)`.
_COORDINATE = re.compile(r"@?[A-Za-z_]\w*(?:\.\w+)?(?:\(\w+:\))?")
# Leading words of a description before its coordinate ("Field Asset.title was removed.").
_LEAD = re.compile(
    r"^(?:Field |Argument |Enum value |Standard scalar |A required field |A required argument |"
    r"Directive |Repeatable flag was removed from )"
)
_VERSION_FILE = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.graphql$")
# Removals that must have been deprecated in the last release first.
_REMOVALS = {
    BreakingChangeType.FIELD_REMOVED,
    BreakingChangeType.ARG_REMOVED,
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One breaking change the rules do not allow, with the coordinate it concerns."""

    coordinate: str
    change: str
    reason: str

    def __str__(self) -> str:
        return f"{self.coordinate}: {self.change} ({self.reason})"


def coordinate_of(change: BreakingChange) -> str:
    """The schema coordinate a breaking change is about (``Asset.title``, ``Type.f(arg:)``)."""
    description = _LEAD.sub("", change.description)
    match = _COORDINATE.match(description)
    return match.group(0) if match else description


def latest_release(releases: Path) -> tuple[str, Path] | None:
    """The highest released version in ``releases`` and its schema file, if any."""
    found: list[tuple[tuple[int, int, int], Path]] = []
    for path in releases.glob("*.graphql"):
        match = _VERSION_FILE.match(path.name)
        if match:
            major, minor, patch = (int(part) for part in match.groups())
            found.append(((major, minor, patch), path))
    if not found:
        return None
    version, path = max(found)
    return ".".join(str(part) for part in version), path


def announced_breaking(changelog: str) -> set[str]:
    """Coordinates named in backticks under ``### Breaking`` of ``## Unreleased``."""
    unreleased = re.search(r"^## Unreleased\b(.*?)(?=^## |\Z)", changelog, re.M | re.S)
    if unreleased is None:
        return set()
    breaking = re.search(r"^### Breaking\b(.*?)(?=^### |\Z)", unreleased.group(1), re.M | re.S)
    if breaking is None:
        return set()
    return set(re.findall(r"`([^`]+)`", breaking.group(1)))


def _was_deprecated(schema: GraphQLSchema, coordinate: str) -> bool:
    """Whether ``coordinate`` (a field, argument or enum value) is deprecated in ``schema``."""
    match = re.fullmatch(r"(\w+)\.(\w+)(?:\((\w+):\))?", coordinate)
    if match is None:
        return False
    type_name, member, argument = match.groups()
    named = schema.get_type(type_name)
    if isinstance(named, GraphQLEnumType):
        value = named.values.get(member)
        return value is not None and value.deprecation_reason is not None
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        return False
    field = named.fields.get(member)
    if field is None:
        return False
    if argument is None:
        return getattr(field, "deprecation_reason", None) is not None
    arg = getattr(field, "args", {}).get(argument)
    return arg is not None and arg.deprecation_reason is not None


def check_evolution(*, released_sdl: str, current_sdl: str, changelog: str) -> list[Violation]:
    """Breaking changes from the released schema to the current one that the rules refuse."""
    released = build_schema(released_sdl)
    current = build_schema(current_sdl)
    announced = announced_breaking(changelog)
    violations: list[Violation] = []
    for change in find_breaking_changes(released, current):
        coordinate = coordinate_of(change)
        if change.type in _REMOVALS and not _was_deprecated(released, coordinate):
            violations.append(
                Violation(coordinate, change.description, "remove only what the last release deprecated")
            )
        elif coordinate not in announced:
            violations.append(
                Violation(
                    coordinate,
                    change.description,
                    "not listed under '### Breaking' in the Unreleased section of CHANGELOG.md",
                )
            )
    return violations

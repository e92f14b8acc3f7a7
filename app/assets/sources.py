"""Server files as ingestion sources: which ones may be read (inside an allowed root, checked
after resolving symlinks) and how a client sees their location (never the server's path)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from app.core.errors import InvalidInputError, PathNotAllowedError, UnreadableFileError


def resolve_allowed_path(path: Path, allowed_roots: list[Path]) -> Path:
    """``path`` with symlinks resolved, if it is a readable regular file inside an allowed root.

    Errors name the path as the caller gave it and never the roots, and a path outside the
    roots is refused whether it exists or not (no probing of the server's files).
    """
    text = str(path)
    if "\x00" in text:
        raise InvalidInputError("the path contains a null byte", field=["path"])
    try:
        os.fsencode(text)
    except UnicodeError as exc:
        raise InvalidInputError("the path is not valid text (an unpaired surrogate)", field=["path"]) from exc
    try:
        # Not strict first: the symlinks that exist are followed, so a link inside a root that
        # points outside it is refused, before anything reveals whether its target exists.
        candidate = path.expanduser().resolve(strict=False)
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a symlink loop
        raise UnreadableFileError(f"{path}: cannot be resolved", field=["path"]) from exc
    if not _inside(candidate, allowed_roots):
        raise PathNotAllowedError(f"{path}: outside the allowed ingestion roots", field=["path"])
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError as exc:
        raise UnreadableFileError(f"{path}: no such file", field=["path"]) from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path}: {exc.strerror or exc}", field=["path"]) from exc
    # Checked again after resolving strictly: the file may have been swapped for a link since.
    if not _inside(resolved, allowed_roots):
        raise PathNotAllowedError(f"{path}: outside the allowed ingestion roots", field=["path"])
    if not resolved.is_file():
        raise UnreadableFileError(f"{path}: not a regular file", field=["path"])
    return resolved


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def relative_source(source_uri: str | None, allowed_roots: list[Path]) -> str | None:
    """What a client sees of ``source_uri``: a URL as it is, a server file as its path relative
    to the ingestion root it lies in (its name alone when no root holds it any more)."""
    if source_uri is None or not source_uri.startswith("file://"):
        return source_uri
    path = Path(url2pathname(urlparse(source_uri).path))
    for root in allowed_roots:
        if root in path.parents:
            return path.relative_to(root).as_posix()
    return path.name

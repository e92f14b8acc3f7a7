"""Secrets a process keeps in files of mode 0600 under the data directory."""

from __future__ import annotations

import os
from pathlib import Path


def write_secret_file(path: Path, content: str) -> bool:
    """Create ``path`` holding ``content``, readable by its owner only; False when it exists
    already (it is never overwritten: another process may have written it first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once cannot both write; the mode applies from the
        # first byte, so the secret is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content + "\n")
    return True


def read_secret_file(path: Path) -> str:
    """The content of a secret file, without its trailing newline."""
    return path.read_text(encoding="utf-8").strip()

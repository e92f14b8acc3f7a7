"""The label-name vectors of a text model, stored on disk once per model version.

The image bridge mixes the embeddings of the 1,000 ImageNet label names; computing them is a
1,000-text embedding run (seconds on a busy CPU) that every new process used to pay inside its
first job's embed stage. The vectors depend only on the text model's version and the names,
so they are stored in ``<dir>/<name>__<version>__<names hash>.npy`` and read back by every
later process. A file that cannot be read or has the wrong shape is recomputed and replaced.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.registry import ModelSpec

log = logging.getLogger(__name__)


def vectors_path(directory: Path, spec: ModelSpec, names: Sequence[str]) -> Path:
    """Where the vectors of ``names`` under ``spec`` are stored."""
    digest = hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{spec.name}__{spec.version}__{digest}")
    return directory / f"{stem}.npy"


def read_vectors(path: Path, rows: int) -> npt.NDArray[np.float32] | None:
    """The stored matrix, or None when it is missing, unreadable or not ``rows`` finite rows."""
    try:
        matrix = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("label vectors %s unreadable (%s): recomputing", path, exc)
        return None
    if matrix.ndim != 2 or matrix.shape[0] != rows or not np.isfinite(matrix).all():
        log.warning("label vectors %s have shape %s, not %d rows: recomputing", path, matrix.shape, rows)
        return None
    return np.asarray(matrix, dtype=np.float32)


def write_vectors(path: Path, matrix: npt.NDArray[np.float32]) -> None:
    """Store ``matrix`` atomically (a concurrent reader sees the old file or the whole new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, matrix, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def stored_vectors(
    directory: Path | None,
    spec: ModelSpec,
    names: Sequence[str],
    compute: Callable[[], Awaitable[npt.NDArray[np.float32]]],
) -> npt.NDArray[np.float32]:
    """The vectors of ``names`` under ``spec``: read from ``directory`` when stored there,
    otherwise computed and (with a directory) stored. File I/O runs off the event loop."""
    import asyncio

    if directory is None:
        return await compute()
    path = vectors_path(directory, spec, names)
    stored = await asyncio.to_thread(read_vectors, path, len(names))
    if stored is not None:
        return stored
    matrix = await compute()
    try:
        await asyncio.to_thread(write_vectors, path, matrix)
    except OSError as exc:  # a read-only data dir costs the next process a recompute, nothing more
        log.warning("could not store label vectors at %s: %s", path, exc)
    return matrix

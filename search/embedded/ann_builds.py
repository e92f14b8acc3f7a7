"""HNSW graphs built in the background: a search never waits for a build (minutes at 100 000
vectors on a loaded 2-core machine). The field is searched exactly until its graph is ready,
then the store switches to it in one step.

One build per (generation, field) at a time in a process. Across processes, the builder holds
an ``flock`` on ``<ann dir>/g<id>-<field>-<tag>.lock``: a second process waiting for it then
loads the graph the first one saved (and replays the log after it) instead of building its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from search.documents import VectorField
from search.embedded import ann
from search.embedded.ann import AnnIndex
from search.embedded.schema import Generation

logger = logging.getLogger(__name__)

# Called in the build thread holding the file lock, before the build (tests hold a build there).
BuildHook = Callable[[Generation, VectorField], None]
# Receives the graph once it is built and up to date with the build's snapshot.
Publish = Callable[[AnnIndex], None]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GraphBuilds:
    """The background graph builds of one store."""

    def __init__(
        self,
        path: Path,
        busy_timeout_ms: int,
        directory: Path,
        hook: BuildHook | None = None,
        background: bool = True,
    ) -> None:
        # background=False builds in the calling thread (tests that must search the graph
        # from the first search on).
        self.background = background
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.directory = directory
        self.hook = hook
        self._running: dict[tuple[int, str, VectorField], threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, generation: Generation, field: VectorField, publish: Publish) -> bool:
        """Start building the graph of (generation, field) unless a build of it is under way
        (True if one was started)."""
        key = (generation.id, ann.generation_tag(generation), field)
        with self._lock:
            if key in self._running:
                return False
            # A daemon: closing the backend or the process does not wait minutes for a build;
            # an unfinished build leaves no file (saves are renamed into place).
            thread = threading.Thread(
                target=self._run,
                args=(key, generation, field, publish),
                name=f"ann-build-g{generation.id}-{field.value}",
                daemon=True,
            )
            self._running[key] = thread
        if self.background:
            thread.start()
        else:
            self._run(key, generation, field, publish)
        return True

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def wait(self) -> None:
        """Return once no build is under way (tests, benchmarks)."""
        while True:
            with self._lock:
                threads = list(self._running.values())
            if not threads:
                return
            for thread in threads:
                thread.join()

    def _run(
        self, key: tuple[int, str, VectorField], generation: Generation, field: VectorField, publish: Publish
    ) -> None:
        try:
            graph = AnnIndex(generation.spec.vectors[field].dims)
            with _file_lock(ann.lock_path(self.directory, generation, field)):
                if self.hook is not None:
                    self.hook(generation, field)
                connection = sqlite3.connect(
                    self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000
                )
                try:
                    # One snapshot: the graph holds exactly the vectors up to its vlog seq.
                    connection.execute("BEGIN")
                    try:
                        ann.sync_ann(connection, generation, field, graph, self.directory)
                    finally:
                        connection.execute("COMMIT")
                finally:
                    connection.close()
            publish(graph)
        except Exception:
            # The field stays exact; the next search past the threshold starts another build.
            logger.exception(
                "building the HNSW graph of generation %s field %s failed", generation.id, field.value
            )
        finally:
            with self._lock:
                self._running.pop(key, None)

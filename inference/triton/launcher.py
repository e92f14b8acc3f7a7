"""Start and stop the tritonserver of ``.venv-triton`` (tests, benchmarks, development).

Production runs Triton as its own deployment; this launcher exists so the tests and the
benchmark talk to the real server with this repository. It binds loopback only, picks free
ports, gives the python backend a shared-memory prefix of its own (two servers on one host
must not share regions), and always stops what it started: SIGTERM, then SIGKILL after the
server's own exit timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

from inference.triton.model_repository import REPOSITORY

SOURCE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENV = SOURCE_ROOT / ".venv-triton"


class TritonEnvironmentError(RuntimeError):
    """The server environment is missing or broken (build it with ``make triton-env``)."""


@dataclass(frozen=True, slots=True)
class TritonEnvironment:
    """Paths written by scripts/triton-env.sh into ``triton-env.json``."""

    tritonserver: Path
    backend_directory: Path
    cache_directory: Path
    ld_library_path: tuple[str, ...]
    python_bin: Path

    @classmethod
    def load(cls, env_dir: Path = DEFAULT_ENV) -> TritonEnvironment:
        """Read the environment description in ``env_dir`` (``make triton-env`` builds
        ``.venv-triton`` in the checkout); raise :class:`TritonEnvironmentError` if unusable."""
        meta = env_dir / "triton-env.json"
        if not meta.is_file():
            raise TritonEnvironmentError(
                f"{meta} is missing: run `make triton-env` (log: var/triton-env.log)"
            )
        data = json.loads(meta.read_text())
        env = cls(
            tritonserver=Path(data["tritonserver"]),
            backend_directory=Path(data["backend_directory"]),
            cache_directory=Path(data["cache_directory"]),
            ld_library_path=tuple(data["ld_library_path"]),
            python_bin=Path(data["python_bin"]),
        )
        stub = env.backend_directory / "python" / "triton_python_backend_stub"
        for path in (env.tritonserver, stub, env.python_bin / "python3"):
            if not path.exists():
                raise TritonEnvironmentError(f"{path} is missing: rebuild with `make triton-env`")
        return env


def _die_with_parent() -> None:
    # Runs in the child before exec: ask Linux to SIGTERM the server when the process that
    # started it dies, so a killed test run or benchmark never leaves a server behind.
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class Ports:
    """HTTP, gRPC and metrics ports of one server."""

    http: int
    grpc: int
    metrics: int

    @classmethod
    def pick(cls) -> Ports:
        """Three distinct free loopback ports."""
        chosen: set[int] = set()
        while len(chosen) < 3:
            chosen.add(free_port())
        http, grpc, metrics = sorted(chosen)
        return cls(http, grpc, metrics)


@dataclass
class TritonServer:
    """One tritonserver process on loopback ports."""

    env: TritonEnvironment
    repository: Path = REPOSITORY
    ports: Ports = field(default_factory=Ports.pick)
    # Loopback unless told otherwise (tritonserver itself binds 0.0.0.0 when not told).
    host: str = "127.0.0.1"
    # None loads every model of the repository; otherwise only these (explicit control mode).
    models: tuple[str, ...] | None = None
    # Torch-based stubs take a few seconds each to unload; 5 s cuts the unload short.
    exit_timeout_s: int = 20
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    shm_prefix: str = field(default_factory=lambda: f"mkg{os.getpid()}_{uuid.uuid4().hex[:8]}_")

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP endpoint."""
        return f"{self.host}:{self.ports.http}"

    @property
    def grpc_url(self) -> str:
        """host:port of the gRPC endpoint."""
        return f"{self.host}:{self.ports.grpc}"

    @property
    def metrics_url(self) -> str:
        """Prometheus metrics endpoint."""
        return f"http://{self.host}:{self.ports.metrics}/metrics"

    def command(self) -> list[str]:
        """The tritonserver command line."""
        env = self.env
        cmd = [
            str(env.tritonserver),
            f"--model-repository={self.repository}",
            f"--backend-directory={env.backend_directory}",
            f"--cache-directory={env.cache_directory}",
            # It binds 0.0.0.0 unless told otherwise.
            f"--http-address={self.host}",
            f"--grpc-address={self.host}",
            f"--metrics-address={self.host}",
            f"--http-port={self.ports.http}",
            f"--grpc-port={self.ports.grpc}",
            f"--metrics-port={self.ports.metrics}",
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            f"--exit-timeout-secs={self.exit_timeout_s}",
            "--log-verbose=0",
        ]
        if self.models is not None:
            cmd.append("--model-control-mode=explicit")
            cmd += [f"--load-model={name}" for name in self.models]
        return cmd

    def environment(self) -> dict[str, str]:
        """The server's environment: the stub imports from the python3 first on PATH."""
        env = dict(os.environ)
        env["PATH"] = f"{self.env.python_bin}{os.pathsep}{env.get('PATH', '')}"
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            [*self.env.ld_library_path, *filter(None, [env.get("LD_LIBRARY_PATH")])]
        )
        env["MEDIAKG_SOURCE_ROOT"] = str(SOURCE_ROOT)
        # The service's virtualenv must not leak into the stub's imports.
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        env.update(self.extra_env)
        return env

    def start(self, *, timeout_s: float = 180.0) -> Self:
        """Start the server and wait until ``/v2/health/ready`` says every model is loaded."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("server already running")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            env=self.environment(),
            stdout=self._log if self._log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C meant for pytest does not half-kill it, and
            # stop() reaches the python stubs it spawned.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def is_ready(self) -> bool:
        """True when the HTTP endpoint answers ready."""
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=1.0) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float) -> None:
        """Poll readiness; fail early if the process exits (a taken port, a model that fails to load)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited before it was ready; log: {self.log_path}")
            if self.is_ready():
                return
            time.sleep(0.25)
        raise TimeoutError(f"tritonserver not ready after {timeout_s:.0f}s; log: {self.log_path}")

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def stop(self, *, sig: signal.Signals = signal.SIGTERM) -> int | None:
        """Stop the server; returns its exit code.

        SIGTERM goes to the server alone, which unloads its models and stops its stubs itself;
        SIGKILL (a crash, for fallback tests) goes to the whole group, stubs included. Either
        way nothing is left running: a server that outlives its exit timeout is killed.
        """
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if sig == signal.SIGKILL:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    os.kill(process.pid, sig)
            try:
                process.wait(timeout=self.exit_timeout_s + 15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Stubs of a killed server would otherwise linger in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        # A killed server leaves its python-backend shared-memory regions behind.
        for region in Path("/dev/shm").glob(f"{self.shm_prefix}*"):
            with contextlib.suppress(OSError):
                region.unlink()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return process.returncode

    def restart(self, *, timeout_s: float = 180.0) -> Self:
        """Start again on the same ports (clients keep their URLs)."""
        self.stop()
        return self.start(timeout_s=timeout_s)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

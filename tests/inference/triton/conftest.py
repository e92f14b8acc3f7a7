"""A real tritonserver for the Triton tests: the one bundled in nvidia-pytriton, run from
``.venv-triton`` (``make triton-env`` builds it) with this repository's model repository.

The session server loads every model once (~30-60 s on 2 cores) and is stopped with SIGTERM at
the end of the session whatever happens; the failover tests start servers of their own, since
they kill them. Tests skip only when the server environment was not built, and say why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.core.settings import get_settings
from app.core.telemetry.metrics import Metrics
from app.entrypoints.bootstrap import triton_environment
from inference.triton.client import TritonBackend, TritonConfig
from inference.triton.launcher import TritonEnvironment, TritonEnvironmentError, TritonServer
from tests.fixtures.required import skip_unless_required
from tests.telemetry.helpers import fresh_metrics

# Long enough for whisper base on a few seconds of speech on a loaded 2-core CI machine.
CALL_TIMEOUT_S = 120.0


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """Fresh process metrics for one test (Triton's scraped gauges and GPU time land here)."""
    with fresh_metrics() as fresh:
        yield fresh


@pytest.fixture(scope="session")
def triton_env() -> TritonEnvironment:
    """The built server environment, or skip with the reason it is unusable."""
    try:
        return triton_environment(get_settings())
    except TritonEnvironmentError as exc:
        skip_unless_required(f"Triton server environment not built: {exc}")


@pytest.fixture(scope="session")
def triton_server(
    triton_env: TritonEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TritonServer]:
    """tritonserver with every model of inference/model_repository, on free loopback ports."""
    log = tmp_path_factory.mktemp("triton") / "tritonserver.log"
    server = TritonServer(triton_env, log_path=log)
    server.start(timeout_s=400)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["grpc", "http"])
async def triton(request: pytest.FixtureRequest, triton_server: TritonServer) -> AsyncIterator[TritonBackend]:
    """A started Triton backend (validated, warmed up) over gRPC and over HTTP."""
    url = (
        f"grpc://{triton_server.grpc_url}" if request.param == "grpc" else f"http://{triton_server.http_url}"
    )
    backend = TritonBackend(TritonConfig(url=url, timeout_s=CALL_TIMEOUT_S, warmup=False))
    await backend.start()
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture
async def triton_grpc(triton_server: TritonServer) -> AsyncIterator[TritonBackend]:
    """A started gRPC Triton backend."""
    backend = TritonBackend(TritonConfig(url=f"grpc://{triton_server.grpc_url}", timeout_s=CALL_TIMEOUT_S))
    await backend.start()
    try:
        yield backend
    finally:
        await backend.aclose()


def server_log_tail(path: Path | None, lines: int = 30) -> str:
    """The end of a server log, for assertion messages."""
    if path is None or not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

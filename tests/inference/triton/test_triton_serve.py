"""`mediakg triton serve`: the bundled server on the ports settings name, its log under the
data dir, the two settings to use it printed, a clean stop on SIGTERM, and refusals before any
start when the environment is missing or a port is taken."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.triton.launcher import Ports, TritonEnvironment
from tests.fixtures.processes import Process

pytestmark = pytest.mark.models

SMALL_MODEL = "haar-frontalface__default-1"


def _env(tmp_path: Path, ports: Ports, **env: str) -> dict[str, str]:
    return {
        **os.environ,
        "MEDIAKG_DATA_DIR": str(tmp_path / "data"),
        "MEDIAKG_TRITON_HTTP_PORT": str(ports.http),
        "MEDIAKG_TRITON_GRPC_PORT": str(ports.grpc),
        "MEDIAKG_TRITON_METRICS_PORT": str(ports.metrics),
        **env,
    }


def _command(tmp_path: Path, ports: Ports, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.entrypoints.cli", "triton", "serve", *args],
        env=_env(tmp_path, ports, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A loopback port something already listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock
    finally:
        sock.close()


def test_serves_on_the_configured_ports_and_stops_on_sigterm(
    tmp_path: Path, triton_env: TritonEnvironment
) -> None:
    ports = Ports.pick()
    # Its output goes to a file polled against a deadline: a blocking readline of a pipe
    # would outwait any deadline if the server hung silently, and an unread stderr pipe can
    # fill and stall the process.
    process = Process(
        ["triton", "serve", "--model", SMALL_MODEL],
        _env(tmp_path, ports),
        tmp_path / "triton-serve.log",
        cwd=tmp_path,
    )
    try:
        process.wait_until(
            lambda: re.search(r"^log: ", process.output(), re.M) is not None,
            within=600,
            what="mediakg triton serve",
        )
        printed = process.output()
        assert f"MEDIAKG_INFERENCE_URL=grpc://127.0.0.1:{ports.grpc}" in printed, printed
        assert f"MEDIAKG_TRITON_METRICS_URL=http://127.0.0.1:{ports.metrics}/metrics" in printed
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.http}/v2/health/ready", timeout=5) as ready:
            assert ready.status == 200
        with urllib.request.urlopen(
            f"http://127.0.0.1:{ports.http}/v2/models/{SMALL_MODEL}/ready", timeout=5
        ) as model:
            assert model.status == 200
        log = tmp_path / "data" / "logs" / "tritonserver.log"
        assert log.is_file()
        assert not (tmp_path / "tritonserver.log").exists()
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=90) == 0
        with pytest.raises(urllib.error.URLError, match="refused"):
            urllib.request.urlopen(f"http://127.0.0.1:{ports.http}/v2/health/live", timeout=2)
    finally:
        process.close()


def test_a_taken_port_is_refused_before_the_start(
    tmp_path: Path, triton_env: TritonEnvironment, listening: socket.socket
) -> None:
    taken = int(listening.getsockname()[1])
    ports = Ports.pick()
    process = _command(tmp_path, Ports(ports.http, taken, ports.metrics))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "MEDIAKG_TRITON_GRPC_PORT" in stderr
    assert str(taken) in stderr
    assert not (tmp_path / "data" / "logs" / "tritonserver.log").exists()


def test_a_missing_environment_names_the_build_command(tmp_path: Path) -> None:
    process = _command(tmp_path, Ports.pick(), MEDIAKG_TRITON_ENV_DIR=str(tmp_path / "nowhere"))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "make triton-env" in stderr

"""``mediakg triton serve``: the bundled Triton Inference Server on fixed ports from settings.

The path between the embedded default and Kubernetes (docs/operations.md): one tritonserver
process from the environment ``make triton-env`` builds (``triton_env_dir``), bound to
``triton_host`` on ``triton_http_port`` / ``triton_grpc_port`` / ``triton_metrics_port``, its log
under the data dir. It prints the two settings the service needs to use it, runs until SIGTERM
or Ctrl-C, and exits non-zero (naming its log) when the server dies on its own.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from app.core.settings import Settings, get_settings
from app.entrypoints.bootstrap import triton_environment
from inference.triton.launcher import Ports, TritonEnvironmentError, TritonServer

app = typer.Typer(help="The bundled Triton Inference Server (`make triton-env`).", no_args_is_help=True)

_PORT_SETTINGS = (
    ("triton_http_port", "MEDIAKG_TRITON_HTTP_PORT"),
    ("triton_grpc_port", "MEDIAKG_TRITON_GRPC_PORT"),
    ("triton_metrics_port", "MEDIAKG_TRITON_METRICS_PORT"),
)


def log_path(settings: Settings) -> Path:
    """Where the server's log goes: under the data dir, never into the checkout."""
    return Path(settings.data_dir).resolve() / "logs" / "tritonserver.log"


def port_problem(settings: Settings) -> str | None:
    """A sentence naming the first configured port that is taken or repeated, else ``None``.

    Checked before the start: tritonserver loads every model first and only then exits on a
    taken port, with the reason deep in its log.
    """
    seen: dict[int, str] = {}
    for name, variable in _PORT_SETTINGS:
        port = int(getattr(settings, name))
        if port in seen:
            return f"{variable} and {seen[port]} are both {port}: each endpoint needs a port of its own"
        seen[port] = variable
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((settings.triton_host, port))
            except OSError as exc:
                return (
                    f"{settings.triton_host}:{port} ({variable}) is not free ({exc.strerror}): "
                    f"stop what holds it or set {variable}"
                )
    return None


def usage_lines(server: TritonServer, log: Path) -> list[str]:
    """What the operator sets on every mediakg process to use this server."""
    return [
        f"tritonserver ready: grpc {server.grpc_url}, http {server.http_url}, metrics {server.metrics_url}",
        "set on every mediakg process (serve and worker) to use it:",
        f"  MEDIAKG_INFERENCE_URL=grpc://{server.grpc_url}",
        f"  MEDIAKG_TRITON_METRICS_URL={server.metrics_url}",
        f"log: {log}; SIGTERM or Ctrl-C stops it",
    ]


@app.command("serve")
def serve(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Triton model (directory of inference/model_repository) to load; repeatable; default all.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for every model to load.")] = 600.0,
) -> None:
    """Run the bundled tritonserver on the configured ports until SIGTERM or Ctrl-C."""
    settings = get_settings()
    try:
        env = triton_environment(settings)
    except TritonEnvironmentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if problem := port_problem(settings):
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    log = log_path(settings)
    server = TritonServer(
        env,
        ports=Ports(settings.triton_http_port, settings.triton_grpc_port, settings.triton_metrics_port),
        host=settings.triton_host,
        models=tuple(model) if model else None,
        log_path=log,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    typer.echo(f"starting tritonserver from {env.tritonserver.parent.parent} (log: {log})", err=True)
    try:
        server.start(timeout_s=timeout)
    except (RuntimeError, TimeoutError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        for line in usage_lines(server, log):
            typer.echo(line)
        sys.stdout.flush()
        while not stop.wait(0.5):
            if not server.running:
                typer.echo(f"error: tritonserver exited on its own; see {log}", err=True)
                raise typer.Exit(1)
    finally:
        server.stop()

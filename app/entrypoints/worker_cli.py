"""``mediakg worker`` and ``mediakg dead-letters``.

Mount with ``cli.add_typer(app.entrypoints.worker_cli.app)`` (no name: the commands join the top level).
``python -m app.entrypoints.worker_cli worker ...`` runs the same command without the main CLI.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from app.core.settings import Settings, get_settings
from app.jobs.service import QUEUES
from jobs.registry import DEFAULT_STAGE_MODULES

app = typer.Typer(help="Job workers.", no_args_is_help=True)
log = logging.getLogger("jobs.worker")

# A worker process that dies this soon after a restart is not restarted again at once.
_RESTART_BACKOFF_S = 1.0
# Exit code of a worker process that refuses to start on its configuration (a model server
# that disagrees with the registry): sysexits' EX_CONFIG. The supervisor does not restart it.
EXIT_CONFIG = 78


@app.command()
def worker(
    processes: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: MEDIAKG_WORKER_PROCESSES).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Threads per process (default: MEDIAKG_WORKER_THREADS).")
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to consume (repeatable; default: all).")
    ] = None,
    stage_module: Annotated[
        list[str] | None,
        typer.Option(help="Extra module whose register_stages(registry) adds stage implementations."),
    ] = None,
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds in-flight stages get to finish on shutdown before release.")
    ] = 30.0,
) -> None:
    """Consume stage messages until SIGTERM/SIGINT, then finish or release in-flight stages."""
    settings = get_settings()
    if settings.broker_url.startswith("memory://"):
        typer.echo(
            "error: MEDIAKG_BROKER_URL is memory:// (in-process): its workers run inside `mediakg serve`; "
            "a separate worker needs redis:// or amqp://",
            err=True,
        )
        raise typer.Exit(2)
    if problem := settings.pubsub_problem():
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    queues = list(queue or [])
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        typer.echo(f"error: unknown queue(s) {', '.join(unknown)}: use {', '.join(QUEUES)}", err=True)
        raise typer.Exit(2)
    modules = [*DEFAULT_STAGE_MODULES, *(stage_module or [])]
    count = processes or settings.worker_processes
    nthreads = threads or settings.worker_threads
    if count == 1:
        raise typer.Exit(run_worker_process(nthreads, queues, modules, grace))
    raise typer.Exit(_supervise(count, nthreads, queues, modules, grace))


def run_worker_process(
    threads: int, queues: list[str], modules: list[str], grace: float, index: int = 0
) -> int:
    """One worker process: run until a signal, then stop gracefully. Its exit code.

    ``index`` numbers the processes of one ``--processes N`` supervisor: process i serves its
    metrics on ``metrics_port + i`` (they cannot share a port; 0 stays 0, any free port)."""
    from app.core.telemetry import configure_telemetry, shutdown_telemetry, start_metrics_server
    from app.entrypoints.bootstrap import InferenceStartupError
    from app.entrypoints.job_system import job_runtime

    settings = get_settings()
    # First: every span, metric and log record of the process goes where the settings say.
    configure_telemetry(settings, role="worker")
    port = settings.metrics_port + index if settings.metrics_port else 0
    try:
        metrics_server = start_metrics_server(settings.metrics_host, port)
    except OSError as exc:
        # Two workers on one host (a developer machine; pods have a port each): the second
        # one still works, its metrics on a free port rather than nowhere.
        metrics_server = start_metrics_server(settings.metrics_host, 0)
        log.warning("metrics port %d unavailable (%s); using %d", port, exc.strerror, metrics_server.port)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, metrics_server.port)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            # A second signal: the operator wants out now; leases expire and the sweeper
            # of another process re-sends the stages.
            log.warning("second signal: exiting without releasing in-flight stages")
            sys.exit(1)
        log.info("signal %s: stopping (in-flight stages get %.0f s)", signal.Signals(signum).name, grace)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runtime = job_runtime(settings, stage_modules=modules, threads=threads, queues=queues or None)
    try:
        try:
            runtime.start()
        except InferenceStartupError as exc:
            log.error("%s", exc)
            return EXIT_CONFIG
        log.info("worker ready")
        while not stop.wait(1.0):
            pass
        runtime.stop(grace)
    finally:
        metrics_server.stop()
        shutdown_telemetry()
    return 0


def _worker_process_main(
    threads: int, queues: list[str], modules: list[str], grace: float, index: int
) -> None:
    """Target of a supervised process: its exit code is run_worker_process's."""
    sys.exit(run_worker_process(threads, queues, modules, grace, index))


def _supervise(count: int, threads: int, queues: list[str], modules: list[str], grace: float) -> int:
    """Run ``count`` worker processes; restart one that dies; forward SIGTERM/SIGINT."""
    from app.core.telemetry import configure_logging

    configure_logging(get_settings())  # the same JSON lines as the workers it starts
    # spawn: a fresh interpreter per worker; forking a process with threads and pools is unsafe.
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker_process_main, args=(threads, queues, modules, grace, index), daemon=False
        )
        process.start()
        return process

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for process in children:
            if process.is_alive() and process.pid is not None:
                try:
                    os.kill(process.pid, signum)
                except ProcessLookupError:
                    pass

    children = [start(i) for i in range(count)]
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    started = [time.monotonic()] * count
    while not stopping.is_set():
        time.sleep(0.5)
        for i, process in enumerate(children):
            if not process.is_alive() and process.exitcode == EXIT_CONFIG and not stopping.is_set():
                # Restarting cannot help: every process would refuse the same way.
                log.error("worker process %s refused to start (configuration); stopping", process.pid)
                _on_signal(signal.SIGTERM, None)
                break
            if not process.is_alive() and not stopping.is_set():
                log.error("worker process %s exited with %s; restarting", process.pid, process.exitcode)
                if time.monotonic() - started[i] < _RESTART_BACKOFF_S:
                    time.sleep(_RESTART_BACKOFF_S)
                children[i] = start(i)
                started[i] = time.monotonic()
    for process in children:
        process.join(grace + 60)
    return max((p.exitcode or 0) for p in children)


@app.command("dead-letters")
def dead_letters_command(
    queue: Annotated[
        str, typer.Option("--queue", "-q", help="Queue whose dead letters to list.")
    ] = "realtime",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most recent messages to show.")] = 50,
    server: Annotated[
        str | None,
        typer.Option(
            help="A mediakg server: list its failed jobs through the API instead.", show_default=False
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="File holding the API key (default: MEDIAKG_API_KEY).", show_default=False),
    ] = None,
) -> None:
    """List the dead-lettered stage messages of a queue (job id, stage, retries, last error).

    Nothing is consumed: RabbitMQ's dead letters are read and handed back in their order. With
    --server (or MEDIAKG_SERVER), the jobs whose stage was dead-lettered (status FAILED) are
    listed through the API instead, with each stage's state and error code."""
    from jobs.broker import build_broker, dead_letters

    settings = get_settings()
    if server or settings.server:
        _remote_dead_letters(settings, server, api_key_file, limit=limit)
        return
    broker = build_broker(settings, time_limit_s=settings.stage_time_limit_seconds)
    try:
        messages = dead_letters(broker, queue, limit=limit)
    except NotImplementedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # the broker is unreachable (redis or pika connection errors)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        typer.echo(f"error: cannot read the dead letters of {queue}: {reason}", err=True)
        raise typer.Exit(1) from None
    finally:
        broker.close()
    if not messages:
        typer.echo(f"no dead letters on {queue}")
        return
    for message in messages:
        trace = str(message.options.get("traceback") or "").strip().splitlines()
        typer.echo(
            f"{message.message_id} job={message.kwargs.get('job_id')} stage={message.kwargs.get('stage')} "
            f"retries={message.options.get('retries', 0)} error={trace[-1] if trace else '-'}"
        )


if __name__ == "__main__":
    app()


def _remote_dead_letters(
    settings: Settings, server: str | None, api_key_file: Path | None, *, limit: int
) -> None:
    from app.client.enums import JobStatus
    from app.entrypoints.remote import RemoteError, job_lines, resolve_remote

    try:
        remote = resolve_remote(settings, server=server, api_key_file=api_key_file, local_fallback=False)
        assert remote is not None  # a server was given
        typer.echo(remote.describe(), err=True)
        lines = job_lines(remote, statuses=[JobStatus.FAILED], first=min(limit, 100))
    except RemoteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in lines:
        typer.echo(line)

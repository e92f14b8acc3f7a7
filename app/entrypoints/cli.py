"""The `mediakg` command line: serve, ingest, worker, db, blobs, schema, search, models, keys, triton."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.client.enums import JobQuality, JobStatus, PipelineStage, SearchMode
from app.core.container import Services
from app.core.db import DatabaseUnavailableError
from app.core.errors import DomainError
from app.core.settings import get_settings
from app.entrypoints import keys_cli as _keys_cli
from app.entrypoints import search_cli as _search_cli
from app.entrypoints import triton_cli as _triton_cli
from app.entrypoints import worker_cli as _jobs_cli
from app.entrypoints.bootstrap import build_services
from app.entrypoints.lifecycle import prepare
from app.entrypoints.remote import (
    Remote,
    RemoteError,
    follow_jobs,
    job_lines,
    resolve_remote,
    search_lines,
    upload_files,
)
from app.entrypoints.remote import reprocess as remote_reprocess
from inference import cli as _inference_cli

cli = typer.Typer(name="mediakg", help="GraphQL-first media knowledge service.", no_args_is_help=True)
db_cli = typer.Typer(help="Database migrations.", no_args_is_help=True)
schema_cli = typer.Typer(help="The GraphQL schema contract (graphql/schema.graphql).", no_args_is_help=True)
blobs_cli = typer.Typer(help="The blob store.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(blobs_cli, name="blobs")
# `mediakg worker` and `mediakg dead-letters` (no group name: they join the top level).
cli.add_typer(_jobs_cli.app)
cli.add_typer(_inference_cli.app, name="models")
cli.add_typer(schema_cli, name="schema")
cli.add_typer(_search_cli.app, name="search")
cli.add_typer(_keys_cli.app, name="keys")
cli.add_typer(_triton_cli.app, name="triton")

err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default: settings).")] = None,
) -> None:
    """Run the API (and, on the embedded default, the workers) until interrupted."""
    import logging

    import uvicorn

    from app.core.telemetry import configure_telemetry, shutdown_telemetry
    from app.core.telemetry.logging import RedactingFilter
    from app.entrypoints.asgi import create_app, default_start_hooks, freeze_heap_hook, server_limits

    settings = get_settings()
    bind = host or settings.host
    if settings.auth_disabled and not _keys_cli.is_loopback(bind):
        raise _fail(
            f"MEDIAKG_AUTH_DISABLED=true is only allowed when serving on loopback, not on {bind}: "
            "anyone who can reach the port could act as the administrator (docs/security.md)"
        )
    if problem := settings.pubsub_problem():
        raise _fail(problem)
    # Before anything opens a span or logs: JSON logs, the exporters, metrics and prices.
    configure_telemetry(settings, role="api")
    # Access-log records carry the raw path and query string (GET /graphql?variables=...):
    # redacted at the source, so any handler an operator attaches sees them redacted too.
    logging.getLogger("uvicorn.access").addFilter(RedactingFilter())
    services = build_services(settings)

    # Fail fast with one clear line, before uvicorn would print a lifespan traceback.
    async def start() -> tuple[Path, bool] | None:
        try:
            await prepare(services)
            return await _keys_cli.first_start_key(services)
        finally:
            # In the same loop: asyncpg connections belong to the loop that opened them (closing
            # them from another loop fails); uvicorn's loop opens fresh ones.
            await services.engine.dispose()

    try:
        key_file = asyncio.run(start())
    except DatabaseUnavailableError as exc:
        raise _fail(str(exc)) from None
    _announce_key(key_file, bind, port if port is not None else settings.port, settings.auth_disabled)
    hooks = [*default_start_hooks(settings), freeze_heap_hook]
    app = create_app(settings, services=services, start_hooks=hooks)
    try:
        uvicorn.run(
            app,
            host=bind,
            port=port if port is not None else settings.port,
            log_level=settings.log_level.lower(),
            lifespan="on",
            # No logging config of uvicorn's own: its records reach the JSON root handler.
            log_config=None,
            **server_limits(settings),
        )
    finally:
        shutdown_telemetry()


def _announce_key(key_file: tuple[Path, bool] | None, host: str, port: int, auth_disabled: bool) -> None:
    """Tell the operator where the admin key is (never the key itself) and how to use it."""
    if auth_disabled:
        err.print(
            "[bold yellow]warning:[/] authentication is disabled (MEDIAKG_AUTH_DISABLED); loopback only"
        )
        return
    if key_file is None:
        err.print("API keys are required; create one with `mediakg keys create` (docs/security.md)")
        return
    path, created = key_file
    state = "was written to" if created else "is in"
    shown = f"[{host}]" if ":" in host else host
    err.print(
        f"the admin API key {state} {path} (mode 0600); send it as a bearer token:\n"
        f'  curl -H "Authorization: Bearer $(cat {path})" -H "content-type: application/json" '
        f'-d \'{{"query": "{{ systemStatus {{ workersAlive }} }}"}}\' http://{shown}:{port}/graphql',
        highlight=False,
        soft_wrap=True,
    )
    # The key rides in the link only to a person at a terminal on a loopback bind: output
    # that goes to a file or a log collector never carries it (docs/security.md).
    private = _keys_cli.is_loopback(host) and sys.stderr.isatty()
    link = _explorer_link(path, shown, port, private=private)
    err.print(f"the explorer: {link}", highlight=False, markup=False, soft_wrap=True)


def _explorer_link(key_path: Path, host: str, port: int, *, private: bool) -> str:
    """The explorer's address; when ``private`` (a loopback bind, printed to a terminal) with the
    admin key in its fragment (a fragment never reaches the server or its access log; the app
    moves it into the tab's session storage), otherwise without it: output that is not a
    terminal may end up in a shared log."""
    base = f"http://{host}:{port}/"
    if not private:
        return f"{base} (paste the admin key from {key_path} when it asks)"
    try:
        key = key_path.read_text(encoding="utf-8").strip()
    except OSError:
        return base
    return f"{base}#key={key}"


ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Base URL of a mediakg server: work through its API (default: MEDIAKG_SERVER).",
        show_default=False,
    ),
]
ApiKeyFileOption = Annotated[
    Path | None,
    typer.Option(help="File holding the API key (default: MEDIAKG_API_KEY).", show_default=False),
]


def _remote(server: str | None, api_key_file: Path | None, *, local_fallback: bool) -> Remote | None:
    """The server of a command (None: direct mode), its mode line printed first."""
    try:
        remote = resolve_remote(
            get_settings(), server=server, api_key_file=api_key_file, local_fallback=local_fallback
        )
    except RemoteError as exc:
        raise _fail(str(exc)) from None
    if remote is not None:
        err.print(remote.describe(), highlight=False, markup=False, soft_wrap=True)
    return remote


@cli.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files to register.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag to attach (repeatable).")] = None,
    queue: Annotated[str, typer.Option(help="Queue: realtime or batch (direct mode).")] = "batch",
    server: ServerOption = None,
    api_key_file: ApiKeyFileOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the jobs until they end (remote).")] = False,
) -> None:
    """Register files and start their pipelines: uploaded to --server, or (direct mode, no
    server) registered in place from inside the allowed roots."""
    remote = _remote(server, api_key_file, local_fallback=False)
    if remote is not None:
        raise typer.Exit(_ingest_remote(remote, paths, tags=tag or [], wait=wait))
    from app.core.telemetry import configure_telemetry, shutdown_telemetry

    settings = get_settings()
    err.print(
        f"mode: direct (database {_redacted(settings.database_url)})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    configure_telemetry(settings, role="cli")
    try:
        code = asyncio.run(_ingest(paths, tags=tag or [], queue=queue))
    finally:
        shutdown_telemetry()
    raise typer.Exit(code)


async def _ingest(paths: list[Path], *, tags: list[str], queue: str) -> int:
    from app.entrypoints.job_system import sender

    settings = get_settings()
    services = build_services(settings)
    try:
        try:
            tenant_id = await prepare(services)
        except DatabaseUnavailableError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            return 2
        with sender(settings) as enqueuer:
            services.enqueuer = enqueuer
            failures = await _ingest_each(services, tenant_id, paths, tags=tags, queue=queue)
    finally:
        await services.aclose()
    return 1 if failures else 0


async def _ingest_each(
    services: Services, tenant_id: uuid.UUID, paths: list[Path], *, tags: list[str], queue: str
) -> int:
    """Register each path in its own transaction (jobs sent after each commit); the failures."""
    from app.assets.service import ingest_path

    failures = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("ingesting", total=len(paths))
        for path in paths:
            try:
                async with services.session_factory() as session:
                    result = await ingest_path(
                        session,
                        services=services,
                        tenant_id=tenant_id,
                        path=path,
                        actor="cli",
                        tags=tags,
                        queue=queue,
                    )
                    await session.commit()
            except DomainError as exc:
                failures += 1
                reason = exc.message.removeprefix(f"{path}: ")
                progress.console.print(
                    f"[red]✗[/] {path}: {reason} ({exc.code})", highlight=False, soft_wrap=True
                )
            else:
                state = "registered" if result.created else "already registered"
                job = f" job {result.job.id}" if result.job is not None else ""
                progress.console.print(
                    f"[green]✓[/] {path}: {state} asset {result.asset.id} ({result.asset.kind}){job}",
                    highlight=False,
                    soft_wrap=True,
                )
            progress.advance(task)
    return failures


def _ingest_remote(remote: Remote, paths: list[Path], *, tags: list[str], wait: bool) -> int:
    try:
        results = upload_files(remote, paths, tags=tags, console=err)
        for result in results:
            mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
            err.print(f"{mark} ", end="")
            err.print(result.line, highlight=False, markup=False, soft_wrap=True)
        jobs = [r.job_id for r in results if r.job_id is not None]
        ended = follow_jobs(remote, jobs, console=err) if wait and jobs else {}
    except RemoteError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    for job_id, status in ended.items():
        out.print(f"job {job_id} {status}", highlight=False)
    failed = any(not r.ok for r in results) or any(s != "SUCCEEDED" for s in ended.values())
    return 1 if failed else 0


def _redacted(url: str) -> str:
    """A database URL without its password, for the mode line."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by the engine itself, later
        return "(unparsable URL)"


@cli.command()
def jobs(
    status: Annotated[
        list[JobStatus] | None,
        typer.Option("--status", "-s", case_sensitive=False, help="Only jobs in this state (repeatable)."),
    ] = None,
    first: Annotated[int, typer.Option(min=1, max=100, help="How many jobs, newest first.")] = 20,
    server: ServerOption = None,
    api_key_file: ApiKeyFileOption = None,
) -> None:
    """List jobs with their stages, through the API (this machine's server by default)."""
    remote = _remote(server, api_key_file, local_fallback=True)
    assert remote is not None  # local_fallback always finds a server
    try:
        for line in job_lines(remote, statuses=status, first=first):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    except RemoteError as exc:
        raise _fail(str(exc)) from None


@cli.command()
def reprocess(
    asset_id: Annotated[str, typer.Argument(help="The asset's id (as the API shows it).")],
    stage: Annotated[
        list[PipelineStage] | None,
        typer.Option("--stage", case_sensitive=False, help="Stage to re-run (repeatable; default all)."),
    ] = None,
    quality: Annotated[
        JobQuality,
        typer.Option(
            case_sensitive=False,
            help="ROUTED: the batch queue's route; ACCURATE: the accurate models (an upgrade); "
            "ESCALATION: only the stored transcript's unsure spans on the accurate model.",
        ),
    ] = JobQuality.ROUTED,
    server: ServerOption = None,
    api_key_file: ApiKeyFileOption = None,
) -> None:
    """Re-run stages of an asset (and everything downstream), through the API."""
    remote = _remote(server, api_key_file, local_fallback=True)
    assert remote is not None
    try:
        ok, line = remote_reprocess(remote, asset_id, stages=stage, quality=quality)
    except RemoteError as exc:
        raise _fail(str(exc)) from None
    (out if ok else err).print(line, highlight=False, markup=False)
    raise typer.Exit(0 if ok else 1)


@_search_cli.app.command("query")
def search_query(
    text: Annotated[str, typer.Argument(help="Words or a sentence to find.")],
    mode: Annotated[
        SearchMode, typer.Option(case_sensitive=False, help="TEXT, SEMANTIC or HYBRID.")
    ] = SearchMode.HYBRID,
    first: Annotated[int, typer.Option(min=1, max=100, help="How many hits.")] = 10,
    server: ServerOption = None,
    api_key_file: ApiKeyFileOption = None,
) -> None:
    """Search moments through the API (this machine's server by default); best first."""
    remote = _remote(server, api_key_file, local_fallback=True)
    assert remote is not None
    try:
        lines = search_lines(remote, text, mode=mode, first=first)
    except RemoteError as exc:
        raise _fail(str(exc)) from None
    for line in lines:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    if not lines:
        err.print("no hit", highlight=False)


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION."""
    from app.core import migrate

    url = get_settings().database_url
    migrate.upgrade(url, revision)
    out.print(f"database at revision {migrate.current(url)}", highlight=False)


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (e.g. base)."""
    from app.core import migrate

    url = get_settings().database_url
    migrate.downgrade(url, revision)
    out.print(f"database at revision {migrate.current(url)}", highlight=False)


@blobs_cli.command("sweep")
def blobs_sweep(
    grace_minutes: Annotated[
        float | None, typer.Option(help="Orphan age before deletion (default: settings).", min=0)
    ] = None,
) -> None:
    """Delete stale staged uploads and blobs no row references (what workers do hourly)."""
    from datetime import timedelta

    from app.assets.blob_sweep import sweep_blobs

    settings = get_settings()

    async def run() -> None:
        services = build_services(settings)
        try:
            report = await sweep_blobs(
                session_factory=services.session_factory,
                blobs=services.blobs,
                staging_max_age=timedelta(minutes=settings.blob_staging_max_age_minutes),
                orphan_grace=timedelta(
                    minutes=settings.blob_orphan_grace_minutes if grace_minutes is None else grace_minutes
                ),
            )
        finally:
            await services.aclose()
        out.print(
            f"{report.staged_deleted} staged and {report.orphans_deleted} orphaned blobs deleted, "
            f"{report.bytes_freed} bytes freed"
        )

    asyncio.run(run())


@schema_cli.command("export")
def schema_export(path: Annotated[Path, typer.Argument()] = Path("graphql/schema.graphql")) -> None:
    """Write the schema SDL, printed from code, to PATH."""
    from app.api.export import export_schema_to

    export_schema_to(path)
    out.print(f"wrote {path}")


@schema_cli.command("manifest")
def schema_manifest(
    operations: Annotated[Path, typer.Argument()] = Path("graphql/operations"),
) -> None:
    """Print the documents of OPERATIONS as a persisted-query manifest (for trusted documents)."""
    import json

    from app.api.trusted_documents import manifest

    typer.echo(json.dumps(manifest(operations), indent=2))


@schema_cli.command("check")
def schema_check(path: Annotated[Path, typer.Argument()] = Path("graphql/schema.graphql")) -> None:
    """Fail (exit 1, with a diff) when PATH differs from the schema printed from code."""
    from app.api.export import check_schema

    diff = check_schema(path)
    if diff:
        sys.stderr.write("".join(diff))
        raise _fail(f"{path} is out of date: run `make schema` and commit it", code=1)
    out.print(f"{path} matches the code")


@schema_cli.command("breaking")
def schema_breaking(
    releases: Annotated[Path, typer.Option(help="One schema file per release.")] = Path("graphql/releases"),
    changelog: Annotated[Path, typer.Option(help="Where breaking changes are announced.")] = Path(
        "CHANGELOG.md"
    ),
) -> None:
    """Fail (exit 1) on a breaking change from the last release that the evolution rules refuse."""
    from app.api.evolution import check_evolution, latest_release
    from app.api.schema import export_schema

    latest = latest_release(releases)
    if latest is None:
        raise _fail(f"no released schema in {releases} (expected files named MAJOR.MINOR.PATCH.graphql)")
    version, path = latest
    violations = check_evolution(
        released_sdl=path.read_text(encoding="utf-8"),
        current_sdl=export_schema(),
        changelog=changelog.read_text(encoding="utf-8") if changelog.exists() else "",
    )
    for violation in violations:
        err.print(f"breaking change since {version}: {violation}", highlight=False, markup=False)
    if violations:
        raise _fail(
            f"{len(violations)} breaking change(s) since {version}: see docs/api.md, Evolution", code=1
        )
    out.print(f"no unannounced breaking change since {version}")


def main() -> None:
    """Console-script entry point."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        get_settings()
    except (ValidationError, SettingsError) as exc:
        # A typo in MEDIAKG_* gets one readable message, not a traceback.
        err.print(f"[bold red]error:[/] invalid configuration: {exc}", highlight=False)
        raise SystemExit(2) from None
    cli()


if __name__ == "__main__":
    main()

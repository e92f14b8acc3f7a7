"""`mediakg search`: index generations and rebuilding the index from the database.

Lives in ``jobs/`` (not ``search/``): it reads the database and calls the models, and
``search/`` imports neither ``app`` nor ``jobs``. Mounted by ``app/entrypoints/cli.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from app.core.container import Services
from app.core.db import DatabaseUnavailableError
from app.core.settings import get_settings
from app.entrypoints.bootstrap import build_services
from app.entrypoints.lifecycle import prepare
from jobs.indexing import ReindexReport, count_assets, new_generation_name, reconcile_deleted, reindex
from search.backend import GenerationError, SearchBackend, SearchError

app = typer.Typer(help="Search index generations: rebuild, switch, roll back, drop.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()
T = TypeVar("T")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _run(work: Callable[[Services, SearchBackend], Awaitable[T]]) -> T:
    """Run ``work`` with this process's services (database prepared), closing them after."""

    async def main() -> T:
        services = build_services(get_settings())
        try:
            await prepare(services)
            backend: SearchBackend = services.search
            return await work(services, backend)
        finally:
            await services.aclose()

    try:
        return asyncio.run(main())
    except DatabaseUnavailableError as exc:
        raise _fail(str(exc)) from None
    except (GenerationError, SearchError) as exc:
        raise _fail(str(exc)) from None


@app.command("reindex")
def reindex_command(
    name: Annotated[
        str | None, typer.Option(help="Name of the new generation (default: g<UTC date>-<time>).")
    ] = None,
    switch: Annotated[
        bool, typer.Option("--switch/--no-switch", help="Make the new generation live when it is complete.")
    ] = True,
    drop_old: Annotated[
        bool, typer.Option("--drop-old", help="After switching, drop every other generation (no rollback).")
    ] = False,
    batch: Annotated[
        int, typer.Option(min=1, max=1000, help="Assets per database read and bulk write.")
    ] = 100,
) -> None:
    """Build a new generation for the configured models from the database, re-embedding text
    that lacks vectors of those models; searches use the old generation until the switch."""
    if drop_old and not switch:
        raise _fail("--drop-old needs the switch: the live generation cannot be dropped")
    generation = name or new_generation_name()

    async def work(services: Services, backend: SearchBackend) -> ReindexReport:
        router: Any = await services.inference_router()
        total = await count_assets(services.session_factory)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            task = progress.add_task(f"indexing into {generation}", total=total)
            return await reindex(
                services.session_factory,
                backend,
                router,
                name=generation,
                switch=switch,
                drop_old=drop_old,
                batch=batch,
                on_progress=lambda done: progress.advance(task, done),
            )

    _print_reindex_report(_run(work))


def _print_reindex_report(report: ReindexReport) -> None:
    """The summary of a reindex; exits non-zero when documents were not written."""
    rate = report.assets / report.seconds if report.seconds else 0.0
    out.print(
        f"generation {report.generation}: {report.assets} assets, {report.write.written} documents "
        f"in {report.seconds:.1f} s ({rate:.0f} assets/s); "
        f"{report.embedded.total} text vectors computed "
        f"({report.embedded.segments} segments, {report.embedded.scenes} scenes, "
        f"{report.embedded.assets} titles); "
        f"{report.deleted} deletions re-applied",
        highlight=False,
    )
    if report.write.failures:
        for failure in report.write.failures[:10]:
            err.print(f"[red]✗[/] {failure.generation}/{failure.doc_id}: {failure.reason}", highlight=False)
        raise _fail(
            f"{len(report.write.failures)} documents were not written; the generation was not switched", 1
        )
    if report.activated:
        out.print(f"[green]✓[/] {report.generation} is live", highlight=False)
    else:
        out.print(
            f"{report.generation} is built; make it live with `mediakg search activate {report.generation}`"
        )
    for dropped in report.dropped:
        out.print(f"dropped {dropped}", highlight=False)


@app.command("generations")
def generations_command() -> None:
    """List the generations, their state, size and vector models."""

    async def work(_services: Services, backend: SearchBackend) -> None:
        table = Table("name", "state", "documents", "created", "vectors")
        for info in await backend.list_generations():
            vectors = ", ".join(
                f"{f.value}={v.model_version} ({v.dims}d)" for f, v in info.spec.vectors.items()
            )
            table.add_row(
                info.name,
                info.state.value,
                str(info.document_count),
                f"{info.created_at:%Y-%m-%d %H:%M}",
                vectors,
            )
        out.print(table)

    _run(work)


@app.command("activate")
def activate_command(name: Annotated[str, typer.Argument(help="The generation to make live.")]) -> None:
    """Make a generation live in one step (also the rollback: activate the previous one)."""

    async def work(_services: Services, backend: SearchBackend) -> None:
        info = await backend.activate_generation(name)
        out.print(f"[green]✓[/] {info.name} is live", highlight=False)

    _run(work)


@app.command("drop")
def drop_command(name: Annotated[str, typer.Argument(help="A generation that is not live.")]) -> None:
    """Delete a generation that is not live."""

    async def work(_services: Services, backend: SearchBackend) -> None:
        await backend.drop_generation(name)
        out.print(f"dropped {name}", highlight=False)

    _run(work)


@app.command("reconcile")
def reconcile_command() -> None:
    """Remove every deleted asset from every generation (what the workers' reconciler does)."""

    async def work(services: Services, backend: SearchBackend) -> int:
        return await reconcile_deleted(services.session_factory, backend)

    count = _run(work)
    out.print(f"{count} deleted assets removed from search (already-removed ones are unchanged)")

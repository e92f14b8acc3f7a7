"""The CLI as a client of a server: commands that go through the GraphQL API with a key.

With ``--server URL`` (or ``MEDIAKG_SERVER``) the CLI needs nothing of the server's machine:
no database URL, no data directory, no broker. It uses the typed client (``app.client``),
uploads files with a progress bar, and authenticates with ``MEDIAKG_API_KEY`` (environment or
``.env``) or ``--api-key-file``. Without a server, the API-only commands (``jobs``,
``reprocess``, ``search query``) talk to this machine's own ``mediakg serve`` with the admin
key it wrote under the data directory.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from app.client import MediaKGClient
from app.client.base_model import Upload
from app.client.enums import JobProgressEventKind, JobQuality, JobStatus, PipelineStage, SearchMode
from app.client.exceptions import GraphQLClientError, GraphQLClientHttpError
from app.client.input_types import IngestAssetInput, IngestSource, SearchInput
from app.client.sync_client import MediaKGSyncClient
from app.core.settings import Settings

# The file `mediakg serve` writes its first admin key to (app/entrypoints/keys_cli.py).
ADMIN_KEY_FILE = "admin-api-key"
_TERMINAL = {
    JobProgressEventKind.JOB_COMPLETED,
    JobProgressEventKind.JOB_FAILED,
    JobProgressEventKind.JOB_CANCELLED,
}


class RemoteError(Exception):
    """The server could not be used: unreachable, key refused, or an unexpected answer."""


@dataclass(frozen=True, slots=True)
class Remote:
    """A server the CLI talks to, and the key it sends."""

    server: str
    api_key: str | None

    @property
    def graphql_url(self) -> str:
        return f"{self.server}/graphql"

    @property
    def ws_url(self) -> str:
        scheme, _, rest = self.server.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/graphql"

    def headers(self) -> dict[str, str]:
        # The CSRF header: multipart uploads are requests a browser could send cross-site, so
        # the server wants a header no simple request has (app/api/guards.py).
        headers = {"x-mediakg-csrf": "1"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def describe(self) -> str:
        """The mode line the CLI prints first (the key itself is never shown)."""
        key = "with an API key" if self.api_key else "without an API key"
        return f"mode: remote ({self.server}, {key})"

    @contextmanager
    def sync_client(self) -> Iterator[MediaKGSyncClient]:
        with (
            _translated_errors(self),
            MediaKGSyncClient(url=self.graphql_url, headers=self.headers()) as client,
        ):
            yield client

    def async_client(self) -> MediaKGClient:
        return MediaKGClient(
            url=self.graphql_url,
            headers=self.headers(),
            ws_url=self.ws_url,
            ws_connection_init_payload={"authorization": f"Bearer {self.api_key}"} if self.api_key else {},
        )


def resolve_remote(
    settings: Settings, *, server: str | None, api_key_file: Path | None, local_fallback: bool
) -> Remote | None:
    """The server to use: ``--server``, else MEDIAKG_SERVER, else (``local_fallback``) this
    machine's own; None when there is none (the caller then works on the database directly)."""
    chosen = (server or settings.server).rstrip("/")
    local = not chosen
    if local:
        if not local_fallback:
            return None
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        chosen = f"http://{host}:{settings.port}"
    if not chosen.startswith(("http://", "https://")):
        raise RemoteError(f"--server must be an http:// or https:// URL, not {chosen!r}")
    return Remote(server=chosen, api_key=_api_key(settings, api_key_file, local=local))


def _api_key(settings: Settings, api_key_file: Path | None, *, local: bool) -> str | None:
    if api_key_file is not None:
        try:
            return api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise RemoteError(f"cannot read --api-key-file {api_key_file}: {exc.strerror}") from None
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    own = settings.data_dir / ADMIN_KEY_FILE
    if local and os.access(own, os.R_OK):
        return own.read_text(encoding="utf-8").strip()
    return None


@contextmanager
def _translated_errors(remote: Remote) -> Iterator[None]:
    """Client failures as one clear line each (no tracebacks for an unreachable server)."""
    import httpx

    try:
        yield
    except httpx.TransportError as exc:
        raise RemoteError(f"cannot reach {remote.server}: {exc}") from None
    except GraphQLClientHttpError as exc:
        if exc.status_code == 401:
            raise RemoteError(
                f"{remote.server} refused the API key (401 UNAUTHENTICATED): set MEDIAKG_API_KEY "
                "or pass --api-key-file"
            ) from None
        detail = str(getattr(exc.response, "text", ""))[:300].strip()
        raise RemoteError(f"{remote.server} answered HTTP {exc.status_code}: {detail}".rstrip(": ")) from None
    except GraphQLClientError as exc:
        raise RemoteError(f"{remote.server}: {exc}") from None


class _CountingReader:
    """A binary file whose reads advance a progress bar (httpx streams uploads in chunks)."""

    def __init__(self, handle: IO[bytes], progress: Progress, task: TaskID) -> None:
        self._handle = handle
        self._progress = progress
        self._task = task

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._progress.advance(self._task, len(chunk))
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@dataclass(frozen=True, slots=True)
class Ingested:
    """What the server said of one uploaded file."""

    path: Path
    ok: bool
    line: str
    job_id: str | None = None


def upload_files(remote: Remote, paths: list[Path], *, tags: list[str], console: Console) -> list[Ingested]:
    """Upload each file (multipart, with a byte progress bar) and register it."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    results: list[Ingested] = []
    with remote.sync_client() as client, Progress(*columns, console=console) as progress:
        for path in paths:
            try:
                size = path.stat().st_size
                handle = path.open("rb")
            except OSError as exc:
                results.append(Ingested(path, False, f"{path}: {exc.strerror}"))
                continue
            task = progress.add_task(path.name, total=size)
            with handle:
                reader: Any = _CountingReader(handle, progress, task)
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                upload = Upload(filename=path.name, content=reader, content_type=content_type)
                source = IngestSource(upload=upload)
                payload = client.ingest_asset(IngestAssetInput(source=source, tags=tags or None)).ingest_asset
            results.append(_ingested(path, payload))
    return results


def _ingested(path: Path, payload: Any) -> Ingested:
    if payload.typename__ == "IngestAssetSuccess":
        state = "registered" if payload.created else "already registered"
        job = payload.job.id if payload.job is not None else None
        suffix = f" job {job}" if job else ""
        return Ingested(
            path, True, f"{path}: {state} asset {payload.asset.id} ({payload.asset.kind.value}){suffix}", job
        )
    return Ingested(path, False, f"{path}: {_refusal(payload)}")


def follow_jobs(remote: Remote, job_ids: list[str], *, console: Console) -> dict[str, str]:
    """Follow each job's progress over graphql-transport-ws until it ends; job id -> status."""

    async def follow() -> dict[str, str]:
        ended: dict[str, str] = {}
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stage]}"))
        async with remote.async_client() as client:
            with Progress(*columns, console=console) as progress:
                for job_id in job_ids:
                    task = progress.add_task(f"job {job_id[:12]}", total=1.0, stage="")
                    async for event in client.job_progress(job_id=job_id):
                        change = event.job_progress
                        progress.update(task, completed=change.job_progress, stage=change.stage or "")
                        if change.kind in _TERMINAL:
                            ended[job_id] = change.job_status.value
                            break
        return ended

    with _translated_errors(remote):
        return asyncio.run(follow())


def search_lines(remote: Remote, text: str, *, mode: SearchMode, first: int) -> list[str]:
    """One line per hit: title, where to play from, and the best highlight."""
    with remote.sync_client() as client:
        page = client.search(input=SearchInput(text=text, mode=mode), first=first).search
    lines = []
    for edge in page.edges:
        hit = edge.node
        at = f" @ {hit.play_from_seconds:.1f}s" if hit.play_from_seconds is not None else ""
        fragment = hit.highlights[0].fragment if hit.highlights else ""
        lines.append(f"{hit.asset.title}{at}  {fragment}".rstrip())
    return lines


def job_lines(remote: Remote, *, statuses: list[JobStatus] | None, first: int) -> list[str]:
    """One line per job, with its stages' states."""
    with remote.sync_client() as client:
        jobs = client.job_monitor(first=first, status=statuses).jobs
    lines = []
    for edge in jobs.edges:
        job = edge.node
        stages = " ".join(f"{s.node.name}:{s.node.status.value.lower()}" for s in job.stages.edges)
        error = f" error={job.error_code}" if job.error_code else ""
        title = job.asset.title if job.asset is not None else "-"
        lines.append(f"{job.id} {job.status.value} {job.progress:.0%} {title}{error}  {stages}")
    return lines


def reprocess(
    remote: Remote,
    asset_id: str,
    *,
    stages: list[PipelineStage] | None,
    quality: JobQuality = JobQuality.ROUTED,
) -> tuple[bool, str]:
    """Ask the server to re-run stages of an asset; (ok, the line to print)."""
    with remote.sync_client() as client:
        payload: Any = client.reprocess_asset(id=asset_id, stages=stages, quality=quality).reprocess_asset
    if payload.typename__ == "ReprocessAssetSuccess":
        job = payload.job
        return True, f"asset {asset_id}: job {job.id} {job.status.value} ({job.quality.value.lower()})"
    return False, f"asset {asset_id}: {_refusal(payload)}"


def _refusal(payload: Any) -> str:
    """A mutation's typed refusal as one line: its message and code (UserError members carry
    both; a member without them is named by its type)."""
    code = getattr(payload, "code", None)
    code_text = code.value if code is not None and hasattr(code, "value") else payload.typename__
    return f"{getattr(payload, 'message', payload.typename__)} ({code_text})"

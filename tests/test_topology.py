"""Production mode on one machine, as docs/operations.md sets it up, with real processes on
loopback: PostgreSQL + Redis + `mediakg serve` (the API only) + two `mediakg worker` processes +
`mediakg triton serve`. Files are ingested through the API; one worker and Triton are killed
with SIGKILL mid-run. Every job still completes exactly once, its rows are exact (no duplicate
and none missing), and each job's subscription delivers every stage's completion. Then the
same for one file with RabbitMQ carrying the stage messages and Redis the progress events.

The jobs are queued (and subscribed to) before any worker starts, so no stage can run before
its subscriber listens: every stage event has somebody to reach.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.client import MediaKGClient
from app.client.enums import JobProgressEventKind, JobStatus
from app.core.settings import get_settings
from app.entrypoints.bootstrap import triton_environment
from inference.triton.launcher import Ports, TritonEnvironmentError
from tests.fixtures.media import VIDEO_SENTENCE, VideoClip, espeak_available, make_speech, make_video
from tests.fixtures.processes import Process, free_port, rabbitmq_vhost
from tests.fixtures.required import skip_unless_required

pytestmark = [pytest.mark.slow, pytest.mark.models, pytest.mark.postgres, pytest.mark.redis]

INGEST = """mutation ($path: String!, $title: String!) {
  ingestAsset(input: { source: { path: $path }, title: $title }) {
    __typename
    ... on IngestAssetSuccess { asset { id } job { id } }
    ... on UserError { message code }
  }
}"""
RESULT = """query ($id: ID!) {
  asset(id: $id) {
    status
    jobs(first: 10) { edges { node { id status stages { edges { node { name status attempts } } } } } }
    scenes(first: 50) { edges { node { ordinal startSeconds endSeconds } } }
    transcript(first: 100) { edges { node { startSeconds endSeconds text } } }
  }
}"""
SEARCH = """query ($q: String!) {
  search(query: { text: $q, mode: TEXT, scope: ASSET }, first: 20) { edges { node { asset { id } } } }
}"""


@dataclass
class Stream:
    """What one job's `jobProgress` subscription delivered."""

    job_id: str
    events: list[tuple[JobProgressEventKind, str | None, JobStatus | None]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Topology:
    """The running processes and how to reach the API."""

    base: str
    env: dict[str, str]
    media: Path
    tmp_path: Path
    headers: dict[str, str] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)

    def start(self, args: list[str], name: str, **env: str) -> Process:
        process = Process(args, {**self.env, **env}, self.tmp_path / f"{name}.log")
        self.stack.callback(process.close)
        return process

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables},
            headers=self.headers,
            timeout=60,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def ingest(self, path: Path) -> tuple[str, str]:
        """(asset id, job id) of a file ingested through the API."""
        result = self.graphql(INGEST, {"path": str(path), "title": path.stem})["ingestAsset"]
        assert result["__typename"] == "IngestAssetSuccess", result
        return result["asset"]["id"], result["job"]["id"]

    def client(self) -> MediaKGClient:
        return MediaKGClient(
            url=f"{self.base}/graphql",
            headers=self.headers,
            ws_url=self.base.replace("http://", "ws://") + "/graphql",
            ws_connection_init_payload=self.headers,
        )


def _started(process: Process, marker: str, *, within: float, what: str) -> None:
    process.wait_until(lambda: marker in process.output(), within=within, what=what)


@pytest.fixture
def topology(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Topology]:
    """PostgreSQL, Redis and the API (`mediakg serve`, API only on a Redis broker), sharing one
    data directory with the workers a test starts (the embedded search index lives there)."""
    if database_url.startswith("sqlite"):
        # A plain skip even where services are required: scripts/test.sh runs this module
        # again in its PostgreSQL pass (it uses the database, so it is marked db).
        pytest.skip("production mode runs on PostgreSQL (MEDIAKG_TEST_DATABASE_URL)")
    if not espeak_available():
        skip_unless_required("espeak-ng is not installed (scripts/install-system-deps.sh)")
    media = tmp_path / "media"
    media.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "MEDIAKG_DATABASE_URL": database_url,
        # The test database's schema is created by the fixture, not by migrations.
        "MEDIAKG_AUTO_MIGRATE": "false",
        "MEDIAKG_BROKER_URL": redis_url,
        "MEDIAKG_REDIS_KEY_PREFIX": f"mkgtopo_{os.getpid()}_{port}",
        "MEDIAKG_DATA_DIR": str(tmp_path / "data"),
        "MEDIAKG_ALLOWED_ROOTS": str(media),
        "MEDIAKG_HOST": "127.0.0.1",
        "MEDIAKG_PORT": str(port),
        "MEDIAKG_METRICS_PORT": "0",
        "MEDIAKG_LOG_JSON": "true",
        # No idle-time upgrade jobs beside the ones the test runs (tests/conftest.py says why).
        "MEDIAKG_ROUTING__TRANSCRIBE__UPGRADE_WHEN_IDLE": "false",
    }
    topology = Topology(base=f"http://127.0.0.1:{port}", env=env, media=media, tmp_path=tmp_path)
    with topology.stack:
        yield topology


def _start_api(topology: Topology) -> Process:
    api = topology.start(["serve"], "api")
    api.wait_until(
        lambda: httpx.get(f"{topology.base}/readyz").status_code == 200, within=180, what="the API"
    )
    key = (topology.tmp_path / "data" / "admin-api-key").read_text().strip()
    topology.headers = {"authorization": f"Bearer {key}"}
    return api


def _videos(media: Path, count: int) -> list[VideoClip]:
    voice = make_speech(media / "voice.wav", [VIDEO_SENTENCE])
    (media / "voice.wav").unlink()
    return [
        make_video(media / f"clip{index}.mp4", speech=voice, captions=[None, f"CAMERA {index}", None])
        for index in range(count)
    ]


async def _follow(topology: Topology, stream: Stream) -> None:
    async with topology.client() as client:
        async for message in client.job_progress(job_id=stream.job_id):
            event = message.job_progress
            stream.events.append((event.kind, event.stage, event.job_status))
            stream.subscribed.set()
            if event.kind in (
                JobProgressEventKind.JOB_COMPLETED,
                JobProgressEventKind.JOB_FAILED,
                JobProgressEventKind.JOB_CANCELLED,
            ):
                return


async def _until(condition: Any, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within} s")
        await asyncio.sleep(0.2)


def _check_job(
    topology: Topology, asset_id: str, stream: Stream, clip: VideoClip
) -> dict[tuple[str, str], int]:
    """The job completed once, its stages each completed once on the stream, its rows are exact.
    Returns the attempts of each (stage, job uuid)."""
    kinds = [kind for kind, _, _ in stream.events]
    assert kinds[0] == JobProgressEventKind.SNAPSHOT, stream.events
    assert kinds.count(JobProgressEventKind.JOB_COMPLETED) == 1, stream.events
    assert stream.events[-1][0] == JobProgressEventKind.JOB_COMPLETED, stream.events
    assert stream.events[-1][2] == JobStatus.SUCCEEDED, stream.events

    asset = topology.graphql(RESULT, {"id": asset_id})["asset"]
    assert asset["status"] == "READY", asset
    (job,) = [edge["node"] for edge in asset["jobs"]["edges"]]
    assert job["id"] == stream.job_id
    assert job["status"] == "SUCCEEDED"
    stages = [edge["node"] for edge in job["stages"]["edges"]]
    ran = [stage["name"].lower() for stage in stages if stage["status"] == "SUCCEEDED"]
    assert {"probe", "scenes", "transcribe", "ocr", "embed", "index"} <= set(ran), stages
    completed = [
        (stage or "").lower()
        for kind, stage, _ in stream.events
        if kind == JobProgressEventKind.STAGE_COMPLETED
    ]
    # Every stage that ran reached its subscriber, exactly once (a stage taken over from the
    # killed worker completes once: its first claim never completed).
    assert sorted(completed) == sorted(ran), (completed, stages)

    scenes = [edge["node"] for edge in asset["scenes"]["edges"]]
    assert [scene["ordinal"] for scene in scenes] == list(range(len(clip.cuts) + 1))
    starts = [scene["startSeconds"] for scene in scenes[1:]]
    assert starts == pytest.approx(list(clip.cuts), abs=0.1)
    segments = [edge["node"] for edge in asset["transcript"]["edges"]]
    assert len({(s["startSeconds"], s["endSeconds"]) for s in segments}) == len(segments), segments
    words = re.findall(r"[a-z]+", " ".join(segment["text"] for segment in segments).lower())
    assert words.count("library") == 1, segments
    job_uuid = _job_uuid(stream.job_id)
    return {(stage["name"].lower(), job_uuid): stage["attempts"] for stage in stages}


_STARTED = re.compile(r"stage (\w+) of job ([0-9a-f-]{36}) started")
_ENDED = re.compile(r"stage (\w+) of job ([0-9a-f-]{36}) (?:succeeded|released)")


def _in_flight(worker: Process) -> set[tuple[str, str]]:
    """(stage, job uuid) pairs the worker's log shows started and not yet ended."""
    log = worker.output()
    return set(_STARTED.findall(log)) - set(_ENDED.findall(log))


STAGES = """query ($id: ID!) {
  asset(id: $id) { jobs(first: 10) { edges { node { id stages { edges { node { name status } } } } } } }
}"""


def _job_uuid(job_id: str) -> str:
    return base64.b64decode(job_id).decode().split(":", 1)[1]


def _running(topology: Topology, asset_ids: list[str]) -> set[tuple[str, str]]:
    """(stage, job uuid) pairs the database shows RUNNING."""
    running: set[tuple[str, str]] = set()
    for asset_id in asset_ids:
        for edge in topology.graphql(STAGES, {"id": asset_id})["asset"]["jobs"]["edges"]:
            job = edge["node"]
            running |= {
                (stage["node"]["name"].lower(), _job_uuid(job["id"]))
                for stage in job["stages"]["edges"]
                if stage["node"]["status"] == "RUNNING"
            }
    return running


def _kill_one_holding_a_stage(
    topology: Topology, workers: tuple[Process, Process], asset_ids: list[str]
) -> tuple[Process, set[tuple[str, str]]]:
    """SIGKILL a worker while it holds a stage; the worker and the stages it held.

    Both workers are paused (SIGSTOP) while their logs and the database are read, so nothing
    they hold can finish between the look and the kill (on an idle machine the stages of three
    jobs can all finish between two looks); a stage counts as held when the worker's log shows
    it started and not ended and the database shows it RUNNING (its success is committed just
    before its log line). One holding transcribe (Triton's longest call) is preferred; no worker
    is paused for longer than one look (their leases last 30 s)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for worker in workers:
            worker.pause()
        doomed: Process | None = None
        try:
            running = _running(topology, asset_ids)
            held = [(worker, _in_flight(worker) & running) for worker in workers]
            with_transcribe = [(w, stages) for w, stages in held if any(s == "transcribe" for s, _ in stages)]
            chosen = next(iter(with_transcribe or [(w, stages) for w, stages in held if stages]), None)
            if chosen is not None:
                doomed, interrupted = chosen
                doomed.kill()
                return doomed, interrupted
        finally:
            for worker in workers:
                if worker is not doomed:
                    worker.resume()
        time.sleep(0.2)
    pytest.fail("no worker held a stage within 300 s:\n" + "\n".join(w.output()[-2000:] for w in workers))


def _kill_triton(triton: Process) -> None:
    """SIGKILL the tritonserver (and its python-backend stubs: its own process group)."""
    (server,) = triton.children()
    os.killpg(server, signal.SIGKILL)


async def test_api_two_workers_and_triton_survive_kill_9(topology: Topology) -> None:
    try:
        triton_environment(get_settings())
    except TritonEnvironmentError as exc:
        skip_unless_required(f"Triton server environment not built: {exc}")
    ports = Ports.pick()
    triton_env = {
        "MEDIAKG_TRITON_HTTP_PORT": str(ports.http),
        "MEDIAKG_TRITON_GRPC_PORT": str(ports.grpc),
        "MEDIAKG_TRITON_METRICS_PORT": str(ports.metrics),
    }
    triton = topology.start(["triton", "serve"], "triton", **triton_env)
    topology.env.update(triton_env)
    topology.env["MEDIAKG_INFERENCE_URL"] = f"grpc://127.0.0.1:{ports.grpc}"
    clips = _videos(topology.media, 3)
    _started(triton, "MEDIAKG_INFERENCE_URL=", within=600, what="mediakg triton serve")
    _start_api(topology)

    jobs = [topology.ingest(clip.path) for clip in clips]
    streams = [Stream(job_id) for _, job_id in jobs]
    followers = [asyncio.create_task(_follow(topology, stream)) for stream in streams]
    await _until(lambda: all(s.subscribed.is_set() for s in streams), within=60, what="subscriptions")

    worker_args = ["worker", "--processes", "1", "--threads", "2", "--grace", "1"]
    first = topology.start(worker_args, "worker-a")
    second = topology.start(worker_args, "worker-b")
    for worker in (first, second):
        # In a thread: the subscriptions' event loop keeps answering meanwhile.
        await asyncio.to_thread(_started, worker, "worker ready", within=300, what="a worker")

    doomed, interrupted = await asyncio.to_thread(
        _kill_one_holding_a_stage, topology, (first, second), [asset_id for asset_id, _ in jobs]
    )
    _kill_triton(triton)
    survivor = second if doomed is first else first

    await asyncio.wait_for(asyncio.gather(*followers), timeout=600)
    attempts: dict[tuple[str, str], int] = {}
    for (asset_id, _), stream, clip in zip(jobs, streams, clips, strict=True):
        attempts.update(_check_job(topology, asset_id, stream, clip))
    # Each stage the killed worker held was taken over (its lease expired) and run again.
    assert all(attempts[key] >= 2 for key in interrupted), (interrupted, attempts)
    # The survivor served the rest from its local models (Triton is gone): its breaker opened.
    assert "circuit breaker" in survivor.output(), survivor.output()[-4000:]
    # The search index the workers wrote is what the API reads (one data directory).
    hits = topology.graphql(SEARCH, {"q": "camera"})["search"]["edges"]
    assert {hit["node"]["asset"]["id"] for hit in hits} == {asset_id for asset_id, _ in jobs}


async def test_rabbitmq_broker_with_redis_pubsub(topology: Topology, redis_url: str) -> None:
    with rabbitmq_vhost() as amqp:
        topology.env["MEDIAKG_BROKER_URL"] = amqp
        topology.env["MEDIAKG_PUBSUB_URL"] = redis_url
        (clip,) = _videos(topology.media, 1)
        api = _start_api(topology)
        asset_id, job_id = topology.ingest(clip.path)
        stream = Stream(job_id)
        follower = asyncio.create_task(_follow(topology, stream))
        await _until(stream.subscribed.is_set, within=60, what="the subscription")
        worker = topology.start(["worker", "--processes", "1", "--threads", "2", "--grace", "1"], "worker")
        await asyncio.wait_for(follower, timeout=600)
        _check_job(topology, asset_id, stream, clip)
        worker.close()
        api.close()
        for process in (api, worker):
            assert '"ERROR"' not in process.output(), process.output()[-4000:]

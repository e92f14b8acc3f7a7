"""Subscription fan-out: many WebSocket subscribers of one asset's events against a real
``mediakg serve`` process (embedded default), while the asset is edited.

    .venv/bin/python benchmarks/fanout_bench.py [--subscribers 1000] [--updates 10]

For each selection (light: ``kind changedFields occurredAt``; with ``asset { title }``) the
subscribers connect (graphql-transport-ws) and receive their SNAPSHOT, then ``--updates``
``updateAsset`` calls set the titles t0, t1, ... one after another, as fast as the server
answers. The delivery delay of an event is the time it reached a subscriber minus its
``occurredAt`` (one machine, one clock). An event "shows a wrong state" when its asset's title
is not the one its own change set (the k-th UPDATED event must show tk). Missing events
(not delivered within ``--wait`` seconds) and error messages are counted. The baseline: the
same mutations with no subscriber, so the cost of the edits themselves is visible.
Prints a markdown section (benchmarks/run.py collects it into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.api.ids import to_global_id
from app.assets.models import Asset
from app.core.db import create_engine, create_session_factory, session_scope
from app.core.enums import AssetKind, AssetStatus
from app.tenancy.service import ensure_tenant
from tests.fixtures.serve import ServeProcess

LIGHT = "subscription ($id: ID!) { assetEvents(assetId: $id) { kind changedFields occurredAt } }"
TITLE = (
    "subscription ($id: ID!) { assetEvents(assetId: $id) { kind changedFields occurredAt asset { title } } }"
)
UPDATE = "mutation ($i: UpdateAssetInput!) { updateAsset(input: $i) { __typename } }"


@dataclass
class Result:
    """Delays (seconds) and counts of one selection."""

    label: str
    subscribers: int
    updates: int
    connect_s: float = 0.0
    mutate_s: float = 0.0
    delays: list[float] = field(default_factory=list)
    wrong_state: int = 0
    missing: int = 0
    errors: int = 0
    failed_to_subscribe: int = 0

    def row(self) -> str:
        ok = sorted(self.delays)

        def pct(p: float) -> str:
            return f"{ok[min(len(ok) - 1, int(p * len(ok)))] * 1000:.0f}" if ok else "-"

        return (
            f"| {self.label} | {self.subscribers} | {self.updates} | {len(ok)} | {pct(0.50)} | {pct(0.99)} | "
            f"{max(ok) * 1000 if ok else 0:.0f} | {self.wrong_state} | {self.missing} | {self.errors} | "
            f"{self.failed_to_subscribe} | {self.connect_s:.1f} | "
            f"{self.mutate_s * 1000 / max(1, self.updates):.0f} |"
        )


class Subscriber:
    """One WebSocket subscription; collects its UPDATED events."""

    def __init__(self, url: str, headers: dict[str, str], document: str, asset_id: str) -> None:
        self.url, self.headers, self.document, self.asset_id = url, headers, document, asset_id
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.errors = 0
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.ws = await websockets.connect(
            self.url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            additional_headers=self.headers, max_queue=None, open_timeout=120,
        )  # fmt: skip
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await self.ws.recv())["type"] == "connection_ack"
        payload = {"query": self.document, "variables": {"id": self.asset_id}}
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = json.loads(await self.ws.recv())
        if first.get("type") != "next" or first["payload"].get("errors"):
            raise RuntimeError(f"no snapshot: {first}")
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            now = time.time()
            message = json.loads(raw)
            if message.get("type") != "next" or message["payload"].get("errors"):
                self.errors += 1
                continue
            event = message["payload"]["data"]["assetEvents"]
            if event["kind"] == "UPDATED":
                self.events.append((now, event))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.ws.close()


async def _asset(url: str) -> str:
    """One asset of the default tenant, inserted directly: no pipeline job runs on it, so only
    the edits make events."""
    engine = create_engine(url)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            tenant = await ensure_tenant(session, slug="default")
            await session.flush()
            asset = Asset(
                tenant_id=tenant.id, kind=AssetKind.VIDEO, status=AssetStatus.READY, title="start",
                blob_key="sha256/fanout", content_sha256="f" * 64, mime_type="video/mp4", size_bytes=1,
            )  # fmt: skip
            session.add(asset)
    finally:
        await engine.dispose()
    return to_global_id("Asset", asset.id)


async def _edits(http: httpx.AsyncClient, asset_id: str, updates: int, prefix: str) -> float:
    started = time.perf_counter()
    for k in range(updates):
        body = {"query": UPDATE, "variables": {"i": {"id": asset_id, "title": f"{prefix}{k}"}}}
        answer = (await http.post("/graphql", json=body)).json()
        if answer.get("data", {}).get("updateAsset", {}).get("__typename") != "UpdateAssetSuccess":
            raise RuntimeError(f"update failed: {answer}")
    return time.perf_counter() - started


async def run_selection(
    serve: ServeProcess,
    http: httpx.AsyncClient,
    asset_id: str,
    label: str,
    document: str,
    args: argparse.Namespace,
) -> Result:
    result = Result(label=label, subscribers=args.subscribers, updates=args.updates)
    ws_url = serve.base.replace("http://", "ws://") + "/graphql"
    headers = {k: v for k, v in serve.headers().items() if k == "authorization"}
    subs = [Subscriber(ws_url, headers, document, asset_id) for _ in range(args.subscribers)]
    started = time.perf_counter()
    started_subs: list[Subscriber] = []
    for i in range(0, len(subs), 50):
        batch = subs[i : i + 50]
        outcomes = await asyncio.gather(*(s.start() for s in batch), return_exceptions=True)
        for sub, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                result.failed_to_subscribe += 1
                if sub.ws is not None:
                    await sub.ws.close()
            else:
                started_subs.append(sub)
    subs = started_subs
    result.connect_s = time.perf_counter() - started
    prefix = f"{label[:5]}-"
    try:
        result.mutate_s = await _edits(http, asset_id, args.updates, prefix)
        deadline = time.monotonic() + args.wait
        # Polling hundreds of counters (one Event per subscriber would not be simpler).
        while time.monotonic() < deadline and any(len(s.events) < args.updates for s in subs):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        await asyncio.gather(*(s.close() for s in subs), return_exceptions=True)
    for sub in subs:
        result.errors += sub.errors
        result.missing += max(0, args.updates - len(sub.events))
        for k, (received, event) in enumerate(sub.events):
            result.delays.append(received - datetime.fromisoformat(event["occurredAt"]).timestamp())
            if "asset" in event and (event["asset"] or {}).get("title") != f"{prefix}{k}":
                result.wrong_state += 1
    return result


async def main_async(args: argparse.Namespace) -> None:
    # One key subscribes every client and makes every edit: its rate limit (1,200 operations a
    # minute by default) refused edits after 1,000 subscriptions of two selections, and the
    # run died on the refused answer. What is measured is the fan-out, so the limit is off.
    os.environ.setdefault("MEDIAKG_RATE_LIMIT_REQUESTS_PER_MINUTE", "0")
    with tempfile.TemporaryDirectory(prefix="mkg-fanout-") as tmp:
        with ServeProcess.start(Path(tmp)) as serve:
            asset_id = await _asset(f"sqlite+aiosqlite:///{Path(tmp) / 'data' / 'mediakg.db'}")
            async with httpx.AsyncClient(base_url=serve.base, headers=serve.headers(), timeout=120) as http:
                baseline = Result(label="baseline: no subscriber", subscribers=0, updates=args.updates)
                baseline.mutate_s = await _edits(http, asset_id, args.updates, "base-")
                results = [baseline]
                for label, document in (("light selection", LIGHT), ("asset { title }", TITLE)):
                    results.append(await run_selection(serve, http, asset_id, label, document, args))
    out = sys.stdout.write
    out("## Subscription fan-out\n\n")
    out(
        f"`benchmarks/fanout_bench.py`: {args.subscribers} WebSocket subscribers of one asset, "
        f"{args.updates} sequential `updateAsset` calls; delivery delay = received - occurredAt (ms); "
        "wrong state = an UPDATED event whose asset title is not the one its own change set; "
        "missing = events of subscribed clients not delivered within the wait.\n\n"
    )
    out("| selection | subscribers | updates | events | p50 | p99 | max | wrong state | missing | errors "
        "| failed to subscribe | connect s | ms per update |\n")  # fmt: skip
    out("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    for result in results:
        out(result.row() + "\n")
    out("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for every event")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

"""``mediakg models ...``: model benchmarks and shadow comparisons (the app's CLI mounts ``app``)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from inference.backend import InferenceBackend
from inference.bench import BENCHES, run_bench, to_markdown
from inference.local import LocalBackend, ModelPool
from inference.registry import Task, default_registry
from inference.shadow import ShadowBackend, ShadowConfig
from inference.triton.client import TritonBackend, TritonConfig

app = typer.Typer(help="Model benchmarks and safe upgrades.", no_args_is_help=True)


def _backend(triton_url: str | None) -> InferenceBackend:
    if triton_url:
        return TritonBackend(TritonConfig(url=triton_url, timeout_s=300.0))
    return LocalBackend(ModelPool())


@app.command()
def bench(
    task: Annotated[
        list[str] | None, typer.Option(help="Task to measure (repeatable); all by default.")
    ] = None,
    model: Annotated[list[str] | None, typer.Option(help="Only these registry keys (repeatable).")] = None,
    triton_url: Annotated[
        str | None,
        typer.Option(help="Measure on Triton (grpc://host:port or http://...) instead of locally."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the markdown table here.")] = None,
) -> None:
    """Quality (WER, OCR exact match, label accuracy, recall@k) and speed of every model version."""
    tasks: list[Task] = []
    for name in task or list(BENCHES):
        if name not in BENCHES:
            raise typer.BadParameter(f"unknown task {name!r}; known: {', '.join(BENCHES)}")
        tasks.append(name)

    async def main() -> str:
        backend = _backend(triton_url)
        try:
            rows = await run_bench(backend, default_registry(), tasks=tasks, models=model or ())
        finally:
            await backend.aclose()
        return to_markdown(rows)

    table = asyncio.run(main())
    typer.echo(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)


@app.command()
def routing(
    out: Annotated[Path | None, typer.Option(help="Also write the markdown tables here.")] = None,
) -> None:
    """WER, latency and CPU cost of each speech routing policy (fast-only, accurate-only,
    fast+escalation, fast+upgrade) on clean and noisy held-out speech fixtures."""
    from inference.bench_routing import run_policy_bench
    from inference.bench_routing import to_markdown as policy_tables
    from inference.config import InferenceConfig
    from inference.router import InferenceRouter
    from inference.routing import EscalationRule

    calibrated = json.loads((Path(__file__).parent / "calibration" / "transcribe.json").read_text())
    rule = EscalationRule(
        calibrated["min_avg_logprob"], calibrated["max_no_speech_prob"], calibrated["min_word_probability"]
    )

    async def main() -> str:
        router = InferenceRouter(InferenceConfig(batching=False))
        try:
            return policy_tables(await run_policy_bench(router, rule))
        finally:
            await router.aclose()

    tables = asyncio.run(main())
    typer.echo(tables)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(tables)


@app.command()
def shadow(
    live: Annotated[str, typer.Option(help="Registry key of the live model, e.g. all-MiniLM-L6-v2:fp32-1.")],
    candidate: Annotated[
        str, typer.Option(help="Registry key of the candidate, e.g. all-MiniLM-L6-v2:int8-1.")
    ],
    sample_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of calls also sent to the candidate.")
    ] = 1.0,
    triton_url: Annotated[str | None, typer.Option(help="Serve the live model from Triton.")] = None,
) -> None:
    """Replay the live model's fixture set with the candidate in shadow; print their agreement."""
    registry = default_registry()
    live_spec = registry.get(*live.split(":", 1))
    run = BENCHES.get(live_spec.task)
    if run is None:
        raise typer.BadParameter(f"no fixture set for task {live_spec.task!r}")

    async def main() -> str:
        local = LocalBackend(ModelPool())
        inner = _backend(triton_url) if triton_url else local
        backend = ShadowBackend(
            inner,
            registry=registry,
            # A replay, not live traffic: room for every sampled comparison at once.
            config=ShadowConfig(candidates={live: candidate}, sample_rate=sample_rate, max_pending=256),
            candidate_backend=local,
        )
        try:
            with tempfile.TemporaryDirectory(prefix="mediakg-shadow-") as scratch:
                await run(backend, live_spec, Path(scratch))
            await backend.drain()
            return backend.report()
        finally:
            await backend.aclose()

    typer.echo(asyncio.run(main()))

"""Test stage implementations: the stage contract exercised without the analysis models.

Registered for every stage of the media pipeline except ``probe`` (the real one runs).
What each stage does is read from the asset's metadata, so one worker process serves every
test's scenario:

    {"test": {"log": "/tmp/runs.log",
              "stages": {"scenes": {"sleep_s": 1.0, "steps": 10, "rows": 3,
                                    "transient_failures": 2, "poison_file": "/tmp/x",
                                    "model_uses": 1}}}}

Each run appends ``start``/``end`` lines (stage, job, pid, attempt) to ``log``; its output
is ``rows`` Scene rows under the model ``test-<stage>``, replaced on every run. ``model_uses``
marks that many uses of the model ``test-model:1`` before the run can fail, as the router marks
a model's (one image each), keeping an output of confidence ``attempt / 4`` each.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.errors import PermanentStageError, TransientStageError
from app.jobs.pipeline import StageName
from app.media.service import replace_scenes
from inference import telemetry as inference_telemetry
from jobs.registry import StageContext, StageOutput, StageRegistry

TEST_STAGES = [name for name in StageName if name != StageName.PROBE]


def stage_config(ctx: StageContext) -> dict[str, Any]:
    """This stage's settings from the asset metadata."""
    config: dict[str, Any] = ctx.asset.user_metadata.get("test", {})
    stages: dict[str, Any] = config.get("stages", {})
    return dict(stages.get(ctx.stage, {}))


def record(ctx: StageContext, event: str) -> None:
    """Append one line to the run log named in the asset metadata (if any)."""
    log = ctx.asset.user_metadata.get("test", {}).get("log")
    if log:
        with Path(log).open("a") as out:
            out.write(f"{event} {ctx.stage} {ctx.job.id} {os.getpid()} {ctx.attempt}\n")


def poisoned(path: str) -> bool:
    """Whether the poison file exists (the test removes it to "fix the cause")."""
    return Path(path).exists()


async def run_test_stage(ctx: StageContext) -> StageOutput:
    """Behave as the asset metadata says, then replace this stage's Scene rows."""
    config = stage_config(ctx)
    record(ctx, "start")
    poison = config.get("poison_file")
    if poison and poisoned(poison):
        raise PermanentStageError("TEST_POISONED", f"{ctx.stage} refuses to run while {poison} exists")
    for _ in range(int(config.get("model_uses", 0))):
        with inference_telemetry.model_use("test-model", "1", "ocr", inputs=1.0, unit="images"):
            await asyncio.sleep(0)
        ctx.kept("test-model:1", [ctx.attempt / 4])
    if ctx.attempt <= int(config.get("transient_failures", 0)):
        raise TransientStageError("TEST_FLAKY", f"{ctx.stage} failed on attempt {ctx.attempt}")
    steps = max(1, int(config.get("steps", 1)))
    pause = float(config.get("sleep_s", 0.0)) / steps
    for step in range(steps):
        await asyncio.sleep(pause)
        await ctx.report_progress((step + 1) / steps)
    rows = int(config.get("rows", 2))
    tenant_id, asset_id, model = ctx.asset.tenant_id, ctx.asset.id, f"test-{ctx.stage}"

    async def write(session: AsyncSession) -> None:
        await replace_scenes(
            session,
            tenant_id=tenant_id,
            asset_id=asset_id,
            model_name=model,
            model_version="1",
            scenes=[{"ordinal": i, "start_s": float(i), "end_s": float(i + 1)} for i in range(rows)],
        )

    record(ctx, "end")
    return StageOutput(write=write, model_versions={model: "1"})


def register_stages(registry: StageRegistry) -> None:
    """Register the test stage for every pipeline stage but probe (replacing real ones)."""
    for name in TEST_STAGES:
        registry.register(name, run_test_stage, replace=True)

"""A job's overall progress, derived from its stages' progress and the pipeline's weights."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from app.core.enums import StageStatus
from app.jobs.pipeline import Pipeline


class StageState(Protocol):
    """What progress needs of a stage row."""

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> StageStatus: ...

    @property
    def progress(self) -> float: ...


def clamp_fraction(value: float) -> float:
    """``value`` limited to [0, 1] (NaN counts as 0: a stage must never move the bar backwards to NaN)."""
    if value != value:  # NaN
        return 0.0
    return min(1.0, max(0.0, float(value)))


def job_progress(pipeline: Pipeline, stages: Iterable[StageState]) -> float:
    """Weighted mean of stage progress over the stages that run; skipped stages carry no weight.

    A job whose every stage was skipped is complete (1.0).
    """
    total = 0.0
    done = 0.0
    for stage in stages:
        if stage.status == StageStatus.SKIPPED:
            continue
        weight = pipeline.stage(stage.name).weight
        total += weight
        fraction = 1.0 if stage.status == StageStatus.SUCCEEDED else clamp_fraction(stage.progress)
        done += weight * fraction
    if total == 0.0:
        return 1.0
    # Rounded so that repeated recomputation does not publish float noise as "progress".
    return round(done / total, 4)

"""The routing policy in settings: which model serves each queue of a task, and when to escalate.

Set as ``MEDIAKG_ROUTING`` (JSON) or per value with ``__`` between levels after the prefix,
e.g. ``ROUTING__TRANSCRIBE__REALTIME=whisper-tiny.en`` (docs/configuration.md). The escalation
thresholds default to the numbers ``scripts/calibrate_routing.py`` chose on the speech fixtures (written to
``inference/calibration/transcribe.json``; ``tests/inference/test_routing.py`` checks the two agree).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field


class TranscribeRouting(BaseModel):
    """Speech-to-text routing."""

    realtime: str = Field(
        default="",
        description="Model of realtime jobs (uploads someone waits on); empty: MEDIAKG_WHISPER_MODEL.",
    )
    batch: str = Field(default="whisper-base", description="Model of batch jobs (bulk ingest, reprocessing).")
    accurate: str = Field(
        default="whisper-base",
        description="Model of ACCURATE jobs: upgrade passes and reprocessAsset(quality: ACCURATE).",
    )
    escalate_to: str = Field(
        default="whisper-base",
        description="Model low-confidence segments of a first pass are re-run on; empty: no escalation.",
    )
    # The calibration chose the words' mean probability alone (docs/models.md, "Calibration"):
    # the two window scores are off by default (-inf, 1), kept as settings for other audio.
    escalate_below_logprob: float = Field(
        default=-math.inf,
        description="A segment whose window's mean token log-probability is below this is escalated.",
    )
    escalate_above_no_speech: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="A segment whose window's no-speech probability is above this is escalated (1: never).",
    )
    escalate_below_word_probability: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="A segment whose words' mean probability is below this is escalated (0: never).",
    )
    escalation: Literal["followup", "inline"] = Field(
        default="followup",
        description=(
            "Where a realtime job's low-confidence spans are re-run: followup, an ESCALATION job on the "
            "batch queue once the realtime job completes (first results as fast as the fast model "
            "alone); inline, inside the realtime job's transcribe stage."
        ),
    )
    upgrade_when_idle: bool = Field(
        default=True,
        description=(
            "While the batch queue is idle, queue an ACCURATE job (transcribe and what depends on it) "
            "for one asset at a time whose transcript is still the fast model's."
        ),
    )


class RoutingPolicy(BaseModel):
    """Per task, the models of the realtime and batch queues and the escalation rule."""

    transcribe: TranscribeRouting = Field(default_factory=TranscribeRouting)

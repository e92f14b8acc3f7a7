"""Quality-aware routing on record: job.quality, per-segment confidence, per-stage model usage

- ``job.quality``: how the job chooses its models: ``routed`` (the queue's routing policy: the
  fast model first on realtime jobs), ``accurate`` (the accurate model on everything: an upgrade
  pass, or ``reprocessAsset(quality: ACCURATE)``) or ``escalation`` (a follow-up job that re-runs
  only a fast pass's low-confidence spans on the accurate model); ``job.follow_up``: the job of
  that quality to queue once this one completes (set by a fast pass that flagged spans).
- ``transcript_segment.avg_logprob`` / ``no_speech_prob``: Whisper's confidence of each row,
  what the escalation rule reads (NULL on rows written before this revision).
- ``job_stage.model_usage``: per model a stage ran, its calls, input seconds, wall and CPU
  seconds, and estimated quality (mean confidence of the output it kept).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUALITY = sa.Enum("routed", "accurate", "escalation", name="jobquality", native_enum=False, length=32)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("quality", _QUALITY, nullable=False, server_default="routed"))
        batch.add_column(sa.Column("follow_up", _QUALITY, nullable=True))
    with op.batch_alter_table("transcript_segment") as batch:
        batch.add_column(sa.Column("avg_logprob", sa.Double(), nullable=True))
        batch.add_column(sa.Column("no_speech_prob", sa.Double(), nullable=True))
    with op.batch_alter_table("job_stage") as batch:
        batch.add_column(sa.Column("model_usage", _JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("job_stage") as batch:
        batch.drop_column("model_usage")
    with op.batch_alter_table("transcript_segment") as batch:
        batch.drop_column("no_speech_prob")
        batch.drop_column("avg_logprob")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("follow_up")
        batch.drop_column("quality")

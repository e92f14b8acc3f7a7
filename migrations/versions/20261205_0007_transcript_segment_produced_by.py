"""transcript_segment.produced_by: the model that produced each row (quality-aware routing)

A transcribe pass stamps its rows with its first-pass model (model_name, model_version: what a
re-run replaces and what search groups by); a span escalated to the accurate model is produced
by that model, which this column names per row. NULL: the pass's own model.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_segment") as batch:
        batch.add_column(sa.Column("produced_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_segment") as batch:
        batch.drop_column("produced_by")

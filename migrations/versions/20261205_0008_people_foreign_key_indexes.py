"""index face_track.scene_id and person.merged_into_id

Both are ON DELETE SET NULL foreign keys: without an index, every deleted scene (each scenes
run replaces the asset's scenes) scans all face tracks, and every deleted person scans all
persons. The initial schema indexes its scene references (detection, transcript_segment) the
same way.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("face_track", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_track_scene_id"), ["scene_id"], unique=False)
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_merged_into_id"), ["merged_into_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_merged_into_id"))
    with op.batch_alter_table("face_track", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_track_scene_id"))

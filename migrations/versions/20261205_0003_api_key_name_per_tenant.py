"""api key names are unique per tenant (a name is the key's actor in the audit trail)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_api_key_tenant_id_name"), ["tenant_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_key_tenant_id_name"), type_="unique")

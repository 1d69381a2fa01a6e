"""issue 11 — plugin API 1.1 (withdrawn records, snapshot reads)

Revision ID: 0002
Revises: 0001

Certificates gain the stored status ``withdrawn`` (a string column already: no change), and a
run's stream report counts the certificates it withdrew.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_run_streams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_run_streams", schema=None) as batch_op:
        batch_op.drop_column("withdrawn")

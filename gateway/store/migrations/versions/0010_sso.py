"""issue 17 — single sign-on: console users linked to campus accounts

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sso_links",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name=op.f("fk_console_sso_links_user_id_console_users"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_console_sso_links")),
        sa.UniqueConstraint("subject", name=op.f("uq_console_sso_links_subject")),
    )


def downgrade() -> None:
    op.drop_table("console_sso_links")

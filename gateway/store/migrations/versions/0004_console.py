"""issue 17 — web console (users, API tokens, login throttling; look-up indexes)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_table(
        "console_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name=op.f("fk_console_tokens_user_id_console_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_console_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_console_tokens_user_id"), "console_tokens", ["user_id"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_candidates_student_number", "candidates", ["student_number"])
    op.create_index("ix_candidates_name", "candidates", ["name"])
    op.create_index("ix_learning_accounts_name", "learning_accounts", ["name"])


def downgrade() -> None:
    op.drop_index("ix_learning_accounts_name", table_name="learning_accounts")
    op.drop_index("ix_candidates_name", table_name="candidates")
    op.drop_index("ix_candidates_student_number", table_name="candidates")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_console_tokens_user_id"), table_name="console_tokens")
    op.drop_table("console_tokens")
    op.drop_table("console_users")

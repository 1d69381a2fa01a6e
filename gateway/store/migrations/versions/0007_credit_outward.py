"""issue 16 — credentials, verification, export

Revision ID: 0007
Revises: 0006

Verification answers of organizations, the signed credentials issued (with their status-list
index), the record of what was exported to the national or provincial credit bank, and the
learners' console logins with their one-time activation codes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "certificate_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("holder_checked", sa.Boolean(), nullable=False),
        sa.Column("holder_matches", sa.Boolean(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("operator", sa.String(length=128), nullable=True),
        sa.Column("answered_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_verifications")),
    )
    op.create_index(
        "ix_certificate_verifications_number",
        "certificate_verifications",
        ["organization", "number"],
        unique=False,
    )
    op.create_table(
        "issued_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("organization", sa.String(length=40), nullable=True),
        sa.Column("certificate_number", sa.String(length=64), nullable=True),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["learning_accounts.id"],
            name=op.f("fk_issued_credentials_account_id_learning_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_credentials")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_issued_credentials_credential_id")),
        sa.UniqueConstraint("status_index", name=op.f("uq_issued_credentials_status_index")),
    )
    op.create_index(
        op.f("ix_issued_credentials_account_id"),
        "issued_credentials",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "credit_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=True),
        sa.Column("file_name", sa.String(length=512), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("outcomes", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("corrections", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_exports")),
    )
    op.create_table(
        "credit_export_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["credit_exports.id"],
            name=op.f("fk_credit_export_items_export_id_credit_exports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_export_items")),
    )
    op.create_index(
        op.f("ix_credit_export_items_export_id"),
        "credit_export_items",
        ["export_id"],
        unique=False,
    )
    op.create_index(
        "ix_credit_export_items_ref", "credit_export_items", ["kind", "ref_id"], unique=False
    )

    op.create_table(
        "learner_logins",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name=op.f("fk_learner_logins_user_id_console_users"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_learner_logins")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_learner_logins_id_hash")),
    )
    op.create_table(
        "learner_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learner_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_learner_invites_code_hash")),
    )
    op.create_index(
        op.f("ix_learner_invites_id_hash"), "learner_invites", ["id_hash"], unique=False
    )


def downgrade() -> None:
    op.drop_table("learner_invites")
    op.drop_table("learner_logins")
    op.drop_table("credit_export_items")
    op.drop_table("credit_exports")
    op.drop_table("issued_credentials")
    op.drop_table("certificate_verifications")

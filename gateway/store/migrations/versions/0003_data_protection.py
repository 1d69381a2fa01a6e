"""issue 18 — personal data protection (keys, encryption, checkpoints, access audit)

Revision ID: 0003
Revises: 0002

The audit trail table (``gateway.audit``); ``candidates`` gets room for sealed ID numbers and
mobiles and a masked ID for display (filled here from the plaintext, which needs no key).
Encrypting the existing values needs the key file, which a schema migration does not have:
that data step is ``gateway.privacy.seal_pending``, run in batches of committed transactions by
every start after the keys are checked (resumable by construction: it picks up the rows still
in plaintext). Moving a milestone-1 salt out of the database is ``xgate keys init
--from-database``. See docs/privacy.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("origin", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    for column in ("at", "actor", "action", "target"):
        op.create_index(f"ix_audit_log_{column}", "audit_log", [column])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("max_entry_id", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("heads", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_checkpoints"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("organization", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("organization", "digest", name="pk_webhook_deliveries"),
    )
    op.add_column("candidates", sa.Column("id_masked", sa.String(32), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        # room for sealed values; SQLite enforces no VARCHAR length, and widening there would
        # rebuild ``candidates``, which registrations reference (a foreign-key failure)
        op.alter_column(
            "candidates",
            "id_number",
            type_=sa.String(160),
            existing_type=sa.String(32),
            existing_nullable=False,
        )
        op.alter_column("candidates", "mobile", type_=sa.String(128), existing_type=sa.String(20))
    _fill_masked_ids()


def _fill_masked_ids() -> None:
    from gateway.masking import mask_id

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, id_number FROM candidates WHERE id_masked IS NULL"))
    updates = [
        {"id": row.id, "masked": mask_id(row.id_number)}
        for row in rows
        if not str(row.id_number).startswith("x1:")
    ]
    if updates:
        conn.execute(sa.text("UPDATE candidates SET id_masked = :masked WHERE id = :id"), updates)


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("id_masked")  # downgrade only: sealed values must be opened first
    op.drop_table("webhook_deliveries")
    op.drop_table("ledger_checkpoints")
    op.drop_table("audit_log")

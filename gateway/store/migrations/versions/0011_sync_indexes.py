"""issue 14 — sync speed: drop the four indexes another index already serves

Each of these indexes is a prefix of another index on its table, so every query that used it
is answered as well by the longer one (``id_hash`` by ``(id_hash, rule_passed)`` or
``(id_hash, status)``; ``score_id`` by ``(score_id, revision)``; ``account_id`` by
``(account_id, kind, ...)``), while every insert paid for it: a score is keyed by a random
64-character hash, and at 50,000 scores the redundant index alone cost SQLite about 0.9 s of
a 6.5 s sync. Dropping an index rebuilds no table (SQLite's foreign keys stay untouched).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: (index, table, columns) of every index dropped here
DROPPED = (
    ("ix_scores_id_hash", "scores", ["id_hash"]),
    ("ix_score_revisions_score_id", "score_revisions", ["score_id"]),
    ("ix_certificates_id_hash", "certificates", ["id_hash"]),
    ("ix_learning_outcomes_account_id", "learning_outcomes", ["account_id"]),
)


def upgrade() -> None:
    for name, table, _ in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns, unique=False)

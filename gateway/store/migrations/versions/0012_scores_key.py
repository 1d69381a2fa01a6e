"""issue 14 — sync speed: the scores' natural key leads with the holder; one index fewer

``uq_scores_natural`` becomes (id_hash, organization, plan_code): the same uniqueness, and
now also the index for every look-up by holder, so ``ix_scores_holder_passed`` (id_hash,
rule_passed) goes. Every score insert paid for two indexes keyed by a random 64-character
hash; it pays for one. Coverage's "has a pass" probe reads the person's one to three score
rows through the key instead of answering from the covering index.

SQLite cannot change a table's constraints in place: the table is rebuilt (Alembic's batch
mode copies the rows, ids kept), with foreign keys off for the migration's connection and
every reference checked before the commit (``Database.upgrade``).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NEW_KEY = ["id_hash", "organization", "plan_code"]
OLD_KEY = ["organization", "plan_code", "id_hash"]


def _swap(key: list[str], *, holder_index: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("scores", recreate="always") as batch:
            batch.drop_constraint("uq_scores_natural", type_="unique")
            batch.create_unique_constraint("uq_scores_natural", key)
            if holder_index:
                batch.create_index("ix_scores_holder_passed", ["id_hash", "rule_passed"])
            else:
                batch.drop_index("ix_scores_holder_passed")
        return
    if holder_index:
        op.create_index("ix_scores_holder_passed", "scores", ["id_hash", "rule_passed"])
    else:
        op.drop_index("ix_scores_holder_passed", table_name="scores")
    op.drop_constraint("uq_scores_natural", "scores", type_="unique")
    op.create_unique_constraint("uq_scores_natural", "scores", key)


def upgrade() -> None:
    _swap(NEW_KEY, holder_index=False)


def downgrade() -> None:
    _swap(OLD_KEY, holder_index=True)

"""issue 14 — sync speed: a score's current revision lives in its ``scores`` row only

``score_revisions`` used to hold every revision, the current one too, so every new score cost
two rows (and every page two inserts). Now it holds the *superseded* revisions: a new score is
one row, and a correction first copies the row it replaces into ``score_revisions``. What the
current revision's history row carried moves onto ``scores``: ``run_id`` (the run that
recorded the current revision) and ``recorded_at`` (when the score first reached the college,
revision 1's time: the weekly report counts a score in that week).

Existing rows: both columns are filled from the revision rows, then the revision row equal to
each score's current revision is deleted (the ``scores`` row holds the same values). On SQLite
the new NOT NULL is a table rebuild (ids kept; ``Database.upgrade`` checks references).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("scores", sa.Column("run_id", sa.Integer()))
    op.add_column("scores", sa.Column("recorded_at", TS))
    op.execute(
        "UPDATE scores SET"
        " run_id = (SELECT r.run_id FROM score_revisions r"
        "  WHERE r.score_id = scores.id AND r.revision = scores.revision),"
        " recorded_at = COALESCE((SELECT min(r.recorded_at) FROM score_revisions r"
        "  WHERE r.score_id = scores.id), updated_at)"
    )
    op.execute(
        "DELETE FROM score_revisions WHERE revision ="
        " (SELECT s.revision FROM scores s WHERE s.id = score_revisions.score_id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("scores", recreate="always") as batch:
            batch.alter_column("recorded_at", existing_type=TS, nullable=False)
    else:
        op.alter_column("scores", "recorded_at", existing_type=TS, nullable=False)


def downgrade() -> None:
    op.execute(
        "INSERT INTO score_revisions (score_id, revision, theory, practical, total, org_passed,"
        " absent, revised_at, run_id, recorded_at)"
        " SELECT id, revision, theory, practical, total, org_passed, absent, revised_at, run_id,"
        " updated_at FROM scores"
    )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("scores", recreate="always") as batch:
            batch.drop_column("recorded_at")
            batch.drop_column("run_id")
    else:
        op.drop_column("scores", "recorded_at")
        op.drop_column("scores", "run_id")

"""issue 17 — web console (users, sessions, audit trail)

Revision ID: 0004
Revises: 0003

Reserved in the chain so that work on several issues can land in any order without two
revisions claiming the same parent. Until its issue needs a schema change it changes nothing.
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

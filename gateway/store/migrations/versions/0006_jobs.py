"""issue 15 — jobs and scale-out

Revision ID: 0006
Revises: 0005

Reserved in the chain so that work on several issues can land in any order without two
revisions claiming the same parent. Until its issue needs a schema change it changes nothing.
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

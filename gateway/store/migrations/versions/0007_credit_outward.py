"""issue 16 — credentials, verification, export

Revision ID: 0007
Revises: 0006

Reserved in the chain so that work on several issues can land in any order without two
revisions claiming the same parent. Until its issue needs a schema change it changes nothing.
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""issue 12 — core fixes

Revision ID: 0009
Revises: 0008

Reserved in the chain so that work on several issues can land in any order without two
revisions claiming the same parent. Until its issue needs a schema change it changes nothing.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

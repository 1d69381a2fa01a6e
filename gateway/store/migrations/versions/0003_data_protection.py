"""issue 18 — personal data protection (keys, encryption, checkpoints, access audit)

Revision ID: 0003
Revises: 0002

Reserved in the chain so that work on several issues can land in any order without two
revisions claiming the same parent. Until its issue needs a schema change it changes nothing.
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

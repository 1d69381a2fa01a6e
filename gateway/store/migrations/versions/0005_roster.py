"""issue 13 — student roster and reports

Revision ID: 0005
Revises: 0004

The registrar's roster (``roster_students``), the imports that changed it and every change
a re-import made (``roster_changes``), so coverage has its denominator: the students who
never registered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=512), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_imports")),
    )
    op.create_table(
        "roster_students",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_number", sa.String(length=64), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("id_masked", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("major", sa.String(length=128), nullable=False),
        sa.Column("major_code", sa.String(length=16), nullable=True),
        sa.Column("class_name", sa.String(length=128), nullable=True),
        sa.Column("cohort", sa.Integer(), nullable=False),
        sa.Column("program_years", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("waiver_basis", sa.String(length=32), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["roster_imports.id"],
            name=op.f("fk_roster_students_import_id_roster_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_students")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_roster_students_id_hash")),
        sa.UniqueConstraint("student_number", name=op.f("uq_roster_students_student_number")),
    )
    op.create_index(
        "ix_roster_students_scope",
        "roster_students",
        ["status", "cohort", "department", "major"],
        unique=False,
    )
    op.create_table(
        "roster_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old", sa.String(length=256), nullable=True),
        sa.Column("new", sa.String(length=256), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["roster_imports.id"],
            name=op.f("fk_roster_changes_import_id_roster_imports"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["roster_students.id"],
            name=op.f("fk_roster_changes_student_id_roster_students"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_changes")),
    )
    op.create_index(
        op.f("ix_roster_changes_student_id"), "roster_changes", ["student_id"], unique=False
    )
    op.create_index(
        "ix_certificates_holder_status", "certificates", ["id_hash", "status"], unique=False
    )
    op.create_index("ix_scores_holder_passed", "scores", ["id_hash", "rule_passed"], unique=False)
    op.create_index(
        "ix_registrations_candidate_status",
        "registrations",
        ["candidate_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_registrations_candidate_status", table_name="registrations")
    op.drop_index("ix_scores_holder_passed", table_name="scores")
    op.drop_index("ix_certificates_holder_status", table_name="certificates")
    op.drop_index(op.f("ix_roster_changes_student_id"), table_name="roster_changes")
    op.drop_table("roster_changes")
    op.drop_index("ix_roster_students_scope", table_name="roster_students")
    op.drop_table("roster_students")
    op.drop_table("roster_imports")

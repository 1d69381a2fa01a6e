"""Table definitions (SQLAlchemy Core). The migration chain in ``migrations/`` creates them.

Personal data lives in one table (``candidates``); everything else refers to a person by
``id_hash`` (salted SHA-256 of the normalised ID number), so exports, logs and the ledger never
need the number itself.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
TS = DateTime(timezone=True)
SCORE = Numeric(5, 2)

meta = Table(
    "xgate_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

candidates = Table(
    "candidates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("id_hash", String(64), nullable=False, unique=True),
    Column("id_type", String(32), nullable=False),
    # sealed (gateway.fieldcrypt); SQLite enforces no length, so its column keeps the old one
    # (widening it there would rebuild a table other tables reference)
    Column("id_number", String(160).with_variant(String(32), "sqlite"), nullable=False),
    Column("id_masked", String(32)),
    Column("name", String(64), nullable=False),
    Column("sex", String(1)),
    Column("birth_date", Date),
    Column("mobile", String(128).with_variant(String(20), "sqlite")),  # sealed
    Column("student_number", String(64)),
    Column("department", String(128)),
    Column("major", String(128)),
    Column("class_name", String(128)),
    Column("ethnicity", String(32)),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

exam_plans = Table(
    "exam_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", String(40), nullable=False),
    Column("code", String(64), nullable=False),
    Column("certificate_code", String(64), nullable=False),
    Column("level", Integer, nullable=False),
    Column("exam_date", Date),
    Column("registration_deadline", Date),
    Column("test_centre", String(256)),
    UniqueConstraint("organization", "code", name="uq_exam_plans_org_code"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator", String(128), nullable=False),
    Column("file_name", String(512), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("organization", String(40), nullable=False),
    Column("plan_code", String(64), nullable=False),
    Column("rows_total", Integer, nullable=False, default=0),
    Column("rows_valid", Integer, nullable=False, default=0),
    Column("rows_accepted", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("fee_charged", Numeric(12, 2), nullable=False, default=0),
    Column("fee_waived", Numeric(12, 2), nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("finished_at", TS),
)

# The registration outbox: one row per (organization, plan, candidate). The intent is committed
# as ``pending`` before any request leaves; the state then moves along
# gateway.models.REGISTRATION_TRANSITIONS (enforced by gateway.outbox._transition in the UPDATE
# itself), each move recorded in registration_events.
registrations = Table(
    "registrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("organization", String(40), nullable=False),
    Column("plan_code", String(64), nullable=False),
    Column("candidate_id", ForeignKey("candidates.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("org_registration_id", String(128)),
    Column("reason_code", String(64)),
    Column("reason", Text),
    Column("fee", Numeric(10, 2)),
    Column("fee_waived", Boolean, nullable=False, default=False),
    Column("resit", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("submission_id", ForeignKey("submissions.id")),
    Column("lease_owner", String(64)),
    Column("lease_until", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("organization", "plan_code", "candidate_id", name="uq_registrations_once"),
    Index("ix_registrations_status", "organization", "status"),
)

registration_events = Table(
    "registration_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("registration_id", ForeignKey("registrations.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("detail", Text),
    Column("at", TS, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("status", String(16), nullable=False),  # running, ok, failed, partial
    Column("options", JSON),
)

sync_run_streams = Table(
    "sync_run_streams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("sync_runs.id"), nullable=False, index=True),
    Column("organization", String(40), nullable=False),
    Column("stream", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # running, ok, failed, deferred
    Column("pages", Integer, nullable=False, default=0),
    Column("records", Integer, nullable=False, default=0),
    Column("new", Integer, nullable=False, default=0),
    Column("changed", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("quarantined", Integer, nullable=False, default=0),
    # issue 11 (revision 0002): certificates withdrawn after a complete read
    Column("withdrawn", Integer, nullable=False, default=0, server_default="0"),
    Column("retries", Integer, nullable=False, default=0),
    Column("requests", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("duration", Numeric(12, 3)),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("organization", String(40), primary_key=True),
    Column("stream", String(32), primary_key=True),
    Column("cursor", Text),
    Column("run_id", Integer),
    Column("updated_at", TS, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", String(40), nullable=False),
    Column("stream", String(32), nullable=False),
    Column("run_id", Integer),
    Column("error", Text, nullable=False),
    Column("payload", Text, nullable=False),  # masked JSON of what the organization sent
    Column("created_at", TS, nullable=False),
)

scores = Table(
    "scores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", String(40), nullable=False),
    Column("plan_code", String(64), nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("certificate_code", String(64)),
    Column("level", Integer),
    Column("theory", SCORE),
    Column("practical", SCORE),
    Column("total", SCORE),
    Column("org_passed", Boolean),
    Column("rule_passed", Boolean),
    Column("pass_disagreement", Boolean, nullable=False, default=False),
    Column("absent", Boolean, nullable=False, default=False),
    Column("revision", Integer, nullable=False),
    Column("revised_at", TS, nullable=False),
    Column("org_record_id", String(128)),
    Column("updated_at", TS, nullable=False),
    # the current revision's run, and when revision 1 reached the college (revision 0013:
    # ``score_revisions`` holds only superseded revisions, so a new score is one row)
    Column("run_id", Integer),
    Column("recorded_at", TS, nullable=False),
    # the holder first: the natural key also answers every look-up by holder (a page's scores,
    # a learner's record, coverage), so no second index on a random key costs each insert
    # (issue 14, revision 0012)
    UniqueConstraint("id_hash", "organization", "plan_code", name="uq_scores_natural"),
)

# The revisions a correction superseded (revision 0013): the current one is the ``scores``
# row, so a score's history is these rows, oldest first, then the score itself.
score_revisions = Table(
    "score_revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    # looked up by score through uq (score_id, revision) (issue 14)
    Column("score_id", ForeignKey("scores.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("theory", SCORE),
    Column("practical", SCORE),
    Column("total", SCORE),
    Column("org_passed", Boolean),
    Column("absent", Boolean, nullable=False, default=False),
    Column("revised_at", TS, nullable=False),
    Column("run_id", Integer),
    Column("recorded_at", TS, nullable=False),
    UniqueConstraint("score_id", "revision", name="uq_score_revisions_rev"),
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", String(40), nullable=False),
    Column("number", String(64), nullable=False),
    Column("certificate_code", String(64), nullable=False),
    Column("certificate_name", String(256)),
    Column("level", Integer, nullable=False),
    # looked up by holder through ix_certificates_holder_status (issue 14)
    Column("id_hash", String(64), nullable=False),
    Column("plan_code", String(64)),
    Column("issued_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("revoked_reason", Text),
    Column("org_updated_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("organization", "number", name="uq_certificates_natural"),
)

certificate_events = Table(
    "certificate_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("certificate_id", ForeignKey("certificates.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("detail", Text),
    Column("run_id", Integer),
    Column("at", TS, nullable=False),
)

issue_requests = Table(
    "issue_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("registration_id", ForeignKey("registrations.id"), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # pending, sent, issued, refused, unknown
    Column("certificate_number", String(64)),
    Column("reason", Text),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

learning_accounts = Table(
    "learning_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("id_hash", String(64), nullable=False, unique=True),
    Column("id_masked", String(32), nullable=False),
    Column("name", String(64)),
    Column("kind", String(16), nullable=False, default="student"),  # student, staff, public
    Column("created_at", TS, nullable=False),
    # The ledger head (last seq and its hash), moved with every append under a row lock: it
    # serialises appends per account and lets verify notice entries deleted from the tail.
    Column("head_seq", Integer, nullable=False, default=0),
    Column("head_hash", String(64)),
)

learning_outcomes = Table(
    "learning_outcomes",
    metadata,
    Column("id", Integer, primary_key=True),
    # looked up by account through uq (account_id, kind, ...): no index of its own (issue 14)
    Column("account_id", ForeignKey("learning_accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # certificate, course, training
    Column("source_org", String(64)),
    Column("source_ref", String(128), nullable=False),
    Column("title", String(256), nullable=False),
    Column("level", Integer),
    Column("credits", Numeric(6, 2)),
    Column("achieved_on", Date),
    Column("status", String(16), nullable=False, default="valid"),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("account_id", "kind", "source_org", "source_ref", name="uq_outcomes_once"),
)

credit_ledger = Table(
    "credit_ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("learning_accounts.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("course_code", String(64)),
    Column("course_name", String(256)),
    Column("credits", Numeric(6, 2), nullable=False),
    Column("source_org", String(64)),
    Column("source_ref", String(128)),
    Column("run_id", Integer),
    Column("rule_version", String(64)),
    Column("grade", String(16)),
    Column("score_revision", Integer),
    Column("reverses_seq", Integer),
    Column("valid_until", Date),
    Column("reason", String(256)),  # why a reversal was made (revoked, corrected, expired...)
    Column("recorded_at", TS, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("account_id", "seq", name="uq_credit_ledger_seq"),
)


# ---------------------------------------------------------------------------------------------
# Issue 11 (plugin API 1.1): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Issue 18 (personal data protection): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------

# The one audit trail (gateway.audit): who did what to whom, from where, with what outcome.
# ``target`` is pseudonymous (an id_hash, an account or row id), never an ID number or mobile.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", TS, nullable=False, index=True),
    Column("actor", String(128), nullable=False, index=True),
    Column("origin", String(128), nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(128), index=True),
    Column("outcome", String(16), nullable=False),
    Column("details", JSON),
)

# Signed ledger checkpoints (gateway.credit.checkpoints): the heads of every account at a moment,
# their Merkle root, signed with the key file's Ed25519 ledger key.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("created_at", TS, nullable=False),
    Column("accounts", Integer, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("max_entry_id", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("heads", Text, nullable=False),  # JSON [[id_hash, id_masked, head_seq, head_hash]]
)

# Webhook deliveries seen (gateway.deliveries): a replayed body is answered, never applied again.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("organization", String(40), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # processing, done
    Column("received_at", TS, nullable=False),
    Column("result", JSON),
)


# ---------------------------------------------------------------------------------------------
# Issue 17 (web console: users, sessions): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------

# Console users (gateway.users): a password hashed with argon2id, one role, never deleted
# (disabled instead, so the audit trail keeps naming them).
console_users = Table(
    "console_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", TS, nullable=False),
    Column("password_changed_at", TS, nullable=False),
    Column("last_login_at", TS),
)

# Single sign-on (issue 17, revision 0010): a console user linked to one campus account (the
# value of the configured identity claim); the role stays the local user's.
console_sso_links = Table(
    "console_sso_links",
    metadata,
    Column("user_id", ForeignKey("console_users.id"), primary_key=True),
    Column("subject", String(128), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
)

# Per-user API tokens: only a SHA-256 of the token is kept; the token is shown once.
console_tokens = Table(
    "console_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("console_users.id"), nullable=False, index=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_used_at", TS),
    Column("revoked_at", TS),
)

# Login throttling: failures per user name and per client address (kind "user" / "address").
login_failures = Table(
    "login_failures",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("first_at", TS, nullable=False),
    Column("locked_until", TS),
)

# Learner look-up by 学号 or name (gateway.learners) answers from an index, not a scan.
Index("ix_candidates_student_number", candidates.c.student_number)
Index("ix_candidates_name", candidates.c.name)
Index("ix_learning_accounts_name", learning_accounts.c.name)


# ---------------------------------------------------------------------------------------------
# Issue 13 (student roster and reports): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------

# One row per roster import that changed something (an import that changes nothing writes
# nothing, so re-importing the same export is idempotent).
roster_imports = Table(
    "roster_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("file_name", String(512), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("operator", String(128), nullable=False),
    Column("rows_total", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("imported_at", TS, nullable=False),
)

# The registrar's roster (学籍): one row per person, matched by 学号 or by the keyed ID hash.
# The ID number itself is never stored here: only ``id_hash`` (the join key to candidates,
# scores, certificates and learning accounts) and the masked form staff recognise.
roster_students = Table(
    "roster_students",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("student_number", String(64), nullable=False, unique=True),
    Column("id_hash", String(64), nullable=False, unique=True),
    Column("id_masked", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("department", String(128), nullable=False),
    Column("major", String(128), nullable=False),
    Column("major_code", String(16)),
    Column("class_name", String(128)),
    Column("cohort", Integer, nullable=False),  # 年级 / 入学年份
    Column("program_years", Integer),  # 学制
    Column("status", String(16), nullable=False),  # gateway.roster.model.STATUS_LABELS
    Column("waiver_basis", String(32)),  # gateway.roster.model.WAIVER_BASES
    Column("import_id", ForeignKey("roster_imports.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_roster_students_scope", "status", "cohort", "department", "major"),
)

# Covering indexes for coverage: "does this person hold a valid certificate / a live
# registration" is answered from the index alone, one probe per roster student; "a pass" by
# the scores' natural key (holder first) and the person's one to three score rows.
Index("ix_certificates_holder_status", certificates.c.id_hash, certificates.c.status)
Index("ix_registrations_candidate_status", registrations.c.candidate_id, registrations.c.status)

# Every change a re-import made to a student (major, class, status, ...), oldest first.
roster_changes = Table(
    "roster_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("student_id", ForeignKey("roster_students.id"), nullable=False, index=True),
    Column("import_id", ForeignKey("roster_imports.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("old", String(256)),
    Column("new", String(256)),
    Column("at", TS, nullable=False),
)


# ---------------------------------------------------------------------------------------------
# Issue 15 (jobs and scale-out): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Issue 16 (credit bank outward): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------

# What an organization answered when asked about a certificate (``xgate verify``, recognition of
# a certificate obtained elsewhere): the answer and its time, never the holder's name or ID.
certificate_verifications = Table(
    "certificate_verifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", String(40), nullable=False),
    Column("number", String(64), nullable=False),
    Column("purpose", String(16), nullable=False),  # verify, recognition
    Column("found", Boolean),
    Column("status", String(16)),
    Column("holder_checked", Boolean, nullable=False, default=False),
    Column("holder_matches", Boolean),
    Column("outcome", String(16), nullable=False),  # valid, revoked, not_found, mismatch, ...
    Column("reason", Text),
    Column("id_hash", String(64)),
    Column("operator", String(128)),
    Column("answered_at", TS, nullable=False),
    Index("ix_certificate_verifications_number", "organization", "number"),
)

# Every signed credential the college issued: its status-list index is its identity for
# revocation (a bit in the Bitstring Status List served by ``xgate serve``).
issued_credentials = Table(
    "issued_credentials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("credential_id", String(64), nullable=False, unique=True),  # urn:uuid:...
    Column("kind", String(24), nullable=False),  # OpenBadgeCredential, ClrCredential
    Column("account_id", ForeignKey("learning_accounts.id"), nullable=False, index=True),
    Column("organization", String(40)),
    Column("certificate_number", String(64)),
    Column("status_index", Integer, nullable=False, unique=True),
    Column("issued_at", TS, nullable=False),
    Column("valid_until", TS),
    Column("revoked_at", TS),
    Column("revoked_reason", Text),
    Column("token", Text),  # the signed credential, so a learner downloads the same one again
)

# Exports to the national or provincial credit bank: one row per file, and one item per
# outcome state or ledger entry it carried (a later state of the same outcome is a correction).
credit_exports = Table(
    "credit_exports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", TS, nullable=False),
    Column("operator", String(128)),
    Column("file_name", String(512)),
    Column("format", String(8), nullable=False),
    Column("outcomes", Integer, nullable=False, default=0),
    Column("entries", Integer, nullable=False, default=0),
    Column("corrections", Integer, nullable=False, default=0),
)

credit_export_items = Table(
    "credit_export_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("export_id", ForeignKey("credit_exports.id"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # outcome, entry
    Column("ref_id", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Index("ix_credit_export_items_ref", "kind", "ref_id"),
)

# Learner self-service: a console user of role ``learner`` is linked to exactly one learning
# account; staff hand out one-time activation codes (only their SHA-256 is kept).
learner_logins = Table(
    "learner_logins",
    metadata,
    Column("user_id", ForeignKey("console_users.id"), primary_key=True),
    Column("id_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
)

learner_invites = Table(
    "learner_invites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("id_hash", String(64), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Column("created_by", String(128)),
)


# ---------------------------------------------------------------------------------------------
# Issue 14 (sync speed): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Issue 12 (core fixes): each issue keeps its tables in its own section so that
# parallel work merges cleanly; its migration is the reserved revision named for it.
# ---------------------------------------------------------------------------------------------

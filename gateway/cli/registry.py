"""Where each command module is listed, so adding a command touches one line here.

Entries are ``(command name, "module:attribute")``; the attribute is a Typer group (added as a
sub-command group) or a plain function (added as a command). A command's module is imported
only when that command runs (``gateway.cli.lazy``); ``SUMMARIES`` holds the one-line help that
``xgate --help`` shows without importing it (optional: a command missing there is imported to
show its help; ``tests/test_cli_startup.py`` checks each summary against the command's help).
"""

from __future__ import annotations

import importlib
from typing import Any

COMMANDS: list[tuple[str, str]] = [
    ("plugins", "gateway.cli.commands_core:plugins_app"),
    ("config", "gateway.cli.commands_core:config_app"),
    ("db", "gateway.cli.commands_core:db_app"),
    ("schemas", "gateway.cli.commands_core:schemas_app"),
    ("demo", "gateway.cli.demo:demo"),
    ("outbox", "gateway.cli.outbox:app"),
    ("serve", "gateway.cli.serve:serve"),
    ("sync", "gateway.cli.sync:sync"),
    ("issue", "gateway.cli.sync:issue"),
    ("runs", "gateway.cli.sync:runs"),
    ("quarantine", "gateway.cli.sync:quarantine_app"),
    ("credits", "gateway.cli.credits:app"),
    ("check", "gateway.cli.intake:check"),
    ("submit", "gateway.cli.intake:submit"),
    ("keys", "gateway.cli.keys:app"),
    ("audit", "gateway.cli.audit:audit_list"),
    ("privacy", "gateway.cli.privacy:app"),
    ("roster", "gateway.cli.roster:app"),
    ("report", "gateway.cli.report:app"),
    ("worker", "gateway.cli.jobs:worker"),
    ("jobs", "gateway.cli.jobs:app"),
    ("verify", "gateway.cli.outward:verify"),
    ("recognise", "gateway.cli.outward:recognise"),
    ("credentials", "gateway.cli.outward:credentials_app"),
    ("learners", "gateway.cli.outward:learners_app"),
    ("users", "gateway.cli.users:app"),
]


def resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


SUMMARIES: dict[str, str] = {
    "plugins": "Organization plugins: list, check, new.",
    "config": "Effective settings.",
    "db": "Database migrations.",
    "schemas": "JSON Schemas of the records.",
    "demo": "Run the whole flow against the bundled simulated organizations: import the sample "
    "candidate list, register, grade, sync with issuance, convert credit, and summarise.",
    "outbox": "Registration outbox: pending, in-flight and unknown entries.",
    "serve": "Serve the web console (/ and /api/), POST /webhooks/{organization} and GET /health "
    "until interrupted.",
    "sync": "Pull every organization's new scores and certificates (the nightly job).",
    "issue": "Ask organizations with the `issue` capability to issue certificates for passed "
    "candidates that have none yet (idempotent: never two certificates for one registration).",
    "runs": "Recorded sync runs, per organization and stream.",
    "quarantine": "Records an organization sent that did not validate.",
    "credits": "Credit bank (学分银行): accounts, transcripts, ledger check, imports, rules.",
    "roster": "The registrar's student roster (学籍).",
    "report": "Reports: coverage, weekly progress, fees and waivers.",
    "check": "Check a candidate file: every row's problems, totals and fees. Sends and writes "
    "nothing. Exit 0 all rows valid, 1 some rows invalid, 2 the file itself is unusable.",
    "submit": "Register a candidate file's valid rows with an organization, and write "
    "<file>.<org>.results.xlsx beside it. Exit 0 all accepted (or already registered), 1 some rows "
    "invalid, rejected or not settled, 2 the file itself is unusable.",
    "worker": "Run jobs and the \\[schedule] until stopped (SIGTERM finishes running jobs first).",
    "jobs": "Jobs on PostgreSQL: list, retry, cancel, queue now.",
    "privacy": "Retention of personal data.",
    "keys": "The key file: encryption, look-up and signing keys.",
    "audit": "The audit trail, newest first, filtered by user, action, target and date range.",
    "learners": "Learner self-service: one-time activation codes staff hand out.",
    "users": "Web console users: roles admin, staff, finance, viewer; single sign-on links.",
    "verify": "Ask the issuing organization whether a certificate holds; the answer is recorded.",
    "recognise": "Recognise (认定) a certificate obtained elsewhere: verified at the issuer, then "
    "recorded and converted like a synced one; refused with the organization's reason otherwise.",
    "credentials": "Open Badges 3.0 / CLR 2.0 credentials: issue signed ones, verify any.",
}

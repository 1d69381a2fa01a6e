"""The credit bank (学分银行): learning accounts, conversion rules and the hash-chained ledger.

National policy asks for a personal learning account per learner in which outcomes are
traceable, queryable and convertible. Here: ``rules`` (the college's versioned conversion
policy), ``accounts`` (one per person, keyed by the hashed ID), ``ledger`` (append-only,
hash-chained entries), ``conversion`` (certificates -> credits as desired-state
reconciliation), ``verify`` (tamper evidence), ``importer`` (course and training credits from
spreadsheets) and ``transcript`` (what a learner or employer is shown).
"""

from gateway.credit.accounts import Account, ensure_accounts, get_account
from gateway.credit.conversion import (
    ConversionResult,
    ReconcileTotals,
    reconcile_accounts,
    reconcile_all,
)
from gateway.credit.ledger import GENESIS, EntryDraft, append, canonical_entry, entry_hash
from gateway.credit.rules import RulesError, RuleSet, load_rules, parse_rules
from gateway.credit.verify import LedgerProblem, VerifyReport, verify, verify_report

__all__ = [
    "GENESIS",
    "Account",
    "ConversionResult",
    "EntryDraft",
    "LedgerProblem",
    "ReconcileTotals",
    "RuleSet",
    "RulesError",
    "VerifyReport",
    "append",
    "canonical_entry",
    "ensure_accounts",
    "entry_hash",
    "get_account",
    "load_rules",
    "parse_rules",
    "reconcile_accounts",
    "reconcile_all",
    "verify",
    "verify_report",
]

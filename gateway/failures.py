"""The failure policy: one table from an error to what the core does next.

Every place that calls an organization (sync streams, the registration outbox, issuance,
reconciliation look-ups, webhooks) asks ``decide(error, operation)`` and follows the answer;
none keeps an exception ladder of its own. Invariants:

- A write that may have reached the organization is never settled by guessing: it is
  ``UNKNOWN`` and reconciled by asking (or, where the capability makes repeats safe, by sending
  the same key again). A write that certainly did not leave is ``DEFER``-red back to pending.
- A refusal of one item (``RejectedError``) is recorded against that item and never retried.
- Credentials refused or a configuration problem stop that organization for this run; an open
  circuit defers its remaining work. The other organizations always continue.
- Anything the policy does not recognise is a plugin bug: the work fails (or, for a write, is
  unknown), the organization stops, and the log gets one line (the traceback at ``-v``).
- A database failure is never blamed on the organization's data: one line naming the database
  error, the organization stops for this run.

The table (``R`` read a page or look up, ``W`` write: register or issue, ``H`` a webhook body):

=====================  ==========================  ===========================  ==========
error                  R                           W                            H
=====================  ==========================  ===========================  ==========
AuthError              fail organization, stop     fail organization, stop      reject
CircuitOpenError       defer, stop                 defer, stop                  -
OutcomeUnknown         retry                       unknown                      -
TransientError(sent)   retry                       unknown                      -
TransientError         retry                       defer, stop                  -
RateLimitedError       retry                       defer, stop                  -
RejectedError          fail organization           reject                       reject
ContractError          retry                       unknown                      reject
Configuration/Plugin   fail organization, stop     fail organization, stop      -
database error         fail organization, stop     fail organization, stop      -
anything else (bug)    fail organization           unknown, stop                -
=====================  ==========================  ===========================  ==========
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from gateway.errors import (
    AuthError,
    CircuitOpenError,
    ConfigurationError,
    ContractError,
    InputError,
    OutcomeUnknown,
    PluginError,
    RejectedError,
    TransientError,
)


class Operation(StrEnum):
    READ = "read"  # a stream page, a reconciliation look-up: nothing changes at the organization
    WRITE = "write"  # register, issue: may change something at the organization
    RECEIVE = "receive"  # a webhook body the organization pushed to us


class Action(StrEnum):
    RETRY = "retry"  # the same work again, within the caller's budget
    DEFER = "defer"  # nothing happened at the organization: leave it pending for a later run
    FAIL_ORGANIZATION = "fail_organization"  # reported as this organization's failure this run
    REJECT = "reject"  # a refusal of this one item (or delivery): record it, never retry
    UNKNOWN = "unknown"  # a write may have taken effect: settle by asking, never by guessing


class Kind(StrEnum):
    """What the error was, for messages and for the server's status codes."""

    AUTH = "auth"
    CIRCUIT = "circuit"
    TRANSIENT = "transient"
    OUTCOME_UNKNOWN = "outcome_unknown"
    REJECTED = "rejected"
    CONTRACT = "contract"
    CONFIGURATION = "configuration"
    DATABASE = "database"
    BUG = "bug"


@dataclass(frozen=True)
class Decision:
    action: Action
    kind: Kind
    #: the rest of this organization's work in this run is not attempted
    stop: bool
    #: one line for reports and logs: the error's type and message
    reason: str

    @property
    def failed(self) -> bool:
        """Whether this counts against the run: everything but a retry and a single refusal."""
        return self.action not in (Action.RETRY, Action.REJECT)


def is_database_error(exc: BaseException) -> bool:
    """A failure of our own database (lost connection, locked or vanished file)."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("asyncpg", "sqlite3", "aiosqlite"))


def describe(exc: BaseException) -> str:
    """One line: ``Type: message``; a database error names the driver's error, not the SQL."""
    if is_database_error(exc):
        reason = getattr(exc, "orig", None) or exc
        text = str(reason).splitlines()[0] if str(reason) else ""
        return f"database error: {type(reason).__name__}: {text}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def kind_of(exc: BaseException) -> Kind:
    """The category of an error; the order matters (subclasses first)."""
    ladder: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Kind], ...] = (
        (AuthError, Kind.AUTH),
        (CircuitOpenError, Kind.CIRCUIT),
        (OutcomeUnknown, Kind.OUTCOME_UNKNOWN),
        (TransientError, Kind.TRANSIENT),
        (RejectedError, Kind.REJECTED),
        ((ContractError, InputError, ValueError), Kind.CONTRACT),
        ((ConfigurationError, PluginError), Kind.CONFIGURATION),
    )
    if is_database_error(exc):
        return Kind.DATABASE
    for types, kind in ladder:
        if isinstance(exc, types):
            if kind is Kind.TRANSIENT and getattr(exc, "sent", False):
                return Kind.OUTCOME_UNKNOWN
            return kind
    return Kind.BUG


_READ = {
    Kind.AUTH: (Action.FAIL_ORGANIZATION, True),
    Kind.CIRCUIT: (Action.DEFER, True),
    Kind.OUTCOME_UNKNOWN: (Action.RETRY, False),
    Kind.TRANSIENT: (Action.RETRY, False),
    Kind.REJECTED: (Action.FAIL_ORGANIZATION, False),
    Kind.CONTRACT: (Action.RETRY, False),
    Kind.CONFIGURATION: (Action.FAIL_ORGANIZATION, True),
    Kind.DATABASE: (Action.FAIL_ORGANIZATION, True),
    Kind.BUG: (Action.FAIL_ORGANIZATION, False),
}
_WRITE = {
    Kind.AUTH: (Action.FAIL_ORGANIZATION, True),
    Kind.CIRCUIT: (Action.DEFER, True),
    Kind.OUTCOME_UNKNOWN: (Action.UNKNOWN, False),
    Kind.TRANSIENT: (Action.DEFER, True),
    Kind.REJECTED: (Action.REJECT, False),
    Kind.CONTRACT: (Action.UNKNOWN, False),
    Kind.CONFIGURATION: (Action.FAIL_ORGANIZATION, True),
    Kind.DATABASE: (Action.FAIL_ORGANIZATION, True),
    Kind.BUG: (Action.UNKNOWN, True),
}
_RECEIVE = {
    Kind.AUTH: (Action.REJECT, False),
    Kind.REJECTED: (Action.REJECT, False),
    Kind.CONTRACT: (Action.REJECT, False),
}


def decide(exc: BaseException, operation: Operation) -> Decision:
    """What to do about ``exc`` raised while doing ``operation`` for one organization."""
    kind = kind_of(exc)
    table = {Operation.READ: _READ, Operation.WRITE: _WRITE, Operation.RECEIVE: _RECEIVE}
    action, stop = table[operation].get(kind, (Action.FAIL_ORGANIZATION, True))
    return Decision(action=action, kind=kind, stop=stop, reason=describe(exc))


def log_failure(logger: logging.Logger, where: str, exc: BaseException, decision: Decision) -> None:
    """One line at default verbosity; a plugin bug's traceback only at ``-v`` (INFO)."""
    if decision.action is Action.RETRY:
        logger.warning("%s: %s (will retry)", where, decision.reason)
        return
    show_trace = decision.kind is Kind.BUG and logger.isEnabledFor(logging.INFO)
    logger.error("%s: %s", where, decision.reason, exc_info=exc if show_trace else None)

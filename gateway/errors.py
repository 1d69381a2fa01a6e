"""Typed errors: what went wrong decides what the core does next.

- TransientError (HTTP layer, adapters): retried with backoff; after the budget the stream or
  batch fails for this run and resumes from its checkpoint next run.
- RateLimitedError: retried after ``retry_after`` seconds (capped by the policy's max wait).
- RejectedError (adapters): recorded against the one candidate or record; never retried.
- AuthError: that organization stops for this run and is reported; the others continue.
- ContractError: the raw payload is quarantined and counted; the run goes on.
- OutcomeUnknown (HTTP layer): a write may have reached the organization; the outbox marks the
  entry unknown and reconciles it by look-up, never by resending.
- CircuitOpenError: the organization is paused after repeated failures; its work is deferred.

What each caller does about them is decided in one place, ``gateway.failures.decide``.
"""

from __future__ import annotations

from typing import Any


class XgateError(Exception):
    """Base of every error the core knows how to report."""

    exit_code = 1


class ConfigurationError(XgateError):
    exit_code = 3


class InputError(XgateError):
    """Bad input from a user: a file, a command-line value, an API request."""

    exit_code = 2


class PluginError(XgateError):
    """A plugin that cannot be loaded or used; ``plugin`` and ``distribution`` name the culprit."""

    def __init__(self, plugin: str, message: str, distribution: str | None = None) -> None:
        where = f"plugin {plugin!r}" + (f" (from {distribution})" if distribution else "")
        super().__init__(f"{where}: {message}")
        self.plugin = plugin
        self.distribution = distribution
        self.detail = message


class OrganizationError(XgateError):
    """Something about one organization; carries the organization's name when known.

    The name lives in ``organization``, not in the text: whoever reports the error (a run
    report, the outbox's summary, a log line) prefixes it once. A message that starts with
    ``"<organization>: "`` anyway (plugins built for API 1.0 did) has that prefix dropped, so
    reports never read "huaxin: authentication failed: huaxin: ...".
    """

    def __init__(self, message: str, *, organization: str | None = None) -> None:
        prefix = f"{organization}: " if organization else ""
        if prefix and message.startswith(prefix):
            message = message[len(prefix) :]
        super().__init__(message)
        self.organization = organization


class TransientError(OrganizationError):
    """Worth retrying: connection trouble, timeouts, 5xx."""

    def __init__(
        self, message: str, *, organization: str | None = None, sent: bool = False
    ) -> None:
        super().__init__(message, organization=organization)
        self.sent = sent


class OutcomeUnknown(TransientError):
    """The request may have been processed: never resend a non-idempotent write blindly."""

    def __init__(self, message: str, *, organization: str | None = None) -> None:
        super().__init__(message, organization=organization, sent=True)


class RateLimitedError(TransientError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, organization: str | None = None
    ) -> None:
        super().__init__(message, organization=organization)
        self.retry_after = retry_after


class CircuitOpenError(TransientError):
    """The organization is paused after repeated failures; work is deferred, not failed."""


class AuthError(OrganizationError):
    """Credentials refused: stop this organization, alert, continue with the others."""


class RejectedError(OrganizationError):
    """A business refusal for one candidate or record; recorded, never retried."""

    def __init__(
        self, message: str, *, code: str | None = None, organization: str | None = None
    ) -> None:
        super().__init__(message, organization=organization)
        self.code = code


class ContractError(OrganizationError):
    """The organization sent something that does not fit its documented contract."""

    def __init__(
        self, message: str, *, payload: Any = None, organization: str | None = None
    ) -> None:
        super().__init__(message, organization=organization)
        self.payload = payload

"""Circuit breaker: stop knocking on an organization that keeps failing.

Retries absorb a blip; they make an outage worse (every request still spends its full retry
budget against a dead server). After ``threshold`` consecutive requests fail *after* their
retries, the breaker opens: requests fail at once with ``CircuitOpenError`` and callers defer the
work. After ``cooldown`` seconds one trial request is let through (half-open); its success
closes the breaker, its failure opens it for another cool-down.

The clock is injected (``now``, monotonic seconds), so tests move time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from gateway.errors import CircuitOpenError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Per-organization failure gate; one instance per ``OrgClient``.

    Call ``admit()`` before a request (it raises when the circuit is open) and ``settle()``
    with the ticket it returned once the request is over.
    """

    def __init__(
        self,
        organization: str,
        *,
        threshold: int,
        cooldown: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.organization = organization
        self.threshold = threshold
        self.cooldown = cooldown
        self.now = now
        self.failures = 0  # consecutive, after retries
        self.opened_at: float | None = None
        self.times_opened = 0
        self._trial_out = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.now() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def admit(self) -> bool:
        """Let a request through, or raise ``CircuitOpenError``.

        Returns ``True`` when this request is the half-open trial: only one is in flight at a
        time, so a recovering organization is not hit by a burst of deferred work at once.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        assert self.opened_at is not None
        remaining = max(0.0, self.opened_at + self.cooldown - self.now())
        raise CircuitOpenError(
            f"{self.organization}: paused after {self.failures} consecutive failed requests; "
            f"next trial in {remaining:.0f} s",
            organization=self.organization,
        )

    def settle(self, trial: bool, ok: bool | None) -> None:
        """Record how an admitted request ended.

        ``ok=None`` means "no verdict" (the request was cancelled or failed on our side): the
        trial slot is freed without moving the breaker either way.
        """
        if trial:
            self._trial_out = False
        if ok is None:
            return
        if ok:
            self.failures = 0
            self.opened_at = None
            return
        self.failures += 1
        if trial or self.failures >= self.threshold:
            if self.opened_at is None or trial:
                self.times_opened += 1
            self.opened_at = self.now()

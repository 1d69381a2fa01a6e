"""The sandbox: the organization a plugin is tested against, and what the kit may ask of it.

A plugin author subclasses ``Sandbox`` around their fake or test organization (an in-process
``httpx.MockTransport``, a loopback aiohttp simulator, a vendor's test system). The kit only
calls the methods the plugin's declared capabilities need; everything else keeps its default.
Methods that report the organization's *ground truth* (``registrations``, ``certificates_of``,
``expected``) are optional but make the checks stronger: without them the kit can only compare
what the adapter says with what the adapter said before.

The kit starts the sandbox inside its own event loop (``start``/``stop``), so a simulator that
listens on a socket is created in the loop that talks to it; a pytest fixture should return an
*unstarted* sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from gateway.models import Candidate, ExamPlan
from gateway.testing.people import candidates as _people


class Sandbox:
    """Base class with the defaults; override what your plugin's capabilities need.

    ========================  =========================================  ==================
    method                    needed for                                 default
    ========================  =========================================  ==================
    ``settings()``            always                                     (must override)
    ``transport``             an in-process fake (``MockTransport``)     real network
    ``plan()``                ``register``, ``issue``                    (must override)
    ``candidates(n)``         ``register``, ``issue``                    made-up people
    ``refusal()``             ``register`` (refusals are outcomes)       check skipped
    ``registrations(...)``    ``register`` (ground truth)                 not known
    ``seed(n)``               ``scores``, ``certificates``               (must override)
    ``change()``              ``scores``, ``certificates`` (resumption)  (must override)
    ``expected(stream)``      streams (ground truth)                     not known
    ``withdraw()``            snapshot reads (API 1.1)                   part skipped
    ``grade(...)``            ``issue``                                  (must override)
    ``certificates_of(...)``  ``issue`` (ground truth)                   not known
    ``certificate()``         ``verify``                                 (must override)
    ``webhook()``             ``webhooks``                               (must override)
    ========================  =========================================  ==================
    """

    #: The configured organization name the kit uses (``[organizations.NAME]``).
    organization: str = "kit"
    #: An in-process transport standing in for the network (``httpx.MockTransport``, an ASGI
    #: transport); ``None`` sends real requests (to a loopback simulator).
    transport: httpx.AsyncBaseTransport | None = None
    #: False for an adapter that talks to its organization without HTTP (the kit then skips
    #: the fault-injection check instead of failing it for requests that never came).
    uses_http: bool = True
    #: How many candidates ``seed`` is asked for in stream checks. Pick it with the page size
    #: in ``settings()`` so a stream has at least three pages.
    seed_size: int = 12

    def __init__(self) -> None:
        self._people: Iterator[Candidate] = _people(seed=0)

    async def start(self) -> None:
        """Start the organization (bind a loopback port, open a session)."""

    async def stop(self) -> None:
        """Stop it; called even when a check failed."""

    def settings(self) -> dict[str, Any]:
        """The plugin's settings (the ``[organizations.NAME]`` keys beyond ``plugin``,
        ``enabled`` and ``http``) pointing at this sandbox, as they would appear in
        ``xgate.toml``. Called after ``start``. Choose a small page size."""
        raise NotImplementedError("Sandbox.settings(): return the plugin settings for the sandbox")

    # registration ---------------------------------------------------------------------------

    def plan(self) -> ExamPlan:
        """An exam plan open for registration, for which ``candidates()`` are acceptable."""
        raise NotImplementedError("Sandbox.plan(): return an exam plan open for registration")

    def candidates(self, count: int) -> list[Candidate]:
        """``count`` people never seen before that the organization will accept for ``plan()``
        (made-up valid resident ID numbers by default)."""
        return [next(self._people) for _ in range(count)]

    async def refusal(self) -> tuple[ExamPlan, Candidate] | None:
        """A plan and a candidate the organization refuses on business grounds (deadline,
        level, duplicate) while still accepting fresh ``candidates()`` for that plan; arrange
        the organization's state here if needed. ``None`` skips the refusal check."""
        return None

    def registrations(self, plan_code: str, id_number: str) -> int | None:
        """Ground truth: how many registrations the organization holds for this person and
        plan (``None``: unknown)."""
        return None

    # streams --------------------------------------------------------------------------------

    async def seed(self, count: int) -> None:
        """Make the organization hold scores for ``count`` new candidates, and certificates
        for those who passed (register them directly at the organization, not through the
        adapter). Called again to add records."""
        raise NotImplementedError("Sandbox.seed(count): create scores and certificates")

    async def change(self) -> None:
        """Change data the way the organization does between two reads: correct at least one
        score and revoke or update at least one certificate that was already delivered, and
        add a few new records. The resumption check calls it between reading part of a stream
        and resuming from the stored cursor."""
        raise NotImplementedError(
            "Sandbox.change(): correct some delivered records and add new ones"
        )

    def expected(self, stream: str) -> int | None:
        """Ground truth: how many distinct records ``stream`` ("scores" or "certificates")
        holds now (``None``: unknown)."""
        return None

    async def withdraw(self) -> str | None:
        """For an organization whose list shows only current certificates: make it stop
        listing one it listed (a pass turned fail) and return that certificate's number.
        ``None`` (the default) skips that part of the snapshot check."""
        return None

    # issue and verify -----------------------------------------------------------------------

    async def grade(self, plan: ExamPlan, candidates: Sequence[Candidate], *, passed: bool) -> None:
        """Record results for these candidates of ``plan`` (registering them at the
        organization first if they are not), all passing or all failing."""
        raise NotImplementedError("Sandbox.grade(plan, candidates, passed=...): record results")

    def certificates_of(self, plan_code: str, id_number: str) -> int | None:
        """Ground truth: how many certificates the organization issued to this person for this
        plan (``None``: unknown)."""
        return None

    async def certificate(self) -> tuple[str, str]:
        """Make sure the organization holds one valid certificate; return its number and the
        holder's name."""
        raise NotImplementedError("Sandbox.certificate(): return (number, holder name)")

    async def webhook(self) -> tuple[Mapping[str, str], bytes]:
        """A webhook delivery (headers, body) the organization would send now, with records
        in it (seed first if needed)."""
        raise NotImplementedError("Sandbox.webhook(): return (headers, body) of a delivery")

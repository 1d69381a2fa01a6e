"""Personal data: no ID number or mobile number leaves the plugin unmasked in a log line, an
exception message or a refusal reason.

``xgate`` masks every log record as it is created (``gateway.masking.install_masking``), but
only in processes that install it (a program embedding the gateway may not), and exception
texts and refusal reasons are stored in the database and shown to staff. So a plugin masks at
the source, and the core's masking is the second guard. The check captures every log record
at DEBUG level *as the plugin wrote it* (before the core's masking) while it registers (with
faults and a lost answer, so warnings and errors are written too), reads every stream and
verifies, then looks for the people's ID numbers and mobiles there and in the messages.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gateway.contract import Capability
from gateway.errors import XgateError
from gateway.masking import mask_text
from gateway.testing.checks.registration import requests_for
from gateway.testing.harness import KitFailure, KitSkip, Session
from gateway.testing.reading import read_stream

#: Loggers not written by the plugin: the sandbox's machinery (a simulator may log what the
#: organization holds), and the HTTP libraries and layer whose lines the core masks itself
#: (httpx logs whole URLs, query strings included: an ID number sent to the organization in a
#: query is masked there by ``gateway.masking``, not by the plugin).
NOT_THE_PLUGIN = ("aiohttp", "asyncio", "httpx", "httpcore", "xgate.http")


def _plugins(name: str) -> bool:
    return not any(name == p or name.startswith(p + ".") for p in NOT_THE_PLUGIN)


class _Capture:
    """Log records as the plugin wrote them, taken at creation.

    ``gateway.masking.install_masking`` masks records as they are created (and filters on
    handlers rewrite them in place), so no handler can see what the plugin wrote. The capture
    therefore wraps the record factory: it keeps the raw text, then hands the record on to the
    factory in place (masked as in production).
    """

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def record(self, raw: logging.LogRecord) -> None:
        if not _plugins(raw.name):
            return
        try:
            text = raw.getMessage()
        except Exception:
            text = str(raw.msg)
        if raw.exc_info and raw.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*raw.exc_info))
        self.lines.append((f"{raw.name} {raw.levelname}", text))


@contextmanager
def _capturing() -> Iterator[_Capture]:
    capture = _Capture()
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        capture.record(logging.LogRecord(*args, **kwargs))
        return previous(*args, **kwargs)

    loggers = [logging.getLogger(), logging.getLogger("xgate")]
    levels = [logger.level for logger in loggers]
    logging.setLogRecordFactory(factory)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        logging.setLogRecordFactory(previous)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def _exercise(session: Session, texts: list[tuple[str, str]], people: set[str]) -> None:
    """Everything a night and a registration day do, with the texts the plugin produced."""
    sandbox = session.sandbox
    streams = [
        c.value for c in (Capability.SCORES, Capability.CERTIFICATES) if session.implements(c)
    ]
    if streams:
        await sandbox.seed(sandbox.seed_size)
    for stream in streams:
        read = await read_stream(
            session, session.build(flaky=sandbox.uses_http).adapter, stream, None
        )
        people.update(r.id_number for r in read.good)
        texts.extend((f"an Invalid reason of {stream}", reason) for _, reason in read.bad)
    if session.implements(Capability.REGISTER):
        plan = sandbox.plan()
        cohort = sandbox.candidates(3)
        people.update(c.id_number for c in cohort)
        people.update(c.mobile for c in cohort if c.mobile)
        built = session.build(flaky=sandbox.uses_http)
        built.faults.lose_answers = 1
        for batch in (cohort[:2], cohort[2:]):
            try:
                answer = await built.adapter.register(plan, requests_for(session, plan, batch))
            except Exception as exc:
                texts.append((f"register() raised {type(exc).__name__}", str(exc)))
                continue
            for outcome in answer:
                texts.append(("a registration outcome's reason", str(outcome.reason or "")))
        refusal = await sandbox.refusal()
        if refusal is not None:
            refused_plan, refused = refusal
            people.add(refused.id_number)
            if refused.mobile:
                people.add(refused.mobile)
            try:
                answer = await session.adapter().register(
                    refused_plan, requests_for(session, refused_plan, [refused])
                )
                texts.extend(("a refusal's reason", str(o.reason or "")) for o in answer)
            except XgateError as exc:
                texts.append((f"register() raised {type(exc).__name__}", str(exc)))
    if session.implements(Capability.VERIFY):
        number, holder = await sandbox.certificate()
        await session.adapter().verify(number, holder)


async def no_personal_data_in_logs(session: Session) -> None:
    texts: list[tuple[str, str]] = []
    people: set[str] = set()
    with _capturing() as capture:
        await _exercise(session, texts, people)
    if not people:
        raise KitSkip("no capability handles personal data (register, scores, certificates)")
    values = {p for p in people if p} | {p.lower() for p in people if p}
    leaks: list[str] = []
    for where, text in [*capture.lines, *texts]:
        for value in values:
            if value in text:
                line = mask_text(text.replace(value, "<" + mask_text(value) + ">"))
                leaks.append(f"{where}: {line[:300]}")
                break
    if leaks:
        raise KitFailure(
            f"{len(leaks)} log line(s) or message(s) written by the plugin contain an unmasked "
            "ID number or mobile (shown masked, between <>):\n    - " + "\n    - ".join(leaks[:5]),
            fix="mask personal data where you write it: gateway.masking.mask_id(number), "
            "mask_mobile(...), or mask_text(message) for free text; better, leave it out",
            see="personal-data",
        )

"""Recognition (认定) of a certificate a learner obtained elsewhere.

Invariant: nothing enters the credit bank on a learner's word. Staff enter the number, the
organization and whose it is; the issuing organization is asked (capability ``verify``) and
only a certificate it confirms as valid and held by that person is recorded, as the
organization describes it, through exactly the path a synced certificate takes (upsert by
natural key with history, learning outcome, conversion by the rules, after-commit events), so
the nightly sync that later meets the same certificate finds it unchanged. A refusal carries the
organization's reason; every answer is recorded with its time (``gateway.verification``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.contract import Page
from gateway.errors import XgateError
from gateway.models import CertificateRecord
from gateway.runtime import Gateway
from gateway.sync import CreditHook, StreamReport, SyncReport, apply_pages, finish_run, start_run
from gateway.verification import Answer, ask


class RecognitionRefused(XgateError):
    """The organization did not confirm the certificate; the message is its reason."""

    exit_code = 1

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"not recognised: {answer.reason or answer.outcome}")
        self.answer = answer


@dataclass(frozen=True)
class Recognition:
    answer: Answer
    run_id: int
    new: bool
    credits_converted: int


async def recognise(
    gw: Gateway,
    number: str,
    *,
    organization: str,
    holder_hash: str,
    holder_name: str | None = None,
    operator: str | None = None,
) -> Recognition:
    """Verify at the issuer, then record and convert; raise ``RecognitionRefused`` otherwise."""
    answer = await ask(
        gw,
        number,
        organization=organization,
        holder_name=holder_name,
        holder_hash=holder_hash,
        purpose="recognition",
        operator=operator,
    )
    if not answer.ok or answer.certificate is None:
        raise RecognitionRefused(answer)
    org = gw.organization(answer.organization)
    run_id = await start_run(gw, {"recognition": answer.organization, "operator": operator})
    report = StreamReport(answer.organization, "recognition")
    page: Page[Any] = Page(records=[answer.certificate], next_cursor=None)
    await apply_pages(
        gw, org, "certificates", CertificateRecord, [page], run_id, report, CreditHook(gw)
    )
    report.status = "ok"
    await finish_run(gw, SyncReport(run_id=run_id, streams=[report]))
    return Recognition(answer, run_id, report.new > 0, report.credits_converted)

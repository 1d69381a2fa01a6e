"""Exam records: applying one validated page of scores or certificates, with history.

Everything here runs inside the caller's transaction (a page, or a few pages of one stream), so
a page's records, their history rows and the stream's cursor commit together or not at all.
A score's current revision is its ``scores`` row; ``score_revisions`` keeps the revisions a
correction superseded (a new score is one row). Applying the same page twice
changes nothing: rows are matched by natural key and a record counts as a change only when its
values differ from the stored ones and its stamp is not older. A change under the same stamp is
still a new revision (organizations that stamp in whole seconds correct within one), with a
warning that the organization's stamp did not advance.

A certificate the organization stops listing is ``withdrawn`` only after a *complete* read of
its certificates (``withdraw_unlisted``, called once at the end of the read with the numbers it
listed); one that is listed again is restored. Both leave a row in ``certificate_events``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue import Catalogue
from gateway.contract import Invalid
from gateway.fieldcrypt import seal_quarantine
from gateway.keys import Keys
from gateway.masking import mask_id, mask_text
from gateway.models import CertificateRecord, CertificateStatus, ScoreRecord
from gateway.store import tables as t
from gateway.store.among import among
from gateway.store.bulk import insert_new_returning, insert_rows

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("xgate.records")
#: Stored status of a certificate the organization no longer lists (never sent by an adapter).
WITHDRAWN = "withdrawn"
#: Certificate ids per UPDATE when withdrawing (bound parameters stay well under SQLite's cap).
WITHDRAW_CHUNK = 500


@dataclass
class Person:
    id_hash: str
    id_masked: str
    name: str | None


@dataclass
class PageResult:
    records: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    restored: int = 0
    #: changes whose organization stamp equals the stored one (corrected within the same stamp)
    same_stamp: int = 0
    people: dict[str, Person] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(payload: Any) -> str:
    try:
        return json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return repr(payload)


def validate_items(
    model: type[M], organization: str, items: Sequence[Any]
) -> tuple[list[M], list[tuple[str, str]]]:
    """Canonical records and (raw payload JSON, reason) for what did not validate.

    The organization name is the configured one, whatever the adapter wrote: one plugin can
    serve several configured organizations.
    """
    good: list[M] = []
    bad: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Invalid):
            bad.append((_json(item.payload), mask_text(item.reason)))
        elif isinstance(item, model):
            if getattr(item, "organization", organization) != organization:
                item = item.model_copy(update={"organization": organization})
            good.append(item)
        elif isinstance(item, Mapping):
            try:
                good.append(model.model_validate({**item, "organization": organization}))
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                bad.append((_json(dict(item)), mask_text(reason)))
        else:
            bad.append((_json(repr(item)), f"not a {model.__name__}: {type(item).__name__}"))
    return good, bad


async def quarantine(
    conn: AsyncConnection,
    organization: str,
    stream: str,
    run_id: int | None,
    bad: Iterable[tuple[str, str]],
    now: datetime,
    keys: Keys,
) -> int:
    """Keep what did not validate for inspection; the raw payload is sealed (it may hold an ID
    number or a mobile), bound to organization and stream (``quarantine_payload``)."""
    rows = [
        {
            "organization": organization,
            "stream": stream,
            "run_id": run_id,
            "error": reason,
            "payload": seal_quarantine(keys, payload, organization, stream),
            "created_at": now,
        }
        for payload, reason in bad
    ]
    if rows:
        await conn.execute(t.quarantine.insert(), rows)
    return len(rows)


def _latest(
    records: Iterable[M], key: Callable[[M], Any], stamp: Callable[[M], datetime]
) -> list[M]:
    """De-duplicate a page by natural key, keeping the newest revision."""
    best: dict[Any, M] = {}
    for r in records:
        k = key(r)
        if k not in best or stamp(r) >= stamp(best[k]):
            best[k] = r
    return list(best.values())


async def plan_certificates(conn: AsyncConnection, organization: str) -> dict[str, str]:
    rows = await conn.execute(
        select(t.exam_plans.c.code, t.exam_plans.c.certificate_code).where(
            t.exam_plans.c.organization == organization
        )
    )
    return {r.code: r.certificate_code for r in rows}


class PlanCertificates:
    """An organization's exam plans and their certificate codes, read once for a whole stream.

    A page used to read them again (a statement per page, 4 ms on a busy PostgreSQL). They
    are read again only when a page names a plan this reader has not seen (a plan registered
    while the sync runs); a plan still unknown after that read is remembered as unknown, so a
    stream of scores for an unregistered plan does not re-read on every page.
    """

    def __init__(self, organization: str) -> None:
        self.organization = organization
        self._known: dict[str, str] | None = None
        self._unknown: set[str] = set()

    async def of(self, conn: AsyncConnection, codes: Iterable[str]) -> dict[str, str]:
        wanted = set(codes)
        if self._known is None or not wanted <= self._known.keys() | self._unknown:
            self._known = await plan_certificates(conn, self.organization)
            self._unknown |= wanted - self._known.keys()
        return self._known


def _score_values(s: ScoreRecord) -> tuple[Any, ...]:
    return (
        Decimal(s.theory) if s.theory is not None else None,
        Decimal(s.practical) if s.practical is not None else None,
        Decimal(s.total) if s.total is not None else None,
        s.passed,
        s.absent,
    )


def _row_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    def dec(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v)).quantize(Decimal("0.01"))

    return (
        dec(row["theory"]),
        dec(row["practical"]),
        dec(row["total"]),
        row["org_passed"],
        bool(row["absent"]),
    )


async def apply_scores(
    conn: AsyncConnection,
    organization: str,
    scores: Sequence[ScoreRecord],
    *,
    hash_id: Callable[[str], str],
    catalogue: Catalogue,
    run_id: int | None,
    now: datetime,
    result: PageResult,
    plans: PlanCertificates | None = None,
) -> None:
    """Apply a page of scores; ``plans``: the stream's plan reader (else read for this page)."""
    reader = plans if plans is not None else PlanCertificates(organization)
    by_plan = await reader.of(conn, {s.plan_code for s in scores})
    items = _latest(scores, lambda s: (s.plan_code, s.id_number), lambda s: s.revised_at)
    prepared: list[tuple[ScoreRecord, str, tuple[Any, ...]]] = []
    for s in items:
        h = hash_id(s.id_number)
        result.people.setdefault(h, Person(h, mask_id(s.id_number), s.name))
        prepared.append((s, h, _score_columns(s, by_plan, catalogue, now)))
    # Insert first: in the common case (a record seen for the first time) that is the only
    # statement, and its row is the whole record (revision 1 needs no history row); only the
    # records already here are read back and compared.
    inserted = await _insert_scores(conn, organization, prepared, run_id, now)
    known = {h for s, h, _ in prepared if (s.plan_code, h) not in inserted}
    existing = await _existing_scores(conn, organization, known) if known else {}
    superseded: list[tuple[Any, ...]] = []
    for s, h, values in prepared:
        if (s.plan_code, h) in inserted:
            result.new += 1
            result.events.append(
                (
                    "xgate_score_recorded",
                    {"organization": organization, "score": s, "revision": 1, "corrected": False},
                )
            )
            continue
        old = existing[(s.plan_code, h)]
        revision = await _correct_score(conn, s, old, values, run_id, result)
        if revision is not None:
            superseded.append(_superseded(old))
            result.events.append(
                (
                    "xgate_score_recorded",
                    {
                        "organization": organization,
                        "score": s,
                        "revision": revision,
                        "corrected": True,
                    },
                )
            )
    await insert_rows(conn, t.score_revisions, REVISION_COLUMNS, superseded)
    result.records += len(scores)
    result.unchanged += len(scores) - len(items)  # duplicates within the page
    _warn_same_stamp(organization, "scores", result)


async def _correct_score(
    conn: AsyncConnection,
    s: ScoreRecord,
    old: Mapping[str, Any],
    values: tuple[Any, ...],
    run_id: int | None,
    result: PageResult,
) -> int | None:
    """Apply a score over its stored row: the new revision, or None if unchanged.

    An older stamp or the same values change nothing; the same stamp with other values is a
    correction (counted in ``same_stamp``: the organization did not advance its stamp).
    """
    stamp = _aware(old["revised_at"])
    if s.revised_at < stamp or _score_values(s) == _row_values(old):
        result.unchanged += 1
        return None
    if s.revised_at == stamp:
        result.same_stamp += 1
    revision = int(old["revision"]) + 1
    await conn.execute(
        t.scores.update()
        .where(t.scores.c.id == old["id"])
        .values(revision=revision, run_id=run_id, **dict(zip(SCORE_VALUES, values, strict=True)))
    )
    result.changed += 1
    return revision


SCORE_KEY = ("organization", "plan_code", "id_hash")
SCORE_VALUES = (
    "certificate_code",
    "level",
    "theory",
    "practical",
    "total",
    "org_passed",
    "rule_passed",
    "pass_disagreement",
    "absent",
    "revised_at",
    "org_record_id",
    "updated_at",
)


def _score_columns(
    s: ScoreRecord, plans: Mapping[str, str], catalogue: Catalogue, now: datetime
) -> tuple[Any, ...]:
    """The columns a score record sets (all but its key and revision), in ``SCORE_VALUES``
    order."""
    cert_code = s.certificate_code or plans.get(s.plan_code)
    rule = False if s.absent else catalogue.passes(cert_code, s.theory, s.practical)
    return (
        cert_code,
        int(s.level) if s.level else None,
        s.theory,
        s.practical,
        s.total,
        s.passed,
        rule,
        s.passed is not None and rule is not None and s.passed != rule,
        s.absent,
        s.revised_at,
        s.org_record_id,
        now,
    )


async def _existing_scores(
    conn: AsyncConnection, organization: str, id_hashes: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """This organization's stored scores of these people, by (plan, id hash).

    By id_hash alone, the organization checked here: with ``organization = ?`` in the query
    SQLite picks the natural-key index for that one column and scans every score of the
    organization, once per page (a sync of N records then costs N squared).
    """
    rows = await conn.execute(
        select(t.scores).where(among(conn.dialect, t.scores.c.id_hash, id_hashes))
    )
    return {
        (row["plan_code"], row["id_hash"]): dict(row)
        for row in rows.mappings()
        if row["organization"] == organization
    }


def _warn_same_stamp(organization: str, stream: str, result: PageResult) -> None:
    if result.same_stamp:
        log.warning(
            "%s/%s: %d record(s) changed without a newer stamp from the organization; "
            "stored as new revisions (its stamps did not advance)",
            organization,
            stream,
            result.same_stamp,
        )


async def _insert_scores(
    conn: AsyncConnection,
    organization: str,
    prepared: Sequence[tuple[ScoreRecord, str, tuple[Any, ...]]],
    run_id: int | None,
    now: datetime,
) -> dict[tuple[str, str], int]:
    """Insert the scores not stored yet; the new rows' ids by (plan, id hash).

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` of the whole page (prebuilt tuples,
    ``gateway.store.bulk``): rows already stored are skipped by the natural key and return
    nothing, so no look-up runs before it and no read-back after it.
    """
    rows = [(organization, s.plan_code, h, 1, run_id, now, *values) for s, h, values in prepared]
    found = await insert_new_returning(
        conn,
        t.scores,
        (*SCORE_KEY, "revision", "run_id", "recorded_at", *SCORE_VALUES),
        rows,
        key=SCORE_KEY,
        returning=("id", "plan_code", "id_hash"),
    )
    return {(plan, id_hash): score_id for score_id, plan, id_hash in found}


REVISION_COLUMNS = (
    "score_id",
    "revision",
    "theory",
    "practical",
    "total",
    "org_passed",
    "absent",
    "revised_at",
    "run_id",
    "recorded_at",
)


def _superseded(old: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ``score_revisions`` row of a stored score a correction replaces, in
    ``REVISION_COLUMNS`` order: its values, the run that recorded them and when (its
    ``updated_at``: a score's row changes only with its revision)."""
    return (
        old["id"],
        old["revision"],
        old["theory"],
        old["practical"],
        old["total"],
        old["org_passed"],
        old["absent"],
        old["revised_at"],
        old["run_id"],
        old["updated_at"],
    )


async def apply_certificates(
    conn: AsyncConnection,
    organization: str,
    certificates: Sequence[CertificateRecord],
    *,
    hash_id: Callable[[str], str],
    run_id: int | None,
    now: datetime,
    result: PageResult,
) -> None:
    items = _latest(certificates, lambda c: c.number, lambda c: c.updated_at)
    existing = await _stored_certificates(conn, organization, [c.number for c in items])
    inserts: list[dict[str, Any]] = []
    new_certs: list[CertificateRecord] = []
    events: list[dict[str, Any]] = []
    for c in items:
        h = hash_id(c.id_number)
        result.people.setdefault(h, Person(h, mask_id(c.id_number), c.holder_name))
        values = _certificate_values(c, h, now)
        old = existing.get(c.number)
        if old is None:
            inserts.append({"organization": organization, "number": c.number, **values})
            new_certs.append(c)
            result.new += 1
            continue
        event = await _update_certificate(conn, organization, c, old, values, result)
        if event is not None:
            events.append({**event, "run_id": run_id, "at": now})
    if inserts:
        ids = await conn.execute(
            t.certificates.insert().returning(t.certificates.c.id, sort_by_parameter_order=True),
            inserts,
        )
        for cert_id, c in zip(ids.scalars().all(), new_certs, strict=True):
            status = CertificateStatus(c.status).value
            event = {"certificate_id": cert_id, "status": status, "detail": "recorded"}
            events.append({**event, "run_id": run_id, "at": now})
            result.events.append(
                ("xgate_certificate_recorded", {"organization": organization, "certificate": c})
            )
    if events:
        await conn.execute(t.certificate_events.insert(), events)
    result.records += len(certificates)
    result.unchanged += len(certificates) - len(items)
    _warn_same_stamp(organization, "certificates", result)


async def _stored_certificates(
    conn: AsyncConnection, organization: str, numbers: list[str]
) -> dict[str, dict[str, Any]]:
    """The organization's stored certificates among ``numbers``, by number."""
    rows = await conn.execute(
        select(t.certificates).where(
            t.certificates.c.organization == organization,
            t.certificates.c.number.in_(numbers),
        )
    )
    return {row["number"]: dict(row) for row in rows.mappings()}


def _certificate_values(c: CertificateRecord, id_hash: str, now: datetime) -> dict[str, Any]:
    """The stored columns a certificate record sets (everything but its natural key)."""
    return {
        "certificate_code": c.certificate_code,
        "certificate_name": c.certificate_name,
        "level": int(c.level),
        "id_hash": id_hash,
        "plan_code": c.plan_code,
        "issued_on": c.issued_on,
        "status": CertificateStatus(c.status).value,
        "revoked_reason": c.revoked_reason,
        "org_updated_at": c.updated_at,
        "updated_at": now,
    }


async def _update_certificate(
    conn: AsyncConnection,
    organization: str,
    c: CertificateRecord,
    old: dict[str, Any],
    values: dict[str, Any],
    result: PageResult,
) -> dict[str, Any] | None:
    """Apply a listed certificate over its stored row; the history event it needs, if any.

    A withdrawn certificate listed again is current whatever its stamp (restored); otherwise an
    older stamp or the same values change nothing, and the same stamp with other values is a
    correction counted in ``same_stamp``.
    """
    restored = old["status"] == WITHDRAWN
    stamp = _aware(old["org_updated_at"])
    if not restored and (c.updated_at < stamp or _same_certificate(old, values)):
        result.unchanged += 1
        return None
    if not restored and c.updated_at == stamp:
        result.same_stamp += 1
    await conn.execute(
        t.certificates.update().where(t.certificates.c.id == old["id"]).values(**values)
    )
    result.changed += 1
    result.restored += restored
    if old["status"] == values["status"]:
        return None
    hook = (
        "xgate_certificate_revoked"
        if values["status"] == CertificateStatus.REVOKED.value
        else "xgate_certificate_recorded"
    )
    result.events.append((hook, {"organization": organization, "certificate": c}))
    detail = "restored: listed again" if restored else c.revoked_reason
    return {"certificate_id": old["id"], "status": values["status"], "detail": detail}


_CERTIFICATE_VALUES = (
    "status",
    "level",
    "issued_on",
    "revoked_reason",
    "id_hash",
    "plan_code",
    "certificate_code",
    "certificate_name",
)


def _same_certificate(old: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    return all(old[k] == values[k] for k in _CERTIFICATE_VALUES)


@dataclass(frozen=True)
class Withdrawn:
    """A certificate marked withdrawn: enough for the run report, credit and events."""

    id: int
    number: str
    id_hash: str
    reason: str


async def withdraw_unlisted(
    conn: AsyncConnection,
    organization: str,
    listed: set[str],
    *,
    read_since: datetime,
    run_id: int | None,
    now: datetime,
) -> list[Withdrawn]:
    """Mark ``withdrawn`` every valid certificate of ``organization`` not in ``listed``.

    Call it only after a complete read (every current certificate was listed, ``listed`` holds
    their numbers) that began at ``read_since``. A certificate stored or changed since then (a
    webhook, another run) is left alone: the read may have passed its place in the list before
    it existed; the next complete read decides. Cost: one select of the organization's valid
    certificates (numbers only), then a few statements for the difference, however many were
    listed: never one per record. Revoked certificates stay revoked (a revocation says more
    than a disappearance).
    """
    c = t.certificates
    rows = await conn.execute(
        select(c.c.id, c.c.number, c.c.id_hash).where(
            c.c.organization == organization,
            c.c.status == CertificateStatus.VALID.value,
            c.c.updated_at < read_since,
        )
    )
    reason = f"withdrawn: no longer listed by {organization} (complete read, run {run_id})"
    gone = [Withdrawn(r.id, r.number, r.id_hash, reason) for r in rows if r.number not in listed]
    ids = [w.id for w in gone]
    for i in range(0, len(ids), WITHDRAW_CHUNK):
        await conn.execute(
            c.update()
            .where(c.c.id.in_(ids[i : i + WITHDRAW_CHUNK]))
            .values(status=WITHDRAWN, revoked_reason=reason[:256], updated_at=now)
        )
    if gone:
        await conn.execute(
            t.certificate_events.insert(),
            [
                {
                    "certificate_id": w.id,
                    "status": WITHDRAWN,
                    "detail": reason,
                    "run_id": run_id,
                    "at": now,
                }
                for w in gone
            ],
        )
    return gone

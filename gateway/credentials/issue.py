"""Issuing credentials: what is recorded when the college signs one.

Invariant: a credential is signed only for a certificate on record as valid and held by the
learner named; its row in ``issued_credentials`` (with its status-list index) is committed in
the same transaction that signs it, so every credential in the world has a bit that follows it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credentials import document as d
from gateway.credentials.signing import base_url, college_key, envelope, issuer_did, sign
from gateway.credentials.status import allocate, entry
from gateway.errors import InputError
from gateway.fieldcrypt import open_value
from gateway.idnumber import IdNumberError, parse_resident_id
from gateway.keys import Keys
from gateway.runtime import Gateway
from gateway.store import tables as t

_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Issued:
    credential_id: str
    kind: str
    document: dict[str, Any]  # the credential as signed (the JWT payload, without JWT claims)
    token: str  # compact JWS

    def file(self) -> dict[str, Any]:
        """What a learner downloads: the VC 2.0 EnvelopedVerifiableCredential."""
        return envelope(self.token)


async def learner_hash(gw: Gateway, raw: str) -> str:
    """A learner named by ID number, student number (学号: the roster's, else a candidate
    list's) or account hash -> the id_hash."""
    text = raw.strip()
    if _HASH.match(text):
        return text
    try:
        return gw.hash_id(parse_resident_id(text).number)
    except IdNumberError:
        pass
    async with gw.db.connect() as conn:
        roster, cand = t.roster_students.c, t.candidates.c
        listed = await conn.execute(select(roster.id_hash).where(roster.student_number == text))
        found = set(listed.scalars())
        listed = await conn.execute(select(cand.id_hash).where(cand.student_number == text))
        found |= set(listed.scalars())
    if len(found) != 1:
        raise InputError(
            "no learner with this ID number or student number / 未找到该学员"
            if not found
            else "this student number names several people; use the ID number"
        )
    return str(found.pop())


def _issuer(gw: Gateway) -> d.Issuer:
    conf = gw.settings.credentials
    return d.Issuer(issuer_did(conf), conf.issuer_name, base_url(conf))


async def _holder(conn: AsyncConnection, id_hash: str, keys: Keys) -> tuple[int, d.Holder]:
    a = (
        await conn.execute(
            select(t.learning_accounts.c.id, t.learning_accounts.c.name).where(
                t.learning_accounts.c.id_hash == id_hash
            )
        )
    ).first()
    if a is None:
        raise InputError("no learning account for this learner / 未找到该学员的学习账户")
    person = (
        await conn.execute(
            select(t.candidates.c.id_number, t.candidates.c.name).where(
                t.candidates.c.id_hash == id_hash
            )
        )
    ).first()
    name = a.name or (person.name if person else None)
    number = None
    if person is not None:  # decrypted only to hash it into the credential's identity
        number = open_value(
            keys, person.id_number, table="candidates", column="id_number", row_key=id_hash
        )
    return int(a.id), d.Holder(id_hash, name, number)


async def _certificates(
    gw: Gateway, conn: AsyncConnection, id_hash: str, account_id: int, number: str | None
) -> list[d.HeldCertificate]:
    c, o = t.certificates, t.learning_outcomes
    query = select(c).where(c.c.id_hash == id_hash).order_by(c.c.issued_on, c.c.id)
    if number:
        query = query.where(c.c.number == number.strip())
    rows = (await conn.execute(query)).mappings().all()
    if number and not rows:
        raise InputError("this learner holds no certificate with that number")
    credits = {
        (r.source_org, r.source_ref): r.credits
        for r in await conn.execute(
            select(o.c.source_org, o.c.source_ref, o.c.credits).where(
                o.c.account_id == account_id, o.c.kind == "certificate"
            )
        )
    }
    held = []
    for r in rows:
        if r["status"] != "valid":
            if number:
                raise InputError(f"certificate {r['number']} is {r['status']}: nothing to sign")
            continue
        title = r["organization"]
        if r["organization"] in gw.settings.organizations:
            title = gw.organization(r["organization"]).spec.title or title
        amount = credits.get((r["organization"], r["number"]))
        held.append(
            d.HeldCertificate(
                organization=r["organization"],
                organization_title=title,
                number=r["number"],
                code=r["certificate_code"],
                name=r["certificate_name"] or r["certificate_code"],
                level=int(r["level"]),
                issued_on=r["issued_on"],
                credits=Decimal(str(amount)) if amount is not None else None,
            )
        )
    if not held:
        raise InputError("this learner holds no valid certificate to sign / 该学员没有有效证书")
    return held


async def _record(
    conn: AsyncConnection,
    kind: str,
    account_id: int,
    cert: d.HeldCertificate | None,
    now: datetime,
    until: datetime | None,
) -> tuple[str, int]:
    credential_id = f"urn:uuid:{uuid.uuid4()}"
    index = await allocate(conn)
    await conn.execute(
        t.issued_credentials.insert().values(
            credential_id=credential_id,
            kind=kind,
            account_id=account_id,
            organization=cert.organization if cert else None,
            certificate_number=cert.number if cert else None,
            status_index=index,
            issued_at=now,
            valid_until=until,
        )
    )
    return credential_id, index


async def _signed(
    gw: Gateway, conn: AsyncConnection, credential_id: str, doc: dict[str, Any]
) -> str:
    """Sign, and keep the signed credential with its row (a learner downloads it again)."""
    token = sign(doc, gw.settings.credentials, college_key(gw.keys))
    ic = t.issued_credentials
    await conn.execute(ic.update().where(ic.c.credential_id == credential_id).values(token=token))
    return token


def _until(gw: Gateway, now: datetime) -> datetime | None:
    years = gw.settings.credentials.validity_years
    if not years:
        return None
    try:
        return now.replace(year=now.year + years)
    except ValueError:  # 29 February
        return now.replace(year=now.year + years, day=28)


async def _badges(
    gw: Gateway, conn: AsyncConnection, id_hash: str, number: str | None, now: datetime
) -> tuple[int, d.Holder, list[Issued]]:
    account_id, holder = await _holder(conn, id_hash, gw.keys)
    issuer, until = _issuer(gw), _until(gw, now)
    issued = []
    for cert in await _certificates(gw, conn, id_hash, account_id, number):
        credential_id, index = await _record(
            conn, "OpenBadgeCredential", account_id, cert, now, until
        )
        doc = d.badge(
            cert,
            holder,
            issuer,
            credential_id=credential_id,
            status=entry(issuer.url, index),
            valid_from=now,
            valid_until=until,
        )
        token = await _signed(gw, conn, credential_id, doc)
        issued.append(Issued(credential_id, "OpenBadgeCredential", doc, token))
    return account_id, holder, issued


async def issue_badges(
    gw: Gateway, id_hash: str, *, number: str | None = None, now: datetime | None = None
) -> list[Issued]:
    """One signed OpenBadgeCredential per valid certificate of the learner (or the one named)."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    async with gw.db.begin() as conn:
        return (await _badges(gw, conn, id_hash, number, now))[2]


async def issue_clr(gw: Gateway, id_hash: str, *, now: datetime | None = None) -> Issued:
    """The learner's whole record as one signed ClrCredential holding a signed badge each."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    async with gw.db.begin() as conn:
        account_id, holder, badges = await _badges(gw, conn, id_hash, None, now)
        credential_id, index = await _record(conn, "ClrCredential", account_id, None, now, None)
        issuer = _issuer(gw)
        doc = d.clr(
            holder,
            issuer,
            [b.file() for b in badges],
            credential_id=credential_id,
            status=entry(issuer.url, index),
            valid_from=now,
            name=f"{holder.name or ''} 学习成果记录（{issuer.name}）".strip(),
        )
        return Issued(
            credential_id, "ClrCredential", doc, await _signed(gw, conn, credential_id, doc)
        )


async def revoke_credential(
    gw: Gateway, credential_id: str, reason: str, *, now: datetime | None = None
) -> bool:
    """Staff withdraw one credential (its status bit is set from now on); False if unknown or
    already revoked."""
    if not reason.strip():
        raise InputError("a reason is required to revoke a credential")
    ic = t.issued_credentials
    async with gw.db.begin() as conn:
        done = await conn.execute(
            ic.update()
            .where(ic.c.credential_id == credential_id.strip(), ic.c.revoked_at.is_(None))
            .values(revoked_at=now or datetime.now(UTC), revoked_reason=reason.strip()[:1000])
        )
    return bool(done.rowcount)


async def badge_file(gw: Gateway, id_hash: str, number: str) -> dict[str, Any]:
    """The learner's credential for one certificate, to download: the one already issued
    (not revoked) when there is one, else a new one. Refused when the certificate is not the
    learner's or not valid."""
    ic, a = t.issued_credentials, t.learning_accounts
    async with gw.db.connect() as conn:
        token = (
            await conn.execute(
                select(ic.c.token)
                .join(a, a.c.id == ic.c.account_id)
                .join(
                    t.certificates,
                    (t.certificates.c.organization == ic.c.organization)
                    & (t.certificates.c.number == ic.c.certificate_number),
                )
                .where(
                    a.c.id_hash == id_hash,
                    t.certificates.c.id_hash == id_hash,
                    t.certificates.c.status == "valid",
                    ic.c.certificate_number == number,
                    ic.c.kind == "OpenBadgeCredential",
                    ic.c.revoked_at.is_(None),
                    ic.c.token.is_not(None),
                )
                .order_by(ic.c.id.desc())
                .limit(1)
            )
        ).scalar()
    if token:
        return envelope(str(token))
    return (await issue_badges(gw, id_hash, number=number))[0].file()

"""Certificate -> course credit, as desired-state reconciliation.

For each account the *desired* conversions are computed from what is true now (valid
certificates, the current score row, the rules) and compared with the ledger's *active*
conversions (not yet reversed). The difference is appended: a reversal for every active entry
that is no longer desired or whose credits, grade, validity or rule version changed, and a
conversion for every desired one that is not active. Nothing else is written, so running it
twice, or after a sync page is replayed, changes nothing: that is what makes the sync
exactly-once in effect.

Policy, applied in this order:

1. a certificate counts only while valid, and each rule's credit only until its validity ends;
2. each course is replaced by at most one certificate: the higher level wins, then the earlier
   issue date (then organization and number, so the choice is always the same);
3. the credits one certificate grants are capped (``max_credits_per_certificate``): its
   courses are granted in rule order and the one that reaches the cap gets what is left.

It runs inside the caller's transaction, a handful of set-based queries per call however many
accounts it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.credit.accounts import Account, accounts_by_hash, ensure_accounts, holders
from gateway.credit.ledger import (
    EntryDraft,
    append,
    chunks,
    credits_text,
    entries_of,
    lock_heads,
)
from gateway.credit.rules import Rule, RuleSet
from gateway.models import BEIJING, CreditEntry, CreditEntryKind, Level
from gateway.store import Database
from gateway.store import tables as t
from gateway.store.among import among

__all__ = [
    "ConversionResult",
    "ReconcileTotals",
    "ensure_accounts",
    "reconcile_accounts",
    "reconcile_all",
]

Key = tuple[str, str, str]  # (organization, certificate number, course code)


@dataclass(frozen=True)
class ConversionResult:
    converted: list[CreditEntry] = field(default_factory=list)
    reversed: list[CreditEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Held:
    """A certificate as stored (one row of ``certificates``)."""

    organization: str
    number: str
    certificate_code: str
    certificate_name: str | None
    level: int
    issued_on: date
    status: str
    plan_code: str | None


@dataclass(frozen=True)
class ScoreRow:
    organization: str
    plan_code: str
    certificate_code: str | None
    level: int | None
    total: Decimal | None
    revision: int
    absent: bool
    revised_at: datetime


@dataclass(frozen=True)
class Desired:
    key: Key
    course_name: str
    credits: Decimal
    grade: str | None
    score_revision: int | None
    rule_version: str
    valid_until: date | None

    def same_as(self, entry: Mapping[str, Any]) -> bool:
        return (
            credits_text(entry["credits"]) == credits_text(self.credits)
            and entry["grade"] == self.grade
            and entry["rule_version"] == self.rule_version
            and entry["valid_until"] == self.valid_until
            and entry["course_name"] == self.course_name
        )


@dataclass
class Plan:
    """What the rules grant one account now, and why a course went elsewhere."""

    desired: dict[Key, Desired] = field(default_factory=dict)
    winner: dict[str, Held] = field(default_factory=dict)  # course code -> certificate
    expired: set[Key] = field(default_factory=set)
    capped: set[Key] = field(default_factory=set)


def score_for(cert: Held, scores: Sequence[ScoreRow]) -> ScoreRow | None:
    """The current score behind a certificate: its own plan's row, else the newest row for the
    same certificate and level (organizations do not always say which plan issued it)."""
    present = [s for s in scores if not s.absent]
    if cert.plan_code:
        own = [
            s
            for s in present
            if s.plan_code == cert.plan_code and s.organization == cert.organization
        ]
        if own:
            return max(own, key=lambda s: (s.revised_at, s.revision))
    same = [
        s for s in present if s.certificate_code == cert.certificate_code and s.level == cert.level
    ]
    return max(same, key=lambda s: (s.revised_at, s.revision)) if same else None


def plan_account(
    certs: Sequence[Held], scores: Sequence[ScoreRow], rules: RuleSet, today: date
) -> Plan:
    """The desired conversions of one account (pure: no database, easy to reason about)."""
    plan = Plan()
    offers: list[tuple[Held, Rule, date | None]] = []
    for cert in certs:
        if cert.status != "valid":
            continue
        for rule in rules.courses_for(cert.certificate_code, cert.level):
            until = rule.valid_until(cert.issued_on)
            if until is not None and until < today:
                plan.expired.add((cert.organization, cert.number, rule.course_code))
                continue
            offers.append((cert, rule, until))
    best: dict[str, tuple[Held, Rule, date | None]] = {}
    for offer in offers:
        course = offer[1].course_code
        if course not in best or _rank(offer[0]) < _rank(best[course][0]):
            best[course] = offer
    plan.winner = {course: offer[0] for course, offer in best.items()}
    by_cert: dict[tuple[str, str], list[tuple[Held, Rule, date | None]]] = {}
    for offer in best.values():
        by_cert.setdefault((offer[0].organization, offer[0].number), []).append(offer)
    for _, won in sorted(by_cert.items()):
        cert = won[0][0]
        score = score_for(cert, scores)
        grade = rules.grade_for(score.total if score else None)
        left = rules.max_credits_per_certificate
        for _, rule, until in sorted(won, key=lambda o: o[1].index):
            key = (cert.organization, cert.number, rule.course_code)
            credits = min(rule.credits, left)
            if credits <= 0:
                plan.capped.add(key)
                continue
            left -= credits
            plan.desired[key] = Desired(
                key=key,
                course_name=rule.course_name,
                credits=credits,
                grade=grade,
                score_revision=score.revision if score else None,
                rule_version=rules.version,
                valid_until=until,
            )
    return plan


def _rank(cert: Held) -> tuple[int, date, str, str]:
    """Lower ranks first: higher level, then earlier issue, then a stable tie-break."""
    return (-cert.level, cert.issued_on, cert.organization, cert.number)


def _reason(
    entry: Mapping[str, Any],
    plan: Plan,
    held: Mapping[tuple[str, str], Held],
    desired: Desired | None,
    rules: RuleSet,
) -> str:
    """Why an active conversion is cancelled, in words staff can check against the records."""
    key: Key = (entry["source_org"], entry["source_ref"], entry["course_code"])
    cert = held.get((key[0], key[1]))
    if cert is None:
        return "certificate no longer on record"
    if cert.status != "valid":
        return f"certificate {cert.status}"
    if desired is not None:
        changes = []
        if entry["grade"] != desired.grade:
            changes.append(f"grade {entry['grade'] or '-'} -> {desired.grade or '-'}")
        if credits_text(entry["credits"]) != credits_text(desired.credits):
            changes.append(
                f"credits {credits_text(entry['credits'])} -> {credits_text(desired.credits)}"
            )
        if entry["rule_version"] != desired.rule_version:
            changes.append(f"rules {entry['rule_version']} -> {desired.rule_version}")
        if entry["valid_until"] != desired.valid_until:
            changes.append(f"valid until {entry['valid_until']} -> {desired.valid_until}")
        if entry["course_name"] != desired.course_name:
            changes.append("course renamed")
        prefix = "score corrected: " if entry["grade"] != desired.grade else "changed: "
        return (prefix + "; ".join(changes))[:256]
    if key in plan.expired:
        return "validity ended"
    winner = plan.winner.get(key[2])
    if winner is not None and (winner.organization, winner.number) != key[:2]:
        return f"course now replaced by certificate {winner.number}"[:256]
    if key in plan.capped:
        return f"per-certificate cap of {rules.max_credits_per_certificate} credits reached"
    return f"no rule in version {rules.version} converts it"[:256]


async def _certificates(conn: AsyncConnection, hashes: Sequence[str]) -> dict[str, list[Held]]:
    c = t.certificates
    found: dict[str, list[Held]] = {}
    for part in chunks(hashes):
        rows = await conn.execute(
            select(
                c.c.id_hash,
                c.c.organization,
                c.c.number,
                c.c.certificate_code,
                c.c.certificate_name,
                c.c.level,
                c.c.issued_on,
                c.c.status,
                c.c.plan_code,
            )
            .where(among(conn.dialect, c.c.id_hash, part))
            .order_by(c.c.id)
        )
        for r in rows:
            found.setdefault(r.id_hash, []).append(
                Held(
                    r.organization,
                    r.number,
                    r.certificate_code,
                    r.certificate_name,
                    int(r.level),
                    r.issued_on,
                    r.status,
                    r.plan_code,
                )
            )
    return found


async def _scores(conn: AsyncConnection, hashes: Sequence[str]) -> dict[str, list[ScoreRow]]:
    s = t.scores
    found: dict[str, list[ScoreRow]] = {}
    for part in chunks(hashes):
        rows = await conn.execute(
            select(
                s.c.id_hash,
                s.c.organization,
                s.c.plan_code,
                s.c.certificate_code,
                s.c.level,
                s.c.total,
                s.c.revision,
                s.c.absent,
                s.c.revised_at,
            ).where(among(conn.dialect, s.c.id_hash, part))
        )
        for r in rows:
            total = Decimal(credits_text(r.total)) if r.total is not None else None
            found.setdefault(r.id_hash, []).append(
                ScoreRow(
                    r.organization,
                    r.plan_code,
                    r.certificate_code,
                    r.level,
                    total,
                    r.revision,
                    bool(r.absent),
                    r.revised_at,
                )
            )
    return found


async def _open_accounts(
    conn: AsyncConnection, hashes: Sequence[str], holders_of: Iterable[str], now: datetime
) -> dict[str, Account]:
    """The accounts of these people, opening one for every certificate holder who lacks it."""
    found = await accounts_by_hash(conn, hashes)
    missing = sorted(set(holders_of) - set(found))
    if missing:
        who = await holders(conn, missing)
        people = [(h, *who.get(h, (f"?{h[:10]}", None, "public"))) for h in missing]
        await ensure_accounts(conn, people, now=now)  # type: ignore[arg-type]
        found = await accounts_by_hash(conn, hashes)
    return found


async def reconcile_accounts(
    conn: AsyncConnection,
    id_hashes: Iterable[str],
    rules: RuleSet | None,
    *,
    run_id: int | None,
    now: datetime,
    fresh: Collection[str] = (),
) -> ConversionResult:
    """Bring these accounts' conversions and certificate outcomes in line with the records.

    With ``rules`` None (no rules file configured) only the outcomes are kept in step: a missing
    policy must never read as "convert nothing" and reverse every credit. ``fresh``: id hashes
    whose accounts this transaction has just opened (``ensure_accounts(created=...)``); their
    ledgers are empty, so those without a certificate are left unread.
    """
    hashes = sorted(set(id_hashes))
    if not hashes:
        return ConversionResult()
    certs = await _certificates(conn, hashes)
    fresh = set(fresh)
    wanted = [h for h in hashes if h not in fresh or certs.get(h)]
    found = await _open_accounts(conn, wanted, certs, now) if wanted else {}
    # An account with no certificate on record and an empty ledger has nothing to decide: no
    # conversion can be desired and none can be active. Most people a score page touches are
    # such accounts; skipping them spares the lock and four queries per page. (Whoever records
    # a first certificate for one of them reconciles that account in its own transaction.)
    found = {h: a for h, a in found.items() if certs.get(h) or a.head_seq}
    if not found:
        return ConversionResult()
    today = now.astimezone(BEIJING).date()
    plans: dict[str, Plan] = {}
    result = ConversionResult()
    if rules is not None:
        heads = await lock_heads(conn, (a.id for a in found.values()))
        # Read again under the lock: another worker's page may have changed this person's
        # certificates and committed while we waited; deciding on the old rows would undo it.
        certs = await _certificates(conn, hashes)
        scores = await _scores(conn, hashes)
        rows = await entries_of(
            conn, heads, kinds=(CreditEntryKind.CONVERSION, CreditEntryKind.REVERSAL)
        )
        by_account: dict[int, list[Mapping[str, Any]]] = {}
        for row in rows:
            by_account.setdefault(row["account_id"], []).append(dict(row))
        drafts: list[EntryDraft] = []
        for h, account in sorted(found.items(), key=lambda kv: kv[1].id):
            plans[h] = plan_account(certs.get(h, []), scores.get(h, []), rules, today)
            drafts.extend(
                _differences(
                    account,
                    by_account.get(account.id, []),
                    plans[h],
                    certs.get(h, []),
                    rules,
                    run_id,
                )
            )
        entries = await append(conn, drafts, now=now, heads=heads)
        result = ConversionResult(
            converted=[e for e in entries if e.kind is CreditEntryKind.CONVERSION],
            reversed=[e for e in entries if e.kind is CreditEntryKind.REVERSAL],
        )
    await _keep_outcomes(conn, found, certs, plans if rules is not None else None, now)
    return result


def _differences(
    account: Account,
    rows: Sequence[Mapping[str, Any]],
    plan: Plan,
    certs: Sequence[Held],
    rules: RuleSet,
    run_id: int | None,
) -> list[EntryDraft]:
    """Reversals for active conversions not desired as they are, then the missing conversions."""
    reversed_seqs = {r["reverses_seq"] for r in rows if r["kind"] == CreditEntryKind.REVERSAL}
    active: dict[Key, Mapping[str, Any]] = {}
    held = {(c.organization, c.number): c for c in certs}
    reversals: list[EntryDraft] = []
    for row in rows:
        if row["kind"] != CreditEntryKind.CONVERSION or row["seq"] in reversed_seqs:
            continue
        key: Key = (row["source_org"], row["source_ref"], row["course_code"])
        desired = plan.desired.get(key)
        if key in active:
            reason = "duplicate conversion"
        elif desired is not None and desired.same_as(row):
            active[key] = row
            continue
        else:
            reason = _reason(row, plan, held, desired, rules)
        reversals.append(
            EntryDraft(
                account_id=account.id,
                kind=CreditEntryKind.REVERSAL,
                credits=-Decimal(credits_text(row["credits"])),
                course_code=row["course_code"],
                course_name=row["course_name"],
                source_org=row["source_org"],
                source_ref=row["source_ref"],
                run_id=run_id,
                rule_version=rules.version,
                grade=row["grade"],
                score_revision=row["score_revision"],
                reverses_seq=row["seq"],
                valid_until=row["valid_until"],
                reason=reason,
            )
        )
    conversions = [
        EntryDraft(
            account_id=account.id,
            kind=CreditEntryKind.CONVERSION,
            credits=d.credits,
            course_code=key[2],
            course_name=d.course_name,
            source_org=key[0],
            source_ref=key[1],
            run_id=run_id,
            rule_version=d.rule_version,
            grade=d.grade,
            score_revision=d.score_revision,
            valid_until=d.valid_until,
        )
        for key, d in sorted(plan.desired.items())
        if key not in active
    ]
    return reversals + conversions


def _title(cert: Held) -> str:
    try:
        label = Level(cert.level).label
    except ValueError:
        label = str(cert.level)
    return f"{cert.certificate_name or cert.certificate_code}（{label}）"[:256]


async def _keep_outcomes(
    conn: AsyncConnection,
    found: Mapping[str, Account],
    certs: Mapping[str, Sequence[Held]],
    plans: Mapping[str, Plan] | None,
    now: datetime,
) -> None:
    """One ``certificate`` learning outcome per certificate, its status and credits current."""
    o = t.learning_outcomes
    ids = sorted(a.id for h, a in found.items() if certs.get(h))
    existing: dict[tuple[int, str, str], Mapping[str, Any]] = {}
    for part in chunks(ids):
        rows = await conn.execute(
            select(o).where(o.c.account_id.in_(part), o.c.kind == "certificate")
        )
        for r in rows.mappings():
            existing[(r["account_id"], r["source_org"], r["source_ref"])] = dict(r)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for h, account in found.items():
        plan = plans.get(h) if plans is not None else None
        for cert in certs.get(h, []):
            values: dict[str, Any] = {
                "title": _title(cert),
                "level": cert.level,
                "achieved_on": cert.issued_on,
                "status": cert.status,
            }
            if plan is not None:
                values["credits"] = sum(
                    (
                        d.credits
                        for k, d in plan.desired.items()
                        if k[:2] == (cert.organization, cert.number)
                    ),
                    Decimal(0),
                )
            old = existing.get((account.id, cert.organization, cert.number))
            if old is None:
                inserts.append(
                    {
                        **values,
                        "account_id": account.id,
                        "kind": "certificate",
                        "source_org": cert.organization,
                        "source_ref": cert.number,
                        "created_at": now,
                    }
                )
            elif any(_differs(old[k], v) for k, v in values.items()):
                updates.append({"b_id": old["id"], **{f"b_{k}": v for k, v in values.items()}})
    if inserts:
        await conn.execute(o.insert(), inserts)
    for keys, group in _grouped(updates).items():
        await conn.execute(
            o.update()
            .where(o.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in keys}),
            group,
        )


def _differs(old: Any, new: Any) -> bool:
    if isinstance(new, Decimal):
        return old is None or credits_text(old) != credits_text(new)
    return bool(old != new)


def _grouped(updates: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """executemany needs the same parameters in every row: group by the columns being set."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for u in updates:
        keys = tuple(sorted(k[2:] for k in u if k != "b_id"))
        groups.setdefault(keys, []).append(u)
    return groups


@dataclass
class ReconcileTotals:
    accounts: int = 0
    converted: int = 0
    reversed: int = 0


async def reconcile_all(
    db: Database,
    rules: RuleSet | None,
    *,
    now: datetime,
    run_id: int | None = None,
    batch: int = 1000,
    on_commit: Callable[[ConversionResult], None] | None = None,
) -> ReconcileTotals:
    """Every certificate holder and account, ``batch`` people per transaction.

    For what the nightly sync does not touch: a new rules version, or credits whose validity
    ended since the person's records last changed. People are walked in ``id_hash`` order by
    keyset, so memory stays flat however many accounts there are; ``on_commit`` sees each
    batch's entries after its commit (to broadcast the credit events).
    """
    people = union(
        select(t.certificates.c.id_hash.label("id_hash")),
        select(t.learning_accounts.c.id_hash.label("id_hash")),
    ).subquery()
    totals = ReconcileTotals()
    after = ""
    while True:
        async with db.begin() as conn:
            part = list(
                (
                    await conn.execute(
                        select(people.c.id_hash)
                        .where(people.c.id_hash > after)
                        .order_by(people.c.id_hash)
                        .limit(batch)
                    )
                ).scalars()
            )
            if not part:
                break
            done = await reconcile_accounts(conn, part, rules, run_id=run_id, now=now)
        after = part[-1]
        totals.accounts += len(part)
        totals.converted += len(done.converted)
        totals.reversed += len(done.reversed)
        if on_commit is not None:
            on_commit(done)
    return totals

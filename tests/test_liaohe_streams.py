"""Liaohe score and certificate streams: page-number listings read exactly once.

The platform lists newest first and pages by number, so whatever changes at the platform
shifts the pages. These tests compare what the adapter delivers with the simulator's ground
truth: a full read, a resume from every cursor, a resume after records were added in front
of the cursor's position and others corrected, and the same under duplicated, shuffled and
out-of-order rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from xgate_liaohe.paging import Cursor, Item, Listing, read_incremental
from xgate_liaohe.records import certificate_record, score_record
from xgate_simulators.faults import FaultPlan
from xgate_simulators.liaohe import LiaoheSimulator
from xgate_simulators.server import StreamFaults

from gateway import CertificateRecord, ContractError, Invalid, Page, ScoreRecord
from tests.test_liaohe_adapter import GYJQR2, PLC1, PLC2, make_adapter, register_people

ScoreVersion = tuple[Any, ...]


def score_version(r: ScoreRecord) -> ScoreVersion:
    return (
        r.plan_code,
        r.id_number,
        r.theory,
        r.practical,
        r.total,
        r.passed,
        r.absent,
        r.revised_at,
    )


def score_truth(sim: LiaoheSimulator) -> set[ScoreVersion]:
    out = set()
    for (plan, idn), s in sim.truth.scores.items():
        r = s.current
        record = ScoreRecord(
            organization="liaohe",
            plan_code=plan,
            id_number=idn,
            theory=r.theory,
            practical=r.practical,
            total=r.total,
            passed=r.passed,
            absent=r.absent,
            revised_at=r.updated_at,
        )
        out.add(score_version(record))
    return out


def cert_version(c: CertificateRecord) -> tuple[Any, ...]:
    return (c.number, c.id_number, c.holder_name, c.status.value, c.revoked_reason, c.updated_at)


def cert_truth(sim: LiaoheSimulator) -> set[tuple[Any, ...]]:
    return {
        (c.number, c.id_number, c.holder_name, c.status, c.revoked_reason, c.updated_at)
        for c in sim.truth.certificates.values()
    }


async def read_pages(stream: Any, limit: int | None = None) -> list[Page[Any]]:
    pages: list[Page[Any]] = []
    async for page in stream:
        pages.append(page)
        if limit is not None and len(pages) >= limit:
            break
    return pages


def records_of(pages: list[Page[Any]]) -> list[Any]:
    return [r for p in pages for r in p.records]


async def populate(sim: LiaoheSimulator, page_size: int = 8) -> None:
    adapter = make_adapter(sim, page_size=page_size)
    await register_people(sim, adapter, PLC1, 30, seed=1)
    await register_people(sim, adapter, GYJQR2, 30, seed=2)
    sim.grade_all(PLC1.code)
    sim.grade_all(GYJQR2.code)


async def test_full_reads_equal_ground_truth() -> None:
    sim = LiaoheSimulator(seed=5)
    async with sim.running():
        await populate(sim)
        adapter = make_adapter(sim, page_size=8)
        scores = records_of(await read_pages(adapter.scores(None)))
        certs = records_of(await read_pages(adapter.certificates(None)))
    assert all(isinstance(r, ScoreRecord) for r in scores)
    assert len(scores) == 60 and len({(r.plan_code, r.id_number) for r in scores}) == 60
    assert {score_version(r) for r in scores} == score_truth(sim)
    assert len(certs) == len(sim.truth.certificates) > 40  # ~80% pass, issued at grading
    assert {cert_version(c) for c in certs} == cert_truth(sim)
    by_id = {(r.plan_code, r.id_number): r for r in scores}
    some = sim.truth.scores[(PLC1.code, next(iter(sim.truth.registered(PLC1.code))))]
    record = by_id[(PLC1.code, some.id_number)]
    assert (record.certificate_code, int(record.level or 0), record.org_record_id) == (
        "PLC",
        1,
        f"LHS{some.seq:07d}",
    )
    assert record.revised_at.utcoffset() is not None  # Beijing wall time became aware UTC


@pytest.mark.parametrize(
    ("faulty", "overlap"),
    [(False, 5), (True, 5), (True, 2)],
    ids=["clean", "duplicated-shuffled-disordered", "faulty-minimum-overlap"],
)
async def test_resuming_from_any_cursor_yields_exactly_the_rest(faulty: bool, overlap: int) -> None:
    sim = LiaoheSimulator(seed=6, disorder=0.3 if faulty else 0.0)
    async with sim.running():
        await populate(sim)
        for i, key in enumerate(sorted(sim.truth.scores)[::2]):  # 30 distinct update times
            sim.correct_score(*key, practical=Decimal(40 + i))
        if faulty:
            sim.set_stream_faults(StreamFaults(duplicate=0.4, shuffle=0.5, seed=6))
        adapter = make_adapter(sim, page_size=7, overlap=overlap)
        pages = await read_pages(adapter.scores(None))
        full = [score_version(r) for r in records_of(pages)]
        assert len(full) == len(set(full)) and set(full) == score_truth(sim)
        for i, page in enumerate(pages[:-1]):
            before = {score_version(r) for r in records_of(pages[: i + 1])}
            rest = [
                score_version(r)
                for r in records_of(await read_pages(adapter.scores(page.next_cursor)))
            ]
            assert len(rest) == len(set(rest)), f"duplicates after page {i + 1}"
            assert set(rest) == score_truth(sim) - before, f"resume after page {i + 1}"
    if faulty:
        assert sim.stream_faults is not None
        assert {"duplicate", "shuffle"} <= set(sim.stream_faults.counts)


async def test_resume_after_changes_in_front_of_the_cursor_yields_exactly_the_missing() -> None:
    sim = LiaoheSimulator(seed=7)
    async with sim.running():
        await populate(sim)
        adapter = make_adapter(sim, page_size=8)
        first = await read_pages(adapter.scores(None), limit=3)
        cursor = first[-1].next_cursor
        delivered = {score_version(r) for r in records_of(first)}
        assert len(delivered) == 24  # inside the 30-row tie group of the last grading

        # At the platform: new registrations graded (they list in front of everything read),
        # corrections of rows already delivered and of one not yet read, a revocation.
        read_keys = {(v[0], v[1]) for v in delivered}
        unread = sorted(set(sim.truth.scores) - read_keys)
        corrected = sorted(read_keys)[:2] + unread[:1]
        await register_people(sim, adapter, PLC2, 10, seed=3)
        sim.grade_all(PLC2.code)
        for plan, idn in corrected:
            sim.correct_score(plan, idn, practical=Decimal("35.5"))
        needed = score_truth(sim) - delivered

        # What a page-number cursor ("page 4 next") would now read instead:
        order = sim.score_order()
        naive = set(order[24:])
        needed_keys = {(v[0], v[1]) for v in needed}
        assert needed_keys - naive, "the new rows sit in front of page 4: page numbers skip them"
        assert naive & (read_keys - set(corrected)), "and page 4 now repeats rows already read"

        rest = [score_version(r) for r in records_of(await read_pages(adapter.scores(cursor)))]
    assert len(rest) == len(set(rest))
    assert set(rest) == needed
    assert len(needed) == 60 + 10 - 24 + 2  # unread + new + the corrected rows already read


async def test_changes_while_a_read_is_under_way_neither_skip_nor_repeat() -> None:
    """Corrections between two page requests move rows out of the pages being read (a
    page-number reader would skip the row that slides into the gap); the pass notices the
    changed total, starts over from its checkpoint, and a second pass picks up the changes."""
    sim = LiaoheSimulator(seed=10)
    async with sim.running():
        await populate(sim)
        adapter = make_adapter(sim, page_size=6)
        delivered: list[ScoreVersion] = []
        pages = 0
        keys = sorted(sim.truth.scores)
        async for page in adapter.scores(None):
            delivered += [score_version(r) for r in page.records]
            pages += 1
            if pages in (2, 4, 7):  # rows already read and rows not yet read change
                for key in (keys[pages], keys[-pages]):
                    sim.correct_score(*key, theory=Decimal(50 + pages))
            if pages == 5:
                await register_people(sim, adapter, PLC2, 4, seed=4)
                sim.grade_all(PLC2.code)
    assert len(delivered) == len(set(delivered))
    latest: dict[tuple[str, str], ScoreVersion] = {}
    for version in delivered:  # pages arrive oldest change last: keep the last per key
        latest[(version[0], version[1])] = version
    assert set(latest.values()) == score_truth(sim)


async def test_corrections_and_revocations_come_back_on_the_next_read() -> None:
    sim = LiaoheSimulator(seed=8)
    async with sim.running():
        await populate(sim)
        adapter = make_adapter(sim, page_size=9)
        s_pages = await read_pages(adapter.scores(None))
        c_pages = await read_pages(adapter.certificates(None))
        passed = sorted(k for k, s in sim.truth.scores.items() if s.current.passed)
        sim.correct_score(*passed[0], theory=Decimal("10"))  # fails now: certificate revoked
        other = sorted(n for n, c in sim.truth.certificates.items() if c.status == "valid")[0]
        sim.revoke(other, "违规获取，予以撤销")

        s_more = await read_pages(adapter.scores(s_pages[-1].next_cursor))
        c_more = await read_pages(adapter.certificates(c_pages[-1].next_cursor))
        again = await read_pages(adapter.scores(s_more[-1].next_cursor))
    scores, certs = records_of(s_more), records_of(c_more)
    assert [(r.plan_code, r.id_number, r.passed, r.theory) for r in scores] == [
        (*passed[0], False, Decimal("10"))
    ]
    assert sorted((c.status.value, c.revoked_reason) for c in certs) == sorted(
        [("revoked", "成绩更正后不合格，证书撤销"), ("revoked", "违规获取，予以撤销")]
    )
    assert records_of(again) == []


async def test_a_garbled_page_is_a_contract_error_and_the_stream_resumes() -> None:
    sim = LiaoheSimulator(seed=9)
    async with sim.running():
        await populate(sim)
        adapter = make_adapter(sim, page_size=10)
        pages = await read_pages(adapter.scores(None), limit=2)
        sim.set_faults(FaultPlan(malformed=1.0, paths=("/api/score",)))
        with pytest.raises(ContractError):
            await read_pages(adapter.scores(pages[-1].next_cursor))
        sim.set_faults(None)
        rest = records_of(await read_pages(adapter.scores(pages[-1].next_cursor)))
    seen = [score_version(r) for r in records_of(pages) + rest]
    assert len(seen) == len(set(seen)) and set(seen) == score_truth(sim)


def test_rows_that_do_not_map_become_invalid_without_personal_data() -> None:
    row = {
        "成绩编号": "LHS0000001",
        "考核计划": PLC1.code,
        "证书代码": "PLC",
        "证书名称": "x",
        "等级": "初级",
        "姓名": "张三",
        "证件类型": "居民身份证",
        "证件号码": "11010519491231002X",
        "理论成绩": "88.5",
        "实操成绩": "71",
        "总成绩": "79.75",
        "考核结果": "合格",
        "成绩版本": "1",
        "更新时间": "2026-12-20 10:00:00",
    }
    good = score_record("liaohe", row)
    assert isinstance(good, ScoreRecord) and good.revised_at.hour == 2  # 10:00 Beijing = 02:00 UTC
    for change in (
        {"理论成绩": "八十"},
        {"考核结果": "优秀"},
        {"实操成绩": "101"},
        {"等级": "特级"},
    ):
        bad = score_record("liaohe", {**row, **change})
        assert isinstance(bad, Invalid), change
        assert "11010519491231002X" not in bad.reason and bad.payload["证件号码"]
    cert = certificate_record("liaohe", {"cert_no": "LH1", "status": "有效"})
    assert isinstance(cert, Invalid)


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    cursor = Cursor(hw="2026-11-20 09:00:01", seen={"2026-11-20 09:00:01": {"abc"}})
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode(None) == Cursor()
    for foreign in ("42", '{"v": 2}', "not json"):
        with pytest.raises(ValueError, match="--full"):
            Cursor.decode(foreign)


async def test_a_row_repeated_from_far_back_is_delivered_once() -> None:
    """Beyond the overlap the cursor no longer remembers a row; the pass still does."""
    rows = [Item(f"2026-11-20 09:00:{59 - i:02d}", f"fp{i}", i) for i in range(20)]

    async def fetch(page_no: int, after: str | None, until: str | None) -> Listing:
        page = rows[(page_no - 1) * 5 : page_no * 5]
        if page_no == 3:
            page = [rows[1], *page]  # a row of page 1 listed again on page 3
        return Listing(total=20, server_time="2026-11-20 09:00:59", items=page)

    pages = [
        p async for p in read_incremental(fetch, None, page_size=5, overlap=2, organization="t")
    ]
    delivered = [r for p in pages for r in p.records]
    assert sorted(delivered) == list(range(20))
    assert Cursor.decode(pages[-1].next_cursor).hw == "2026-11-20 09:00:59"

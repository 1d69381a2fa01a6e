"""Verification at the issuer and recognition of certificates obtained elsewhere.

The Beifang and Liaohe simulators hold certificates the college never synced (as if the learner
earned them elsewhere); ``xgate verify`` asks, ``recognise`` records and converts.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, BeifangSimulator

from gateway.credit.recognition import RecognitionRefused, recognise
from gateway.store import tables as t
from gateway.sync import run_sync
from gateway.verification import ask
from tests.beifang_support import beifang_orgs
from tests.idgen import make_ids

pytestmark = pytest.mark.storage
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
PLAN = "BF-2026-HGJL-2"


def orgs(url: str) -> dict[str, Any]:
    return beifang_orgs(url)


async def rows(gw: Any, table: Any) -> list[dict[str, Any]]:
    async with gw.db.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table))).mappings()]


async def test_verify_records_each_answer_with_its_time(make_gateway) -> None:
    sim = BeifangSimulator(seed=3)
    sim.add_registrations(PLAN, [(n, f"学生{i}") for i, n in enumerate(make_ids(6, seed=7))])
    sim.grade_all()
    cert = sim.issue_passed()[0]
    async with sim.running() as url, make_gateway(orgs=orgs(url)) as gw:
        ok = await ask(gw, cert.number, holder_name=cert.holder_name)
        assert ok.outcome == "valid" and ok.holder_matches is True
        wrong = await ask(gw, cert.number, organization="beifang", holder_name="别人")
        assert wrong.outcome == "mismatch"
        missing = await ask(gw, "BF-NO-SUCH-1")
        assert missing.outcome == "not_found"
        sim.revoke(cert.number, "考核舞弊")
        revoked = await ask(gw, cert.number)
        assert revoked.outcome == "revoked" and "考核舞弊" in (revoked.reason or "")
        recorded = await rows(gw, t.certificate_verifications)
    assert [r["outcome"] for r in recorded] == ["valid", "mismatch", "not_found", "revoked"]
    assert all(r["answered_at"] is not None and r["purpose"] == "verify" for r in recorded)
    assert [r["holder_checked"] for r in recorded] == [True, True, False, False]
    assert sim.hits["verify"] == 4
    assert cert.holder_name not in str(recorded) and cert.id_number not in str(recorded)


async def test_recognition_records_and_converts_like_a_sync(make_gateway) -> None:
    sim = BeifangSimulator(seed=3)
    sim.add_registrations(PLAN, [(n, f"学生{i}") for i, n in enumerate(make_ids(6, seed=7))])
    sim.grade_all()
    cert, other = sim.issue_passed()[:2]
    async with (
        sim.running() as url,
        make_gateway(orgs=orgs(url), rules_file=DATA / "credit-rules.toml") as gw,
    ):
        holder = gw.hash_id(cert.id_number)
        # someone else's certificate: refused, nothing recorded
        with pytest.raises(RecognitionRefused, match="held by someone else"):
            await recognise(gw, other.number, organization="beifang", holder_hash=holder)
        assert await rows(gw, t.certificates) == []

        done = await recognise(gw, cert.number, organization="beifang", holder_hash=holder)
        assert done.new and done.credits_converted > 0
        certs = await rows(gw, t.certificates)
        assert [(c["number"], c["id_hash"], c["status"]) for c in certs] == [
            (cert.number, holder, "valid")
        ]
        outcomes = await rows(gw, t.learning_outcomes)
        assert [o["source_ref"] for o in outcomes] == [cert.number]
        ledger = await rows(gw, t.credit_ledger)
        assert ledger and all(e["source_ref"] == cert.number for e in ledger)
        # the nightly sync meets the same certificate: unchanged, the same credit (its score,
        # read now, may regrade the conversion: a reversal and a new entry, never a second one)
        report = await run_sync(gw)
        assert report.ok
        stream = next(s for s in report.streams if s.stream == "certificates")
        assert stream.new == len(sim.truth.certificates) - 1 and stream.unchanged >= 1
        async with gw.db.connect() as conn:
            net = (
                await conn.execute(
                    select(func.sum(t.credit_ledger.c.credits)).where(
                        t.credit_ledger.c.source_ref == cert.number
                    )
                )
            ).scalar()
        assert net == sum(e["credits"] for e in ledger)

        # a revoked certificate is refused with the organization's reason
        sim.revoke(other.number, "证书已注销")
        with pytest.raises(RecognitionRefused, match="证书已注销"):
            await recognise(
                gw, other.number, organization="beifang", holder_hash=gw.hash_id(other.id_number)
            )
        answers = await rows(gw, t.certificate_verifications)
    assert [a["outcome"] for a in answers] == ["mismatch", "valid", "revoked"]
    assert {a["purpose"] for a in answers} == {"recognition"}


@contextmanager
def in_thread(sim: Any) -> Iterator[str]:
    """The simulator on its own event loop in a thread, for a CLI that runs its own loop."""
    ready: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        async with sim.running() as url:
            ready.put(url)
            while not stop.is_set():
                await asyncio.sleep(0.01)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_cli_verify_exit_codes(db_target, tmp_path, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from gateway.cli.main import app

    sim = BeifangSimulator(seed=3)
    sim.add_registrations(PLAN, [(n, f"学生{i}") for i, n in enumerate(make_ids(6, seed=7))])
    sim.grade_all()
    cert = sim.issue_passed()[0]
    with in_thread(sim) as url:
        monkeypatch.chdir(tmp_path)
        conf = tmp_path / "xgate.toml"
        conf.write_text(
            "[organizations.beifang]\n"
            f'plugin = "beifang"\nbase_url = "{url}"\n'
            f'client_id = "{DEFAULT_CLIENT_ID}"\nclient_secret = "{DEFAULT_CLIENT_SECRET}"\n'
        )
        runner = CliRunner()
        env = {**db_target.env(), "XGATE_CONFIG": str(conf)}
        assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0  # never implicit
        good = runner.invoke(app, ["verify", cert.number, "--json"], env=env)
        assert good.exit_code == 0, good.output
        assert json.loads(good.output)["outcome"] == "valid"
        bad = runner.invoke(app, ["verify", "BF-NOPE-0", "--org", "beifang"], env=env)
        assert bad.exit_code == 1 and "not_found" in bad.output
        unknown = runner.invoke(app, ["verify", cert.number, "--org", "nobody"], env=env)
        assert unknown.exit_code == 3

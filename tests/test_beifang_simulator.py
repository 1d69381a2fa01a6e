"""The Beifang simulator on its own: determinism, business rules, protocol edges, the command.

These speak raw HTTP (no adapter), so they pin down the organization's documented behaviour in
``docs/organizations/beifang.md`` independently of the plugin.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from xgate_simulators.beifang import BeifangSimulator, decode_cursor, id_hash
from xgate_simulators.server import StreamFaults

from tests.idgen import make_ids

PLAN = "BF-2026-HGJL-2"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def sim() -> AsyncIterator[BeifangSimulator]:
    simulator = BeifangSimulator(seed=2)
    async with simulator.running():
        yield simulator


@contextlib.asynccontextmanager
async def client(sim: BeifangSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client already holding a token."""
    async with httpx.AsyncClient(base_url=sim.url) as http:
        token = await http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sim.client_id,
                "client_secret": sim.client_secret,
            },
        )
        http.headers["Authorization"] = "Bearer " + token.json()["access_token"]
        yield http


def truth_scores(sim: BeifangSimulator) -> dict[Any, Any]:
    return {
        k: (s.current.theory, s.current.practical, s.current.passed)
        for k, s in sim.truth.scores.items()
    }


def test_scores_are_deterministic_per_seed_and_about_80_percent_pass() -> None:
    ids = make_ids(600, seed=3)
    runs = []
    for seed in (5, 5, 6):
        sim = BeifangSimulator(seed=seed)
        sim.add_registrations(PLAN, [(x, "甲") for x in ids])
        sim.grade_all()
        runs.append(truth_scores(sim))
    assert runs[0] == runs[1] and runs[0] != runs[2]
    passed = sum(1 for _, _, ok in runs[0].values() if ok) / len(ids)
    absent = sum(1 for t, _, _ in runs[0].values() if t is None) / len(ids)
    assert 0.74 <= passed <= 0.86 and 0 < absent < 0.07
    # grading order does not matter: the same people in reverse give the same scores
    sim = BeifangSimulator(seed=5)
    sim.add_registrations(PLAN, [(x, "甲") for x in reversed(ids)])
    sim.grade_all()
    assert truth_scores(sim) == runs[0]


async def test_refusals_per_candidate_and_whole_request_errors(sim: BeifangSimulator) -> None:
    good, bad_check = make_ids(2)
    bad_check = bad_check[:17] + ("0" if bad_check[17] != "0" else "1")
    async with client(sim) as http:
        answer = await http.post(
            f"/v1/plans/{PLAN}/registrations",
            json={
                "candidates": [
                    {"name": "甲", "id_number": good},
                    {"id_number": make_ids(3)[2]},
                    {"name": "乙", "id_number": bad_check},
                    {"name": "丙", "id_type": "DRIVING_LICENCE", "id_number": "X1"},
                ]
            },
        )
        codes = [r.get("error", {}).get("code", r["status"]) for r in answer.json()["results"]]
        assert codes == ["accepted", "MISSING_FIELD", "INVALID_ID_NUMBER", "INVALID_ID_TYPE"]
        assert sim.truth.registered() == {good}
        assert (await http.post("/v1/plans/NOPE/registrations", json={})).status_code == 404
        too_many = {"candidates": [{"name": "甲", "id_number": good}] * 101}
        assert (
            await http.post(f"/v1/plans/{PLAN}/registrations", json=too_many)
        ).status_code == 400
        for query in ({"cursor": "not-a-cursor"}, {"limit": "0"}, {"updated_since": "yesterday"}):
            assert (await http.get("/v1/scores", params=query)).status_code == 400
        found = await http.get(f"/v1/plans/{PLAN}/registrations/{id_hash(good)}")
        assert found.json()["registration_id"] == "BFR000001"
    async with httpx.AsyncClient(base_url=sim.url) as anonymous:
        assert (await anonymous.get("/v1/scores")).status_code == 401
        refused = await anonymous.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sim.client_id,
                "client_secret": "guess",
            },
        )
        assert (refused.status_code, refused.json()) == (401, {"error": "invalid_client"})
    assert sim.unauthorized == 1


async def test_idempotency_key_replays_only_the_same_body_within_a_day(
    sim: BeifangSimulator,
) -> None:
    number = make_ids(1)[0]
    url = f"/v1/plans/{PLAN}/registrations"
    headers = {"Idempotency-Key": "xg1-one"}
    async with client(sim) as http:
        first = await http.post(url, headers=headers, json={"candidate": {"id_number": number}})
        assert first.json()["results"][0]["error"]["code"] == "MISSING_FIELD"
        again = await http.post(url, headers=headers, json={"candidate": {"id_number": number}})
        assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
        # the college corrected the data and sent it under the same key: evaluated anew
        fixed = {"candidate": {"name": "甲", "id_number": number}}
        accepted = await http.post(url, headers=headers, json=fixed)
        assert "Idempotent-Replayed" not in accepted.headers
        assert accepted.json()["results"][0]["status"] == "accepted"
    sim.clock.advance(timedelta(hours=25).total_seconds())  # keys expire; the person does not
    async with client(sim) as http:
        late = await http.post(url, headers=headers, json=fixed)
        assert late.json()["results"][0] == {**accepted.json()["results"][0], "existing": True}
    assert len(sim.truth.registrations) == 1
    assert (sim.truth.registration_requests, sim.truth.replayed_items) == (4, 1)


async def test_tokens_expire_on_the_simulator_clock() -> None:
    sim = BeifangSimulator(token_ttl=5)
    async with sim.running(), client(sim) as http:
        assert (await http.get("/v1/scores")).status_code == 200
        sim.clock.advance(5)
        expired = await http.get("/v1/scores")
        assert expired.status_code == 401
        assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_pages_follow_the_high_water_mark_despite_stream_faults(
    sim: BeifangSimulator,
) -> None:
    sim.add_registrations(PLAN, [(x, "甲") for x in make_ids(50)])
    sim.grade_all()
    sim.set_stream_faults(StreamFaults(duplicate=1.0, shuffle=1.0, seed=1))
    seen: list[int] = []
    marks = []
    cursor = None
    async with client(sim) as http:
        while True:
            params = {"limit": "8", **({"cursor": cursor} if cursor else {})}
            body = (await http.get("/v1/scores", params=params)).json()
            seen.extend(item["id"] for item in body["data"])
            cursor = body["next_cursor"]
            marks.append(decode_cursor(cursor))
            if not body["has_more"]:
                break
        assert set(seen) == {s.seq for s in sim.truth.scores.values()}
        assert len(seen) > 50  # duplicates from the page before were injected
        assert marks == sorted(marks) and marks[-1][1] == 50  # cursor is the page's maximum
        assert sim.stream_faults is not None
        assert sim.stream_faults.counts == {"duplicate": 6, "shuffle": 7}
        # updated_since starts at a moment: only the corrected record after it
        key = sorted(sim.truth.scores)[4]
        revision = sim.correct_score(*key, theory=88)
        since = revision.updated_at.isoformat()
        sim.set_stream_faults(None)
        body = (await http.get("/v1/scores", params={"updated_since": since})).json()
        assert [
            (i["candidate"]["id_number"], i["revision"], i["theory"]) for i in body["data"]
        ] == [(key[1], 2, 88.0)]


def test_runs_as_a_command_and_prints_its_url() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples" / "simulators")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "xgate_simulators.beifang", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.post(
            url + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "xgate-college",
                "client_secret": "beifang-demo-secret",
            },
            timeout=5,
        )
        assert answer.status_code == 200 and answer.json()["expires_in"] == 60
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0

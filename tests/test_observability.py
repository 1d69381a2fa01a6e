"""``/metrics``, ``/livez``, ``/readyz`` and JSON log lines: real scrapes of a real server,
and log lines read back as JSON, masked."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from gateway.contract import Invalid
from gateway.health import add_health_routes
from gateway.jobs.engine import open_app
from gateway.jobs.queue import queue_now
from gateway.logs import JsonFormatter, TextFormatter, configure_logging, job_context
from gateway.server import build_app
from gateway.sync import run_sync
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg
from tests.test_sync import score

pytestmark = pytest.mark.storage
ORGS = {"fake": {"plugin": "fake", "name": "fake", "page_size": 7}}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def scrape(app: web.Application, path: str) -> httpx.Response:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url(""))) as client:
            return await client.get(path)
    finally:
        await server.close()


async def test_metrics_say_what_the_database_and_this_process_know(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in make_ids(9, seed=3)]
        fakeorg.org("fake").scores.append(Invalid(payload={"raw": "x"}, reason="bad"))  # type: ignore[arg-type]
        await run_sync(gw)
        if not gw.db.is_sqlite:
            async with open_app(gw.settings, schedules=False) as app:
                await queue_now(app, gw, "sync")
        response = await scrape(build_app(gw), "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("xgate_quarantine_size", ())] == 1
    assert got[("xgate_outbox_entries", (("status", "pending"),))] == 0
    lag = got[("xgate_sync_lag_seconds", (("organization", "fake"), ("stream", "scores")))]
    assert 0 <= lag < 60
    if gw.db.is_sqlite:
        assert not any(name == "xgate_job_queue" for name, _ in got)
    else:
        todo = (("queue", "sync"), ("status", "todo"))
        assert got[("xgate_job_queue", todo)] == 2  # scores and certificates of "fake"


async def test_liveness_and_readiness(make_gateway) -> None:
    async with make_gateway(orgs=ORGS) as gw:
        assert (await scrape(build_app(gw), "/livez")).json() == {"alive": True}
        ready = await scrape(build_app(gw), "/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        worker_app = web.Application()
        add_health_routes(worker_app, gw, [lambda: "the job loop has stopped"])
        stopped = await scrape(worker_app, "/readyz")
        assert stopped.status_code == 503
        assert stopped.json()["problems"] == ["the job loop has stopped"]
        async with gw.db.begin() as conn:  # a database behind the code's migrations
            await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        behind = await scrape(build_app(gw), "/readyz")
        assert behind.status_code == 503 and "migration head" in behind.json()["problems"][0]


def test_json_log_lines_carry_the_job_id_and_are_masked() -> None:
    stream = io.StringIO()
    handler = configure_logging(logging.INFO, "json")
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        log = logging.getLogger("xgate.test")
        with job_context(42):
            log.warning("candidate %s failed", "110105199003071234", extra={"stream": "scores"})
        try:
            raise ValueError("bad id 110105199003071234")
        except ValueError:
            log.exception("boom")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["job_id"] == 42 and first["level"] == "WARNING" and first["stream"] == "scores"
    assert "110105199003071234" not in stream.getvalue()
    assert first["message"].startswith("candidate 110105") and "job_id" not in second
    assert "ValueError" in second["exc"]


def test_text_log_lines_name_the_request() -> None:
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "name": "x"})
    record.xgate = {"request_id": "abc"}
    assert TextFormatter().format(record).endswith("hello [request_id=abc]")
    assert json.loads(JsonFormatter().format(record))["request_id"] == "abc"


async def test_requests_per_organization_and_breaker_state_are_counted(make_gateway) -> None:
    """A real organization (the Beifang simulator) answers; /metrics counts what was asked."""
    from xgate_simulators.beifang import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        BeifangSimulator,
    )

    sim = BeifangSimulator(seed=3)
    async with sim.running() as url:
        orgs = {
            "beifang": {
                "plugin": "beifang",
                "base_url": url,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            }
        }
        async with make_gateway(orgs=orgs) as gw:
            await run_sync(gw)
            made = gw.organization("beifang").client.stats.requests
            got = samples((await scrape(build_app(gw), "/metrics")).text)
    assert made > 0
    ok = (("organization", "beifang"), ("outcome", "ok"))
    assert got[("xgate_http_requests_total", ok)] == made
    assert got[("xgate_breaker_state", (("organization", "beifang"),))] == 0
    assert got[("xgate_http_retries_total", (("organization", "beifang"),))] == 0


def test_json_log_fields_are_masked_too() -> None:
    """A field riding on the record (the HTTP layer's path or error) is masked like the
    message: an organization path /candidates/<ID number> must not reach the log collector."""
    stream = io.StringIO()
    handler = configure_logging(logging.INFO, "json")
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        fields = {"path": "/candidates/110105199003071234", "error": "mobile 13812345678"}
        logging.getLogger("xgate.test").info("attempt", extra={"http": fields})
    finally:
        logging.getLogger().removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["http"]["path"].startswith("/candidates/110105") and "****" in line["http"]["path"]
    assert "110105199003071234" not in stream.getvalue()
    assert "13812345678" not in stream.getvalue()

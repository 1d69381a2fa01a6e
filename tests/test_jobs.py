"""Jobs on procrastinate (PostgreSQL only): a worker run in-process with ``wait=False`` drains
the queue, and the database, not the job, holds the outcome."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from gateway.errors import ConfigurationError, InputError
from gateway.jobs import bodies
from gateway.jobs.engine import conninfo, ensure_schema, open_app, requeue_stalled
from gateway.jobs.queue import cancel_job, list_jobs, queue_now, retry_job
from gateway.jobs.worker import WorkerOptions, run_worker
from gateway.settings import Settings
from gateway.store import tables as t
from tests.idgen import make_ids
from tests.plugins_fixtures import fakeorg
from tests.test_sync import score

pytestmark = pytest.mark.storage
on_postgresql = pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
ORGS = {
    "fake": {"plugin": "fake", "name": "fake", "page_size": 7},
    "other": {"plugin": "fake", "name": "other", "page_size": 7},
}


async def drain(gw: Any, app: Any) -> None:
    """Run every queued job to completion, in-process, then return (no sleeps)."""
    await run_worker(gw, app, WorkerOptions(concurrency=2, wait=False))


async def statuses(app: Any) -> dict[tuple[str, str], str]:
    return {
        (r.task, f"{r.args.get('organization')}:{r.args.get('stream')}"): r.status
        for r in await list_jobs(app, limit=100)
    }


@on_postgresql
async def test_sync_jobs_run_each_stream_and_a_broken_organization_fails_alone(
    make_gateway,
) -> None:
    ids = make_ids(20, seed=5)
    async with make_gateway(orgs=ORGS, worker={"attempts": 1}) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in ids]

        async def broken(cursor: str | None) -> Any:
            raise RuntimeError("plugin bug")
            yield  # pragma: no cover

        gw.organization("other").adapter.scores = broken
        async with open_app(gw.settings, schedules=False) as app:
            queued = await queue_now(app, gw, "sync")
            assert len(queued) == 4  # two organizations x (scores, certificates)
            # the schedule firing again while they wait adds nothing (queueing lock)
            assert await queue_now(app, gw, "sync") == []
            await drain(gw, app)
            done = await statuses(app)
        assert done[("xgate.sync_stream", "fake:scores")] == "succeeded"
        # this worker counted its jobs for /metrics
        failed_runs = REGISTRY.get_sample_value(
            "xgate_jobs_total", {"task": "xgate.sync_stream", "outcome": "failed"}
        )
        assert failed_runs is not None and failed_runs >= 1
        assert done[("xgate.sync_stream", "fake:certificates")] == "succeeded"
        assert done[("xgate.sync_stream", "other:scores")] == "failed"
        assert done[("xgate.sync_stream", "other:certificates")] == "succeeded"
        async with gw.db.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(t.scores))).scalar()
            runs = (
                await conn.execute(select(t.sync_run_streams.c.stream, t.sync_run_streams.c.status))
            ).all()
        assert stored == 20
        assert sorted(runs) == sorted(
            [("scores", "ok"), ("certificates", "ok"), ("scores", "failed"), ("certificates", "ok")]
        )


@on_postgresql
async def test_a_job_run_twice_changes_nothing_and_retry_and_cancel_work(make_gateway) -> None:
    ids = make_ids(9, seed=8)
    async with make_gateway(orgs={"fake": ORGS["fake"]}) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in ids]
        async with open_app(gw.settings, schedules=False) as app:
            await queue_now(app, gw, "sync")
            await drain(gw, app)
            first = (await list_jobs(app, task="xgate.sync_stream", status="succeeded"))[-1]
            with pytest.raises(InputError, match="only failed"):
                await retry_job(app, first.id)
            # run the same work again (as a lost acknowledgement would): cursors say "done"
            await queue_now(app, gw, "sync")
            waiting = await list_jobs(app, status="todo")
            cancelled = await cancel_job(app, waiting[0].id)
            assert cancelled.status == "cancelled"
            await drain(gw, app)
            with pytest.raises(InputError, match="no job"):
                await cancel_job(app, 999_999)
        async with gw.db.connect() as conn:
            revisions = (
                await conn.execute(select(func.count()).select_from(t.score_revisions))
            ).scalar()
            stored = (await conn.execute(select(func.count()).select_from(t.scores))).scalar()
        assert (stored, revisions) == (9, 0)  # nine scores once each, none revised


@on_postgresql
async def test_a_failed_job_retried_after_the_organization_recovers(make_gateway) -> None:
    ids = make_ids(4, seed=9)
    async with make_gateway(orgs={"fake": ORGS["fake"]}, worker={"attempts": 1}) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in ids]
        real = gw.organization("fake").adapter.scores

        async def down(cursor: str | None) -> Any:
            raise RuntimeError("down for maintenance")
            yield  # pragma: no cover

        gw.organization("fake").adapter.scores = down
        async with open_app(gw.settings, schedules=False) as app:
            await queue_now(app, gw, "sync")
            await drain(gw, app)
            failed = await list_jobs(app, status="failed")
            assert [j.args for j in failed] == [{"organization": "fake", "stream": "scores"}]
            gw.organization("fake").adapter.scores = real
            again = await retry_job(app, failed[0].id)
            assert again.status == "todo"
            await drain(gw, app)
            assert (await list_jobs(app, status="failed")) == []
        async with gw.db.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(t.scores))).scalar() == 4


@on_postgresql
async def test_the_nightly_job_runs_the_nightly_workflow_and_the_weekly_report(
    make_gateway, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_ids(6, seed=12)
    monkeypatch.chdir(tmp_path)  # the weekly report job writes into the working folder
    async with make_gateway(orgs=ORGS) as gw:
        fakeorg.org("fake").scores = [score(n, 70, 80) for n in ids]
        async with open_app(gw.settings, schedules=False) as app:
            nightly = await queue_now(app, gw, "nightly")
            assert len(nightly) == 2  # one nightly workflow per organization
            assert len(await queue_now(app, gw, "weekly_report")) == 1
            await drain(gw, app)
            done = {(r.task, r.args.get("organization")): r.status for r in await list_jobs(app)}
        assert done[("xgate.nightly_org", "fake")] == "succeeded"
        assert done[("xgate.weekly_report", None)] == "succeeded"
        async with gw.db.connect() as conn:
            runs = (await conn.execute(select(t.sync_runs.c.options))).scalars().all()
        assert sorted(r["organizations"] for r in runs) == [["fake"], ["other"]]
        assert all(r["issue"] for r in runs)
        assert len(list(tmp_path.glob("weekly-*.xlsx"))) == 1


@on_postgresql
async def test_one_stream_is_never_worked_on_twice_at_once(make_gateway) -> None:
    async with make_gateway(orgs={"fake": ORGS["fake"]}) as gw:
        async with bodies.exclusive(gw, "sync:fake:scores"):
            with pytest.raises(bodies.Busy):
                await bodies.sync_one_stream(gw, "fake", "scores")
            # another stream, or another organization, is not held up
            report = await bodies.sync_one_stream(gw, "fake", "certificates")
            assert report.status == "ok"
        assert (await bodies.sync_one_stream(gw, "fake", "scores")).status == "ok"


@on_postgresql
async def test_schema_is_created_once_and_stalled_jobs_are_requeued(make_gateway) -> None:
    async with (
        make_gateway(orgs={"fake": ORGS["fake"]}) as gw,
        open_app(gw.settings, schedules=False) as app,
    ):
        assert await ensure_schema(app) is False  # open_app created it already
        job = (await queue_now(app, gw, "sync", organizations=["fake"]))[0]
        # a worker that took the job and died: its heartbeat is old
        worker_id = await app.job_manager.register_worker()
        await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
        async with app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
            await conn.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
            )
        assert await requeue_stalled(app, stalled_after=30) == [job]
        assert [j.status for j in await list_jobs(app) if j.id == job] == ["todo"]


def test_jobs_need_postgresql() -> None:
    with pytest.raises(ConfigurationError, match="need PostgreSQL"):
        conninfo(Settings(database_url="sqlite+aiosqlite:///x.db"))
    info = conninfo(
        Settings(database_url="postgresql+asyncpg://u:pw@h:5433/d", database_schema="s1")
    )
    assert "host=h" in info and "port=5433" in info and "search_path=s1" in info


@on_postgresql
def test_the_commands(db_target: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``xgate jobs`` and ``xgate worker --once`` end to end (no organizations configured)."""
    import json

    from typer.testing import CliRunner

    from gateway.cli.main import app

    monkeypatch.chdir(tmp_path)
    for key in [
        k for k in __import__("os").environ if k.startswith("XGATE_") and k != "XGATE_KEYS"
    ]:
        monkeypatch.delenv(key)
    for key, value in db_target.env().items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def xgate(*args: str) -> Any:
        return runner.invoke(app, list(args))

    assert xgate("db", "upgrade").exit_code == 0  # commands never create a database
    queued = xgate("jobs", "queue", "nightly", "--json")
    assert queued.exit_code == 0, queued.output
    assert xgate("worker", "--once").exit_code == 0
    listed = xgate("jobs", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == {"jobs": []}
    missing = xgate("jobs", "retry", "5")
    assert missing.exit_code == 2 and "no job 5" in missing.output
    assert xgate("worker", "--queue", "nope").exit_code == 2
    monkeypatch.setenv("XGATE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    on_sqlite = xgate("jobs", "list")
    assert on_sqlite.exit_code == 3 and "need PostgreSQL" in on_sqlite.output


async def test_the_console_dashboard_shows_the_job_queue(make_gateway, tmp_path: Any) -> None:
    """On PostgreSQL with workers, the dashboard lists jobs; on SQLite it has no job section."""
    from tests.console_support import Clock, console, sign_in

    async with console(make_gateway, tmp_path, Clock()) as client:
        gw = client.gw
        if not gw.db.is_sqlite:
            async with open_app(gw.settings, schedules=False) as app:
                await queue_now(app, gw, "sync")
        await sign_in(client, "staff")
        board = await (await client.get("/api/dashboard")).json()
        page = await (await client.get("/")).text()
    if gw.db.is_sqlite:
        assert board["jobs"] is None and 'id="jobs"' not in page
        return
    assert board["jobs"]["counts"] == {"todo": 2}
    assert {(j["task"], j["args"]["stream"]) for j in board["jobs"]["recent"]} == {
        ("xgate.sync_stream", "scores"),
        ("xgate.sync_stream", "certificates"),
    }
    assert 'id="jobs"' in page and "xgate.sync_stream" in page and "organization=beifang" in page
    assert page.count('id="jobs"') == 1  # once, in the page body: never inside <title>
    title = page[page.index("<title>") : page.index("</title>")]
    assert "<h2>" not in title and "<table" not in title


def test_a_schedule_that_is_not_a_cron_line_is_refused_naming_it(tmp_path: Any) -> None:
    from gateway.settings import load_settings

    config = tmp_path / "xgate.toml"
    config.write_text('[schedule]\nsync = "0 25 * * *"\nreconcile = ""\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"schedule\.sync: .*not a cron line"):
        load_settings(config)


@on_postgresql
async def test_finished_jobs_are_pruned_and_failed_ones_kept(make_gateway) -> None:
    from gateway.jobs.engine import prune_jobs

    async with make_gateway(orgs=ORGS, worker={"attempts": 1}) as gw:

        async def broken(cursor: str | None) -> Any:
            raise RuntimeError("plugin bug")
            yield  # pragma: no cover

        gw.organization("other").adapter.scores = broken
        async with open_app(gw.settings, schedules=False) as app:
            await queue_now(app, gw, "sync")
            await drain(gw, app)
            await prune_jobs(app, keep_days=0)
            left = await list_jobs(app)
    assert [(j.args["organization"], j.status) for j in left] == [("other", "failed")]

"""The console in a real browser (Debian's chromium through Playwright): sign in, upload the
demo list, see its problems, submit, download the results, look a learner up, sign out.

One browser and one server for this module keep these few tests fast (closed before
the next module, so no Playwright loop outlives them). Set ``XGATE_SCREENSHOTS``
to a folder to save a screenshot of each main page (docs/img is made that way).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.store import tables as t
from tests.browser_support import LAUNCH_ARGS, Served, chromium_or_skip, serve_in_thread
from tests.console_support import DATA, ORGS, PASSWORD, settings

SHOTS = os.environ.get("XGATE_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from gateway.plugins import load_plugins
    from gateway.runtime import open_gateway
    from gateway.settings import Settings
    from gateway.users import add_user
    from tests.plugins_fixtures import fakeorg

    tmp = tmp_path_factory.mktemp("console")
    conf = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'xgate.db'}",
        organizations=ORGS,
        **settings(tmp),
    )
    host = load_plugins(extra=[("fake", fakeorg)])

    async def setup(gw: Any) -> None:
        for role in ("staff", "viewer"):
            await add_user(gw.db, role, role, PASSWORD)

    with serve_in_thread(lambda: open_gateway(settings=conf, host=host), setup) as s:
        yield s


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Any, url: str, user: str) -> None:
    page.goto(url + "/")
    assert page.url.startswith(url + "/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#organizations")


def test_staff_uploads_submits_downloads_looks_up_and_signs_out(
    browser: Any, served: Served, tmp_path: Path
) -> None:
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    url = served.url
    sign_in(page, url, "staff")
    assert page.inner_text("#who").startswith("staff")
    shot(page, "dashboard")

    page.click("text=报名名单")
    page.set_input_files("#file", str(DATA / "candidates.xlsx"))
    page.click("#upload")
    page.wait_for_selector("#problems")
    problems = page.locator("#problems tbody tr")
    assert problems.count() > 0
    assert "行号" in page.inner_text("#problems thead")
    shot(page, "check")

    page.select_option("#organization", "beifang")
    page.click("#preview")
    page.wait_for_selector("#confirm")
    assert page.inner_text("#charged").strip()
    shot(page, "preview")
    page.click("#confirm")
    page.wait_for_selector("#download", timeout=60_000)  # the progress page refreshes itself
    assert page.locator("#outcomes .status.accepted").count() > 0
    shot(page, "results")
    with page.expect_download() as got:
        page.click("#download")
    target = tmp_path / "results.xlsx"
    got.value.save_as(target)
    wb = load_workbook(target, read_only=True)
    assert wb.sheetnames[0] == "结果 results"

    async def a_candidate() -> Any:
        async with served.gw.db.connect() as conn:
            q = select(t.candidates.c.name, t.candidates.c.id_number).order_by(t.candidates.c.id)
            return (await conn.execute(q.limit(1))).first()

    person = served.run(a_candidate())
    page.click("text=学员查询")
    page.fill("#q", person.name)
    page.click("#search")
    page.wait_for_selector("#hits")
    row = page.inner_text("#hits tbody tr")
    assert person.name in row and person.id_number not in row and "********" in row
    assert person.name not in page.url
    shot(page, "learners")
    page.click(f"#hits >> text={person.name}")
    page.wait_for_selector("#person")
    assert person.id_number not in page.content()
    shot(page, "learner")

    page.click("#logout")
    page.wait_for_selector("#login")
    page.goto(url + "/registrations")
    assert page.url.startswith(url + "/login")
    assert not blocked, blocked  # the pages run under the CSP without violations
    context.close()
    # what the upload left on disk: 0600 files in 0700 folders
    folders = list(Path(served.gw.settings.console.upload_dir).iterdir())
    assert folders
    for folder in folders:
        assert folder.stat().st_mode & 0o777 == 0o700
        assert all(f.stat().st_mode & 0o777 == 0o600 for f in folder.iterdir())


def test_viewer_is_refused_lists_and_switches_to_english(browser: Any, served: Served) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, served.url, "viewer")
    assert page.locator("header nav >> text=报名名单").count() == 0  # not in the viewer's menu
    response = page.goto(served.url + "/lists")
    assert response is not None and response.status == 403
    assert page.get_attribute("#error-code", "data-code") == "forbidden"
    page.goto(served.url + "/")
    page.click("#switch-language")
    page.wait_for_selector("text=Organizations")
    assert page.locator("header nav >> text=Dashboard").count() == 1
    context.close()

"""Take the console screenshots in docs/img from a real demo (run from the repository root).

    python docs/img/screenshots.py [DEMO_DIR]

Runs ``xgate demo`` in DEMO_DIR (default: a temporary folder), then ``xgate demo --serve``'s
server in a thread, and drives Debian's chromium through the main pages.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from xgate_simulators.demo import run_demo, submit_sample
from xgate_simulators.demo_serve import serve_demo

OUT = Path(__file__).resolve().parent
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def second_list(target: Path) -> Path:
    """A new cohort's list (the demo's generator with another seed): rows not yet registered."""
    import importlib.util
    import random

    spec = importlib.util.spec_from_file_location(
        "make_candidates", Path(__file__).resolve().parents[2] / "examples/data/make_candidates.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.plant_mistakes(mod.build_rows(random.Random(mod.SEED + 1)))
    mod.build_workbook(rows).save(target)
    return target


def certificate_holder(db: Path) -> str:
    """The name of a learner with a certificate (so the page shows scores and credit)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT c.name FROM candidates c JOIN certificates x ON x.id_hash = c.id_hash "
            "ORDER BY c.id LIMIT 1"
        ).fetchone()
    return str(row[0])


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "demo"
    summary = asyncio.run(run_demo(folder, submit=submit_sample))
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    box: dict[str, str] = {}

    def announce(url: str) -> None:
        box["url"] = url
        ready.set()

    thread = threading.Thread(
        target=lambda: loop.run_until_complete(
            serve_demo(folder, "127.0.0.1", 8765, announce=announce, stop=stop)
        ),
        daemon=True,
    )
    thread.start()
    ready.wait(60)
    url = box["url"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.goto(url + "/")
        page.screenshot(path=str(OUT / "login.png"))
        page.fill("#username", summary.console_user)
        page.fill("#password", summary.console_password)
        page.click("#login")
        page.wait_for_selector("#organizations")
        page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)
        page.goto(url + "/lists")
        page.set_input_files("#file", str(second_list(folder / "化工2401名单.xlsx")))
        page.click("#upload")
        page.wait_for_selector("#problems")
        page.screenshot(path=str(OUT / "check.png"))
        page.select_option("#organization", "beifang")
        page.click("#preview")
        page.wait_for_selector("#confirm")
        page.screenshot(path=str(OUT / "preview.png"))
        page.click("#confirm")
        page.wait_for_selector("#download", timeout=120_000)
        page.screenshot(path=str(OUT / "results.png"))
        page.goto(url + "/registrations?plan=BF-2026-HGJL-2")
        page.screenshot(path=str(OUT / "registrations.png"))
        name = certificate_holder(folder / "xgate.db")
        page.goto(url + "/learners")
        page.fill("#q", name)
        page.click("#search")
        page.wait_for_selector("#hits")
        page.screenshot(path=str(OUT / "learners.png"))
        page.click("#hits tbody tr a")
        page.wait_for_selector("#person")
        page.screenshot(path=str(OUT / "learner.png"), full_page=True)
        page.click("#switch-language")
        page.wait_for_selector("#person")
        page.screenshot(path=str(OUT / "learner-en.png"), full_page=True)
        page.click("#switch-language")
        page.goto(url + "/audit?action=console.*")
        page.wait_for_selector("#audit")
        page.screenshot(path=str(OUT / "audit.png"))
        browser.close()
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)


if __name__ == "__main__":
    main()

"""The evaluation page in a real browser (Debian's Chromium driven by Playwright).

``samenop serve`` runs on a SQLite file holding the shipped regions and a history
driven through the real service; a planner signs in, follows the dashboard's link,
picks the period, sees the charts with their tables and downloads the CSV.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from core import migrate
from core.db import make_engine, make_session_factory
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from oncall.snapshot import ConfigSnapshot
from tests.accounts import PASSWORD
from tests.api.test_dashboard_browser import ARGS, CHROMIUM
from tests.dispatch.test_evaluation import Case, drive, pilot_cases

ROOT = Path(__file__).resolve().parent.parent.parent
CASES = pilot_cases()[:16]


@pytest.fixture
def server(tmp_path: Path, example_config: ConfigSet) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        oncall_service.write_config(
            session=s, config=example_config, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    snapshot = ConfigSnapshot(example_config, 1)
    for case in CASES:
        drive(factory, snapshot, case)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENOP_")}
    env.update(SAMENOP_DATABASE_URL=url, SAMENOP_ENVIRONMENT="test", SAMENOP_API_KEYS="k-e")
    subprocess.run(
        [sys.executable, "-m", "api.cli", "accounts", "create", "planner-gv", "--role",
         "planner", "--region", "gooi-en-vechtstreek", "--password-stdin"],
        cwd=ROOT, env=env, check=True, capture_output=True, input=PASSWORD.encode() + b"\n",
    )  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _expected(cases: list[Case]) -> tuple[int, int]:
    outcomes = Counter(c.outcome for c in cases)
    applied = outcomes["joint_on_scene"] + outcomes["phone_consult"] + outcomes["video_consult"]
    return len(cases), applied


def test_a_planner_sees_the_charts_and_tables_and_downloads_the_csv(
    server: str, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium)"
    incidents, applied = _expected(CASES)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server + "/evaluatie")
            assert page.url.endswith("/login")
            page.fill("#username", "planner-gv")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.click("#nav-evaluation")  # from the dashboard
            page.wait_for_selector("#period")
            assert page.locator("#region").input_value() == "gooi-en-vechtstreek"
            page.fill("#start", "2026-03-01")
            page.fill("#end", "2026-03-31")
            page.click("#period button[type=submit]")
            page.wait_for_url("**start=2026-03-01**")
            assert "01-03-2026 tot en met 31-03-2026" in page.inner_text("#period-text")
            summary = page.locator("#summary")
            assert summary.locator('[data-key="incidents"]').inner_text() == str(incidents)
            assert summary.locator('[data-key="joint_approach"]').inner_text() == str(applied)
            # every chart is drawn, named for assistive technology, a table beside it
            for chart, table in (
                ("#chart-outcomes", "#outcomes"),
                ("#chart-hours", "#hours"),
                ("#chart-weekdays", "#weekdays"),
            ):
                svg = page.locator(f"{chart} svg")
                assert svg.is_visible()
                assert svg.get_attribute("role") == "img"
                box = svg.bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100
                assert page.locator(table).is_visible()
            assert page.locator("#chart-hours svg rect.bar").count() >= 48
            hours = page.locator("#hours tbody tr")
            assert hours.count() == 24
            total = sum(int(hours.nth(h).locator("td").first.inner_text()) for h in range(24))
            assert total == incidents
            page.screenshot(path=str(tmp_path / "evaluatie.png"), full_page=True)
            with page.expect_download() as info:
                page.click("#csv")
            download = info.value
            assert download.suggested_filename.startswith("evaluatie-gooi-en-vechtstreek-")
            data = Path(download.path()).read_bytes()
            assert data.startswith(b"\xef\xbb\xbf")
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
            record = dict(zip(rows[0], rows[1], strict=True))
            assert record["Meldingen"] == str(incidents)
            assert record["Samen op toegepast"] == str(applied)
            assert errors == []
        finally:
            browser.close()

"""The dashboard in a real browser (Debian's Chromium driven by Playwright).

The service runs as a real process on SQLite with the shipped regions; an incident is
posted through the API and must show on the page after signing in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.accounts import PASSWORD
from tests.api.browsers import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parent.parent.parent
KEY = "browser-key"
OPERATOR = ["--role", "operator", "--password-stdin"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path) as base:
        yield base


@contextlib.contextmanager
def running_server(tmp_path: Path) -> Iterator[str]:
    """``samenop serve`` on a fresh SQLite database with the shipped regions and an
    operator account "meldkamer"; yields its base URL and stops it by its pid."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "SAMENOP_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SAMENOP_ENVIRONMENT": "test",
        "SAMENOP_API_KEYS": KEY,
    }
    subprocess.run(
        [sys.executable, "-m", "api.cli", "config", "load", "regions"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "api.cli", "accounts", "create", "meldkamer", *OPERATOR],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        input=PASSWORD.encode() + b"\n",
    )
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


def test_incident_appears_on_dashboard_after_sign_in(server: str, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium)"
    created = httpx.post(
        server + "/api/v1/incidents",
        headers={"X-API-Key": KEY},
        json={
            "source": "browser-test",
            "external_id": "B-1",
            "reported_at": "2026-12-25T03:00",
            "municipality": "Hilversum",
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 34}],
            "police_unit": "GV-21",
            "police_callback": "06 12345678",
        },
    )
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(server + "/")
            assert page.url.endswith("/login")
            page.fill("#username", "meldkamer")
            page.fill("#password", "verkeerd")
            page.click("button[type=submit]")
            assert "verkeerd wachtwoord" in page.get_by_role("alert").inner_text()
            page.fill("#username", "meldkamer")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#dispatches")
            # the rows are painted by the page's script from its data, just after load
            page.wait_for_selector(f"tr[data-reference='{reference}']", timeout=5000)
            row = page.locator(f"tr[data-reference='{reference}']")
            assert row.count() == 1
            text = row.inner_text()
            # Christmas night in Gooi en Vechtstreek: piket from home, consult first.
            assert "Hilversum" in text and "ter plaatse" in text and "consult:" in text
            # the planned mode is said as planned, apart from the step it has reached
            assert row.locator("td.kind .planned-mode").inner_text() == "gepland: ter plaatse"
            assert row.locator("td.stage .stage-label").inner_text() == "wordt opgeroepen"
            assert "ter plaatse" not in row.locator("td.stage").inner_text()
            # nobody accepted yet: no "Politie vertrekt", no "Afsluiten"
            buttons = row.locator("td.actions button").all_inner_texts()
            assert buttons == ["Consult vastleggen", "Annuleren"]
            # the household as the police gave it, in Dutch
            assert row.locator("td.kind .household .persons").inner_text() == "slachtoffer (34)"
            # paging: the consult is being called, the worker waits for the consult's yes
            assert row.get_attribute("data-paging") == "consult"
            assert "consult wordt opgeroepen" in text and "nog niet gevraagd" in text
            assert page.locator("#oncall tbody tr").count() > 10
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000

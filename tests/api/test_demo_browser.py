"""The demo as a visitor meets it: `samenop demo` pages the fictitious workers' phones
on the local Twilio fake, and the visitor plays the piket worker in a real browser.

The demo runs as a real process (SQLite, embedded delivery loop, the real Twilio SDK
against the fake); Chromium answers the call on the phone page and presses 1; the
dashboard then shows the page accepted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.api.live import free_port
from tests.api.test_dashboard_browser import ARGS, CHROMIUM, ROOT

KEY = {"X-API-Key": "dev-admin-key"}  # the demo's development (admin) key
BRAM = "+31612340102"  # vt-gv office hours on Tue 2026-03-10 16:59


def wait_for(check: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port, phones_port = free_port(), free_port()
    env = {
        **os.environ,
        "SAMENOP_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "SAMENOP_ENVIRONMENT": "development",
    }
    env.pop("SAMENOP_REDIS_URL", None)
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "demo",
            "--no-open",
            "--port",
            str(port),
            "--phones-port",
            str(phones_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base, phones = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{phones_port}"
    try:
        wait_for(
            lambda: proc.poll() is None and httpx.get(base + "/healthz", timeout=1).is_success,
            "the demo to start",
            timeout=40,
        )
        yield base, phones
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
        if proc.returncode not in (0, -signal.SIGTERM):
            print((tmp_path / "demo.log").read_text())


def test_visitor_plays_the_piket_worker(demo: tuple[str, str], tmp_path: Path) -> None:
    base, phones = demo
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium)"
    state = httpx.get(phones + "/_fake/state", timeout=5).json()
    labels = {p["number"]: p["label"] for p in state["phones"]}
    assert "Bram" in labels[BRAM]  # every fictitious worker has a phone on the page
    created = httpx.post(
        base + "/api/v1/incidents",
        headers=KEY,
        json={
            "source": "demo-visitor",
            "external_id": "V-1",
            "reported_at": "2026-03-10T16:59",
            "basisteam": "gooi-en-vechtstreek-noord",
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 34}],
            "police_unit": "GV-21",
            "police_callback": "06 12345678",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    call = wait_for(
        lambda: httpx.get(phones + "/_fake/calls", params={"to": BRAM}, timeout=2).json(),
        "the call to Bram",
    )[-1]
    sid = call["sid"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(phones + "/phones")
            page.click(f"button[data-sid='{sid}'][data-action='answer']")
            page.click(f"button[data-sid='{sid}'][data-digits='1']", timeout=10_000)
            wait_for(
                lambda: (
                    httpx.get(
                        base + f"/api/v1/incidents/{reference}", headers=KEY, timeout=2
                    ).json()["paging_state"]
                    == "accepted"
                ),
                "the acceptance",
            )
            page.goto(base + "/")
            row = page.locator(f"tr[data-reference='{reference}']")
            assert row.get_attribute("data-paging") == "accepted"
            assert "aangenomen" in row.inner_text()
            assert page.locator("a", has_text="Telefoons (demo)").count() == 1
            page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        finally:
            browser.close()

"""The demo as someone running `make demo` meets it: the example incidents agree with
regions/ and are not piled up by a second run, a machine without a browser is told where
the dashboard is and how to sign in, every page has an icon, and the fake's phone page
shows a ringing phone first.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import demo
from dispatch.models import Dispatch, Incident
from dispatch.pairing import pair
from dispatch.service import facts_from, resolve_area
from dispatch.states import Stage
from notifications.fake.harness import FakeTwilioServer, WebhookSink
from notifications.provider import CallRequest
from oncall.snapshot import ConfigSnapshot
from tests.api.live import free_port
from tests.api.test_dashboard_browser import ARGS, CHROMIUM
from tests.api.test_pages_security import TEMPLATES, pages  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = ("Veilig Thuis (landelijk)", "0800-2000")
ICON_LINK = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def demo_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Incident).where(Incident.source == demo.SOURCE)
        )
        or 0
    )


# --- the example incidents ------------------------------------------------------------


def test_seeding_twice_adds_nothing_the_second_time(
    session: Session, loaded: int, example_snapshot: ConfigSnapshot
) -> None:
    first = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
    made = demo.seed(session, example_snapshot, first, NATIONAL)
    session.commit()
    assert made == [key for key, _ in demo.INCIDENTS]
    assert demo_count(session) == len(demo.INCIDENTS)
    # A second run an hour later (another "now", other external ids): nothing new.
    assert demo.seed(session, example_snapshot, first + timedelta(hours=1), NATIONAL) == []
    session.commit()
    assert demo_count(session) == len(demo.INCIDENTS)
    # Once an example is closed, the next run reports that one again, and only that one.
    closed = session.scalar(
        select(Dispatch)
        .join(Incident, Incident.id == Dispatch.incident_id)
        .where(Incident.external_id == demo.external_id("boxtel", first))
    )
    assert closed is not None
    closed.stage = Stage.CLOSED
    session.commit()
    again = demo.seed(session, example_snapshot, first + timedelta(days=1), NATIONAL)
    assert again == ["boxtel"]
    assert demo_count(session) == len(demo.INCIDENTS) + 1


@pytest.mark.parametrize("key,extra", demo.INCIDENTS, ids=[k for k, _ in demo.INCIDENTS])
def test_each_example_lies_where_regions_say(
    example_snapshot: ConfigSnapshot, key: str, extra: dict[str, Any]
) -> None:
    snapshot = example_snapshot
    basisteam, municipality = resolve_area(snapshot, extra["basisteam"], extra["municipality"])
    assert basisteam in snapshot.basisteams, key
    assert municipality in snapshot.municipalities, key
    # The basisteam is the one that serves the municipality (Hilversum is in Zuid).
    assert snapshot.municipality_basisteams[municipality or ""] == frozenset({basisteam}), key
    from dispatch.schemas import IncidentCreate

    data = IncidentCreate.model_validate(
        {
            "source": demo.SOURCE,
            "external_id": "x",
            "reported_at": "2026-03-10T21:00",
            "police_unit": "DEMO",
            "police_callback": "06 12345678",
            **extra,
        }
    )
    plan = pair(facts_from(data, basisteam, municipality), snapshot, data.reported_at)
    codes = {r.code for r in plan.reasons}
    assert not codes & {"area_ignored", "area_conflict", "area_unknown", "area_missing"}, key
    region = snapshot.config.basisteams[
        [b.id for b in snapshot.config.basisteams].index(basisteam or "")
    ].region
    assert plan.region == region and plan.response is not None, key


def test_hilversum_is_filed_in_zuid(example_snapshot: ConfigSnapshot) -> None:
    hilversum = dict(demo.INCIDENTS)["hilversum"]
    assert "GM0402" in {
        m
        for b in example_snapshot.config.basisteams
        if b.id == hilversum["basisteam"]
        for m in b.municipalities
    }


# --- the way to the dashboard ---------------------------------------------------------


def test_without_a_browser_it_says_where_the_dashboard_is() -> None:
    said: list[str] = []
    url = "http://127.0.0.1:8123/"
    opened = demo.open_dashboard(
        url, "dev-admin-key", open_pages=True, echo=said.append, available=lambda: False
    )
    assert opened is False
    [text] = said
    assert url in text and "dev-admin-key" in text
    assert "sign in: not needed" in text and "ssh -L 8123:127.0.0.1:8123" in text
    # A browser that does not start is no better than none; a signed-in service says how.
    said.clear()
    assert not demo.open_dashboard(
        url,
        "k",
        open_pages=False,
        echo=said.append,
        browser=lambda _: False,
        available=lambda: True,
    )
    assert f"{url}login" in said[0] and "samenop accounts create" in said[0]
    said.clear()
    assert demo.open_dashboard(
        url, "k", open_pages=True, echo=said.append, browser=lambda _: True, available=lambda: True
    )
    assert said == []


def _run_demo(db: Path, log: Path, *, headless_env: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SAMENOP_DATABASE_URL": f"sqlite:///{db}",
        "SAMENOP_ENVIRONMENT": "development",
    }
    env.pop("SAMENOP_REDIS_URL", None)
    if headless_env:  # a server: no display, no BROWSER
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
            env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "demo", "--console", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def _wait_for_line(log: Path, pattern: str, proc: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        assert proc.poll() is None, log.read_text()
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in the demo's output:\n{log.read_text()}")


@pytest.fixture
def demo_db(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "demo.db"


def test_make_demo_twice_on_a_machine_without_a_browser(tmp_path: Path, demo_db: Path) -> None:
    """The real command, twice on one database, with no display: each run prints where
    the dashboard is and how to sign in; the second adds no example incidents; the icon
    is served."""
    for run in (1, 2):
        log = tmp_path / f"demo-{run}.log"
        proc = _run_demo(demo_db, log, headless_env=True)
        try:
            _wait_for_line(log, r"No browser found on this machine", proc)
            url = _wait_for_line(log, r"dashboard: (http://127\.0\.0\.1:\d+/)", proc).group(1)
            text = log.read_text()
            assert "sign in: not needed" in text and "admin API key:" in text
            icon = httpx.get(url + "favicon.ico", timeout=5)
            assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
            if run == 2:
                assert "0 new, 4 still open from an earlier run" in text
        finally:
            _stop(proc)
        with sqlite3.connect(demo_db) as db:
            [(count,)] = db.execute("SELECT count(*) FROM incidents WHERE source = 'demo'")
        assert count == len(demo.INCIDENTS), f"after run {run}"


# --- the icon on every page -------------------------------------------------------------


def test_every_template_links_the_icon() -> None:
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text()
        if "<head>" in text:
            assert ICON_LINK in text, template.name
    icon = (ROOT / "api" / "static" / "favicon.svg").read_text()
    assert icon.startswith("<svg") and "<title>Samen op in acuut</title>" in icon


def test_every_rendered_page_has_the_icon(pages: dict[str, Any]) -> None:  # noqa: F811
    for path, r in pages.items():
        assert ICON_LINK in r.text, path


def test_favicon_ico_answers_without_signing_in(client: TestClient) -> None:
    client.headers.pop("X-API-Key")
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.content == (ROOT / "api" / "static" / "favicon.svg").read_bytes()
    assert client.get("/static/favicon.svg").status_code == 200


# --- the demo's phone page ----------------------------------------------------------------


def test_the_phone_page_shows_ringing_phones_first(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium)"
    numbers = ["+31612340101", "+31612340102", "+31612340103", "+31612340104"]
    with FakeTwilioServer() as twilio, WebhookSink() as sink:
        for i, number in enumerate(numbers, start=1):
            twilio.fake.register_phone(number, f"Werker {i}")
        provider = twilio.provider()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.goto(twilio.url + "/phones")
                order = page.locator("main > .phone")
                assert order.evaluate_all("els => els.map(e => e.dataset.number)") == numbers
                # The third and then the last phone ring: the last first, then the third.
                provider.place_call(CallRequest("p3", numbers[2], sink.url))
                provider.place_call(CallRequest("p4", numbers[3], sink.url))
                expected = [numbers[3], numbers[2], numbers[0], numbers[1]]
                page.wait_for_function(
                    "want => [...document.querySelectorAll('main > .phone')]"
                    ".map(e => e.dataset.number).join() === want.join()",
                    arg=expected,
                    timeout=10_000,
                )
                assert page.locator("main > .phone.is-ringing").count() == 2
                page.screenshot(path=str(tmp_path / "phones.png"), full_page=True)
                # Hung up: back in their place.
                for call in twilio.fake.calls(None):
                    httpx.post(f"{twilio.url}/_fake/calls/{call.sid}/hang_up", timeout=5)
                page.wait_for_function(
                    "want => [...document.querySelectorAll('main > .phone')]"
                    ".map(e => e.dataset.number).join() === want.join()",
                    arg=numbers,
                    timeout=10_000,
                )
            finally:
                browser.close()

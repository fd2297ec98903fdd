"""The live pages in a real browser (Debian's Chromium driven by Playwright).

The service runs as a real process (``samenop serve``: SQLite, the embedded delivery
loop, the shipped regions) and pages through the real Twilio SDK to the Twilio fake,
which runs in the test process so the test can pick up the phone and press keys. The
dashboard follows the websocket; the worker's step page runs in a phone-sized window.

- an incident posted through the API is on the dashboard within a second;
- an acceptance on the fake phone shows on the dashboard (accepted, the worker's phone);
- the server is restarted under an open dashboard: it reconnects by itself with
  ``after=`` and shows what happened while it was away, without a reload;
- the worker accepts through the SMS link, opens the step page and reports every step;
  the dashboard shows each one;
- the control room's buttons on the dashboard record its actions, and a refusal reads
  in Dutch in the incident's row.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from access.principal import Role
from core import migrate
from core.db import make_engine, make_session_factory
from dispatch import progress
from dispatch.models import Dispatch
from dispatch.models import Page as PageRow
from notifications.fake.harness import FakeTwilioServer
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.accounts import PASSWORD, make_account
from tests.api.browsers import chromium
from tests.api.live import free_port
from tests.api.test_dashboard_browser import ROOT

KEY = "live-browser-key"
BRAM = "+31612340102"  # vt-gv, office hours on Tue 2026-03-10 16:59: paged first
GV_NOORD = "gooi-en-vechtstreek-noord"
PHONE = {"width": 390, "height": 844}


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Stack:
    """One database, the Twilio fake in this process, the service as a child process."""

    def __init__(self, tmp: Path, config: ConfigSet) -> None:
        self.db_url = f"sqlite:///{tmp / 'live.db'}"
        migrate.upgrade(self.db_url)
        self.engine = make_engine(self.db_url)
        with make_session_factory(self.engine)() as session:
            oncall_service.write_config(
                session=session, config=config, now=datetime(2026, 1, 1, tzinfo=UTC), source="t"
            )
            session.commit()
        make_account(make_session_factory(self.engine), "meldkamer", Role.OPERATOR)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.twilio = FakeTwilioServer(sms_url=f"{self.base}/webhooks/twilio/sms").start()
        self.env = {
            **os.environ,
            "SAMENOP_DATABASE_URL": self.db_url,
            "SAMENOP_ENVIRONMENT": "test",
            "SAMENOP_API_KEYS": KEY,
            "SAMENOP_PAGING_PROVIDER": "twilio",
            "SAMENOP_DELIVERY": "inline",
            "SAMENOP_TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "SAMENOP_TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "SAMENOP_TWILIO_FROM": self.twilio.from_number,
            "SAMENOP_TWILIO_API_BASE": self.twilio.url,
            "SAMENOP_PUBLIC_BASE_URL": self.base,
            # the outage alarm after 2 s instead of 10, so its test waits less
            "SAMENOP_SEND_FAILING_ALARM_SECONDS": "2",
        }
        self.env.pop("SAMENOP_REDIS_URL", None)
        self.log = (tmp / "server.log").open("a")
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base, headers={"X-API-Key": KEY}, timeout=10)

    @property
    def fake(self) -> Any:
        return self.twilio.fake

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                f"--port={self.port}",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "server exited"
            try:
                return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, "the server to start", timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.http.close()
        self.twilio.stop()
        self.engine.dispose()
        self.log.close()

    def post(self, external_id: str, **over: Any) -> dict[str, Any]:
        body = {
            "source": "live-browser",
            "external_id": external_id,
            "reported_at": "2026-03-10T16:59",
            "basisteam": GV_NOORD,
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 34}],
            "police_unit": "GV-21",
            "police_callback": "06 12345678",
            **over,
        }
        r = self.http.post("/api/v1/incidents", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def get(self, reference: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v1/incidents/{reference}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def act(self, dispatch_id: str, action: str, **fields: Any) -> dict[str, Any]:
        r = self.http.post(
            f"/api/v1/incidents/{dispatch_id}/actions", json={"action": action, **fields}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def call_to(self, number: str, after: int = 0) -> str:
        calls = wait_for(lambda: self.fake.calls(number)[after:], f"a call to {number}")
        return str(calls[0].sid)

    def accept_by_phone(self, number: str, after: int = 0) -> None:
        sid = self.call_to(number, after)
        self.fake.answer(sid)
        self.fake.press(sid, "1")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def stack(tmp_path: Path, example_config: ConfigSet) -> Iterator[Stack]:
    s = Stack(tmp_path, example_config)
    try:
        s.start()
        yield s
    finally:
        s.close()


def open_dashboard(browser: Browser, stack: Stack, *, clock: bool = False) -> Page:
    context = browser.new_context(timezone_id="Europe/Amsterdam", locale="nl-NL")
    page = context.new_page()
    if clock:
        page.clock.install()  # the test can move the page's time forward
    page.goto(stack.base + "/")
    page.fill("#username", "meldkamer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#live[data-state='live']")
    assert page.locator("#live").inner_text() == "Live"
    assert page.locator("meta[http-equiv='refresh']").count() == 0
    return page


def row(page: Page, reference: str, **data: str) -> str:
    """Selector of an incident's row, with data attributes it must have."""
    attrs = "".join(f"[data-{k}='{v}']" for k, v in data.items())
    return f"tr[data-reference='{reference}']{attrs}"


def test_incident_appears_within_a_second_and_the_filter_follows_live(
    browser: Browser, stack: Stack
) -> None:
    page = open_dashboard(browser, stack)
    started = time.monotonic()
    d = stack.post("A-1")
    page.wait_for_selector(row(page, d["reference"]), timeout=5_000)
    elapsed = time.monotonic() - started
    print(f"incident on the dashboard {elapsed * 1000:.0f} ms after the POST was sent")
    assert elapsed < 1.0
    tr = page.locator(row(page, d["reference"]))
    text = tr.inner_text()
    assert "huiselijk geweld" in text and "ter plaatse" in text  # case type, mode
    assert "Bram" in text and "wordt opgeroepen" in text  # who is paged, and how far
    assert "GV-21" in text
    assert tr.locator("a.police-phone").get_attribute("href") == "tel:+31612345678"
    # the time since the report ticks without any event
    first = tr.locator(".elapsed").inner_text()
    page.wait_for_function(
        "([sel, first]) => document.querySelector(sel + ' .elapsed').textContent !== first",
        arg=[row(page, d["reference"]), first],
        timeout=3_000,
    )

    # the basisteam filter: another basisteam hides the row, and live updates follow it
    page.select_option("#basisteam-filter", "ijmond")
    assert tr.is_hidden() and page.locator("#empty").is_visible()
    assert "basisteam=ijmond" in page.url
    other = stack.post("A-2", basisteam="ijmond", persons=[{"role": "victim", "age": 19}])
    page.wait_for_selector(row(page, other["reference"]), state="visible")
    assert tr.is_hidden()
    # an incident that names only its municipality is found under its basisteam
    page.select_option("#basisteam-filter", "gooi-en-vechtstreek-zuid")
    hilversum = stack.post("A-3", basisteam=None, municipality="Hilversum")
    page.wait_for_selector(row(page, hilversum["reference"]), state="visible")
    assert tr.is_hidden() and page.locator(row(page, other["reference"])).is_hidden()
    page.select_option("#basisteam-filter", "")
    assert tr.is_visible() and page.locator("#count").inner_text() == "3"


def test_acceptance_on_the_phone_updates_the_dashboard(browser: Browser, stack: Stack) -> None:
    page = open_dashboard(browser, stack)
    d = stack.post("B-1")
    page.wait_for_selector(row(page, d["reference"], paging="respond"))
    stack.accept_by_phone(BRAM)
    page.wait_for_selector(row(page, d["reference"], paging="accepted", stage="accepted"))
    tr = page.locator(row(page, d["reference"]))
    assert "aangenomen" in tr.inner_text()
    phone = tr.locator("a.worker-phone")
    assert phone.get_attribute("href") == "tel:" + BRAM
    assert phone.inner_text() == "06 12340102"
    assert tr.locator(".alarm").count() == 0


def test_nobody_answering_raises_a_red_alarm(browser: Browser, stack: Stack) -> None:
    page = open_dashboard(browser, stack)
    stack.fake.set_behaviour("*", "decline")  # every phone declines at once
    d = stack.post("E-1")
    alarm = page.locator(row(page, d["reference"], paging="no_responder") + " .alarm")
    alarm.wait_for(timeout=15_000)
    assert alarm.get_attribute("role") == "alert"
    assert alarm.get_attribute("data-kind") == "no_responder"
    assert alarm.inner_text().startswith("Niemand bereikt: verwacht")
    assert "telefonisch consult" in alarm.inner_text()  # what the police can expect
    assert alarm.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"


def test_unanswered_page_raises_its_alarm_on_time(browser: Browser, stack: Stack) -> None:
    """No event comes when a page has waited three minutes: the page itself notices."""
    page = open_dashboard(browser, stack, clock=True)
    d = stack.post("F-1")
    bram = row(page, d["reference"]) + " li[data-position='1']"
    page.wait_for_selector(bram + ":not([data-waiting=''])")  # the call went out
    assert page.locator(row(page, d["reference"]) + " .alarm").count() == 0
    page.clock.fast_forward("02:30")
    page.wait_for_timeout(1_200)
    assert page.locator(row(page, d["reference"]) + " .alarm").count() == 0
    page.clock.fast_forward("00:45")
    alarm = page.locator(row(page, d["reference"]) + " .alarm")
    alarm.wait_for()
    assert alarm.get_attribute("data-kind") == "unanswered"
    assert alarm.get_attribute("role") == "alert"
    assert alarm.inner_text().startswith("Oproep aan Bram Visser al 3 min niet beantwoord.")
    # the call is answered: the alarm goes with the event that says so
    stack.accept_by_phone(BRAM)
    page.wait_for_selector(row(page, d["reference"], paging="accepted"))
    assert page.locator(row(page, d["reference"]) + " .alarm").count() == 0


def test_restarted_server_dashboard_catches_up_without_reload(
    browser: Browser, stack: Stack
) -> None:
    page = open_dashboard(browser, stack)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.evaluate("window.sameDocument = true")
    first = stack.post("C-1")
    page.wait_for_selector(row(page, first["reference"], paging="respond"))
    stack.accept_by_phone(BRAM)
    page.wait_for_selector(row(page, first["reference"], stage="accepted"))

    stack.stop()
    page.wait_for_selector("#live[data-state='reconnecting']")
    assert page.locator("#live").inner_text() == "Verbinding verbroken — opnieuw verbinden…"
    # while the server is down the police say it is safe to go in: an event in the log
    with make_session_factory(stack.engine)() as session:
        progress.act(
            session,
            dispatch_id=first["id"],
            action="safe_to_enter",
            role="control_room",
            assignment_id=None,
            data={},
            now=datetime.now(UTC),
        )
        session.commit()

    stack.start()
    second = stack.post("C-2")
    page.wait_for_selector("#live[data-state='live']", timeout=15_000)
    page.wait_for_selector(row(page, first["reference"]) + " .safe")
    page.wait_for_selector(row(page, second["reference"]))
    assert page.evaluate("window.sameDocument") is True  # no reload
    assert len(sockets) >= 1 and "after=" in sockets[-1]  # resumed, not a fresh snapshot
    assert "veilig om binnen te komen" in page.locator(row(page, first["reference"])).inner_text()


def test_control_room_buttons_record_actions_and_explain_refusals(
    browser: Browser, stack: Stack
) -> None:
    page = open_dashboard(browser, stack)
    d = stack.post("G-1")
    ref = d["reference"]
    page.wait_for_selector(row(page, ref, paging="respond"))
    tr = page.locator(row(page, ref))
    assert tr.locator("button[data-action='safe_to_enter']").count() == 0  # nobody accepted
    stack.accept_by_phone(BRAM)
    page.wait_for_selector(row(page, ref, stage="accepted"))
    assert tr.locator("button", has_text="Veilig om binnen te komen").is_visible()

    # the police cannot leave yet (no arrival, no consult): the button is not offered
    assert tr.locator("button", has_text="Politie vertrekt").count() == 0
    error = tr.locator(".action-error")

    # a phone consult recorded, then the police may leave
    assert tr.locator("select[name='consult']").input_value() == "phone"
    tr.locator("button", has_text="Consult vastleggen").click()
    page.wait_for_selector(row(page, ref) + " td.actions:not(:has(button[data-action='consult']))")
    assert "telefonisch" in tr.locator("td.stage").inner_text()
    assert error.count() == 0
    tr.locator("button", has_text="Politie vertrekt").click()
    page.wait_for_selector(
        row(page, ref) + " td.actions:not(:has(button[data-action='police_left']))"
    )
    assert "politie vertrokken" in tr.locator("td.stage").inner_text()
    assert tr.locator(".action-error").count() == 0
    with make_session_factory(stack.engine)() as session:
        left = session.get(Dispatch, d["id"])
        assert left is not None and left.consult_kind == "phone"
        assert left.police_left_at is not None

    tr.locator("button", has_text="Veilig om binnen te komen").click()
    page.wait_for_selector(row(page, ref) + " .safe")
    assert tr.locator("button[data-action='safe_to_enter']").count() == 0
    # closing: the outcome is chosen from a list; afterwards no buttons are left
    tr.locator("select[name='outcome']").select_option("phone_consult")
    tr.locator("button", has_text="Afsluiten").click()
    page.wait_for_selector(row(page, ref, stage="closed"))
    assert "telefonisch consult" in tr.locator("td.stage").inner_text()
    assert tr.locator("td.actions button").count() == 0


def test_control_room_cancels_after_confirming(browser: Browser, stack: Stack) -> None:
    page = open_dashboard(browser, stack)
    d = stack.post("H-1")
    ref = d["reference"]
    page.wait_for_selector(row(page, ref, paging="respond"))
    tr = page.locator(row(page, ref))
    answers: list[bool] = [False, True]  # first "no, keep it", then "yes, cancel"
    page.on("dialog", lambda dialog: dialog.accept() if answers.pop(0) else dialog.dismiss())
    tr.locator("button", has_text="Annuleren").click()
    page.wait_for_timeout(300)
    with make_session_factory(stack.engine)() as session:
        kept = session.get(Dispatch, d["id"])
        assert kept is not None and kept.stage != "closed"  # dismissed: nothing happened
    tr.locator("button", has_text="Annuleren").click()
    page.wait_for_selector(row(page, ref, stage="closed"))
    assert tr.locator("td.actions button").count() == 0
    with make_session_factory(stack.engine)() as session:
        cancelled = session.get(Dispatch, d["id"])
        assert cancelled is not None
        assert (cancelled.outcome, cancelled.closed_by) == ("cancelled", "control_room")
        still_open = session.scalars(
            select(PageRow.status).where(
                PageRow.dispatch_id == d["id"], PageRow.status.in_(("scheduled", "sending"))
            )
        ).all()
        assert still_open == []  # nobody is paged for a cancelled incident any more


def test_worker_reports_every_step_from_a_phone(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    dashboard = open_dashboard(browser, stack)
    d = stack.post("D-1")
    ref = d["reference"]
    dashboard.wait_for_selector(row(dashboard, ref, paging="respond"))
    # the worker cannot pick up; the SMS with its link follows
    stack.fake.busy(stack.call_to(BRAM))
    sms = wait_for(
        lambda: [m.body for m in stack.fake.messages(BRAM) if "/p/" in m.body], "the SMS"
    )[0]
    link = re.search(r"https?://\S+/p/[A-Za-z0-9_-]+", sms)
    assert link is not None

    phone_context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        timezone_id="Europe/Amsterdam",
        locale="nl-NL",
    )
    phone = phone_context.new_page()
    phone.goto(link.group(0))
    phone.click("button.accept")
    phone.click("#worker-link")
    phone.wait_for_url(re.compile(r"/w/[A-Za-z0-9_-]+$"))
    phone.wait_for_selector("#live[data-state='live']")
    assert ref in phone.locator("#incident h2").inner_text()
    assert phone.locator("#stage").inner_text() == "aangenomen"
    assert phone.locator("a.police-phone").get_attribute("href") == "tel:+31612345678"
    assert "GV-21" in phone.locator("#incident").inner_text()
    assert phone.locator("#safe").is_hidden()
    dashboard.wait_for_selector(row(dashboard, ref, stage="accepted"))

    def step(stage: str, dutch: str) -> None:
        phone.wait_for_function(
            "t => document.getElementById('stage').textContent === t", arg=dutch
        )
        dashboard.wait_for_selector(row(dashboard, ref, stage=stage))
        assert dutch in dashboard.locator(row(dashboard, ref) + " .stage-label").inner_text()

    phone.fill("#eta-minutes", "15")
    phone.click("text=Ik ben onderweg")
    step("onderweg", "onderweg")
    assert "verwacht" in phone.locator("#eta").inner_text()
    assert "verwacht" in dashboard.locator(row(dashboard, ref)).inner_text()

    # the police say it is safe to go in: the worker's page shows it at once
    stack.act(d["id"], "safe_to_enter")
    phone.wait_for_selector("#safe", state="visible")
    assert "Veilig om binnen te komen" in phone.locator("#safe").inner_text()
    dashboard.wait_for_selector(row(dashboard, ref) + " .safe")

    # a refused value is explained in Dutch next to its form
    phone.evaluate("document.getElementById('eta-update').removeAttribute('max')")
    phone.fill("#eta-update", "900")
    phone.click("text=Aankomsttijd wijzigen")
    error = phone.locator("section[data-action='eta'] .error")
    error.wait_for(state="visible")
    assert "aankomst over (minuten): te groot" in error.inner_text()

    phone.click("text=Ik ben ter plaatse")
    step("ter_plaatse", "ter plaatse")
    phone.click("text=Motorkapoverleg gestart")
    step("motorkapoverleg", "motorkapoverleg")
    phone.click("text=Onderzoek gestart")
    step("onderzoek", "(gezamenlijk) onderzoek")

    # a step that no longer fits (a stale screen) is refused with the current stage
    phone.evaluate(
        """() => {
            const section = document.querySelector("section[data-action='motorkapoverleg']");
            section.hidden = false;
            section.querySelector("form").requestSubmit();
        }"""
    )
    stale = phone.locator("section[data-action='motorkapoverleg'] .error")
    stale.wait_for(state="visible")
    assert "kan nu niet worden vastgelegd" in stale.inner_text()
    assert "(gezamenlijk) onderzoek" in stale.inner_text()

    phone.fill("#first-contact", "VT-piket Bram")
    phone.fill("[data-rows='informs'] input[name='who']", "politie")
    phone.fill("[data-rows='informs'] input[name='whom']", "Veilig Thuis")
    phone.click("button[data-add='informs']")
    phone.fill("[data-rows='informs'] [data-row]:nth-of-type(2) input[name='who']", "VT")
    phone.fill("[data-rows='informs'] [data-row]:nth-of-type(2) input[name='whom']", "school")
    phone.select_option("[data-rows='measures'] select[name='measure']", "huisverbod")
    phone.fill("[data-rows='measures'] input[name='by']", "burgemeester")
    phone.fill("[data-rows='measures'] input[name='until']", "2026-03-20T17:00")
    phone.fill("#reassess-at", "2026-03-11T09:00")
    phone.click("text=Afspraken vastleggen")
    step("veiligheidsmaatregelen", "veiligheidsmaatregelen")
    with make_session_factory(stack.engine)() as session:
        agreed = session.get(Dispatch, d["id"])
        assert agreed is not None and agreed.agreements is not None
        assert agreed.agreements["first_contact"] == "VT-piket Bram"
        assert [(i["who"], i["whom"]) for i in agreed.agreements["informs"]] == [
            ("politie", "Veilig Thuis"),
            ("VT", "school"),
        ]
        [measure] = agreed.agreements["measures"]
        assert (measure["measure"], measure["by"]) == ("huisverbod", "burgemeester")
        assert measure["until"].startswith("2026-03-20T16:00")  # 17:00 in Amsterdam
        assert agreed.agreements["reassess_at"].startswith("2026-03-11T08:00")

    phone.select_option("#handover-target", "zsm")
    phone.click("button:has-text('Overgedragen')")
    step("overgedragen", "niet meer acuut / overgedragen")
    assert "ZSM" in dashboard.locator(row(dashboard, ref)).inner_text()

    phone.select_option("#close-outcome", "joint_on_scene")
    phone.click("button:has-text('Afsluiten')")
    step("closed", "afgesloten")
    assert phone.locator("#closed").inner_text() == "Afgesloten: samen ter plaatse."
    assert phone.locator("section.step:visible").count() == 0
    assert "samen ter plaatse" in dashboard.locator(row(dashboard, ref)).inner_text()
    # phone-sized: nothing wider than the screen
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(tmp_path / "worker.png"), full_page=True)
    dashboard.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    phone_context.close()


def test_half_staffed_asks_whether_the_one_worker_goes_alone(
    browser: Browser, stack: Stack
) -> None:
    page = open_dashboard(browser, stack)
    # CIT Den Haag goes out with two; one accepts, everybody else declines
    d = stack.post("J-1", basisteam="laak", reported_at="2026-11-21T12:00")
    assert d["staff_needed"] == 2
    ref = d["reference"]
    page.wait_for_selector(row(page, ref, paging="respond"))
    for a in d["assignments"]:
        verb = "accept" if a["position"] == 1 else "decline"
        r = stack.http.post(f"/api/v1/incidents/{d['id']}/assignments/{a['position']}/{verb}")
        assert r.status_code in (200, 409), r.text  # 409: no longer asked (enough tried)
    page.wait_for_selector(row(page, ref, paging="partial"))
    tr = page.locator(row(page, ref))
    alarm = tr.locator(".alarm-half_staffed")
    alarm.wait_for()
    assert alarm.inner_text().startswith("Half bezet: 1 van de 2 medewerkers gevonden. Gaat ")
    tr.locator("button", has_text="Gaat alleen").click()
    page.wait_for_selector(row(page, ref) + " td.alarms:not(:has(.alarm-half_staffed))")
    assert tr.locator("button", has_text="Gaat alleen").count() == 0
    with make_session_factory(stack.engine)() as session:
        decided = session.get(Dispatch, d["id"])
        assert decided is not None and decided.half_staffed_decision == "alone"


def test_an_outage_shows_whom_to_phone_and_clears_when_pages_go_out(
    browser: Browser, stack: Stack
) -> None:
    page = open_dashboard(browser, stack)
    stack.fake.rest_outage(503)
    try:
        started = time.monotonic()
        d = stack.post("K-1")
        ref = d["reference"]
        tr = page.locator(row(page, ref))
        alarm = tr.locator(".alarm-send_failing")
        alarm.wait_for(timeout=10_000)
        elapsed = time.monotonic() - started
        # raised 2 s (the setting here) after the first failed send, within a second
        assert 2.0 <= elapsed < 3.5, elapsed
        assert alarm.inner_text().startswith("Oproepen lukken niet — bel zelf: ")
        phone = alarm.locator("a.tel").first
        assert phone.get_attribute("href") == f"tel:{BRAM}"
    finally:
        stack.fake.rest_outage(None)
    stack.call_to(BRAM)  # the page goes out once Twilio answers again
    page.wait_for_selector(row(page, ref) + " td.alarms:not(:has(.alarm-send_failing))")

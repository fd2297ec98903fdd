"""The worker's first hour on a phone (Debian's Chromium, 390x844, touch, mobile).

The service runs as a real process (``samenop serve``, SQLite, the shipped regions) and
pages through the real Twilio SDK to the Twilio fake in this process. The worker gets
the SMS, accepts on the link page, opens the step page and:

- sees the household facts (roles, ages, flags) and the team's mandate, in Dutch;
- finds the page split in steps, none taller than two phone screens, reachable by
  keyboard, following the stage after each action;
- presses "Ik ben ter plaatse" and sees the button go at once, before the server has
  answered, and stay gone after a reload; offline, it comes back with the reason;
- ticks the toolkit's points (kept in this tab) and closes with an evaluation note,
  which is stored on the dispatch and in no event.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize
from sqlalchemy import select

from core.db import make_session_factory
from dispatch.models import Assignment, Dispatch, Event
from oncall.schemas import ConfigSet
from tests.api.browsers import chromium
from tests.api.test_live_browser import PHONE, Stack, wait_for

HOUSEHOLD = [
    {"role": "victim", "age": 34},
    {"role": "child", "age": 6},
    {"role": "suspect", "age": 38},
]
FLAGS = ["children_present", "injuries", "weapons"]
TWO_SCREENS = 2 * PHONE["height"]

# Height of one step as the worker sees it: from the top of its first visible section
# to the bottom of its last (the step's sections follow each other on the page).
SHOWN_HEIGHT = """() => {
    const shown = [...document.querySelectorAll("section[data-panel]")].filter(
        (s) => !s.hidden && s.offsetParent !== null);
    const rects = shown.map((s) => s.getBoundingClientRect());
    return Math.max(...rects.map((r) => r.bottom)) - Math.min(...rects.map((r) => r.top));
}"""
# The worst case of a step: every section it has at once (no stage shows them all).
FULL_HEIGHT = """(panel) => {
    const all = [...document.querySelectorAll("section[data-panel]")];
    const before = all.map((s) => s.hidden);
    all.forEach((s) => { s.hidden = s.dataset.panel !== panel; });
    const rects = all.filter((s) => !s.hidden).map((s) => s.getBoundingClientRect());
    const height = Math.max(...rects.map((r) => r.bottom)) - Math.min(...rects.map((r) => r.top));
    all.forEach((s, i) => { s.hidden = before[i]; });
    return height;
}"""
# Background and text colour of the incident card.
CARD_COLOURS = """() => {
    const style = getComputedStyle(document.getElementById("incident"));
    return [style.backgroundColor, style.color];
}"""


def luminance(rgb: str) -> float:
    """0 (black) to 1 (white), from a computed "rgb(r, g, b)"."""
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


PANELS = ["onderweg", "motorkapoverleg", "veiligheid", "gesprek", "overdracht", "afsluiten"]


def phone_page(browser: Browser, scale: float = 1) -> Page:
    """A page on a touch phone of the worker's size, in Dutch and Amsterdam time."""
    context = browser.new_context(
        viewport=ViewportSize(width=PHONE["width"], height=PHONE["height"]),
        device_scale_factor=scale,
        is_mobile=True,
        has_touch=True,
        timezone_id="Europe/Amsterdam",
        locale="nl-NL",
    )
    return context.new_page()


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


def shown_panel(phone: Page) -> str:
    return str(phone.get_attribute("#stepper a[aria-current='step']", "data-panel"))


def stage_is(phone: Page, dutch: str) -> None:
    phone.wait_for_function("t => document.getElementById('stage').textContent === t", arg=dutch)


def fits(phone: Page, what: str) -> None:
    """The step on screen is at most two phone screens tall and no wider than one."""
    height = phone.evaluate(SHOWN_HEIGHT)
    print(f"step {what}: {height:.0f} px")
    assert 0 < height <= TWO_SCREENS, (what, height)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_worker_first_hour_on_a_phone(browser: Browser, stack: Stack, tmp_path: Path) -> None:
    d = stack.post(
        "W-1", basisteam="ijmond", reported_at="2026-03-10T14:00", persons=HOUSEHOLD, flags=FLAGS
    )
    assert d["team"] == "crisisdienst-vtk"
    number = d["assignments"][0]["phone"]
    stack.fake.busy(stack.call_to(number))  # cannot pick up: the SMS with the link follows
    sms = wait_for(
        lambda: [m.body for m in stack.fake.messages(number) if "/p/" in m.body], "the SMS"
    )[0]
    link = re.search(r"https?://\S+/p/[A-Za-z0-9_-]+", sms)
    assert link is not None

    phone = phone_page(browser, scale=2)
    phone.goto(link.group(0))
    phone.tap("button.accept")
    phone.tap("#worker-link")
    phone.wait_for_url(re.compile(r"/w/[A-Za-z0-9_-]+$"))
    phone.wait_for_selector("#live[data-state='live']")
    worker_url = phone.url

    # --- what the worker knows before going in ----------------------------------------
    assert phone.locator("#household li").all_inner_texts() == [
        "slachtoffer, 34 jaar",
        "kind, 6 jaar",
        "verdachte, 38 jaar",
    ]
    assert phone.locator("#flags li").all_inner_texts() == ["wapens", "letsel", "kinderen aanwezig"]
    mandate = phone.locator("#mandate")
    assert mandate.locator("h2").inner_text() == "Wat je in het eerste uur mag doen"
    assert mandate.locator("li").all_inner_texts() == [
        "eerste veiligheidsbeoordeling maken",
        "eerdere dossiers van Veilig Thuis raadplegen",
    ]

    # --- the steps: one on screen, each short enough ------------------------------------
    assert shown_panel(phone) == "onderweg"
    assert phone.locator("section.panel-head:visible").count() == 1
    fits(phone, "onderweg")
    heights = {p: phone.evaluate(FULL_HEIGHT, p) for p in PANELS}
    print("steps with every section at once:", heights)
    assert all(0 < h <= TWO_SCREENS for h in heights.values()), heights
    # keyboard: a step opens with Enter and its heading takes the focus
    phone.focus("#stepper a[data-panel='veiligheid']")
    phone.keyboard.press("Enter")
    assert phone.evaluate("document.activeElement.id") == "titel-veiligheid"
    assert shown_panel(phone) == "veiligheid"
    assert phone.locator("section[data-panel='veiligheid'] .not-now").inner_text() == (
        "Hier is nu niets vast te leggen (huidige stap: aangenomen)."
    )
    assert phone.locator("section.step:visible").count() == 0
    phone.tap("#stepper a[data-panel='onderweg']")
    assert shown_panel(phone) == "onderweg"

    phone.fill("#eta-minutes", "20")
    phone.tap("text=Ik ben onderweg")
    stage_is(phone, "onderweg")
    arrived = phone.locator("section[data-action='ter_plaatse']")
    assert arrived.is_visible() and shown_panel(phone) == "onderweg"

    # --- "Ik ben ter plaatse" offline: back at once, with the reason --------------------
    phone.context.set_offline(True)
    phone.tap("#arrived")
    error = arrived.locator(".error")
    error.wait_for(state="visible")
    assert error.inner_text() == "Geen verbinding. Controleer je internet en probeer het opnieuw."
    assert arrived.is_visible() and phone.locator("#arrived").is_enabled()
    phone.context.set_offline(False)
    phone.wait_for_selector("#live[data-state='live']", timeout=15_000)  # reconnects itself

    # --- "Ik ben ter plaatse": gone before the server answers ----------------------------
    held: list[Route] = []
    phone.route("**/actions", lambda route: held.append(route))
    phone.tap("#arrived")
    assert arrived.is_hidden()  # at once, while the request has not even been let through
    assert phone.locator("#notice").inner_text() == "Ter plaatse doorgegeven."
    while not held:
        phone.wait_for_timeout(20)
    with make_session_factory(stack.engine)() as session:
        me = session.scalar(
            select(Assignment).where(Assignment.dispatch_id == d["id"], Assignment.position == 1)
        )
        assert me is not None and me.arrived_at is None  # the server has not seen it yet
    phone.wait_for_timeout(300)  # a live event in between does not bring it back
    assert arrived.is_hidden()
    held[0].continue_()
    phone.unroute("**/actions")
    stage_is(phone, "ter plaatse")
    assert arrived.is_hidden() and phone.locator("section[data-action='eta']").is_hidden()
    # the page moves on to the next step and says so to a screen reader (focus)
    phone.wait_for_function("() => document.activeElement.id === 'titel-motorkapoverleg'")
    assert shown_panel(phone) == "motorkapoverleg"
    phone.reload()
    phone.wait_for_selector("#live[data-state='live']")
    assert phone.locator("#stage").inner_text() == "ter plaatse"
    assert arrived.is_hidden() and shown_panel(phone) == "motorkapoverleg"
    assert "ter plaatse" in phone.locator("#eta").inner_text()
    fits(phone, "motorkapoverleg")

    # --- motorkapoverleg and safety assessment: the toolkit's points ---------------------
    phone.check("input[data-point='motorkap.police_registrations']")
    phone.check("input[data-point='motorkap.vt_files']")
    phone.reload()  # the ticks stay in this tab
    phone.wait_for_selector("#live[data-state='live']")
    assert phone.is_checked("input[data-point='motorkap.police_registrations']")
    assert phone.is_checked("input[data-point='motorkap.vt_files']")
    assert not phone.is_checked("input[data-point='motorkap.probation']")
    phone.tap("text=Motorkapoverleg gestart")
    stage_is(phone, "motorkapoverleg")
    phone.wait_for_function("() => document.activeElement.id === 'titel-veiligheid'")
    fits(phone, "veiligheid")
    assert phone.locator("fieldset[data-points='safety'] label.point").count() == 5
    phone.check("input[data-point='safety.assess']")
    phone.tap("text=Onderzoek gestart")
    stage_is(phone, "(gezamenlijk) onderzoek")
    assert shown_panel(phone) == "gesprek"
    fits(phone, "gesprek")

    phone.fill("#first-contact", "crisisdienst")
    phone.select_option("[data-rows='measures'] select[name='measure']", "huisverbod")
    phone.fill("[data-rows='measures'] input[name='by']", "burgemeester")
    phone.fill("#reassess-at", "2026-03-11T09:00")
    phone.tap("text=Afspraken vastleggen")
    stage_is(phone, "veiligheidsmaatregelen")
    assert shown_panel(phone) == "overdracht"
    fits(phone, "overdracht")
    phone.select_option("#handover-target", "zsm")
    phone.tap("section[data-action='overgedragen'] button[type=submit]")
    stage_is(phone, "niet meer acuut / overgedragen")
    assert shown_panel(phone) == "afsluiten"
    fits(phone, "afsluiten")
    phone.screenshot(path=str(tmp_path / "worker-close-step.png"), full_page=True)

    # --- closing with the evaluation note ------------------------------------------------
    helped = "De leeftijden en dat er wapens waren, vooraf."
    missing = "Eerdere meldingen bij de school."
    phone.select_option("#close-outcome", "joint_on_scene")
    phone.fill("#evaluation-helped", helped)
    phone.fill("#evaluation-missing", missing)
    assert phone.get_attribute("#evaluation-helped", "maxlength") == "2000"
    phone.tap("section[data-action='close'] button[type=submit]")
    stage_is(phone, "afgesloten")
    assert phone.locator("#closed").inner_text() == "Afgesloten: samen ter plaatse."
    assert phone.locator("section.step:visible, section.panel-head:visible").count() == 0
    assert phone.locator("#stepper").is_hidden()
    with make_session_factory(stack.engine)() as session:
        closed = session.get(Dispatch, d["id"])
        assert closed is not None and closed.evaluation_note is not None
        note: dict[str, Any] = closed.evaluation_note["worker"]
        assert (note["helped"], note["missing"]) == (helped, missing)
        payloads = session.scalars(select(Event.payload).where(Event.dispatch_id == d["id"]))
        assert not any(helped in str(p) or missing in str(p) for p in payloads)
    phone.goto(worker_url)  # the note is not shown back
    phone.wait_for_selector("#live[data-state='live']")
    assert helped not in phone.content()
    # at night the phone asks for a dark page: the worker's cards follow it
    light = phone.evaluate(CARD_COLOURS)
    phone.emulate_media(color_scheme="dark")
    dark = phone.evaluate(CARD_COLOURS)
    assert dark != light and luminance(dark[0]) < 0.2 < luminance(dark[1]), dark
    phone.screenshot(path=str(tmp_path / "worker-closed.png"), full_page=True)
    phone.context.close()


def test_arrival_refused_because_the_incident_was_cancelled_meanwhile(
    browser: Browser, stack: Stack
) -> None:
    """The server refuses "ter plaatse" (409): the control room cancelled while the
    request was on its way. The page says why and does not bring the button back."""
    d = stack.post("W-2", basisteam="ijmond", reported_at="2026-03-10T14:00", persons=HOUSEHOLD)
    r = stack.http.post(f"/api/v1/incidents/{d['id']}/assignments/1/accept")
    assert r.status_code == 200, r.text
    number = d["assignments"][0]["phone"]
    sms = wait_for(
        lambda: [m.body for m in stack.fake.messages(number) if "/w/" in m.body],
        "the SMS confirming the accept, with the step page's link",
    )[0]
    link = re.search(r"https?://\S+/w/[A-Za-z0-9_-]+", sms)
    assert link is not None
    phone = phone_page(browser)
    phone.goto(link.group(0))
    phone.wait_for_selector("#live[data-state='live']")
    phone.fill("#eta-minutes", "5")
    phone.tap("text=Ik ben onderweg")
    stage_is(phone, "onderweg")

    held: list[Route] = []
    phone.route("**/actions", lambda route: held.append(route))
    phone.tap("#arrived")
    arrived = phone.locator("section[data-action='ter_plaatse']")
    assert arrived.is_hidden()
    while not held:
        phone.wait_for_timeout(20)
    stack.act(d["id"], "cancel")
    stage_is(phone, "afgesloten")  # the live event comes first
    held[0].continue_()
    notice = phone.locator("#notice.is-error")
    notice.wait_for()
    assert notice.inner_text() == (
        "'ter plaatse' kan nu niet worden vastgelegd (huidige stap: afgesloten)."
    )
    assert arrived.is_hidden()
    assert phone.locator("#closed").inner_text() == "Afgesloten: geannuleerd door de politie."
    phone.context.close()


def worker_link_by_sms(stack: Stack, number: str) -> str:
    """The step page's link from the SMS that confirms an accept."""
    sms = wait_for(
        lambda: [m.body for m in stack.fake.messages(number) if "/w/" in m.body],
        f"the SMS to {number} confirming the accept",
    )[0]
    link = re.search(r"https?://\S+/w/[A-Za-z0-9_-]+", sms)
    assert link is not None
    return link.group(0)


def test_second_worker_on_the_way_keeps_the_arrival_step(browser: Browser, stack: Stack) -> None:
    """CIT Den Haag goes in pairs: when the colleague is there first, the worker still on
    the way keeps "Ik ben ter plaatse" on screen; the page moves on once they arrive."""
    d = stack.post("W-3", basisteam="laak", reported_at="2026-11-21T12:00")
    assert d["staff_needed"] == 2
    numbers = {}
    for a in d["assignments"][:2]:
        r = stack.http.post(f"/api/v1/incidents/{d['id']}/assignments/{a['position']}/accept")
        assert r.status_code == 200, r.text
        numbers[a["position"]] = a["phone"]
    first = worker_link_by_sms(stack, numbers[1])
    phone = phone_page(browser)
    phone.goto(worker_link_by_sms(stack, numbers[2]))
    phone.wait_for_selector("#live[data-state='live']")
    phone.fill("#eta-minutes", "25")
    phone.tap("text=Ik ben onderweg")
    stage_is(phone, "onderweg")

    # the colleague reports from their own phone: on the way, then there
    for step in ({"action": "onderweg", "eta_minutes": 5}, {"action": "ter_plaatse"}):
        r = stack.http.post(first.replace(stack.base, "") + "/actions", json=step)
        assert r.status_code == 200, r.text
    stage_is(phone, "ter plaatse")
    assert shown_panel(phone) == "onderweg"
    assert phone.locator("#arrived").is_visible()
    phone.tap("#arrived")
    phone.wait_for_function("() => document.activeElement.id === 'titel-motorkapoverleg'")
    assert shown_panel(phone) == "motorkapoverleg"
    assert phone.locator("section[data-action='ter_plaatse']").is_hidden()
    assert phone.locator("text=Motorkapoverleg gestart").is_visible()
    phone.context.close()

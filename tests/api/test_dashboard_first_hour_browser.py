"""The control-room dashboard in the first hour, walked in a real browser (Debian's
Chromium driven by Playwright) by a signed-in operator, on a desktop screen and on a
phone: household facts on the row, only the actions that apply (each with a name a
screen reader says), the pocket card "Veiligheid voorop" ticked and still ticked after a
reload, the forensic prompt for children with injuries, the page title, tone and browser
notification on a new incident, the dark theme, and closing with an evaluation note that
is stored but never sent down the live stream.

The service runs as a real process on SQLite with the shipped regions (the fixture of
``test_dashboard_browser``); incidents come in through the API like the police feed's.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.accounts import PASSWORD
from tests.api.browsers import chromium
from tests.api.test_dashboard_browser import KEY, running_server

HEADERS = {"X-API-Key": KEY}
BASE_TITLE = "Samen op in acuut — meldkamer"
HELPED = "De melding over de wapens in huis hielp ons voorbereiden."
MISSING = "Wij misten of de kinderen op school bekend waren."
FAMILY = {
    "persons": [
        {"role": "victim", "age": 34},
        {"role": "child", "age": 6},
        {"role": "suspect", "age": 38},
    ],
    "flags": ["children_present", "injuries", "weapons"],
}
# Counts the tones the page plays and records the notifications it raises.
SPY = """
(() => {
  window.__tones = 0;
  window.__notes = [];
  const Ctx = window.AudioContext;
  if (Ctx) {
    const make = Ctx.prototype.createOscillator;
    Ctx.prototype.createOscillator = function () { window.__tones += 1; return make.call(this); };
  }
  const Real = window.Notification;
  if (Real) {
    const Spy = function (title, options) {
      window.__notes.push({ title: title, body: (options || {}).body || "" });
      return new Real(title, options);
    };
    Object.defineProperty(Spy, "permission", { get: () => Real.permission });
    Spy.requestPermission = (cb) => Real.requestPermission(cb);
    window.Notification = Spy;
  }
})();
"""


def incident(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "browser-first-hour",
        "external_id": uuid.uuid4().hex[:16],
        # Tuesday afternoon, office hours in Gooi en Vechtstreek: the worker is paged.
        "reported_at": "2026-03-10T14:00",
        "municipality": "Hilversum",
        "case_type": "HG",
        "persons": [{"role": "victim", "age": 34}],
        "police_unit": "GV-21",
        "police_callback": "06 12345678",
    }
    body.update(over)
    return body


def post(base: str, **over: Any) -> dict[str, Any]:
    r = httpx.post(base + "/api/v1/incidents", headers=HEADERS, json=incident(**over))
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One service for the module: each test posts its own incidents."""
    with running_server(tmp_path_factory.mktemp("first-hour")) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        yield browser


def signed_in(context: BrowserContext, base: str) -> Page:
    page = context.new_page()
    page.goto(base + "/")
    page.fill("#username", "meldkamer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#dispatches", state="attached")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    return page


def until(page: Page, predicate: str, timeout: float = 10.0) -> None:
    """Wait for a predicate, asked from here (the page's CSP forbids eval inside it)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        time.sleep(0.1)


def row_of(page: Page, reference: str) -> Any:
    page.wait_for_selector(f"tr.incident[data-reference='{reference}']", timeout=10_000)
    return page.locator(f"tr.incident[data-reference='{reference}']")


def ticked(reference: str, item: str) -> str:
    """Selector of a ticked item on an incident's pocket card."""
    group = f"tbody.incident-group:has(tr[data-reference='{reference}'])"
    return f"{group} li.check.done[data-item='{item}']"


def group_of(page: Page, reference: str) -> Any:
    row_of(page, reference)
    return page.locator(f"tbody.incident-group:has(tr[data-reference='{reference}'])")


def visible_actions(group: Any) -> list[str]:
    buttons = group.locator("td.actions button")
    return [buttons.nth(i).inner_text() for i in range(buttons.count())]


UNNAMED = """
(root) => Array.from(root.querySelectorAll('button, select, textarea, input, summary'))
  .filter((el) => {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.textContent.trim();
    return !named;
  })
  .map((el) => el.outerHTML)
"""


def luminance(rgb: str) -> float:
    values = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def colours(page: Page, selector: str) -> tuple[str, str]:
    """The text colour of an element and the background it is drawn on."""
    found = page.eval_on_selector(
        selector,
        """(el) => {
          const fg = getComputedStyle(el).color;
          let node = el;
          while (node) {
            const bg = getComputedStyle(node).backgroundColor;
            if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') return [fg, bg];
            node = node.parentElement;
          }
          return [fg, 'rgb(255, 255, 255)'];
        }""",
    )
    return found[0], found[1]


def test_the_first_hour_on_a_desktop(server: str, browser: Browser, tmp_path: Path) -> None:
    frames: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["notifications"], origin=server)
    context.add_init_script(SPY)
    page = signed_in(context, server)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    page.reload()  # the stream from here on is recorded
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert page.title() == BASE_TITLE

    # --- a new incident: its household, the title, only the actions that apply --------
    d = post(server, **FAMILY)
    ref = d["reference"]
    group = group_of(page, ref)
    row = row_of(page, ref)
    expect(page).to_have_title(f"(1) {BASE_TITLE}")
    household = row.locator("td.kind .household")
    assert (
        household.locator(".persons").inner_text() == "slachtoffer (34), kind (6), verdachte (38)"
    )
    assert household.locator("li.flag").all_inner_texts() == [
        "kinderen aanwezig",
        "letsel",
        "wapens",
    ]
    assert row.locator("td.kind .planned-mode").inner_text() == "gepland: ter plaatse"
    assert row.locator("td.stage .stage-label").inner_text() == "wordt opgeroepen"
    # paging: the consult and cancel apply; nobody accepted yet, so not the rest
    assert visible_actions(group) == ["Consult vastleggen", "Annuleren"]
    assert page.evaluate(UNNAMED, group.element_handle()) == []
    assert group.get_by_role("group", name=f"Acties voor melding {ref}").count() == 1
    # children and injuries: the card asks for the forensic doctor
    prompt = group.locator("p.forensic-prompt")
    assert "forensisch arts" in prompt.inner_text()
    assert group.get_by_role("checkbox", name=re.compile("^Forensisch arts ingezet")).count() == 1
    # a click is seeing it: the title goes back
    page.mouse.click(5, 5)
    expect(page).to_have_title(BASE_TITLE)

    # --- the pocket card: tick, reload, still ticked ---------------------------------
    kindcheck = group.get_by_role("checkbox", name=re.compile("^Doe de kindcheck"))
    kindcheck.check()
    page.wait_for_selector(ticked(ref, "kindcheck"))
    assert "afgevinkt" in group.locator("li[data-item='kindcheck']").inner_text()
    assert group.locator(".checklist-count").inner_text() == "1 van 9"
    page.reload()
    group = group_of(page, ref)
    assert group.get_by_role("checkbox", name=re.compile("^Doe de kindcheck")).is_checked()
    assert not group.get_by_role("checkbox", name=re.compile("^Vraag goed door")).is_checked()
    assert page.title() == BASE_TITLE  # nothing new since the page opened
    # by keyboard: the row is redrawn by the tick, the focus stays on the box
    ask = group.get_by_role("checkbox", name=re.compile("^Vraag goed door"))
    ask.focus()
    page.keyboard.press("Space")
    page.wait_for_selector(ticked(ref, "doorvragen"))
    until(
        page, "() => document.activeElement && document.activeElement.dataset.item === 'doorvragen'"
    )

    # --- accepted: now "veilig om binnen te komen" and closing apply -------------------
    r = httpx.post(
        f"{server}/api/v1/incidents/{ref}/assignments/1/accept", headers=HEADERS, timeout=10
    )
    assert r.status_code == 200, r.text
    group = group_of(page, ref)
    expect(group.get_by_role("button", name="Veilig om binnen te komen")).to_be_visible()
    assert "Politie vertrekt" not in visible_actions(group)  # no arrival, no consult yet
    assert "Afsluiten" in visible_actions(group)
    group.get_by_role("button", name="Consult vastleggen").click()
    expect(group.get_by_role("button", name="Politie vertrekt")).to_be_visible()
    assert "Consult vastleggen" not in visible_actions(group_of(page, ref))
    page.screenshot(path=str(tmp_path / "first-hour-desktop.png"), full_page=True)

    # --- closing with an evaluation note ----------------------------------------------
    group = group_of(page, ref)
    group.get_by_label("afloop").select_option("phone_consult")
    group.locator("details.evaluation summary").click()
    group.get_by_label("Welke informatie hielp?").fill(HELPED)
    group.get_by_label("Wat ontbrak?").fill(MISSING)
    group.get_by_role("button", name="Afsluiten").click()
    page.wait_for_selector(f"tr.incident[data-reference='{ref}'].stage-closed")
    row = row_of(page, ref)
    assert "evaluatie vastgelegd" in row.locator("td.stage").inner_text()
    assert visible_actions(group_of(page, ref)) == []
    stored = httpx.get(f"{server}/api/v1/incidents/{ref}/evaluation-note", headers=HEADERS)
    assert stored.status_code == 200, stored.text
    assert [(n["by"], n["helped"], n["missing"]) for n in stored.json()["notes"]] == [
        ("control_room", HELPED, MISSING)
    ]
    assert any(ref in f and "lifecycle.close" in f for f in frames)  # the close did stream
    assert not any(HELPED in f or MISSING in f for f in frames)  # the note never did

    # --- a tone and a notification on a new incident, when switched on ----------------
    page.get_by_label("Geluid").check()
    page.get_by_label("Browsermelding").check()
    until(page, "() => window.__tones > 0")  # switching it on plays a sample
    tones = page.evaluate("window.__tones")
    page.reload()
    assert page.get_by_label("Geluid").is_checked()  # kept for this dashboard
    assert page.get_by_label("Browsermelding").is_checked()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    tones = page.evaluate("window.__tones")
    second = post(server)
    row_of(page, second["reference"])
    expect(page).to_have_title(f"(1) {BASE_TITLE}")
    until(page, f"() => window.__tones > {tones}")
    notes = page.evaluate("window.__notes")
    assert [n["title"] for n in notes] == [f"Nieuwe melding {second['reference']}"]
    assert "Hilversum" in notes[0]["body"]
    context.close()


def test_the_dark_theme_follows_the_device(server: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = signed_in(context, server)
    ref = post(server, **FAMILY)["reference"]
    row_of(page, ref)
    light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert luminance(light_bg) > 0.8
    page.emulate_media(color_scheme="dark")
    dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert luminance(dark_bg) < 0.02, dark_bg
    checks = [
        "body",
        f"tr.incident[data-reference='{ref}'] td.reference code",
        f"tr.incident[data-reference='{ref}'] td.kind .planned-mode",
        f"tr.incident[data-reference='{ref}'] li.flag",
        f"tr.incident[data-reference='{ref}'] a.police-phone",
        "li.check .check-label",
        "li.check small",
        "p.forensic-prompt",
        "td.actions button.action",
        "fieldset.alert-settings legend",
        "#dispatches th",
    ]
    for selector in checks:
        fg, bg = colours(page, selector)
        assert luminance(bg) < 0.2, (selector, bg)  # dark surfaces, not white boxes
        assert contrast(fg, bg) >= 4.5, (selector, fg, bg, contrast(fg, bg))
    page.screenshot(path=str(tmp_path / "first-hour-dark.png"), full_page=True)
    # a tablet, both ways round: no sideways scrolling
    for width, height in ((1024, 768), (768, 1024)):
        page.set_viewport_size({"width": width, "height": height})
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        assert scrolled <= width, f"{width} px wide: the page scrolls to {scrolled} px"
    page.screenshot(path=str(tmp_path / "first-hour-tablet.png"), full_page=True)
    context.close()


def test_the_first_hour_on_a_phone(server: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = signed_in(context, server)
    ref = post(server, **FAMILY)["reference"]
    group = group_of(page, ref)
    # a card, not a table: the column headers are not drawn, each cell names itself
    assert not page.locator("#dispatches thead").is_visible() or (
        page.eval_on_selector("#dispatches thead", "(el) => el.getBoundingClientRect().height") <= 1
    )
    kind = group.locator("td.kind")
    label = kind.evaluate("(el) => getComputedStyle(el, '::before').content")
    assert "huishouden" in label
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width} px"
    box = group.bounding_box()
    assert box is not None and box["width"] <= 390
    assert "kind (6)" in kind.inner_text()
    for name in ("Consult vastleggen", "Annuleren"):
        button = group.get_by_role("button", name=name)
        size = button.bounding_box()
        assert size is not None and size["height"] >= 44, (name, size)
    assert visible_actions(group) == ["Consult vastleggen", "Annuleren"]
    assert page.evaluate(UNNAMED, group.element_handle()) == []
    check = group.get_by_role("checkbox", name=re.compile("^Verzamel bewijsmateriaal"))
    check.tap()
    page.wait_for_selector(ticked(ref, "bewijs"))
    page.screenshot(path=str(tmp_path / "first-hour-phone.png"), full_page=True)
    page.reload()
    group = group_of(page, ref)
    assert group.get_by_role("checkbox", name=re.compile("^Verzamel bewijsmateriaal")).is_checked()
    context.close()


def test_what_the_plan_says_and_an_alarm(server: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = signed_in(context, server)
    # Meierij after office hours: the police call VT's line themselves, nobody is paged
    night = post(server, municipality="Boxtel", reported_at="2026-03-10T22:00")
    assert night["plan"]["police_call"], night["plan"]
    row = row_of(page, night["reference"])
    paging = row.locator("td.paging")
    assert paging.locator(".police-call-lead").inner_text() == "Bel zelf: 0800 2000"
    assert paging.locator("a.tel").get_attribute("href") == "tel:" + night["plan"]["police_call"][
        "number"
    ].replace(" ", "")
    assert paging.locator(".paging-state").count() == 0  # no paging state: nobody is paged
    assert "Veilig om binnen te komen" not in visible_actions(group_of(page, night["reference"]))
    # the autumn clock change: 02:30 came twice; the row says how it was read
    twice = post(server, municipality="Boxtel", reported_at="2026-10-25T02:30")
    assert twice["plan"]["time_read"]["why"] == "ambiguous"
    read = group_of(page, twice["reference"]).locator("p.time-read")
    assert read.inner_text() == twice["plan"]["time_read"]["text"]
    flag = row_of(page, twice["reference"]).locator("td.reported .time-flag")
    assert flag.inner_text() == "tijd bij de klokwissel: zie hieronder"
    # in office hours the interventieteam goes, and the page says what it may do
    day = post(server, municipality="Boxtel", reported_at="2026-03-10T11:00", **FAMILY)
    group = group_of(page, day["reference"])
    mandate = group.locator("p.mandate")
    assert mandate.inner_text().startswith("Mag in het eerste uur: eerste veiligheidsbeoordeling")
    assert "eerdere dossiers van Veilig Thuis raadplegen" in mandate.inner_text()

    # an alarm: everybody declined, nobody is left
    page.mouse.click(5, 5)  # the new incidents are seen
    expect(page).to_have_title(BASE_TITLE)
    for a in day["assignments"]:
        httpx.post(
            f"{server}/api/v1/incidents/{day['reference']}/assignments/{a['position']}/decline",
            headers=HEADERS,
            timeout=10,
        )
    page.wait_for_selector(
        f"tr.incident[data-reference='{day['reference']}'] .alarm-no_responder", timeout=15_000
    )
    expect(page).to_have_title(f"(1) {BASE_TITLE}")
    assert group_of(page, day["reference"]).locator(".badge-new").count() == 1
    page.screenshot(path=str(tmp_path / "first-hour-plan.png"), full_page=True)
    context.close()

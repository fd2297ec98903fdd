"""The planner's team page in a real browser (Debian's Chromium driven by Playwright).

The service runs as its own process on SQLite with the shipped regions. A planner of
Meierij signs in, sees a gap in red in the region overview and on the team's week, asks
who could fill it, chooses someone, sees the preview, saves it and sees the gap gone;
then undoes the change and sees the gap back. Each step is checked against the API too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from core.timeutil import is_public_holiday
from tests.accounts import PASSWORD
from tests.api.browsers import chromium, sign_in
from tests.api.test_dashboard_browser import KEY
from tests.api.test_dashboard_browser import server as _server

server = _server  # the service process with the shipped regions

TEAM = "vt-nob-interventie"
ADMIN = {"X-API-Key": KEY}


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def gaps_on(base: str, day: date) -> list[dict[str, object]]:
    r = httpx.get(
        f"{base}/api/v1/planning/teams/{TEAM}/gaps",
        params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
        headers=ADMIN,
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, object]] = r.json()["gaps"]
    return found


def make_gap(base: str) -> date:
    """A working day about two weeks ahead on which the person on call is away: the
    office-hours rule of the team then has nobody (made with the older override API)."""
    day = date.today() + timedelta(days=14)
    while day.weekday() >= 5 or is_public_holiday(day):
        day += timedelta(days=1)
    if gaps_on(base, day):
        return day
    oncall = httpx.get(
        f"{base}/api/v1/oncall",
        params={"team": TEAM, "at": f"{day.isoformat()}T12:00"},
        headers=ADMIN,
    ).json()
    for person in oncall[0]["on_call"]:
        r = httpx.post(
            f"{base}/api/v1/overrides",
            headers=ADMIN,
            json={
                "id": f"browser-afwezig-{person['person']}"[:64],
                "team": TEAM,
                "kind": "remove",
                "person": person["person"],
                "start": f"{day.isoformat()}T00:00",
                "end": f"{(day + timedelta(days=1)).isoformat()}T00:00",
                "reason": "afwezig",
            },
        )
        assert r.status_code == 201, r.text
    assert gaps_on(base, day), "the test could not make a gap"
    return day


def make_planner(base: str) -> None:
    """The account 'planner-meierij', planner of the Meierij."""
    made = httpx.post(
        base + "/api/v1/accounts",
        headers=ADMIN,
        json={
            "username": "planner-meierij",
            "role": "planner",
            "password": PASSWORD,
            "regions": ["meierij"],
        },
    )
    assert made.status_code == 201, made.text


def test_a_planner_fills_a_gap_from_the_candidates_and_undoes_it(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    base = server
    make_planner(base)
    day = make_gap(base)
    before = httpx.get(base + "/api/v1/config/versions", headers=ADMIN).json()[0]["version"]

    page = browser.new_context(viewport={"width": 1024, "height": 1366}).new_page()  # a tablet
    sign_in(page, base, "planner-meierij")
    page.click("#nav-planner")  # the dashboard links to the planning
    page.wait_for_url(base + "/planner")
    row = page.locator(f"table.overview tr[data-team='{TEAM}']")
    expect(row).to_have_count(1)
    red = row.locator("td.gap-cell")
    assert red.count() >= 1
    color = red.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(251, 234, 232)", color
    assert page.locator("table.overview tr[data-team='cit-haaglanden']").count() == 0

    page.goto(f"{base}/planner/teams/{TEAM}?start={day.isoformat()}")
    cell = page.locator(f".day[data-day='{day.isoformat()}']")
    gap = cell.locator(".gap-box")
    expect(gap.first).to_be_visible()
    assert "0 bereikbaar" in gap.first.inner_text()
    expect(page.locator("#undo-bar")).to_be_hidden()
    expect(page.locator("#preview")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "planner-gap.png"), full_page=True)

    # Keyboard: the fill button is a real button that takes the focus and Enter.
    fill = gap.first.locator("button.fill")
    fill.focus()
    page.keyboard.press("Enter")
    choose = page.locator("#candidates button.choose")
    expect(choose.first).to_be_visible()
    chosen = choose.first.get_attribute("data-person")
    assert chosen
    choose.first.click()
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#preview ul.diff.added li").first).to_contain_text("Erbij")
    assert httpx.get(base + "/api/v1/config/versions", headers=ADMIN).json()[0]["version"] == before

    page.click("#preview-save")
    expect(page.locator("#undo-bar")).to_be_visible()
    expect(cell.locator(".gap-box")).to_have_count(0)
    expect(cell.locator(f"li.block[data-person='{chosen}'][data-source='override']")).to_have_count(
        1
    )
    assert gaps_on(base, day) == []
    versions = httpx.get(base + "/api/v1/config/versions", headers=ADMIN).json()
    assert versions[0]["version"] == before + 1
    assert versions[0]["author"] == "account:planner-meierij"
    page.screenshot(path=str(tmp_path / "planner-filled.png"), full_page=True)

    page.click("#undo")
    expect(page.locator("#notice")).to_contain_text("ongedaan gemaakt")
    expect(cell.locator(".gap-box").first).to_be_visible()
    assert gaps_on(base, day)
    assert httpx.get(base + "/api/v1/config/versions", headers=ADMIN).json()[0]["version"] == (
        before + 2
    )

    # The month view shows the gap in red on that day too.
    page.click("button[data-view='month']")
    expect(page.locator(f".day[data-day='{day.isoformat()}'] .gap-box").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "planner-month.png"), full_page=True)


def test_a_planner_checks_a_csv_roster_sees_its_errors_and_imports_it(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    base = server
    make_planner(base)
    day = date.today() + timedelta(days=20)
    when = f"{day:%d-%m-%Y}"
    page = browser.new_context().new_page()
    sign_in(page, base, "planner-meierij")
    page.goto(f"{base}/planner/teams/{TEAM}?start={day.isoformat()}")
    bad = f"persoon;begin;eind;laag\nmei-umar-bakker;{when} 09:00;morgen;reserve\n"
    page.fill("#import-text", bad)
    page.click("#import-form button[type=submit]")
    rows = page.locator("#import-errors tbody tr")
    expect(rows).to_have_count(1)
    assert "eind" in rows.first.inner_text() and "2" in rows.first.inner_text()

    good = f"persoon;begin;eind;laag\nmei-umar-bakker;{when} 09:00;{when} 17:00;reserve\n"
    page.fill("#import-text", good)
    page.click("#import-form button[type=submit]")
    expect(page.locator("#preview")).to_be_visible()
    page.click("#preview-save")
    expect(page.locator("#undo-bar")).to_be_visible()
    cell = page.locator(f".day[data-day='{day.isoformat()}']")
    expect(cell.locator("li.block.backup[data-person='mei-umar-bakker']")).to_have_count(1)
    shifts = httpx.get(base + "/api/v1/config", headers=ADMIN).json()["shifts"]
    assert any(
        s["person"] == "mei-umar-bakker" and s["start"].startswith(day.isoformat()) for s in shifts
    )
    page.screenshot(path=str(tmp_path / "planner-import.png"), full_page=True)

"""The swaps API and the shifts page: workers offer, take and withdraw their own shifts,
planners approve or refuse their regions' swaps; roles, scope, bounded inputs, retries
that change nothing, audit rows, and the link in a roster SMS."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from core.clock import ManualClock
from dispatch import reminders, roster_sms, swaps
from dispatch.models import AuditLog
from dispatch.roster_models import RosterMessage
from oncall import service as oncall_service
from oncall.loader import load_directory
from oncall.snapshot import ConfigSnapshot
from tests.accounts import PASSWORD, make_account, sign_in
from tests.api.test_dashboard_browser import ARGS, CHROMIUM, KEY
from tests.api.test_dashboard_browser import server as _server
from tests.conftest import ROOT
from tests.dispatch.test_paging_flow import app_state
from tests.dispatch.test_swaps import END, NOW, START, config, roster

server = _server  # the service as its own process, with the shipped regions

BODY = {"team": "vt-x", "layer": "primary", "start": START.isoformat(), "end": END.isoformat()}


def store(sessions: sessionmaker[Session], *, approval: bool) -> None:
    with sessions() as s:
        oncall_service.write_config(
            session=s, config=config(approval=approval), now=NOW, source="tests"
        )
        s.commit()
    make_account(sessions, "anna", Role.WORKER, person_id="anna")
    make_account(sessions, "cor", Role.WORKER, person_id="cor")
    make_account(sessions, "gijs", Role.WORKER, person_id="gijs")
    make_account(sessions, "plan-een", Role.PLANNER, regions=["r1"], person_id="bram")
    make_account(sessions, "plan-twee", Role.PLANNER, regions=["r2"])


class As:
    """A browser signed in as one account (cookie and CSRF token)."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.http = TestClient(client.app)
        if username.startswith("plan-"):
            self.csrf = sign_in(self.http, username)
            return
        # A worker's page is /shifts (the dashboard is not theirs): its token from there.
        r = self.http.post(
            "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
        )
        assert r.status_code == 303, r.text
        page = self.http.get("/shifts").text
        marker = 'name="csrf-token" content="'
        start = page.index(marker) + len(marker)
        self.csrf = page[start : page.index('"', start)]

    def get(self, url: str, **kw: Any) -> Any:
        return self.http.get(url, **kw)

    def post(self, url: str, body: Any = None) -> Any:
        headers = {"X-CSRF-Token": self.csrf, "Origin": "http://testserver"}
        return self.http.post(url, json=body or {}, headers=headers)


class Users(dict[str, As]):
    """Signed in on first use (a sign-in costs a password hash)."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.client = client

    def __missing__(self, username: str) -> As:
        self[username] = As(self.client, username)
        return self[username]


@pytest.fixture
def users(client: TestClient, sessions: sessionmaker[Session]) -> Users:
    store(sessions, approval=False)
    return Users(client)


@pytest.fixture
def approving(client: TestClient, sessions: sessionmaker[Session]) -> Users:
    store(sessions, approval=True)
    return Users(client)


def audit_actions(session: Session, swap_id: int) -> list[str]:
    rows = session.scalars(
        select(AuditLog.action)
        .where(AuditLog.object_type == "swap", AuditLog.object_id == str(swap_id))
        .order_by(AuditLog.id)
    )
    return list(rows)


def test_offer_take_through_the_api(users: dict[str, As], session: Session) -> None:
    anna, cor, gijs = users["anna"], users["cor"], users["gijs"]
    r = anna.post("/api/v1/swaps", BODY)
    assert r.status_code == 201, r.text
    swap = r.json()
    assert (swap["state"], swap["state_nl"], swap["offerer_name"]) == (
        "offered",
        "aangeboden",
        "Anna de Vries",
    )
    again = anna.post("/api/v1/swaps", BODY)
    assert (again.status_code, again.json()["id"]) == (200, swap["id"])  # a retry

    listed = cor.get("/api/v1/swaps").json()
    assert [s["id"] for s in listed] == [swap["id"]]
    assert gijs.get("/api/v1/swaps").json() == []  # another team's offers are not his
    assert gijs.post(f"/api/v1/swaps/{swap['id']}/take").status_code == 404
    assert cor.post(f"/api/v1/swaps/{swap['id']}/cancel").status_code == 409  # not his

    r = cor.post(f"/api/v1/swaps/{swap['id']}/take")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["taker"]) == ("done", "cor")
    assert roster(session) == {"cor"}
    version = oncall_service.get_version(session=session)
    assert r.json()["config_version"] == version
    assert cor.post(f"/api/v1/swaps/{swap['id']}/take").json()["state"] == "done"  # retry
    assert oncall_service.get_version(session=session) == version
    assert audit_actions(session, swap["id"]) == ["swap.offer", "swap.take"]
    [override_row] = session.scalars(
        select(AuditLog).where(
            AuditLog.object_type == "override", AuditLog.action == "override.create"
        )
    ).all()
    assert override_row.object_id == f"swap-{swap['id']}" and override_row.actor == "account:cor"
    # A planner cannot approve what needs no approval.
    assert users["plan-een"].post(f"/api/v1/swaps/{swap['id']}/approve").status_code == 409


def test_approval_by_the_regions_planner_only(approving: dict[str, As], session: Session) -> None:
    anna, cor = approving["anna"], approving["cor"]
    swap = anna.post("/api/v1/swaps", BODY).json()
    assert cor.post(f"/api/v1/swaps/{swap['id']}/take").json()["state"] == "taken"
    assert roster(session) == {"anna"}
    # The planner of r1 has a phone on the roster (as Bram): told there is one to approve.
    told = session.scalars(
        select(RosterMessage.key).where(RosterMessage.swap_id == swap["id"])
    ).all()
    assert f"swap:{swap['id']}:taken:planner:plan-een" in told

    assert approving["plan-twee"].get("/api/v1/swaps").json() == []
    r = approving["plan-twee"].post(f"/api/v1/swaps/{swap['id']}/approve")
    assert r.status_code == 403, r.text
    assert cor.post(f"/api/v1/swaps/{swap['id']}/approve").status_code == 403  # a worker
    assert roster(session) == {"anna"}
    problems = approving["plan-een"].get("/api/v1/swaps/problems").json()
    assert [(p["swap"]["id"], p["label"]) for p in problems] == [
        (swap["id"], "wacht op goedkeuring")
    ]
    assert approving["plan-een"].get("/api/v1/swaps/problems?region=r2").status_code == 403

    r = approving["plan-een"].post(f"/api/v1/swaps/{swap['id']}/approve")
    assert r.status_code == 200 and r.json()["state"] == "done", r.text
    assert roster(session) == {"cor"}
    assert approving["plan-een"].post(f"/api/v1/swaps/{swap['id']}/approve").status_code == 200
    assert approving["plan-een"].post(f"/api/v1/swaps/{swap['id']}/refuse").status_code == 409
    assert audit_actions(session, swap["id"]) == ["swap.offer", "swap.take", "swap.approve"]


def test_refuse_and_expire_reach_the_planner(
    approving: dict[str, As], session: Session, client: TestClient, clock: ManualClock
) -> None:
    anna, cor = approving["anna"], approving["cor"]
    first = anna.post("/api/v1/swaps", BODY).json()
    cor.post(f"/api/v1/swaps/{first['id']}/take")
    r = approving["plan-een"].post(
        f"/api/v1/swaps/{first['id']}/refuse", {"reason": "Cor heeft rust nodig"}
    )
    assert r.status_code == 200 and r.json()["state"] == "refused", r.text
    assert roster(session) == {"anna"}

    second = anna.post("/api/v1/swaps", BODY).json()
    assert second["id"] != first["id"]
    clock.set(START - timedelta(hours=48))
    driver = app_state(client).driver
    assert driver is not None
    driver.run_once()  # the sweep: nobody took it in time
    planner, cor = As(client, "plan-een"), As(client, "cor")  # (days later: new sessions)
    problems = planner.get("/api/v1/swaps/problems").json()
    assert [(p["swap"]["id"], p["label"]) for p in problems] == [(second["id"], "niet overgenomen")]
    assert cor.post(f"/api/v1/swaps/{second['id']}/take").status_code == 409
    assert roster(session) == {"anna"}
    # The planner of r1 (Bram's phone) is told by SMS about the offer nobody took; the
    # one written for the refused swap is not sent.
    told = {
        row.swap_id: row.status
        for row in session.scalars(
            select(RosterMessage)
            .where(RosterMessage.key.like("swap:%:expired:planner:plan-een"))
            .execution_options(populate_existing=True)
        )
    }
    assert told == {first["id"]: "cancelled", second["id"]: "sent"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2026-13-01T10:00"}, "start"),
        ({"start": "x" * 50}, "start"),
        ({"start": (START + timedelta(minutes=5)).isoformat()}, "start"),
        ({"end": (START + timedelta(days=15)).isoformat()}, "end"),
        ({"layer": "coordinator"}, "layer"),
        ({"team": "Geen Slug"}, "team"),
        ({"note": "n" * 201}, "note"),
        ({"team": "vt-y"}, "team"),  # not her team
    ],
)
def test_bounded_offers(users: dict[str, As], change: dict[str, str], field: str) -> None:
    r = users["anna"].post("/api/v1/swaps", {**BODY, **change})
    assert r.status_code == 422, r.text
    body = r.json()
    fields = [e["field"] for e in body.get("errors") or body["detail"].get("errors")]
    assert field in fields


def test_not_linked_and_wrong_roles(users: dict[str, As], client: TestClient) -> None:
    assert users["plan-een"].post("/api/v1/swaps", BODY).status_code == 403  # not a worker
    assert TestClient(client.app).get("/api/v1/swaps").status_code == 401
    assert users["anna"].get("/api/v1/swaps/problems").status_code == 403
    assert users["anna"].post("/api/v1/swaps/99999/take").status_code == 404
    assert users["anna"].post("/api/v1/swaps/0/take").status_code == 422


def test_the_link_in_a_roster_sms(
    users: dict[str, As], client: TestClient, sessions: sessionmaker[Session]
) -> None:
    users["anna"].post("/api/v1/swaps", BODY)
    secret = app_state(client).settings.link_secret
    with sessions() as s:
        message = s.scalars(
            select(RosterMessage).where(RosterMessage.key.like("swap:%:offered:offerer"))
        ).one()
        token = roster_sms.token_of(message, secret)
    http = TestClient(client.app)  # not signed in: the link is the credential
    page = http.get(f"/s/{token}")
    assert page.status_code == 200 and "Mijn piketdiensten" in page.text
    assert 'id="shifts-data"' in page.text and '<script src="/static/shifts.js"' in page.text
    assert http.get("/s/" + "A" * len(token)).status_code == 404

    def period(days: int) -> dict[str, str]:
        later = START + timedelta(days=days)
        return {**BODY, "start": later.isoformat(), "end": (later + timedelta(hours=4)).isoformat()}

    r = http.post(f"/api/v1/swaps/link/{token}/offer", json=period(1))
    assert r.status_code == 422 and "start" in r.text  # not on call then (Bram is)
    r = http.post(f"/api/v1/swaps/link/{token}/offer", json=period(2))
    assert r.status_code == 201 and r.json()["offerer"] == "anna", r.text
    mine = min(users["anna"].get("/api/v1/swaps").json(), key=lambda s: s["id"])
    r = http.post(f"/api/v1/swaps/link/{token}/cancel/{mine['id']}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text


def test_the_shifts_page(users: dict[str, As]) -> None:
    page = users["anna"].get("/shifts")
    assert page.status_code == 200
    assert "Mijn piketdiensten" in page.text and 'data-action="offer"' in page.text
    # Sunday's piket starts within the team's 48 hours: no button, the planner instead.
    assert "Te kort dag om te ruilen; bel je planner." in page.text
    assert 'data-layer="primary" data-start="2026-11-29T08:00:00+00:00"' not in page.text
    assert 'data-layer="primary" data-start="2026-12-01T08:00:00+00:00"' in page.text
    assert users["plan-een"].get("/shifts").status_code == 403


# --- in a real browser -------------------------------------------------------------------


def pick_swap(now: datetime) -> tuple[str, str, str, datetime]:
    """From the shipped regions: a team, a worker with a block well ahead, and a
    colleague who is free for all of it (found, not hard-coded: the date moves)."""
    cfg = load_directory(ROOT / "regions")
    snapshot = ConfigSnapshot(cfg, 1)
    for team in cfg.teams:
        ahead = timedelta(hours=swaps.planning_of(snapshot, team.id).swap_offer_hours + 24)
        for block in reminders.team_blocks(
            snapshot, team.id, now + ahead, now + timedelta(days=20)
        ):
            if block.began_before or block.layer != "primary":
                continue
            for other in snapshot.members.get(team.id, {}):
                person = snapshot.people[other]
                if other == block.person or not person.active or not person.phones:
                    continue
                if swaps.free_throughout(snapshot, other, block.start, block.end):
                    return team.id, block.person, other, block.start
    raise AssertionError("no swap to try in the shipped regions")


def test_offer_and_take_in_chromium(server: str, tmp_path: Path) -> None:
    """A worker offers a shift on /shifts, a colleague takes it on theirs; the roster
    answers with the swap done (or waiting for the planner, where the team wants it)."""
    team, offerer, taker, start = pick_swap(datetime.now(UTC))
    for username, person in (("aanbieder", offerer), ("overnemer", taker)):
        made = httpx.post(
            server + "/api/v1/accounts",
            headers={"X-API-Key": KEY},
            json={
                "username": username,
                "role": "worker",
                "password": PASSWORD,
                "person_id": person,
            },
        )
        assert made.status_code == 201, made.text
    assert Path(CHROMIUM).exists(), "Debian's chromium is required"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            browser_sign_in(page, server, "aanbieder")
            page.goto(server + "/shifts")
            button = page.locator(
                f"#my-shifts button[data-action=offer][data-team='{team}']"
                f"[data-start='{start.isoformat()}']"
            )
            expect(button).to_have_count(1)
            button.click()
            expect(page.locator("#notice")).to_have_text("Je aanbod staat open.")
            expect(page.locator("#my-swaps td.state")).to_have_text(["aangeboden"])
            page.screenshot(path=str(tmp_path / "offered.png"))

            other = browser.new_page()
            browser_sign_in(other, server, "overnemer")
            other.goto(server + "/shifts")
            take = other.locator("#team-offers button[data-action=take]")
            expect(take).to_have_count(1)
            take.click()
            expect(other.locator("#notice")).to_have_text(
                re.compile("Je hebt de dienst overgenomen.|Overgenomen; de planner")
            )
            expect(other.locator("#my-swaps td.state")).to_have_text(
                [re.compile("^(geruild|wacht op goedkeuring) \\(")]
            )
            other.screenshot(path=str(tmp_path / "taken.png"))
        finally:
            browser.close()
    listed = httpx.get(server + "/api/v1/swaps", headers={"X-API-Key": KEY}).json()
    [swap] = listed
    assert (swap["offerer"], swap["taker"], swap["team"]) == (offerer, taker, team)
    assert datetime.fromisoformat(swap["start"]) == start
    assert swap["state"] in ("done", "taken")


def browser_sign_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/shifts")  # a worker's home

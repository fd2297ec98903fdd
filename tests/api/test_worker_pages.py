"""The pages around the joint response, over HTTP (both backends): the worker's step page
behind its signed link, the link page after an accept, and the dashboard's first paint.

What the scripts do with them runs in a real browser in test_live_browser.py.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from dispatch.models import Assignment, Page
from notifications import links
from tests.accounts import make_account, sign_in
from tests.api.test_scenarios import GV_NOORD, post


def accepted_incident(client: TestClient) -> dict[str, Any]:
    """Gooi en Vechtstreek in office hours; Bram (position 1) accepted by the control room."""
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59", police_unit="GV-21")
    r = client.post(f"/api/v1/incidents/{d['id']}/assignments/1/accept")
    assert r.status_code == 200, r.text
    return d


def assignment_id(sessions: sessionmaker[Session], dispatch_id: str, position: int) -> int:
    with sessions() as s:
        found = s.scalar(
            select(Assignment.id).where(
                Assignment.dispatch_id == dispatch_id, Assignment.position == position
            )
        )
        assert found is not None
        return found


def page_data(html: str, script_id: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{script_id}">(.*?)</script>', html)
    assert match, html
    return dict(json.loads(match.group(1)))


def test_worker_page_shows_the_incident_to_its_worker(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    d = accepted_incident(client)
    secret = client.app.state.samenop.settings.link_secret  # type: ignore[attr-defined]
    bram = assignment_id(sessions, d["id"], 1)
    token = links.sign_worker(bram, clock.now() + timedelta(hours=12), secret)
    r = client.get(f"/w/{token}")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert d["reference"] in r.text and "GV-21" in r.text
    assert 'href="tel:+31612345678"' in r.text  # the police callback, to call directly
    assert "Gooi en Vechtstreek Noord" in r.text  # the place by name, not its id
    data = page_data(r.text, "worker-data")
    assert data["token"] == token and data["position"] == 1
    view = data["dispatch"]
    assert (view["reference"], view["stage"]) == (d["reference"], "accepted")
    assert view["assignments"][0]["phone"] == "+31612340102"  # its own number
    assert all(a["phone"] is None for a in view["assignments"][1:])  # nobody else's
    assert data["labels"]["stage"]["veiligheidsmaatregelen"] == "veiligheidsmaatregelen"
    assert "/static/worker.js" in r.text and "/static/live.js" in r.text


def test_worker_page_expired_or_unknown_link(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    d = accepted_incident(client)
    secret = client.app.state.samenop.settings.link_secret  # type: ignore[attr-defined]
    token = links.sign_worker(
        assignment_id(sessions, d["id"], 1), clock.now() + timedelta(minutes=5), secret
    )
    clock.advance(timedelta(minutes=6))
    expired = client.get(f"/w/{token}")
    assert expired.status_code == 410
    assert "Deze link is verlopen" in expired.text and d["reference"] not in expired.text
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (
        forged,
        "nonsense",
        links.sign_worker(10**9, clock.now() + timedelta(hours=1), secret),
    ):
        r = client.get(f"/w/{bad}")
        assert r.status_code == 404 and "Onbekende link" in r.text


def test_link_page_after_accepting_leads_to_the_worker_page(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    settings = client.app.state.samenop.settings  # type: ignore[attr-defined]
    bram = assignment_id(sessions, d["id"], 1)
    with sessions() as s:
        page_id = s.scalar(select(Page.id).where(Page.assignment_id == bram).limit(1))
    assert page_id is not None
    url = f"/p/{links.sign(page_id, clock.now() + timedelta(hours=1), settings.link_secret)}"
    before = client.get(url)
    assert before.status_code == 200 and "/w/" not in before.text  # not before the accept
    done = client.post(url, data={"action": "accept"})
    assert done.status_code == 200 and "Geaccepteerd" in done.text
    for r in (done, client.get(url)):
        match = re.search(r'id="worker-link" href="([^"]+)"', r.text)
        assert match, r.text
        assert match.group(1).startswith(settings.public_base_url + "/w/")
        token = match.group(1).rsplit("/", 1)[1]
        assert links.verify_worker(token, clock.now(), settings.link_secret) == bram
        assert client.get(f"/w/{token}").status_code == 200


def test_dashboard_paints_the_open_incidents_and_follows_the_stream(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    d = accepted_incident(client)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    make_account(sessions, "meldkamer")
    sign_in(client, "meldkamer")
    r = client.get("/")
    assert r.status_code == 200
    assert 'http-equiv="refresh"' not in r.text  # live now, no reloading
    assert "/static/dashboard.js" in r.text and 'id="live"' in r.text
    assert '<option value="gooi-en-vechtstreek-noord">' in r.text  # the basisteam filter
    data = page_data(r.text, "dashboard-data")
    [shown] = [x for x in data["dispatches"] if x["id"] == d["id"]]
    assert (shown["stage"], shown["paging_state"]) == ("accepted", "accepted")
    assert shown["assignments"][0]["phone"] == "+31612340102"  # the control room sees it
    assert data["places"][GV_NOORD] == "Gooi en Vechtstreek Noord"
    assert data["labels"]["live"]["reconnecting"] == "Verbinding verbroken — opnieuw verbinden…"
    assert "Piket nu" in r.text  # the on-call overview stays

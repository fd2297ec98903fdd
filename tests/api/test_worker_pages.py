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
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import texts
from core.clock import ManualClock
from dispatch.models import Assignment, Dispatch, Page
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


# --- the first hour on the worker's page: household facts, mandate, steps, evaluation --

HOUSEHOLD = [
    {"role": "victim", "age": 34},
    {"role": "child", "age": 6},
    {"role": "suspect", "age": 38},
    {"role": "witness"},
]
FLAGS = ["huisverbod_considered", "children_present", "weapons", "injuries"]


def worker_link(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock, dispatch_id: str
) -> str:
    secret = client.app.state.samenop.settings.link_secret  # type: ignore[attr-defined]
    token = links.sign_worker(
        assignment_id(sessions, dispatch_id, 1), clock.now() + timedelta(hours=12), secret
    )
    return token


def ijmond_accepted(client: TestClient) -> dict[str, Any]:
    """IJmond on a Tuesday afternoon: the crisisdienst (its mandate stated in the
    regions) goes for a household with a child; position 1 accepted."""
    d = post(
        client,
        basisteam="ijmond",
        reported_at="2026-03-10T14:00",
        persons=HOUSEHOLD,
        flags=FLAGS,
        external_id="MK-IJ-777",
    )
    assert d["team"] == "crisisdienst-vtk"
    r = client.post(f"/api/v1/incidents/{d['id']}/assignments/1/accept")
    assert r.status_code == 200, r.text
    return d


def items(html: str, element_id: str) -> list[str]:
    """The texts of the list items inside the element with this id."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|section)>', html, re.S)
    assert match, f"no #{element_id} in the page"
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>", match[1])]


def test_worker_page_shows_household_facts_and_mandate_and_nothing_more(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    d = ijmond_accepted(client)
    r = client.get(f"/w/{worker_link(client, sessions, clock, d['id'])}")
    assert r.status_code == 200, r.text
    # each person's role and age in Dutch, in the order the police gave them
    assert items(r.text, "household") == [
        "slachtoffer, 34 jaar",
        "kind, 6 jaar",
        "verdachte, 38 jaar",
        "getuige, leeftijd onbekend",
    ]
    # the flags, those that matter before going in first
    assert items(r.text, "flags") == [
        "wapens",
        "letsel",
        "kinderen aanwezig",
        "huisverbod overwogen",
    ]
    assert "Wat je in het eerste uur mag doen" in r.text
    assert items(r.text, "mandate") == [
        "eerste veiligheidsbeoordeling maken",
        "eerdere dossiers van Veilig Thuis raadplegen",
    ]
    assert "een huisverbodadvies stemt de crisisdienst af met VT" in r.text  # the note
    # nothing more: not the police's own case number, not the feed, not the plan's
    # reasons (they name the people on call)
    assert "MK-IJ-777" not in r.text and "meldkamer-acceptatie" not in r.text
    data = page_data(r.text, "worker-data")
    assert "plan" not in data["dispatch"]
    assert data["dispatch"]["household"]["persons"][0] == {
        "role": "victim",
        "age": 34,
        "text": "slachtoffer (34)",
    }


def test_worker_page_without_facts_or_mandate_says_so(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59", persons=[], flags=[])
    assert client.post(f"/api/v1/incidents/{d['id']}/assignments/1/accept").status_code == 200
    r = client.get(f"/w/{worker_link(client, sessions, clock, d['id'])}")
    assert r.status_code == 200
    assert re.search(r'id="household">\s*<span class="none">geen gegevens doorgegeven', r.text)
    assert re.search(r'id="flags">\s*<span class="none">geen doorgegeven', r.text)
    assert 'id="mandate"' not in r.text  # vt-gv states no mandate: no empty card


def test_worker_page_is_split_into_labelled_steps_with_the_toolkit_points(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    d = ijmond_accepted(client)
    r = client.get(f"/w/{worker_link(client, sessions, clock, d['id'])}")
    html = r.text
    panels = ["onderweg", "motorkapoverleg", "veiligheid", "gesprek", "overdracht", "afsluiten"]
    assert re.findall(r'<a href="#stap-[a-z]+" data-panel="([a-z]+)"', html) == panels
    assert re.findall(r'class="card panel-head" data-panel="([a-z]+)"', html) == panels
    # every action form belongs to one step
    steps = dict(
        re.findall(r'class="card step" data-action="([a-z_]+)" data-panel="([a-z]+)"', html)
    )
    assert steps == {
        "onderweg": "onderweg",
        "ter_plaatse": "onderweg",
        "eta": "onderweg",
        "consult": "onderweg",
        "motorkapoverleg": "motorkapoverleg",
        "onderzoek": "veiligheid",
        "veiligheidsmaatregelen": "gesprek",
        "overgedragen": "overdracht",
        "close": "afsluiten",
    }
    # the toolkit's points: the motorkapoverleg and the safety assessment, to tick
    for key, text in texts.WORKER_MOTORKAP_NL.items():
        assert f'data-point="motorkap.{key}"' in html and str(escape(text)) in html
    for key, text in texts.WORKER_SAFETY_NL.items():
        assert f'data-point="safety.{key}"' in html and str(escape(text)) in html
    # every control has a label (for=, a wrapping label or aria-label)
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    for tag, attrs in re.findall(r"<(input|select|textarea)\b([^>]*)>", html):
        if 'type="checkbox"' in attrs or 'name="until"' in attrs:
            continue  # inside their <label>
        control_id = re.search(r'id="([^"]+)"', attrs)
        assert "aria-label=" in attrs or (control_id and control_id[1] in labelled), (tag, attrs)
    # the evaluation note on the close step, bounded like the close action
    assert '<label for="evaluation-helped">Welke informatie hielp?</label>' in html
    assert '<label for="evaluation-missing">Wat ontbrak?</label>' in html
    assert html.count('maxlength="2000"') == 2


def test_worker_closes_with_an_evaluation_note(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    """What worker.js sends: the note with the close action, bounded, kept off the summary."""
    d = ijmond_accepted(client)
    token = worker_link(client, sessions, clock, d["id"])
    too_long = {"helped": "x" * 2001, "missing": ""}
    refused = client.post(
        f"/w/{token}/actions",
        json={"action": "close", "outcome": "phone_consult", "evaluation_note": too_long},
    )
    assert refused.status_code == 422, refused.text
    assert "evaluation_note" in refused.text and "helped" in refused.text
    note = {"helped": "De leeftijden van de kinderen.", "missing": ""}
    r = client.post(
        f"/w/{token}/actions",
        json={"action": "close", "outcome": "phone_consult", "evaluation_note": note},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "closed"
    assert "De leeftijden" not in r.text  # the answer (like the stream) leaves it out
    with sessions() as s:
        closed = s.get(Dispatch, d["id"])
        assert closed is not None and closed.evaluation_note is not None
        worker_note = closed.evaluation_note["worker"]  # each side's note under its role
        assert (worker_note["helped"], worker_note["missing"]) == (note["helped"], "")
    page = client.get(f"/w/{token}")
    assert page.status_code == 200 and "De leeftijden" not in page.text

"""The joint response over HTTP: the control room (API key or dashboard cookie) and the
accepted worker (its signed link) record each step and get the live summary back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from core.clock import ManualClock
from dispatch.models import Assignment
from notifications import links
from tests.accounts import make_account, sign_in
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import (
    BRAM,
    INCIDENTS,
    app_state,
    at,
    console,
    event_types,
    post,
    run,
)


def actions(client: TestClient, ref: str, **body: Any) -> Any:
    return client.post(f"{INCIDENTS}/{ref}/actions", json=body)


def worker_token(client: TestClient, session: Session, dispatch_id: str, position: int) -> str:
    a_id = session.scalar(
        select(Assignment.id).where(
            Assignment.dispatch_id == dispatch_id, Assignment.position == position
        )
    )
    assert a_id is not None
    state = app_state(client)
    return links.sign_worker(
        a_id, state.clock.now() + timedelta(hours=12), state.settings.link_secret
    )


def as_worker(client: TestClient, token: str, **body: Any) -> Any:
    return client.post(f"/w/{token}/actions", json=body)


def accepted(client: TestClient, clock: ManualClock) -> dict[str, Any]:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert r.status_code == 200, r.text
    return d


def test_the_steps_by_the_control_room_and_the_worker(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    token = worker_token(client, session, d["id"], 1)
    r = actions(client, d["reference"], action="safe_to_enter")
    assert r.status_code == 200, r.text
    summary = r.json()
    assert (summary["id"], summary["stage"]) == (d["id"], "accepted")
    assert summary["safe_at"] == clock.now().isoformat()

    r = as_worker(client, token, action="onderweg", eta_minutes=25)
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["stage"] == "onderweg" and mine["safe_at"] is not None
    assert mine["police_callback"] == "+31612345678"
    assert mine["assignments"][0]["phone"] == BRAM
    assert all(a["phone"] is None for a in mine["assignments"][1:])  # others' numbers hidden
    assert mine["assignments"][0]["eta_at"] == (clock.now() + timedelta(minutes=25)).isoformat()

    clock.advance(timedelta(minutes=20))
    assert as_worker(client, token, action="ter_plaatse").json()["stage"] == "ter_plaatse"
    assert actions(client, d["id"], action="police_left").status_code == 200
    assert as_worker(client, token, action="motorkapoverleg").json()["stage"] == "motorkapoverleg"
    agreements = {
        "first_contact": "Veilig Thuis piket",
        "informs": [{"who": "Veilig Thuis", "whom": "huisarts"}],
        "measures": [
            {"measure": "huisverbod", "by": "burgemeester", "until": "2026-03-20T17:00"},
            {"measure": "other", "by": "politie", "note": "extra surveillance"},
        ],
        "reassess_at": "2026-03-11T09:00",
    }
    r = as_worker(client, token, action="veiligheidsmaatregelen", agreements=agreements)
    assert r.status_code == 200, r.text
    stored = r.json()["agreements"]
    assert stored["reassess_at"] == "2026-03-11T08:00:00Z"  # Amsterdam time, stored in UTC
    assert stored["measures"][0]["until"] == "2026-03-20T16:00:00Z"
    assert stored["measures"][1] == {
        "measure": "other",
        "by": "politie",
        "until": None,
        "note": "extra surveillance",
    }
    r = actions(client, d["reference"], action="overgedragen", handover={"target": "zsm"})
    assert r.json()["handover"] == {"target": "zsm", "note": None}
    r = actions(client, d["reference"], action="close", outcome="joint_on_scene")
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["outcome"]) == ("closed", "joint_on_scene")
    types = [t for t in event_types(session, d["id"]) if t.startswith("lifecycle.")]
    assert types == [
        "lifecycle.paging",
        "lifecycle.accepted",
        "lifecycle.safe_to_enter",
        "lifecycle.onderweg",
        "lifecycle.ter_plaatse",
        "lifecycle.police_left",
        "lifecycle.motorkapoverleg",
        "lifecycle.veiligheidsmaatregelen",
        "lifecycle.overgedragen",
        "lifecycle.close",
    ]


def test_a_repeated_request_answers_the_same_and_writes_nothing(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    token = worker_token(client, session, d["id"], 1)
    first = as_worker(client, token, action="onderweg", eta_minutes=15)
    before = event_types(session, d["id"])
    clock.advance(timedelta(seconds=3))
    again = as_worker(client, token, action="onderweg", eta_minutes=15)
    assert again.status_code == 200 and again.json() == first.json()
    assert event_types(session, d["id"]) == before


def test_forbidden_transitions_and_roles_name_the_rule(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    r = actions(client, d["reference"], action="police_left")
    assert r.status_code == 409
    assert r.json()["detail"] == {
        "error": "invalid_transition",
        "action": "police_left",
        "stage": "accepted",
        "message": "police cannot leave before the worker arrives unless a phone or video "
        "consult has been recorded",
    }
    r = actions(client, d["reference"], action="onderweg", eta_minutes=10)
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert (detail["error"], detail["action"], detail["role"]) == (
        "forbidden_role",
        "onderweg",
        "control_room",
    )
    assert "only worker may record 'onderweg'" in detail["message"]

    token = worker_token(client, session, d["id"], 1)
    for body in ({"action": "safe_to_enter"}, {"action": "close", "outcome": "cancelled"}):
        r = as_worker(client, token, **body)
        assert r.status_code == 403 and r.json()["detail"]["role"] == "worker", r.text
    r = as_worker(client, token, action="onderzoek")
    assert r.status_code == 409 and "onderzoek follows motorkapoverleg" in r.text
    # a worker whose assignment is not accepted (position 2 was cancelled by the accept)
    r = as_worker(
        client, worker_token(client, session, d["id"], 2), action="onderweg", eta_minutes=5
    )
    assert r.status_code == 403 and "cancelled" in r.json()["detail"]["message"]
    assert [t for t in event_types(session, d["id"]) if t.startswith("lifecycle.")] == [
        "lifecycle.paging",
        "lifecycle.accepted",
    ]


def test_validation_errors_name_the_field(client: TestClient, clock: ManualClock) -> None:
    d = accepted(client, clock)
    r = actions(client, d["reference"], action="onderweg", eta_minutes=0)
    assert r.status_code == 422 and "eta_minutes" in r.json()["detail"]
    r = actions(
        client,
        d["reference"],
        action="veiligheidsmaatregelen",
        agreements={
            "first_contact": "",
            "measures": [{"measure": "opsluiten", "by": "politie"}],
        },
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert any(f.endswith("agreements.first_contact") for f in fields), fields
    assert any(f.endswith("agreements.measures[0].measure") for f in fields), fields
    assert any(f.endswith("agreements.reassess_at") for f in fields), fields
    r = actions(client, d["reference"], action="overgedragen", handover={"target": "elders"})
    assert r.status_code == 422 and "handover.target" in r.json()["detail"]
    r = actions(client, d["reference"], action="close")
    assert r.status_code == 422 and "outcome" in r.json()["detail"]
    r = actions(client, d["reference"], action="fly")
    assert r.status_code == 422 and "action" in r.json()["detail"]
    r = actions(client, d["reference"], action="cancel", note="x")
    assert r.status_code == 422 and "note" in r.json()["detail"]


def test_authentication(
    client: TestClient, clock: ManualClock, session: Session, sessions: sessionmaker[Session]
) -> None:
    d = accepted(client, clock)
    anonymous = {"X-API-Key": ""}
    r = client.post(
        f"{INCIDENTS}/{d['id']}/actions", json={"action": "safe_to_enter"}, headers=anonymous
    )
    assert r.status_code == 401
    make_account(sessions, "meldkamer", Role.OPERATOR)
    key = client.headers.pop("X-API-Key")
    try:
        csrf = sign_in(client, "meldkamer")
        url = f"{INCIDENTS}/{d['id']}/actions"
        own = {"Origin": "http://testserver"}
        # a signed-in write needs the page's CSRF token and our own origin
        assert client.post(url, json={"action": "safe_to_enter"}, headers=own).status_code == 403
        evil = {"Origin": "https://evil.example", "X-CSRF-Token": csrf}
        assert client.post(url, json={"action": "safe_to_enter"}, headers=evil).status_code == 403
        r = client.post(
            url, json={"action": "safe_to_enter"}, headers={**own, "X-CSRF-Token": csrf}
        )
    finally:
        client.cookies.clear()
        client.headers["X-API-Key"] = key
    assert r.status_code == 200, r.text
    assert actions(client, "SO-NOSUCH", action="cancel").status_code == 404

    token = worker_token(client, session, d["id"], 1)
    assert as_worker(client, token[:-1] + "A", action="ter_plaatse").status_code == 404
    clock.advance(timedelta(hours=13))
    assert as_worker(client, token, action="ter_plaatse").status_code == 410


def test_cancel_while_paging_hangs_up_and_stops_paging(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)  # Bram's phone rings
    r = actions(client, d["reference"], action="cancel")
    assert r.status_code == 200, r.text
    summary = r.json()
    assert (summary["stage"], summary["outcome"]) == ("closed", "cancelled")
    assert {a["status"] for a in summary["assignments"]} == {"cancelled"}
    run(client)
    assert console(client).hangups == [console(client).records[0].provider_id]
    clock.advance(timedelta(minutes=10))
    run(client)
    assert len(console(client).records) == 1  # the SMS never went, nobody else was paged
    r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert r.status_code == 409
    again = actions(client, d["reference"], action="cancel")
    assert again.status_code == 200 and again.json() == summary
    r = actions(client, d["reference"], action="close", outcome="no_consult")
    assert r.status_code == 409 and "already closed with outcome cancelled" in r.text

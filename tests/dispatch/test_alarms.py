"""Alarms the control room acts on, through intake, the sweep and the actions API:
"Nog niemand aangenomen" minutes after the report (a region may set its own), "Half
bezet" when a call-out for two finds one, each raised and cleared by events that the
live summary shows; a closed incident keeps none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ManualClock
from dispatch import live
from dispatch.models import Event
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import at, post, run


def alarm_events(session: Session, dispatch_id: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Event.type, Event.payload)
        .where(Event.dispatch_id == dispatch_id, Event.type.like("alarm.%"))
        .order_by(Event.id)
    )
    return [(t, p["kind"]) for t, p in rows]


def alarms_shown(session: Session, d: dict[str, Any], clock: ManualClock) -> list[str]:
    summary = live.summaries(session, [d["id"]], clock.now())[d["id"]]
    return [a["kind"] for a in summary["alarms"] if a["kind"] != "unanswered"]


def act(client: TestClient, d: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/api/v1/incidents/{d['id']}/actions", json=body)


def answer(client: TestClient, d: dict[str, Any], position: int, verb: str) -> int:
    r = client.post(f"/api/v1/incidents/{d['id']}/assignments/{position}/{verb}")
    return r.status_code


def test_nobody_accepted_three_minutes_after_the_report_however_paging_went(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    # the first attempt runs out at 150 s and the next begins: still no alarm at 179 s
    clock.advance(timedelta(seconds=150))
    run(client)
    clock.advance(timedelta(seconds=29))
    run(client)
    assert alarm_events(session, d["id"]) == []
    clock.advance(timedelta(seconds=1))
    run(client)
    assert alarm_events(session, d["id"]) == [("alarm.raised", "no_accept")]
    assert alarms_shown(session, d, clock) == ["no_accept"]
    [raised] = [
        e.payload for e in session.scalars(select(Event).where(Event.type == "alarm.raised"))
    ]
    assert raised["message"] == "Nog niemand aangenomen — 3 min na de melding."
    clock.advance(timedelta(minutes=5))
    run(client)
    assert alarm_events(session, d["id"]) == [("alarm.raised", "no_accept")]  # raised once
    assert answer(client, d, 1, "accept") == 200
    assert alarm_events(session, d["id"])[-1] == ("alarm.cleared", "no_accept")
    assert alarms_shown(session, d, clock) == []


def test_an_accept_in_time_raises_nothing_and_a_region_may_set_its_own_minutes(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    in_time = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    assert answer(client, in_time, 1, "accept") == 200
    clock.advance(timedelta(minutes=10))
    run(client)
    assert alarm_events(session, in_time["id"]) == []
    # Den Haag says 2 minutes
    at(clock, "2026-11-21T12:00")
    d = post(client, basisteam="laak", reported_at="2026-11-21T12:00")
    run(client)
    clock.advance(timedelta(seconds=119))
    run(client)
    assert alarm_events(session, d["id"]) == []
    clock.advance(timedelta(seconds=1))
    run(client)
    assert alarm_events(session, d["id"]) == [("alarm.raised", "no_accept")]


def test_half_staffed_asks_the_control_room_and_its_answer_clears_the_alarm(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-11-21T12:00")  # CIT Den Haag: two workers per call-out
    d = post(client, basisteam="laak", reported_at="2026-11-21T12:00")
    assert d["staff_needed"] == 2
    run(client)
    assert act(client, d, action="half_staffed", decision="alone").status_code == 409
    for a in d["assignments"]:
        verb = "accept" if a["position"] == 1 else "decline"
        assert answer(client, d, a["position"], verb) in (200, 409)
        run(client)
    assert ("alarm.raised", "half_staffed") in alarm_events(session, d["id"])
    assert "half_staffed" in alarms_shown(session, d, clock)
    summary = live.summaries(session, [d["id"]], clock.now())[d["id"]]
    [half] = [a for a in summary["alarms"] if a["kind"] == "half_staffed"]
    assert half["message"].startswith("Half bezet: 1 van de 2 medewerkers gevonden. Gaat ")
    assert half["message"].endswith(" alleen?")
    bad = act(client, d, action="half_staffed", decision="maybe")
    assert bad.status_code == 422
    r = act(client, d, action="half_staffed", decision="alone")
    assert r.status_code == 200, r.text
    assert r.json()["half_staffed_decision"] == "alone"
    assert alarm_events(session, d["id"])[-1] == ("alarm.cleared", "half_staffed")
    again = act(client, d, action="half_staffed", decision="alone")
    assert again.status_code == 200  # a repeat changes nothing
    assert alarm_events(session, d["id"]).count(("alarm.cleared", "half_staffed")) == 1


def test_closing_clears_every_alarm(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    clock.advance(timedelta(minutes=3))
    run(client)
    assert alarms_shown(session, d, clock) == ["no_accept"]
    assert act(client, d, action="cancel").status_code == 200
    assert alarm_events(session, d["id"])[-1] == ("alarm.cleared", "no_accept")
    assert alarms_shown(session, d, clock) == []

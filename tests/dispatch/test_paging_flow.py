"""Escalation through the database with the console provider and a moved clock.

These run the real intake, delivery, answers and deadlines in the test transaction;
the provider is the console one (the outside world), the clock is moved by hand.
The end-to-end tests through the Twilio fake live in tests/api/test_paging_twilio.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.state import AppState
from core.clock import ManualClock
from dispatch import answers
from dispatch.models import Event
from notifications.console import ConsoleProvider
from notifications.webhooks import CallStatus, SmsStatus
from tests.api.test_scenarios import GV_NOORD, incident

INCIDENTS = "/api/v1/incidents"
BRAM = "+31612340102"  # vt-gv office-hours worker, Tue 2026-03-10 16:59
GIJS = "+31612340108"  # gedragswetenschapper on call, Tue 2026-03-10 17:00


def app_state(client: TestClient) -> AppState:
    state: AppState = client.app.state.samenop  # type: ignore[attr-defined]
    return state


def console(client: TestClient) -> ConsoleProvider:
    provider = app_state(client).paging.provider
    assert isinstance(provider, ConsoleProvider)
    return provider


def run(client: TestClient) -> int:
    driver = app_state(client).driver
    assert driver is not None
    return driver.run_once()


def post(client: TestClient, **over: Any) -> dict[str, Any]:
    r = client.post(INCIDENTS, json=incident(**over))
    assert r.status_code == 201, r.text
    return r.json()


def pages(client: TestClient, ref: str) -> list[dict[str, Any]]:
    r = client.get(f"{INCIDENTS}/{ref}/pages")
    assert r.status_code == 200, r.text
    return list(r.json())


def dispatch(client: TestClient, ref: str) -> dict[str, Any]:
    r = client.get(f"{INCIDENTS}/{ref}")
    assert r.status_code == 200
    return dict(r.json())


def event_types(session: Session, dispatch_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Event.type).where(Event.dispatch_id == dispatch_id).order_by(Event.id)
        )
    )


def sent_to(client: TestClient) -> list[tuple[str, str]]:
    return [(r.channel, r.to) for r in console(client).records]


def at(clock: ManualClock, iso: str) -> None:
    from datetime import datetime

    from core.timeutil import AMS

    clock.set(datetime.fromisoformat(iso).replace(tzinfo=AMS))


def test_first_page_goes_out_then_sms_after_a_minute(
    client: TestClient, clock: ManualClock
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    assert d["paging_state"] == "respond"
    assert d["assignments"][0]["status"] == "paging"
    assert run(client) == 1
    assert sent_to(client) == [("voice", BRAM)]
    clock.advance(timedelta(seconds=59))
    run(client)
    assert len(console(client).records) == 1  # the SMS is not due yet
    clock.advance(timedelta(seconds=1))
    run(client)
    assert sent_to(client) == [("voice", BRAM), ("sms", BRAM)]
    sms = console(client).records[1].body or ""
    assert d["reference"] in sms and "/p/" in sms
    assert [p["status"] for p in pages(client, d["reference"])] == ["sent", "sent"]


def test_silence_until_the_deadline_repeats_then_moves_to_the_coordinator(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    # default policy: voice now, SMS at +60 s, deadline at +150 s; on call twice
    clock.advance(timedelta(seconds=60))
    run(client)
    clock.advance(timedelta(seconds=90))
    run(client)
    types = event_types(session, d["id"])
    assert "attempt.expired" in types
    assert sent_to(client)[-1] == ("voice", BRAM)  # round two: the same person again
    clock.advance(timedelta(seconds=150))
    run(client)
    run(client)
    coordinator = d["assignments"][1]
    assert coordinator["layer"] == "coordinator"
    assert sent_to(client)[-1] == ("voice", coordinator["phone"])


def test_decline_moves_on_at_once(client: TestClient, clock: ManualClock, session: Session) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/decline")
    assert r.status_code == 200 and r.json()["result"] == "declined"
    run(client)
    assert sent_to(client)[-1] == ("voice", d["assignments"][1]["phone"])
    # the declined person's SMS (due at +60 s) is cancelled, never sent
    clock.advance(timedelta(seconds=61))
    run(client)
    assert ("sms", BRAM) not in sent_to(client)
    again = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/decline")
    assert again.json()["result"] == "already"
    late = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert late.status_code == 409


def test_failed_call_sends_the_sms_now_and_a_failed_sms_moves_on(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    [voice, sms] = pages(client, d["reference"])
    failed = CallStatus(
        provider_id=voice["provider_id"],
        status="busy",
        outcome="not_reached",
        duration=None,
        error_code=None,
    )
    with app_state(client).paging.sessions() as s, s.begin():
        answers.call_status(s, voice["id"], failed, clock.now())
    run(client)
    assert sent_to(client) == [("voice", BRAM), ("sms", BRAM)]  # without waiting 60 s
    sms = pages(client, d["reference"])[1]
    undelivered = SmsStatus(
        provider_id=sms["provider_id"],
        status="undelivered",
        outcome="not_reached",
        error_code="30003",
        error_text="uit",
    )
    with app_state(client).paging.sessions() as s, s.begin():
        answers.sms_status(s, sms["id"], undelivered, clock.now())
    run(client)
    # both channels failed: not reached; the policy asks the person on call once more
    assert sent_to(client)[-1] == ("voice", BRAM)
    assert [p["round"] for p in pages(client, d["reference"])][-1] == 1
    types = event_types(session, d["id"])
    assert types.count("page.failed") == 2 and "assignment.unreached" in types


def test_accept_stops_everything_else(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert r.json() == {
        "result": "accepted",
        "reference": d["reference"],
        "paging_state": "accepted",
    }
    clock.advance(timedelta(minutes=10))
    run(client)
    # recorded by the control room, not on a page: the call is ended, the page's SMS
    # never sent; the SMS that goes is the confirmation, with whom to call
    assert sent_to(client) == [("voice", BRAM), ("sms", BRAM)]
    confirmation = console(client).records[1].body or ""
    assert "ACC-01" in confirmation and "06 12345678" in confirmation and "/w/" in confirmation
    assert [(p["kind"], p["status"]) for p in pages(client, d["reference"])] == [
        ("page", "cancelled"),
        ("page", "cancelled"),
        ("confirmation", "sent"),
    ]
    assert console(client).hangups == [console(client).records[0].provider_id]
    stored = dispatch(client, d["reference"])
    assert stored["paging_state"] == "accepted"
    assert stored["assignments"][0]["answered_via"] == "api"
    assert "dispatch.accepted" in event_types(session, d["id"])


def test_consult_first_then_the_worker(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T17:00")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T17:00")
    assert d["paging_state"] == "consult"
    run(client)
    assert sent_to(client) == [("voice", GIJS)]
    consult = next(a for a in d["assignments"] if a["purpose"] == "consult")
    client.post(f"{INCIDENTS}/{d['reference']}/assignments/{consult['position']}/accept")
    run(client)
    worker = next(a for a in d["assignments"] if a["purpose"] == "respond")
    assert sent_to(client)[-1] == ("voice", worker["phone"])
    types = event_types(session, d["id"])
    assert types.index("consult.agreed") < len(types) - 1
    assert dispatch(client, d["reference"])["paging_state"] == "respond"


def test_two_people_until_two_accept(client: TestClient, clock: ManualClock) -> None:
    at(clock, "2026-11-21T12:00")  # CIT Den Haag: ilias and kevin, otto as backup
    d = post(client, basisteam="laak", reported_at="2026-11-21T12:00")
    assert d["staff_needed"] == 2
    run(client)
    first_two = {to for _, to in sent_to(client)}
    assert len(first_two) == 2
    client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert dispatch(client, d["reference"])["paging_state"] == "respond"
    client.post(f"{INCIDENTS}/{d['reference']}/assignments/2/decline")
    run(client)
    assert dispatch(client, d["reference"])["paging_state"] == "respond"
    third = sent_to(client)[-1][1]
    assert third not in first_two
    nxt = next(a for a in dispatch(client, d["reference"])["assignments"] if a["phone"] == third)
    client.post(f"{INCIDENTS}/{d['reference']}/assignments/{nxt['position']}/accept")
    assert dispatch(client, d["reference"])["paging_state"] == "accepted"


def test_everybody_tried_ends_no_responder_with_the_expectation(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    for a in d["assignments"]:
        run(client)
        r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/{a['position']}/decline")
        assert r.status_code == 200, (a, r.text)
    stored = dispatch(client, d["reference"])
    assert stored["paging_state"] == "no_responder"
    [event] = session.scalars(
        select(Event).where(Event.dispatch_id == d["id"], Event.type == "dispatch.no_responder")
    ).all()
    assert event.payload["expectation"] == d["plan"]["expectation"]
    assert event.payload["reason"] == "paging_no_responder" and event.payload["text"]
    # a decline stands: the same person cannot turn it into a yes afterwards
    late = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert late.status_code == 409


def test_a_late_yes_after_everybody_was_tried_is_taken(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    for _ in range(12):  # nobody answers: every attempt runs out
        run(client)
        clock.advance(timedelta(seconds=60))
    assert dispatch(client, d["reference"])["paging_state"] == "no_responder"
    r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/1/accept")
    assert r.status_code == 200 and r.json()["paging_state"] == "accepted"
    [late] = session.scalars(
        select(Event).where(Event.dispatch_id == d["id"], Event.type == "assignment.accepted")
    ).all()
    assert late.payload["late"] is True

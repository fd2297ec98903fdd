"""The SMS confirming an accept is delivered like a page and never takes part in
escalation: the next accept does not cancel it, its failure moves nothing on, its
deadline is nobody's deadline, and it is sent once however often the sweep runs.

Through the database with the console provider and a moved clock; the same through
the Twilio fake (spoken number, SMS reply, a sender dying) is in
tests/api/test_paging_twilio.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from core.clock import ManualClock
from dispatch import answers, paging
from notifications.webhooks import SmsStatus
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import (
    INCIDENTS,
    app_state,
    at,
    console,
    dispatch,
    event_types,
    pages,
    post,
    run,
)


def two_person_call_out(client: TestClient, clock: ManualClock) -> dict[str, Any]:
    """CIT Den Haag on a Saturday: two of ilias, kevin and otto (backup) are needed."""
    at(clock, "2026-11-21T12:00")
    d = post(client, basisteam="laak", reported_at="2026-11-21T12:00")
    assert d["staff_needed"] == 2
    run(client)
    return d


def accept(client: TestClient, d: dict[str, Any], position: int) -> None:
    r = client.post(f"{INCIDENTS}/{d['reference']}/assignments/{position}/accept")
    assert r.status_code == 200 and r.json()["result"] == "accepted", r.text


def confirmations(client: TestClient, d: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in pages(client, d["reference"]) if p["kind"] == "confirmation"]


def test_the_accept_that_completes_the_call_out_does_not_cancel_the_first_confirmation(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = two_person_call_out(client, clock)
    first, second = d["assignments"][0]["phone"], d["assignments"][1]["phone"]
    accept(client, d, 1)
    accept(client, d, 2)  # before the first confirmation went out
    assert dispatch(client, d["reference"])["paging_state"] == "accepted"
    waiting = confirmations(client, d)
    assert [(p["assignment"], p["status"]) for p in waiting] == [(1, "scheduled"), (2, "scheduled")]
    run(client)
    run(client)
    sms = [(r.to, r.body or "") for r in console(client).records if r.channel == "sms"]
    assert [to for to, _ in sms] == [first, second]
    assert all("/w/" in body and "ACC-01" in body for _, body in sms)
    assert [p["status"] for p in confirmations(client, d)] == ["sent", "sent"]
    assert event_types(session, d["id"]).count("confirmation.sent") == 2
    # a confirmation still open past its row's deadline is no attempt to close
    clock.advance(timedelta(hours=13))
    with app_state(client).paging.sessions() as s:
        assert d["id"] not in paging.overdue_dispatches(s, clock.now())
    run(client)
    assert [p["status"] for p in confirmations(client, d)] == ["sent", "sent"]
    assert len(console(client).records) == 4  # two calls, two confirmations: nothing more


def test_a_failed_confirmation_moves_nothing_on(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = two_person_call_out(client, clock)
    accept(client, d, 1)
    run(client)
    [confirmation] = confirmations(client, d)
    assert confirmation["status"] == "sent"
    before = [p for p in pages(client, d["reference"]) if p["kind"] == "page"]
    undelivered = SmsStatus(
        provider_id=confirmation["provider_id"],
        status="undelivered",
        outcome="not_reached",
        error_code="30003",
        error_text="uit",
    )
    with app_state(client).paging.sessions() as s, s.begin():
        wake = answers.sms_status(s, confirmation["id"], undelivered, clock.now())
    assert not wake
    run(client)
    [failed] = confirmations(client, d)
    assert failed["status"] == "failed" and "30003" in failed["error"]
    # the second worker is still being paged as before; the first still accepted
    assert [p for p in pages(client, d["reference"]) if p["kind"] == "page"] == before
    stored = dispatch(client, d["reference"])
    assert stored["paging_state"] == "respond"
    assert [a["status"] for a in stored["assignments"][:2]] == ["accepted", "paging"]
    types = event_types(session, d["id"])
    assert types.count("confirmation.failed") == 1
    assert "assignment.unreached" not in types and "page.failed" not in types


def test_a_consult_agreeing_gets_no_confirmation(client: TestClient, clock: ManualClock) -> None:
    at(clock, "2026-03-10T17:00")  # the gedragswetenschapper agrees before VT goes out
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T17:00")
    run(client)
    consult = next(a for a in d["assignments"] if a["purpose"] == "consult")
    accept(client, d, consult["position"])
    run(client)
    assert confirmations(client, d) == []
    assert [r.channel for r in console(client).records] == ["voice", "voice"]

"""Faults with real processes and real time: ``kill -9`` of workers inside Twilio
requests, a Redis ``FLUSHDB`` in the middle of an escalation, the API killed and
restarted (beside RQ workers, and as the embedded delivery loop).

Each test runs the ``samenop`` commands as they are deployed (fake Twilio, API,
workers) over a PostgreSQL database and a Redis database of its own, and checks the
promises of DESIGN.md from the outside: every page reached its phone exactly once (as
the fake phones saw it), every deadline fired (the attempt expired and the next person
was called), and the database ends consistent (no page left ``sending``, one
``page.sent`` per page, one ``attempt.expired``, at its deadline).

The team is given a short policy so one escalation step takes seconds: call the person
on call, SMS them 2 s later, move on 15 s after that (the shortest wait allowed).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rq.registry import ScheduledJobRegistry

from oncall.schemas import (
    ChannelStep,
    ConfigSet,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
)
from tests.faults.procs import Databases, RedisDb, Stack, require_services, wait_for

BRAM = "+31612340102"  # vt-gv on call, Tue 2026-03-10 16:59 (office hours)
SMS_AFTER = 2  # seconds after the call
WAIT = 15  # seconds after the SMS until the attempt runs out
DEADLINE = SMS_AFTER + WAIT
REDRIVE_WITHIN = 10.0  # seconds after the lease ran out
POLICY = EscalationPolicy(
    steps=(
        EscalationStep(
            target=EscalationTarget.ON_CALL,
            channels=(
                ChannelStep(channel="voice", after=0),
                ChannelStep(channel="sms", after=SMS_AFTER),
            ),
            wait=WAIT,
        ),
        EscalationStep(
            target=EscalationTarget.COORDINATOR,
            channels=(ChannelStep(channel="voice", after=0),),
            wait=WAIT,
        ),
        EscalationStep(
            target=EscalationTarget.TEAM_LINE,
            channels=(ChannelStep(channel="voice", after=0),),
            wait=WAIT,
        ),
    )
)


def incident() -> dict[str, Any]:
    return {
        "source": "fault",
        "external_id": f"fault-{uuid.uuid4().hex}",
        "reported_at": "2026-03-10T16:59",
        "case_type": "HG",
        "basisteam": "gooi-en-vechtstreek-noord",
        "persons": [],
        "police_unit": "u",
        "police_callback": "0612345678",
    }


@pytest.fixture(scope="module")
def databases(example_config: ConfigSet) -> Iterator[Databases]:
    """The shipped regions, with the short policy for vt-gv, in a template database."""
    require_services()
    teams = tuple(
        t.model_copy(update={"escalation": POLICY}) if t.id == "vt-gv" else t
        for t in example_config.teams
    )
    dbs = Databases(example_config.model_copy(update={"teams": teams}))
    try:
        yield dbs
    finally:
        dbs.close()


@pytest.fixture
def stack(request: pytest.FixtureRequest, databases: Databases, tmp_path: Path) -> Iterator[Stack]:
    """A fresh copy of the database, a Redis database and queue of its own, ports; the
    processes the test starts are killed afterwards and their logs printed if it failed."""
    failed_before = request.session.testsfailed
    with contextlib.ExitStack() as cleanup:
        url = databases.copy()
        cleanup.callback(databases.drop, url)
        redis_db = RedisDb()
        cleanup.callback(redis_db.release)
        s = Stack(tmp_path, url, redis_db)
        cleanup.callback(lambda: s.close(failed=request.session.testsfailed > failed_before))
        yield s


# --- helpers ----------------------------------------------------------------------


def up(stack: Stack, *, delivery: str = "rq", workers: int = 1) -> list[Any]:
    """Start the fake, the API and ``workers`` workers at once; wait until all serve."""
    fake = stack.start_fake()
    api = stack.start_api(delivery)
    procs = [stack.start_worker() for _ in range(workers)]
    stack.wait_fake(fake)
    stack.wait_api(api)
    if procs:
        stack.wait_workers(*procs)
    return [api, *procs]


def coordinator_phone(dispatch: dict[str, Any]) -> str:
    [coordinator] = [a for a in dispatch["assignments"] if a["layer"] == "coordinator"]
    return str(coordinator["phone"])


def page_of(stack: Stack, dispatch_id: str, channel: str, phone: str = BRAM) -> Any:
    [page] = [p for p in stack.pages(dispatch_id) if p.channel == channel and p.phone == phone]
    return page


def sent_event(stack: Stack, dispatch_id: str, page_id: str) -> dict[str, Any]:
    found = [
        e.payload
        for e in stack.events(dispatch_id)
        if e.type == "page.sent" and e.payload["page"] == page_id
    ]
    return found[0] if found else {}


def wait_redriven(stack: Stack, dispatch_id: str, page_id: str, lease_until: datetime) -> Any:
    """The stale claim is picked up and recorded within REDRIVE_WITHIN of its lease."""
    budget = (lease_until - datetime.now(UTC)).total_seconds() + REDRIVE_WITHIN
    event = wait_for(
        "the page to be re-driven after its lease",
        lambda: sent_event(stack, dispatch_id, page_id),
        max(budget, 1.0),
    )
    page = next(p for p in stack.pages(dispatch_id) if p.id == page_id)
    assert page.status != "sending" and page.sent_at is not None
    [recorded] = [
        e.created_at
        for e in stack.events(dispatch_id)
        if e.type == "page.sent" and e.payload["page"] == page_id
    ]
    assert recorded >= lease_until  # not before the lease ran out
    assert recorded - lease_until < timedelta(seconds=REDRIVE_WITHIN)
    if event.get("recovered"):
        # found at the provider: its wait counts from when the provider took it
        assert page.sent_at <= recorded
    else:
        assert page.sent_at >= lease_until
    return event


def wait_called(stack: Stack, dispatch: dict[str, Any]) -> None:
    """The call to the person on call is placed and recorded as sent."""
    wait_for("the call", lambda: stack.calls(BRAM), 10)
    voice = page_of(stack, dispatch["id"], "voice")
    wait_for("the call recorded", lambda: sent_event(stack, dispatch["id"], voice.id), 5)


def finish_first_step(stack: Stack, dispatch: dict[str, Any]) -> str:
    """Wait for the SMS and for the deadline: the attempt expires, the coordinator rings."""
    coordinator = coordinator_phone(dispatch)
    wait_for("the SMS to the person on call", lambda: stack.sms(BRAM), 15)
    wait_for(
        "the SMS recorded as sent",
        lambda: page_of(stack, dispatch["id"], "sms").sent_at is not None,
        10,
    )
    # The wait for an answer runs from when each page went out: an SMS a crash held
    # back moves the attempt's deadline (stored on its pages) on by as much.
    deadline = page_of(stack, dispatch["id"], "sms").deadline_at
    started = datetime.fromisoformat(dispatch["received_at"])
    assert deadline >= started + timedelta(seconds=DEADLINE)
    left = (deadline - datetime.now(UTC)).total_seconds()
    wait_for("the deadline: a call to the coordinator", lambda: stack.calls(coordinator), left + 8)
    wait_for(
        "the coordinator's page recorded as sent",
        lambda: stack.event_types(dispatch["id"]).count("page.sent") >= 3,
        10,
    )
    time.sleep(0.5)  # room for a duplicate to show up
    return coordinator


def assert_once_each(stack: Stack, dispatch: dict[str, Any], coordinator: str) -> None:
    """The phones saw one call and one SMS for Bram, one call for the coordinator;
    the database agrees, and nothing is left half-sent."""
    assert stack.received() == {BRAM: (1, 1), coordinator: (1, 0)}
    pages = stack.pages(dispatch["id"])
    assert [p.status for p in pages if p.status == "sending"] == []
    assert sorted((p.phone, p.channel) for p in pages) == sorted(
        [(BRAM, "voice"), (BRAM, "sms"), (coordinator, "voice")]
    )
    events = stack.events(dispatch["id"])
    kinds = Counter(e.type for e in events)
    assert kinds["attempt.started"] == 2
    assert kinds["attempt.expired"] == 1
    sent = [e.payload["page"] for e in events if e.type == "page.sent"]
    assert sorted(sent) == sorted(p.id for p in pages)  # each page sent once
    by_page = {p.id: p.provider_id for p in pages}
    fake_ids = {c["sid"] for c in stack.calls()} | {m["sid"] for m in stack.sms()}
    assert set(by_page.values()) == fake_ids  # the ids we stored are what Twilio made
    first = [p for p in pages if p.phone == BRAM]
    assert {p.status for p in first} == {"expired"}
    [expiry] = [e for e in events if e.type == "attempt.expired"]
    deadline = first[0].deadline_at
    assert deadline <= expiry.created_at < deadline + timedelta(seconds=3)  # on time
    sms = next(p for p in first if p.channel == "sms")
    assert sms.sent_at is not None and sms.sent_at >= sms.due_at  # never early


# --- 1. kill -9 of workers inside the Twilio request --------------------------------


@pytest.mark.postgres
def test_workers_killed_inside_twilio_requests_page_each_phone_once(stack: Stack) -> None:
    """Two crash points in one escalation, each picked up when its lease runs out:
    Twilio took the call before its worker died (found with ``find_sent``, not placed
    again); the SMS request died with the workers before Twilio took it (sent once)."""
    up(stack, workers=2)
    stack.delay_creates(60)  # Twilio places the call at once; its answer is late
    dispatch = stack.post_incident(incident())
    wait_for("the call to be placed", lambda: stack.calls(BRAM), 10)
    wait_for("the answer to be held", lambda: stack.fake_state()["held"] == 1, 5)
    victim = wait_for("the worker inside the request", stack.busy_worker, 5)
    victim.kill()  # the one RQ says runs the job; the other worker lives on
    wait_for("the fake to see it go", lambda: stack.fake_state()["held"] == 0, 5)
    stack.delay_creates(60, before=True)  # the next request, the SMS, hangs before Twilio
    stack.start_worker()

    wait_for("the SMS request to reach the fake", lambda: stack.fake_state()["held"] == 1, 10)
    # A sweeper thread may be the sender (RQ cannot tell): kill every worker.
    for worker in stack.live_workers():
        worker.kill()
    wait_for("the fake to drop the SMS", lambda: stack.fake_state()["held"] == 0, 5)
    assert stack.sms() == []  # Twilio never took it
    stack.wait_workers(stack.start_worker())

    voice = page_of(stack, dispatch["id"], "voice")
    sms = page_of(stack, dispatch["id"], "sms")
    assert voice.status == sms.status == "sending"
    assert voice.lease_until is not None and sms.lease_until is not None
    event = wait_redriven(stack, dispatch["id"], voice.id, voice.lease_until)
    assert event["recovered"] is True  # found with find_sent, not placed again
    [call] = stack.calls(BRAM)
    assert event["provider_id"] == call["sid"]
    event = wait_redriven(stack, dispatch["id"], sms.id, sms.lease_until)
    assert "recovered" not in event  # find_sent found nothing, so it was sent now
    [message] = stack.sms(BRAM)
    assert event["provider_id"] == message["sid"]

    coordinator = finish_first_step(stack, dispatch)
    assert_once_each(stack, dispatch, coordinator)


# --- 2. Redis flushed ---------------------------------------------------------------


@pytest.mark.postgres
def test_redis_flushed_mid_escalation_loses_neither_the_sms_nor_the_deadline(
    stack: Stack,
) -> None:
    api, worker = up(stack)
    dispatch = stack.post_incident(incident())
    wait_called(stack, dispatch)
    scheduled = ScheduledJobRegistry(queue=stack.queue())
    waiting = scheduled.get_job_ids()
    assert stack.sms(BRAM) == []
    assert any("-page-" in j for j in waiting)  # the SMS (deadlines are the sweeper's)

    stack.redis_db.flush()  # the SMS was only booked in Redis
    assert ScheduledJobRegistry(queue=stack.queue()).get_job_ids() == []

    coordinator = finish_first_step(stack, dispatch)
    assert worker.alive() and api.alive()
    assert_once_each(stack, dispatch, coordinator)


# --- 3. the API restarted -------------------------------------------------------------


@pytest.mark.postgres
def test_api_killed_and_restarted_while_workers_page(stack: Stack) -> None:
    api, _worker = up(stack)
    body = incident()
    dispatch = stack.post_incident(body)
    wait_called(stack, dispatch)
    api.kill()
    # The SMS does not need the API: the worker sends it while the API is down.
    wait_for("the SMS while the API is down", lambda: stack.sms(BRAM), 10)
    stack.wait_api(stack.start_api())
    # The police feed retries after the outage: the same dispatch, nobody paged again.
    again = stack.post_incident(body, expect=200)
    assert again["id"] == dispatch["id"]

    coordinator = finish_first_step(stack, dispatch)
    assert_once_each(stack, dispatch, coordinator)


@pytest.mark.postgres
def test_embedded_api_killed_twice_mid_escalation(stack: Stack) -> None:
    """``SAMENOP_DELIVERY=inline``: the API process is the delivery loop, no worker."""
    fake = stack.start_fake()
    api = stack.start_api("inline")
    stack.wait_fake(fake)
    stack.wait_api(api)
    dispatch = stack.post_incident(incident())
    wait_called(stack, dispatch)

    # Down while the SMS falls due: nobody sends it, the restarted loop does.
    api.kill()
    due = datetime.fromisoformat(dispatch["received_at"]) + timedelta(seconds=SMS_AFTER)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.3)
    assert stack.sms() == []
    stack.delay_creates(60)  # Twilio takes the SMS; its answer is late
    api = stack.start_api("inline")
    stack.wait_api(api)
    wait_for("the SMS to be taken", lambda: stack.sms(BRAM), 10)
    wait_for("the answer to be held", lambda: stack.fake_state()["held"] == 1, 5)

    # Twilio's delivery receipt overtakes its late answer and moves the page on; then
    # the API dies inside the request, before it recorded the send. After the restart
    # the lease runs out and the loop records the SMS the receipt named: not sent again.
    wait_for(
        "the delivery receipt to land",
        lambda: page_of(stack, dispatch["id"], "sms").status == "delivered",
        5,
    )
    api.kill()
    sms_page = page_of(stack, dispatch["id"], "sms")
    assert sms_page.sent_at is None and sms_page.lease_until is not None
    api = stack.start_api("inline")
    stack.wait_api(api)
    event = wait_redriven(stack, dispatch["id"], sms_page.id, sms_page.lease_until)
    assert event["recovered"] is True
    [sms] = stack.sms(BRAM)
    assert event["provider_id"] == sms["sid"]

    coordinator = finish_first_step(stack, dispatch)
    assert_once_each(stack, dispatch, coordinator)


# --- 4. the confirmation after an accept --------------------------------------------


@pytest.mark.postgres
def test_worker_killed_inside_the_confirmation_request_sends_it_once(stack: Stack) -> None:
    """The control room records the accept; Twilio takes the confirmation SMS, then every
    worker dies before the send is recorded. A new worker picks it up when the lease
    runs out and records the SMS Twilio has (by its receipt or ``find_sent``): the
    phone sees one confirmation, and escalation carries on as if nothing happened."""
    up(stack)
    dispatch = stack.post_incident(incident())
    wait_for("the call", lambda: stack.calls(BRAM), 10)  # well before the SMS is due
    stack.delay_creates(60)  # Twilio takes the next create at once; its answer is late
    r = stack.http.post(f"/api/v1/incidents/{dispatch['reference']}/assignments/1/accept")
    assert r.status_code == 200 and r.json()["paging_state"] == "accepted", r.text
    wait_for("the confirmation request to be held", lambda: stack.fake_state()["held"] == 1, 10)
    for worker in stack.live_workers():  # the RQ job or the sweeper: both die
        worker.kill()
    wait_for("the fake to see it go", lambda: stack.fake_state()["held"] == 0, 5)
    [taken] = stack.sms(BRAM)
    assert "je hebt geaccepteerd" in taken["body"] and "06 12345678" in taken["body"]
    assert "/w/" in taken["body"]
    [confirmation] = [p for p in stack.pages(dispatch["id"]) if p.kind == "confirmation"]
    assert confirmation.sent_at is None and confirmation.lease_until is not None
    stack.wait_workers(stack.start_worker())

    def recorded() -> list[dict[str, Any]]:
        events = stack.events(dispatch["id"])
        return [e.payload for e in events if e.type == "confirmation.sent"]

    budget = (confirmation.lease_until - datetime.now(UTC)).total_seconds() + REDRIVE_WITHIN
    [event] = wait_for("the confirmation to be recorded", recorded, max(budget, 1.0))
    assert event["recovered"] is True and event["provider_id"] == taken["sid"]
    time.sleep(1.0)  # room for a duplicate to show up
    assert [m["sid"] for m in stack.sms(BRAM)] == [taken["sid"]]  # the phone saw one
    [confirmation] = [p for p in stack.pages(dispatch["id"]) if p.kind == "confirmation"]
    assert confirmation.status in ("sent", "delivered") and confirmation.provider_id == taken["sid"]
    kinds = Counter(e.type for e in stack.events(dispatch["id"]))
    assert kinds["confirmation.sent"] == 1 and kinds["attempt.started"] == 1
    assert kinds["attempt.expired"] == 0 and kinds["dispatch.accepted"] == 1

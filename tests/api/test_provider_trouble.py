"""Paging under provider trouble, end to end through the real Twilio SDK and the fake,
on SQLite and PostgreSQL: a slow create, callbacks for another call, an SMS answer
while the call rings, a burst of replies against the rate limit, an outage.

Each test ends with the fake's check that nothing went out that the test did not
expect (``stack``), so a phone rung twice fails the test.
"""

from __future__ import annotations

import concurrent.futures
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from core.db import make_session_factory
from dispatch import live as live_summaries
from notifications.provider import CallRequest
from oncall.schemas import (
    ChannelStep,
    ConfigSet,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
)
from tests.api.live import Live, start_live
from tests.api.test_paging_twilio import BRAM, expect_confirmation, office_incident
from tests.conftest import BACKENDS

TIMEOUT = 1.0  # the provider's HTTP timeout in these tests (5 s in production)


SMS_AFTER, WAIT = 10, 15  # a short step, so a 30 s outage outlasts a whole attempt
POLICY = EscalationPolicy(
    steps=(
        EscalationStep(
            target=EscalationTarget.ON_CALL,
            channels=(
                ChannelStep(channel="voice", after=0),
                ChannelStep(channel="sms", after=SMS_AFTER),
            ),
            wait=WAIT,
            repeat=1,
        ),
        EscalationStep(target=EscalationTarget.COORDINATOR, wait=WAIT),
        EscalationStep(
            target=EscalationTarget.TEAM_LINE,
            channels=(ChannelStep(channel="voice", after=0),),
            wait=WAIT,
        ),
    )
)


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_config: ConfigSet,
) -> Iterator[Live]:
    teams = tuple(
        t.model_copy(update={"escalation": POLICY}) if t.id == "vt-gv" else t
        for t in example_config.teams
    )
    yield from start_live(
        request.param,
        tmp_path_factory.mktemp("trouble"),
        example_config.model_copy(update={"teams": teams}),
        provider_timeout_seconds=TIMEOUT,
    )


@pytest.fixture
def stack(live: Live) -> Iterator[Live]:
    live.fake.reset()
    live.fake.outbox.lose(None)
    live.fake.rest_outage(None)
    live.fake.delay_creates(None)
    live.clean()
    live.at("2026-03-10T16:59")
    yield live
    live.fake.wait_idle()
    live.fake.outbox.lose(None)
    live.fake.rest_outage(None)
    live.twilio.assert_nothing_unexpected()


def later(stack: Live, seconds: float) -> None:
    stack.clock.advance(timedelta(seconds=seconds))
    stack.run()


def callback(stack: Live, path: str, params: dict[str, str]) -> httpx.Response:
    """A webhook exactly as Twilio would sign it."""
    url = f"{stack.url}{path}"
    form = {"AccountSid": stack.twilio.account_sid, **params}
    signature = RequestValidator(stack.twilio.auth_token).compute_signature(url, form)
    with httpx.Client(timeout=10) as twilio:
        return twilio.post(url, data=form, headers={"X-Twilio-Signature": signature})


def orphan_call(stack: Live, to: str) -> str:
    """A call to ``to`` that no page of ours owns (its callbacks go nowhere)."""
    sent = stack.twilio.provider().place_call(CallRequest("other", to, "http://127.0.0.1:9"))
    stack.twilio.expect_call(to)
    return sent.provider_id


# --- 1. a slow provider rings a phone once -----------------------------------------


def test_a_create_answered_too_late_is_recorded_from_its_callback_not_sent_again(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.fake.delay_creates(TIMEOUT + 0.6)  # Twilio takes the call; its answer is late
    stack.run()  # the SDK gives up: the send is uncertain
    voice = stack.pages(d["reference"])[0]
    assert voice["status"] == "scheduled" and "retrying" in voice["error"]
    call = stack.twilio.expect_call(BRAM)
    # Bram picks up meanwhile: the "answered" callback names the page's call, so it is
    # bound before anyone asks, and Bram hears the page
    stack.fake.answer(call.sid)
    stack.fake.wait_idle()
    assert stack.pages(d["reference"])[0]["provider_id"] == call.sid
    assert "Druk 1" in " ".join(stack.fake.call(call.sid).spoken())
    later(stack, 3)
    voice = stack.pages(d["reference"])[0]
    assert (voice["status"], voice["provider_id"], voice["provider"]) == (
        "sent",
        call.sid,
        "twilio",
    )
    assert len(stack.fake.calls(BRAM)) == 1
    sent = [e.payload for e in stack.events(d["id"]) if e.type == "page.sent"]
    assert sent[0]["recovered"] is True
    # a cancel ends the one call, which Bram is listening to
    r = stack.http.post(f"/api/v1/incidents/{d['id']}/actions", json={"action": "cancel"})
    assert r.status_code == 200, r.text
    stack.run()
    assert stack.fake.call(call.sid).ended


def test_a_person_who_answers_a_call_whose_create_was_lost_is_heard(stack: Live) -> None:
    d = office_incident(stack)
    stack.fake.delay_creates(TIMEOUT + 0.6)
    stack.run()
    call = stack.twilio.expect_call(BRAM)
    stack.fake.answer(call.sid)
    stack.fake.press(call.sid, "1")  # before the service even knows the call went out
    stack.settle()
    assert stack.dispatch(d["reference"])["paging_state"] == "accepted"
    later(stack, 3)  # the look-up finds the page answered: nothing is sent again
    assert len(stack.fake.calls(BRAM)) == 1
    expect_confirmation(stack, BRAM, d, 1)


def test_a_create_answered_too_late_without_callbacks_is_found_by_asking_twilio(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.fake.outbox.lose({"call-status"})
    stack.fake.delay_creates(TIMEOUT + 0.6)
    stack.run()
    call = stack.twilio.expect_call(BRAM)
    stack.fake.wait_idle()
    assert stack.pages(d["reference"])[0]["provider_id"] is None  # nothing named it
    later(stack, 1)
    assert len(stack.fake.calls(BRAM)) == 1  # not before the look-up is due
    later(stack, 2)  # looked up: Twilio has the call, so it is not placed again
    voice = stack.pages(d["reference"])[0]
    assert (voice["status"], voice["provider_id"]) == ("sent", call.sid)
    assert len(stack.fake.calls(BRAM)) == 1
    # when it rings out, the page fails as it should and the SMS goes now
    stack.fake.outbox.lose(None)
    stack.fake.ring_out(call.sid)
    stack.settle()
    stack.twilio.expect_sms(BRAM, contains=d["reference"])


def test_a_create_that_never_reached_twilio_is_sent_once_after_the_look_up(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.fake.delay_creates(TIMEOUT + 0.6, before=True)  # dropped: Twilio never took it
    stack.run()
    stack.fake.wait_idle()
    assert stack.fake.calls(BRAM) == []
    later(stack, 3)
    call = stack.twilio.expect_call(BRAM)
    assert stack.pages(d["reference"])[0]["provider_id"] == call.sid
    assert len(stack.fake.calls(BRAM)) == 1


def test_an_uncertain_send_twilio_cannot_be_asked_about_is_not_sent_again_blindly(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.fake.outbox.lose({"call-status"})
    stack.fake.delay_creates(TIMEOUT + 0.6)
    stack.run()
    call = stack.twilio.expect_call(BRAM)
    stack.fake.rest_outage(503)  # and now Twilio cannot be asked what went out
    for _ in range(4):
        later(stack, 2.5)
    assert len(stack.fake.calls(BRAM)) == 1
    stack.fake.rest_outage(None)
    later(stack, 2.5)
    assert stack.pages(d["reference"])[0]["provider_id"] == call.sid
    assert len(stack.fake.calls(BRAM)) == 1
    stack.twilio.expect_sms(BRAM, contains=d["reference"])  # the attempt's SMS, once


# --- 2. callbacks belong to their call ----------------------------------------------


def test_a_callback_for_another_call_is_recorded_and_ignored_and_the_orphan_ended(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.run()
    real = stack.twilio.expect_call(BRAM)
    page = stack.pages(d["reference"])[0]["id"]
    other = orphan_call(stack, BRAM)
    path = f"/webhooks/twilio/call-status/{page}"
    # the orphan rings out: its no-answer must not fail the page or bring the SMS forward
    r = callback(stack, path, {"CallSid": other, "CallStatus": "no-answer", "To": BRAM})
    assert r.status_code == 204
    # a voicemail on the orphan must not fail the page either
    amd = callback(
        stack,
        f"/webhooks/twilio/amd/{page}",
        {"CallSid": other, "AnsweredBy": "machine_end_beep"},
    )
    assert amd.status_code == 204
    stack.run()
    stack.fake.wait_idle()
    voice = stack.pages(d["reference"])[0]
    assert (voice["status"], voice["provider_id"]) == ("sent", real.sid)
    assert stack.fake.messages(BRAM) == []  # the SMS waits for its minute
    assert not stack.fake.call(real.sid).ended  # the real call still rings
    assert stack.fake.call(other).ended  # the orphan that might still ring was ended
    foreign = [e.payload for e in stack.events(d["id"]) if e.type == "page.foreign_callback"]
    assert [(f["provider_id"], f["status"]) for f in foreign] == [
        (other, "no-answer"),
        (other, "machine"),
    ]
    # the real call is still answered and accepted as ever
    stack.fake.answer(real.sid)
    stack.fake.press(real.sid, "1")
    stack.settle()
    assert stack.dispatch(d["reference"])["paging_state"] == "accepted"
    expect_confirmation(stack, BRAM, d, 1)


def test_a_ringing_callback_for_an_unknown_call_ends_nothing_real_and_fails_nothing(
    stack: Live, caplog: pytest.LogCaptureFixture
) -> None:
    d = office_incident(stack)
    stack.run()
    real = stack.twilio.expect_call(BRAM)
    page = stack.pages(d["reference"])[0]["id"]
    unknown = "CA" + uuid.uuid4().hex  # Twilio has no such call: its hang-up is a 404
    r = callback(
        stack, f"/webhooks/twilio/call-status/{page}", {"CallSid": unknown, "CallStatus": "ringing"}
    )
    assert r.status_code == 204
    with caplog.at_level(logging.WARNING, logger="samenop.driver"):
        stack.run()  # the hang-up of the unknown call is tried, and its 404 is no error
    assert not [r for r in caplog.records if "could not end call" in r.getMessage()]
    assert not stack.fake.call(real.sid).ended
    assert stack.pages(d["reference"])[0]["status"] == "sent"


# --- 3. an answer by any channel ends the call ----------------------------------------


@pytest.mark.parametrize("text", ["JA", "NEE", "ja {code}", "2 {code}"])
def test_an_sms_answer_ends_the_call_that_still_rings(stack: Live, text: str) -> None:
    d = office_incident(stack)
    stack.run()
    call = stack.twilio.expect_call(BRAM)  # nobody picks up: it rings on
    later(stack, SMS_AFTER)  # the SMS of the same attempt goes out
    stack.twilio.expect_sms(BRAM, contains=d["reference"])
    assert not stack.fake.call(call.sid).ended
    code = d["reference"].removeprefix("SO-")
    [reply] = stack.fake.reply(BRAM, text.format(code=code))
    stack.run()
    stack.fake.wait_idle()
    assert stack.fake.call(call.sid).ended, "the phone rang on after the worker answered"
    voice, sms = stack.pages(d["reference"])[:2]
    accepted = text.upper().startswith("JA")
    assert voice["status"] == "cancelled"
    assert sms["status"] == ("accepted" if accepted else "declined")
    if accepted:
        assert reply.startswith(f"Geaccepteerd: {d['reference']}.")
    else:
        assert reply.startswith("Geweigerd")
        stack.twilio.expect_call(d["assignments"][1]["phone"])  # the next person, at once


def test_an_answer_by_link_ends_the_call_that_still_rings(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    call = stack.twilio.expect_call(BRAM)
    later(stack, SMS_AFTER)
    sms = stack.twilio.expect_sms(BRAM, contains=d["reference"])
    link = next(w for w in sms.body.split() if "/p/" in w)
    with httpx.Client(timeout=10) as phone:
        assert phone.post(link, data={"action": "accept"}).status_code == 200
    stack.run()
    stack.fake.wait_idle()
    assert stack.fake.call(call.sid).ended
    expect_confirmation(stack, BRAM, d, 1)


# --- 4. the rate limit never drops an answer ------------------------------------------


def _reply(stack: Live, body: str) -> str:
    """An inbound SMS from Bram, signed as Twilio signs it, posted by its own client."""
    url = f"{stack.url}/webhooks/twilio/sms"
    form = {
        "AccountSid": stack.twilio.account_sid,
        "MessageSid": "SM" + uuid.uuid4().hex,
        "From": BRAM,
        "To": stack.twilio.from_number,
        "Body": body,
    }
    signature = RequestValidator(stack.twilio.auth_token).compute_signature(url, form)
    with httpx.Client(timeout=30) as twilio:
        r = twilio.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200, r.text
    return r.text


def test_a_burst_of_replies_gets_exactly_the_limit_answered(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    stack.twilio.expect_call(BRAM)
    limit = stack.app_state.settings.sms_replies_per_10min
    burst = limit + 6
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _reply(stack, "hoi?"), range(burst)))
    helped = [a for a in answers if "Niet begrepen" in a]
    too_many = [a for a in answers if "Te veel berichten" in a]
    assert (len(helped), len(too_many)) == (limit, 1), answers
    # a genuine answer for the live page is never dropped, and the call is ended
    answer = _reply(stack, f"ja {d['reference'].removeprefix('SO-')}")
    assert "Geaccepteerd" in answer
    stack.run()
    assert stack.dispatch(d["reference"])["paging_state"] == "accepted"
    kinds = [e.payload.get("kind") for e in stack.events(d["id"]) if e.type == "alarm.raised"]
    assert kinds == ["sms_limited"]


# --- 5. an outage does not burn the escalation ----------------------------------------


def event_types(stack: Live, d: dict[str, Any]) -> list[str]:
    return stack.event_types(d["id"])


def alarm_kinds(stack: Live, d: dict[str, Any]) -> list[str]:
    """The alarms the live summary (dashboard, stream) shows for the dispatch now."""
    with make_session_factory(stack.engine)() as s:
        summary = live_summaries.summaries(s, [d["id"]], stack.clock.now())[d["id"]]
    return [a["kind"] for a in summary["alarms"]]


def test_an_outage_keeps_the_escalation_where_it_stood_and_tells_the_control_room(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.fake.rest_outage(503)
    stack.run()  # the first try fails at once
    for _ in range(9):
        later(stack, 1)
    assert "alarm.raised" not in event_types(stack, d)  # 9 s: not yet
    later(stack, 1.0)  # 10 s of failing sends: the control room phones itself
    [alarm] = [e.payload for e in stack.events(d["id"]) if e.type == "alarm.raised"]
    assert alarm["kind"] == "send_failing"
    assert alarm["message"].startswith("Oproepen lukken niet — bel zelf: ")
    assert "06 12340102" in alarm["message"]  # Bram, on call
    assert "send_failing" in alarm_kinds(stack, d)  # on the dashboard's row
    for _ in range(20):  # 30 s of outage in all; nobody is "not reached" for it
        later(stack, 1)
    types = event_types(stack, d)
    assert "attempt.expired" not in types and "assignment.unreached" not in types
    assert stack.fake.calls() == []
    stack.fake.rest_outage(None)
    later(stack, 5)  # the next try goes through: to Bram, where the escalation stood
    call = stack.twilio.expect_call(BRAM)
    assert "alarm.cleared" in event_types(stack, d)
    assert "send_failing" not in alarm_kinds(stack, d)
    voice = stack.pages(d["reference"])[0]
    assert voice["status"] == "sent"
    # the wait starts now: the call is not ended by a deadline that ran during the outage
    later(stack, 1)
    assert not stack.fake.call(call.sid).ended
    later(stack, SMS_AFTER - 1)  # the SMS of the attempt, its seconds after the call
    stack.twilio.expect_sms(BRAM, contains=d["reference"])
    later(stack, WAIT - 1)
    assert "attempt.expired" not in event_types(stack, d)
    later(stack, 1.5)  # the whole wait has passed since the call went out
    assert event_types(stack, d).count("attempt.expired") == 1
    stack.twilio.expect_call(BRAM)  # the policy asks the person on call once more

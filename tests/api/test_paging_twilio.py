"""End to end through the Twilio fake with the real SDK: a phone rings, a key is pressed,
an SMS is answered, a link is tapped; deadlines pass by the test's clock.

Every test ends with the fake's check that no call or SMS went out that the test did
not expect (the ``stack`` fixture), so a page sent twice fails the test. That includes
the SMS confirming an accept (whom to call, the step page), expected by
``expect_confirmation``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from core.db import make_session_factory
from dispatch import contact, delivery, paging
from dispatch.models import Assignment, Dispatch, Page
from notifications import links
from notifications.fake.records import Message
from notifications.provider import SmsRequest
from oncall.schemas import ConfigSet
from tests.api.live import Live, start_live
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import BACKENDS

BRAM = "+31612340102"  # vt-gv office hours, Tue 2026-03-10 before 17:00
GIJS = "+31612340108"  # gedragswetenschapper on call from 17:00
DAAN = "+31612340104"  # vt-gv-piket on call from Mon 17:00
# The police unit on every test incident and its callback number as people read it
# (tests.api.test_scenarios.incident sends "06 12345678").
UNIT, CALLBACK = "ACC-01", "06 12345678"
CALLBACK_SPOKEN = "0 6, 1 2 3 4, 5 6 7 8"


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_config: ConfigSet,
) -> Iterator[Live]:
    yield from start_live(request.param, tmp_path_factory.mktemp("live"), example_config)


@pytest.fixture
def stack(live: Live) -> Iterator[Live]:
    live.fake.reset()
    live.clean()
    live.at("2026-03-10T16:59")
    yield live
    live.fake.wait_idle()
    live.twilio.assert_nothing_unexpected()


def office_incident(stack: Live, **over: Any) -> dict[str, Any]:
    """Gooi en Vechtstreek, office hours: Bram on call, then the coordinator, the VT line."""
    return stack.post(**incident(basisteam=GV_NOORD, reported_at="2026-03-10T16:59", **over))


def call_to(stack: Live, number: str) -> str:
    return str(stack.twilio.expect_call(number).sid)


def link_in(body: str) -> str:
    match = re.search(r"https?://\S+/p/[A-Za-z0-9_-]+", body)
    assert match, body
    return match.group(0)


def assignment_id(stack: Live, d: dict[str, Any], position: int) -> int:
    with make_session_factory(stack.engine)() as s:
        found = s.scalar(
            select(Assignment.id).where(
                Assignment.dispatch_id == d["id"], Assignment.position == position
            )
        )
    assert found is not None
    return found


def assert_step_page(stack: Live, text: str, d: dict[str, Any], position: int) -> str:
    """``text`` links to the step page of assignment ``position``, and the link works."""
    match = re.search(r"(https?://\S+)/w/([A-Za-z0-9_-]+)$", text)
    assert match, text
    assert match.group(1) == stack.url
    secret = stack.app_state.settings.link_secret
    assert links.verify_worker(match.group(2), stack.clock.now(), secret) == assignment_id(
        stack, d, position
    )
    return match.group(2)


def expect_confirmation(stack: Live, number: str, d: dict[str, Any], position: int) -> Message:
    """The SMS after an accept: the reference, whom to call, and the step page."""
    sms = stack.twilio.expect_sms(number, contains="je hebt geaccepteerd")
    assert sms.body.startswith(f"Samen op in acuut {d['reference']}: je hebt geaccepteerd.")
    assert f"Bel politie {UNIT} op {CALLBACK}." in sms.body
    assert_step_page(stack, sms.body, d, position)
    return sms


# --- voice -----------------------------------------------------------------------


def test_accept_by_key_press(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    sid = call_to(stack, BRAM)
    call = stack.fake.answer(sid)
    stack.fake.wait_idle()
    said = [u for u in stack.fake.call(sid).transcript if u.verb == "Say"]
    spoken = " ".join(u.text for u in said)
    assert "Samen op in acuut" in spoken and "Druk 1" in spoken
    assert said and all(u.attrs.get("language") == "nl-NL" for u in said)
    assert call.gather is not None
    heard = len(stack.fake.call(sid).transcript)
    stack.fake.press(sid, "1")
    stack.settle()
    assert stack.fake.call(sid).status == "completed"
    done = stack.dispatch(d["reference"])
    assert done["paging_state"] == "accepted"
    assert (done["assignments"][0]["status"], done["assignments"][0]["answered_via"]) == (
        "accepted",
        "voice",
    )
    # the call reads the police's callback number, twice, and says an SMS follows
    answer = [u for u in stack.fake.call(sid).transcript[heard:] if u.verb == "Say"]
    assert len(answer) == 4
    assert all(u.attrs.get("language") == "nl-NL" for u in answer)
    spoken = " ".join(u.text for u in answer)
    assert spoken.startswith("Je hebt de oproep geaccepteerd.")
    assert spoken.count(CALLBACK_SPOKEN) == 2 and "sms" in spoken
    expect_confirmation(stack, BRAM, d, 1)
    # the page's SMS that would have followed after a minute is never sent; nothing
    # happens either when the hours the confirmation's row is kept for have passed
    stack.clock.advance(timedelta(hours=13))
    stack.run()
    assert "attempt.expired" not in stack.event_types(d["id"])
    assert [(p["kind"], p["status"]) for p in stack.pages(d["reference"])] == [
        ("page", "accepted"),
        ("page", "cancelled"),
        ("confirmation", "delivered"),
    ]


def test_decline_by_key_press_calls_the_next_person_at_once(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    sid = call_to(stack, BRAM)
    stack.fake.answer(sid)
    stack.fake.press(sid, "2")
    stack.settle()
    coordinator = d["assignments"][1]
    assert coordinator["layer"] == "coordinator"
    call_to(stack, coordinator["phone"])
    assert "assignment.declined" in stack.event_types(d["id"])


def test_repeat_key_reads_the_page_again(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    sid = call_to(stack, BRAM)
    stack.fake.answer(sid)
    stack.fake.wait_idle()
    said = len(stack.fake.call(sid).transcript)
    stack.fake.press(sid, "9")
    stack.fake.wait_idle()
    assert len(stack.fake.call(sid).transcript) > said
    assert stack.fake.call(sid).gather is not None  # still waiting for 1 or 2
    stack.fake.press(sid, "1")
    stack.settle()
    expect_confirmation(stack, BRAM, d, 1)


def test_voicemail_is_not_a_person_the_sms_goes_out_at_once(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    sid = call_to(stack, BRAM)
    stack.fake.voicemail(sid)
    stack.settle()
    assert stack.fake.call(sid).status == "completed"  # we hung up on the machine
    stack.twilio.expect_sms(BRAM, contains=d["reference"])
    [voice, sms] = stack.pages(d["reference"])
    assert voice["status"] == "failed" and "voicemail" in voice["error"]
    assert sms["status"] in ("sent", "delivered")


def test_no_answer_then_sms_then_the_next_person(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    for _ in range(2):  # the default policy asks the person on call twice
        stack.fake.ring_out(call_to(stack, BRAM))
        stack.settle()
        stack.twilio.expect_sms(BRAM, contains=d["reference"])
        stack.clock.advance(timedelta(seconds=150))
        stack.run()
    call_to(stack, d["assignments"][1]["phone"])
    types = stack.event_types(d["id"])
    assert types.count("attempt.expired") == 2


def test_call_completed_without_a_key_is_not_reached(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    sid = call_to(stack, BRAM)
    stack.fake.answer(sid)
    stack.fake.hang_up(sid)
    stack.settle()
    stack.twilio.expect_sms(BRAM)
    assert stack.pages(d["reference"])[0]["error"] == "call ended without a key press"


def test_undelivered_sms_moves_on_without_waiting(stack: Live) -> None:
    d = office_incident(stack)
    stack.fake.sms_fail(BRAM, status="undelivered", error_code="30003")
    try:
        stack.run()
        stack.fake.busy(call_to(stack, BRAM))
        stack.settle()
        stack.twilio.expect_sms(BRAM, contains=d["reference"])
        stack.settle()
        sms = stack.pages(d["reference"])[1]
        assert sms["status"] == "failed" and "30003" in sms["error"]
        # both channels failed: the next attempt starts now, not at the deadline
        call_to(stack, BRAM)
        assert [p["round"] for p in stack.pages(d["reference"])][-1] == 1
    finally:
        stack.fake.sms_ok(BRAM)  # the phone's failure mode outlives the fake's reset


# --- SMS replies -----------------------------------------------------------------


def sms_first(stack: Live) -> dict[str, Any]:
    d = office_incident(stack)
    stack.run()
    stack.fake.busy(call_to(stack, BRAM))
    stack.settle()
    stack.twilio.expect_sms(BRAM, contains=d["reference"])
    return d


def test_sms_reply_accept(stack: Live) -> None:
    d = sms_first(stack)
    [answer] = stack.fake.reply(BRAM, "Ja!")
    # the answer says whom to call and links the step page: no confirmation SMS follows
    assert answer.startswith(f"Geaccepteerd: {d['reference']}. Bel politie {UNIT} op {CALLBACK}.")
    assert_step_page(stack, answer, d, 1)
    stack.run()
    assert stack.dispatch(d["reference"])["paging_state"] == "accepted"
    assert stack.dispatch(d["reference"])["assignments"][0]["answered_via"] == "sms"
    [again] = stack.fake.reply(BRAM, "ja")
    assert again == f"Je hebt oproep {d['reference']} al beantwoord."
    stack.clock.advance(timedelta(minutes=5))
    stack.settle()
    assert [p["kind"] for p in stack.pages(d["reference"])] == ["page", "page"]
    assert "confirmation.sent" not in stack.event_types(d["id"])


def test_sms_reply_decline_moves_on(stack: Live) -> None:
    d = sms_first(stack)
    [answer] = stack.fake.reply(BRAM, "2")
    assert answer.startswith("Geweigerd")
    stack.run()
    call_to(stack, d["assignments"][1]["phone"])


def test_sms_reply_unknown_gets_help_and_changes_nothing(stack: Live) -> None:
    d = sms_first(stack)
    [answer] = stack.fake.reply(BRAM, "misschien later")
    assert "Niet begrepen" in answer
    assert stack.dispatch(d["reference"])["assignments"][0]["status"] == "paging"


def test_sms_reply_ambiguous_asks_for_the_code(stack: Live) -> None:
    first = sms_first(stack)
    second = office_incident(stack)
    stack.run()
    stack.fake.busy(call_to(stack, BRAM))
    stack.settle()
    stack.twilio.expect_sms(BRAM, contains=second["reference"])
    [answer] = stack.fake.reply(BRAM, "JA")
    codes = {first["reference"][3:], second["reference"][3:]}
    assert all(code in answer for code in codes), answer
    assert {stack.dispatch(x["reference"])["paging_state"] for x in (first, second)} == {"respond"}
    [answer] = stack.fake.reply(BRAM, f"ja {second['reference'][3:].lower()}")
    assert answer.startswith(f"Geaccepteerd: {second['reference']}. Bel politie {UNIT}")
    assert_step_page(stack, answer, second, 1)
    stack.run()
    assert stack.dispatch(second["reference"])["paging_state"] == "accepted"
    assert stack.dispatch(first["reference"])["paging_state"] == "respond"
    [answer] = stack.fake.reply(BRAM, "nee")  # one open page left: no code needed
    assert answer.startswith("Geweigerd") and first["reference"] in answer
    stack.run()
    call_to(stack, first["assignments"][1]["phone"])


def test_sms_replies_are_rate_limited_per_number_but_never_an_answer(stack: Live) -> None:
    d = sms_first(stack)
    limit = stack.app_state.settings.sms_replies_per_10min
    for _ in range(limit):
        stack.fake.reply(BRAM, "hoi")
    assert stack.fake.reply(BRAM, "hoi") == ["Te veel berichten; bel de meldkamer."]
    assert stack.fake.reply(BRAM, "help") == []  # silent past the limit
    # the control room sees that the number is being limited ...
    [limited] = [e for e in stack.events(d["id"]) if e.type == "alarm.raised"]
    assert limited.payload["kind"] == "sms_limited"
    assert "06 12340102" in limited.payload["message"]
    # ... and a real answer to the open page still gets through, and is answered
    [answer] = stack.fake.reply(BRAM, "ja")
    assert answer.startswith(f"Geaccepteerd: {d['reference']}.")
    stack.run()
    assert stack.dispatch(d["reference"])["assignments"][0]["status"] == "accepted"
    assert "alarm.cleared" in stack.event_types(d["id"])


# --- link ------------------------------------------------------------------------


def test_link_in_the_sms_opens_a_page_that_accepts(stack: Live) -> None:
    d = sms_first(stack)
    body = stack.twilio.fake.messages(BRAM)[0].body
    url = link_in(body)
    with httpx.Client(timeout=10) as phone:
        page = phone.get(url)
        assert page.status_code == 200
        assert "Accepteren" in page.text and d["reference"] in page.text
        done = phone.post(url, data={"action": "accept"})
        assert done.status_code == 200 and "Geaccepteerd" in done.text
        assert "Accepteren" not in done.text
    stack.run()
    assert stack.dispatch(d["reference"])["assignments"][0]["answered_via"] == "link"
    expect_confirmation(stack, BRAM, d, 1)
    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    with httpx.Client(timeout=10) as phone:
        assert phone.get(forged).status_code == 404
        stack.clock.advance(timedelta(hours=3))
        expired = phone.get(url)
        assert expired.status_code == 410 and "verlopen" in expired.text


# --- the confirmation after an accept ----------------------------------------------


def confirmation_of(stack: Live, d: dict[str, Any]) -> dict[str, Any]:
    [found] = [p for p in stack.pages(d["reference"]) if p["kind"] == "confirmation"]
    return found


def test_a_confirmation_that_does_not_arrive_moves_nothing_on(stack: Live) -> None:
    d = office_incident(stack)
    stack.fake.sms_fail(BRAM, status="undelivered", error_code="30003")
    try:
        stack.run()
        sid = call_to(stack, BRAM)
        stack.fake.answer(sid)
        stack.fake.press(sid, "1")
        stack.settle()
        expect_confirmation(stack, BRAM, d, 1)
        stack.settle()
        failed = confirmation_of(stack, d)
        assert failed["status"] == "failed" and "30003" in failed["error"]
        # the accept stands: nobody else is asked, not now and not at any deadline
        stack.clock.advance(timedelta(minutes=30))
        stack.run()
        done = stack.dispatch(d["reference"])
        assert done["paging_state"] == "accepted"
        assert done["assignments"][0]["status"] == "accepted"
        types = stack.event_types(d["id"])
        assert types.count("confirmation.failed") == 1
        assert "assignment.unreached" not in types and "attempt.expired" not in types
        assert stack.fake.calls(d["assignments"][1]["phone"]) == []
    finally:
        stack.fake.sms_ok(BRAM)


def test_a_confirmation_outlives_the_process_that_accepted_and_the_one_that_sent_it(
    stack: Live,
) -> None:
    d = office_incident(stack)
    stack.run()
    call_to(stack, BRAM)
    ctx = stack.app_state.paging
    # The accept commits, and its process dies before it could arm anything: the
    # confirmation is a row of the same transaction, waiting to be sent.
    with ctx.sessions() as s, s.begin():
        accepted = paging.answer(
            s, assignment_id=assignment_id(stack, d, 1), accept=True, via="api", now=ctx.clock.now()
        )
    assert accepted.result == "accepted"
    waiting = confirmation_of(stack, d)
    assert (waiting["status"], waiting["round"], waiting["channel"]) == ("scheduled", -1, "sms")
    # A sender claims it and Twilio takes the SMS; the sender dies before it records the
    # send, and the delivery receipt is lost on the way.
    with ctx.sessions() as s, s.begin():
        claimed = delivery._claim(s, ctx, waiting["id"], ctx.clock.now())
        row = s.get(Page, waiting["id"])
        assert claimed is not None and row is not None
        claim, message = claimed
        dispatch = s.get(Dispatch, row.dispatch_id)
        assert dispatch is not None
        body = contact.sms(dispatch, ctx.worker_link(row.assignment_id, row.created_at))
        assert message.body == body  # the message the sender built is the confirmation
    ctx.provider.send_sms(
        SmsRequest(
            page_id=claim.page_id,
            to=claim.phone,
            body=body,
            callback_base=f"{stack.url}/lost",
            validity_seconds=claim.validity_seconds,
        )
    )
    sms = expect_confirmation(stack, BRAM, d, 1)
    stack.run()
    assert confirmation_of(stack, d)["status"] == "sending"  # the dead sender's lease holds
    stack.clock.advance(timedelta(seconds=9))
    stack.run()  # the lease ran out: Twilio is asked what went out, by the step-page token
    stack.clock.advance(timedelta(minutes=5))
    stack.run()
    recorded = confirmation_of(stack, d)
    assert (recorded["status"], recorded["provider_id"]) == ("sent", sms.sid)
    sent = [e.payload for e in stack.events(d["id"]) if e.type == "confirmation.sent"]
    assert sent == [{**sent[0], "page": waiting["id"], "provider_id": sms.sid, "recovered": True}]


# --- two people, consult, exhausted ----------------------------------------------


def test_two_person_call_out_pages_until_two_accept(stack: Live) -> None:
    stack.at("2026-11-21T12:00")  # CIT Den Haag: ilias and kevin, otto as backup
    d = stack.post(**incident(basisteam="laak", reported_at="2026-11-21T12:00"))
    assert d["staff_needed"] == 2
    stack.run()
    first, second, backup = (a["phone"] for a in d["assignments"][:3])
    one, two = call_to(stack, first), call_to(stack, second)
    for sid, key in ((one, "1"), (two, "2")):
        stack.fake.answer(sid)
        stack.fake.press(sid, key)
    stack.settle()
    assert stack.dispatch(d["reference"])["paging_state"] == "respond"
    expect_confirmation(stack, first, d, 1)  # while the second is still sought
    three = call_to(stack, backup)
    stack.fake.answer(three)
    stack.fake.press(three, "1")
    stack.settle()
    done = stack.dispatch(d["reference"])
    assert done["paging_state"] == "accepted"
    assert [a["status"] for a in done["assignments"][:3]] == ["accepted", "declined", "accepted"]
    expect_confirmation(stack, backup, d, 3)


def test_consult_is_paged_first_and_the_worker_when_it_agrees(stack: Live) -> None:
    stack.at("2026-03-10T17:00")
    d = stack.post(**incident(basisteam=GV_NOORD, reported_at="2026-03-10T17:00"))
    stack.run()
    sid = call_to(stack, GIJS)
    stack.fake.answer(sid)
    stack.fake.wait_idle()
    assert "consult" in " ".join(u.text for u in stack.fake.call(sid).transcript).lower()
    assert stack.fake.calls(DAAN) == []  # not before the consult agrees
    stack.fake.press(sid, "1")
    stack.settle()
    # the consult's agreement is not a call-out: nobody to call back, no SMS
    assert CALLBACK_SPOKEN not in " ".join(stack.fake.call(sid).spoken())
    worker = call_to(stack, DAAN)
    stack.fake.answer(worker)
    stack.fake.press(worker, "1")
    stack.settle()
    assert CALLBACK_SPOKEN in " ".join(stack.fake.call(worker).spoken())
    position = next(a for a in d["assignments"] if a["phone"] == DAAN)["position"]
    expect_confirmation(stack, DAAN, d, position)
    assert stack.fake.messages(GIJS) == []
    types = stack.event_types(d["id"])
    assert types.index("consult.agreed") < types.index("dispatch.accepted")
    assert stack.dispatch(d["reference"])["paging_state"] == "accepted"


def test_everybody_tried_tells_the_control_room_what_to_expect(stack: Live) -> None:
    d = office_incident(stack)
    for a in d["assignments"]:
        stack.run()
        sid = call_to(stack, a["phone"])
        stack.fake.answer(sid)
        stack.fake.press(sid, "2")
        stack.settle()
    assert stack.dispatch(d["reference"])["paging_state"] == "no_responder"
    [event] = [e for e in stack.events(d["id"]) if e.type == "dispatch.no_responder"]
    assert event.payload["expectation"]["phone"] == d["plan"]["expectation"]["phone"]
    assert event.payload["text"]


# --- webhooks: duplicates and forgeries ------------------------------------------


def test_duplicate_webhook_is_applied_once(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    sid = call_to(stack, BRAM)
    stack.fake.answer(sid)
    stack.fake.press(sid, "2")
    stack.settle()
    gather = [c for c in stack.fake.callbacks() if c.kind == "gather"][-1]
    before = stack.event_types(d["id"])
    again = stack.fake.redeliver(gather.index)
    stack.fake.wait_idle()
    assert again.status_code == 200 and again.response_text == gather.response_text
    stack.run()
    assert stack.event_types(d["id"]) == before  # nothing applied twice
    call_to(stack, d["assignments"][1]["phone"])  # and exactly one next call


def test_forged_or_unsigned_webhook_gets_403_and_changes_nothing(stack: Live) -> None:
    d = office_incident(stack)
    stack.run()
    call_to(stack, BRAM)
    page = stack.pages(d["reference"])[0]["id"]
    url = f"{stack.url}/webhooks/twilio/voice/{page}/key"
    form = {"CallSid": "CA" + "0" * 32, "Digits": "1", "AccountSid": stack.twilio.account_sid}
    forged = RequestValidator("not-the-token").compute_signature(url, form)
    with httpx.Client(timeout=10) as attacker:
        r1 = attacker.post(url, data=form, headers={"X-Twilio-Signature": forged})
        r2 = attacker.post(url, data=form)
        sms = attacker.post(
            f"{stack.url}/webhooks/twilio/sms",
            data={"From": BRAM, "Body": "JA", "MessageSid": "SM" + "1" * 32},
        )
    assert (r1.status_code, r2.status_code, sms.status_code) == (403, 403, 403)
    assert stack.dispatch(d["reference"])["paging_state"] == "respond"
    assert "assignment.accepted" not in stack.event_types(d["id"])

"""End to end through the Twilio fake with the real SDK: a phone rings, a key is pressed,
an SMS is answered, a link is tapped; deadlines pass by the test's clock.

Every test ends with the fake's check that no call or SMS went out that the test did
not expect (the ``stack`` fixture), so a page sent twice fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from oncall.schemas import ConfigSet
from tests.api.live import Live, start_live
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import BACKENDS

BRAM = "+31612340102"  # vt-gv office hours, Tue 2026-03-10 before 17:00
GIJS = "+31612340108"  # gedragswetenschapper on call from 17:00
DAAN = "+31612340104"  # vt-gv-piket on call from Mon 17:00


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
    stack.fake.press(sid, "1")
    stack.settle()
    assert stack.fake.call(sid).status == "completed"
    done = stack.dispatch(d["reference"])
    assert done["paging_state"] == "accepted"
    assert (done["assignments"][0]["status"], done["assignments"][0]["answered_via"]) == (
        "accepted",
        "voice",
    )
    # the SMS that would have followed after a minute is never sent
    stack.clock.advance(timedelta(minutes=5))
    stack.run()
    assert [p["status"] for p in stack.pages(d["reference"])] == ["accepted", "cancelled"]


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
    office_incident(stack)
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
    assert answer.startswith("Geaccepteerd") and d["reference"] in answer
    stack.run()
    assert stack.dispatch(d["reference"])["paging_state"] == "accepted"
    assert stack.dispatch(d["reference"])["assignments"][0]["answered_via"] == "sms"
    [again] = stack.fake.reply(BRAM, "ja")
    assert again == f"Je hebt oproep {d['reference']} al beantwoord."


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
    assert answer.startswith("Geaccepteerd") and second["reference"] in answer
    stack.run()
    assert stack.dispatch(second["reference"])["paging_state"] == "accepted"
    assert stack.dispatch(first["reference"])["paging_state"] == "respond"
    [answer] = stack.fake.reply(BRAM, "nee")  # one open page left: no code needed
    assert answer.startswith("Geweigerd") and first["reference"] in answer
    stack.run()
    call_to(stack, first["assignments"][1]["phone"])


def test_sms_replies_are_rate_limited_per_number(stack: Live) -> None:
    sms_first(stack)
    limit = stack.app_state.settings.sms_replies_per_10min
    for _ in range(limit):
        stack.fake.reply(BRAM, "hoi")
    assert stack.fake.reply(BRAM, "hoi") == ["Te veel berichten; bel de meldkamer."]
    assert stack.fake.reply(BRAM, "ja") == []  # silent past the limit, nothing applied


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
    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    with httpx.Client(timeout=10) as phone:
        assert phone.get(forged).status_code == 404
        stack.clock.advance(timedelta(hours=3))
        expired = phone.get(url)
        assert expired.status_code == 410 and "verlopen" in expired.text


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
    three = call_to(stack, backup)
    stack.fake.answer(three)
    stack.fake.press(three, "1")
    stack.settle()
    done = stack.dispatch(d["reference"])
    assert done["paging_state"] == "accepted"
    assert [a["status"] for a in done["assignments"][:3]] == ["accepted", "declined", "accepted"]


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
    worker = call_to(stack, DAAN)
    stack.fake.answer(worker)
    stack.fake.press(worker, "1")
    stack.settle()
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

"""The fake Twilio behaves like Twilio toward our service: signed callbacks in order,
TwiML read verb by verb, AMD, SMS receipts and replies, and its test harness."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from notifications.fake import CallStateError, FakeTwilio
from notifications.fake.harness import FakeTwilioServer, Received, WebhookSink
from notifications.provider import CallRequest, SmsRequest
from notifications.twilio import TwilioProvider

WORKER = "+31612345678"
TWIML = "/webhooks/twilio/voice/p"
STATUS = "/webhooks/twilio/call-status/p"
AMD = "/webhooks/twilio/amd/p"
SMS_STATUS = "/webhooks/twilio/sms-status/p"
GATHER = (
    '<Response><Gather action="/gather" numDigits="1" timeout="8">'
    '<Say language="nl-NL" voice="Polly.Lotte">Melding R-1 in Utrecht.</Say>'
    '<Say language="nl-NL">Druk 1 om te accepteren, 2 om te weigeren, 9 om te herhalen.</Say>'
    '</Gather><Say language="nl-NL">U drukte geen toets.</Say><Hangup/></Response>'
)


def place(provider: TwilioProvider, sink: WebhookSink, to: str = WORKER) -> str:
    request = CallRequest("p", to, sink.url)
    return provider.place_call(request).provider_id


def text(provider: TwilioProvider, sink: WebhookSink, to: str = WORKER) -> str:
    request = SmsRequest("p", to, "Melding R-1 https://x.test/p/1", sink.url, 300)
    return provider.send_sms(request).provider_id


def statuses(sink: WebhookSink) -> list[str]:
    return [r.form["CallStatus"] for r in sink.requests(STATUS)]


def test_callbacks_are_signed_ordered_and_carry_unique_tokens(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, GATHER)
    sid = place(provider, sink)
    text(provider, sink)
    fake.answer(sid)
    fake.press(sid, "1")
    assert fake.wait_idle()

    validator = RequestValidator(fake.auth_token)
    got = sink.requests()
    assert {r.path for r in got} == {STATUS, TWIML, AMD, "/gather", SMS_STATUS}
    for request in got:
        assert validator.validate(request.url, request.form, request.headers["X-Twilio-Signature"])
        assert request.headers["User-Agent"] == "TwilioProxy/1.1"
        assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        assert request.form["AccountSid"] == fake.account_sid
    tokens = [r.headers["I-Twilio-Idempotency-Token"] for r in got]
    assert len(set(tokens)) == len(tokens)
    assert not validator.validate(got[0].url, got[0].form | {"CallStatus": "x"}, "forged")
    # the provider asks only for answered and the end ("initiated" and "ringing" repeat
    # the create's answer)
    assert statuses(sink) == ["in-progress", "completed"]
    assert [r.form["SequenceNumber"] for r in sink.requests(STATUS)] == ["0", "1"]
    kinds = [d.kind for d in fake.callbacks(sid=sid)]
    assert kinds == ["call-status", "twiml", "amd", "gather", "call-status"]


def test_say_gather_press_repeat_and_accept(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    def gathered(received: Received) -> tuple[int, str, str]:
        if received.form["Digits"] == "9":
            return 200, "text/xml", GATHER.replace("Melding R-1", "Herhaling: melding R-1")
        return 200, "text/xml", "<Response><Say>Bedankt, u staat genoteerd.</Say></Response>"

    sink.respond(TWIML, GATHER)
    sink.respond("/gather", gathered)
    sid = place(provider, sink)

    call = fake.answer(sid)
    assert call.status == "in-progress"
    assert call.spoken() == [
        "Melding R-1 in Utrecht.",
        "Druk 1 om te accepteren, 2 om te weigeren, 9 om te herhalen.",
    ]
    assert call.transcript[0].attrs == {"language": "nl-NL", "voice": "Polly.Lotte"}
    assert call.gather is not None and call.gather.num_digits == 1
    assert call.gather.action == f"{sink.url}/gather"  # relative to the TwiML document

    fake.press(sid, "9")
    assert call.spoken()[2] == "Herhaling: melding R-1 in Utrecht."
    assert call.gather is not None

    fake.press(sid, "1")
    assert call.spoken()[-1] == "Bedankt, u staat genoteerd."
    assert call.status == "completed" and call.gather is None
    presses = sink.requests("/gather")
    assert [r.form["Digits"] for r in presses] == ["9", "1"]
    assert presses[0].form["CallSid"] == sid and presses[0].form["To"] == WORKER
    assert presses[0].form["Direction"] == "outbound-api"
    assert presses[0].form["CallStatus"] == "in-progress"
    assert [u.text for u in call.transcript if u.verb == "Digits"] == ["9", "1"]
    with pytest.raises(CallStateError):
        fake.press(sid, "1")


def test_a_gather_timeout_falls_through_to_the_next_verbs(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, GATHER)
    sid = place(provider, sink)
    fake.answer(sid)

    call = fake.gather_timeout(sid)

    assert call.spoken()[-1] == "U drukte geen toets."
    assert call.status == "completed"
    assert sink.requests("/gather") == []
    assert fake.wait_idle() and statuses(sink)[-1] == "completed"


def test_a_gather_timeout_with_nothing_after_it_ends_the_call(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, "<Response><Gather><Say>Druk 1</Say></Gather></Response>")
    sid = place(provider, sink)
    fake.answer(sid)
    assert fake.gather_timeout(sid).status == "completed"


def test_redirect_and_pause_are_followed(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, '<Response><Pause length="1"/><Redirect>/next</Redirect></Response>')
    sink.respond("/next", "<Response><Say>Volgende stap.</Say></Response>")
    call = fake.answer(place(provider, sink))
    assert [u.verb for u in call.transcript] == ["Pause", "Redirect", "Say"]
    assert call.status == "completed"


def test_a_failing_twiml_url_is_an_application_error(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, "kapot", status=500)
    call = fake.answer(place(provider, sink))
    assert call.transcript[-1].verb == "Error" and call.transcript[-1].attrs["code"] == "11200"
    assert call.status == "completed"


def test_voicemail_is_reported_by_async_amd_and_waits_for_our_hang_up(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, GATHER)
    sid = place(provider, sink)

    call = fake.voicemail(sid)

    assert call.status == "in-progress" and call.answered_by == "machine_end_beep"
    assert call.spoken()[0] == "Melding R-1 in Utrecht."  # played to the voicemail box
    amd = sink.requests(AMD)
    assert [r.form["AnsweredBy"] for r in amd] == ["machine_end_beep"]
    assert amd[0].form["CallSid"] == sid and "MachineDetectionDuration" in amd[0].form
    provider.hang_up(sid)
    assert fake.wait_idle() and statuses(sink)[-1] == "completed"


def test_our_service_may_hang_up_from_inside_the_amd_webhook(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    def machine(received: Received) -> tuple[int, str, str]:
        provider.hang_up(received.form["CallSid"])  # REST from inside a callback: no deadlock
        return 204, "text/plain", ""

    sink.respond(TWIML, GATHER)
    sink.respond(AMD, machine)
    call = fake.voicemail(place(provider, sink))
    assert fake.wait_idle()
    assert call.status == "completed" and statuses(sink)[-1] == "completed"


@pytest.mark.parametrize(
    ("action", "final"), [("ring_out", "no-answer"), ("busy", "busy"), ("fail", "failed")]
)
def test_unanswered_calls_end_with_twilios_status(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink, action: str, final: str
) -> None:
    sid = place(provider, sink)
    call = getattr(fake, action)(sid)

    assert call.status == final
    assert fake.wait_idle()
    last = sink.requests(STATUS)[-1].form
    assert last["CallStatus"] == final and last["CallDuration"] == "0"
    assert ("ErrorCode" in last) == (final == "failed")
    with pytest.raises(CallStateError):
        fake.answer(sid)


def test_a_person_hanging_up_completes_the_call_with_its_duration(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, GATHER)
    sid = place(provider, sink)
    fake.answer(sid)
    assert fake.hang_up(sid).status == "completed"
    assert fake.wait_idle()
    assert sink.requests(STATUS)[-1].form["CallDuration"].isdigit()


@pytest.mark.parametrize(("behaviour", "digits"), [("accept", "1"), ("decline", "2")])
def test_automatic_phones_answer_and_press(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink, behaviour: str, digits: str
) -> None:
    fake.set_behaviour("*", behaviour)
    sink.respond(TWIML, GATHER)
    place(provider, sink)
    assert fake.wait_idle()
    assert [r.form["Digits"] for r in sink.requests("/gather")] == [digits]


def test_sms_is_sent_then_delivered(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sid = text(provider, sink)
    assert fake.wait_idle()
    receipts = sink.requests(SMS_STATUS)
    assert [r.form["MessageStatus"] for r in receipts] == ["sent", "delivered"]
    assert receipts[0].form["MessageSid"] == sid and receipts[0].form["SmsStatus"] == "sent"
    assert "ErrorCode" not in receipts[1].form
    assert fake.message(sid).status == "delivered"


@pytest.mark.parametrize(
    ("status", "code", "seen"),
    [("undelivered", "30005", ["sent", "undelivered"]), ("failed", "30008", ["failed"])],
)
def test_sms_that_does_not_arrive_reports_the_error_code(
    fake: FakeTwilio,
    provider: TwilioProvider,
    sink: WebhookSink,
    status: str,
    code: str,
    seen: list[str],
) -> None:
    fake.sms_fail(WORKER, status, code)
    sid = text(provider, sink)
    assert fake.wait_idle()
    receipts = sink.requests(SMS_STATUS)
    assert [r.form["MessageStatus"] for r in receipts] == seen
    assert receipts[-1].form["ErrorCode"] == code
    assert fake.message(sid).error_code == code


def test_a_reply_posts_to_the_sms_url_and_lands_in_the_inbox(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    answer = "Bedankt, u bent gekoppeld aan R-1."
    sink.respond("/sms", f"<Response><Message>{answer}</Message></Response>")
    fake.set_sms_url(f"{sink.url}/sms")
    text(provider, sink)

    answers = fake.reply(WORKER, "JA R-1")

    assert answers == [answer]
    posted = sink.requests("/sms")[0]
    assert posted.form["From"] == WORKER and posted.form["Body"] == "JA R-1"
    assert posted.form["To"] == fake.from_number and posted.form["SmsStatus"] == "received"
    assert posted.form["MessageSid"].startswith("SM") and posted.form["NumMedia"] == "0"
    validator = RequestValidator(fake.auth_token)
    assert validator.validate(posted.url, posted.form, posted.headers["X-Twilio-Signature"])
    inbox = fake.inbox(WORKER)
    assert inbox[0].body == answer
    assert inbox[0].direction == "outbound-reply"
    assert fake.messages(direction="inbound")[0].body == "JA R-1"


def test_an_empty_answer_sends_no_reply(fake: FakeTwilio, sink: WebhookSink) -> None:
    fake.set_sms_url(f"{sink.url}/sms")
    assert fake.reply(WORKER, "NEE") == []
    assert fake.inbox(WORKER) == []


def test_redelivery_repeats_the_callback_with_the_same_token(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    text(provider, sink)
    assert fake.wait_idle()
    delivered = fake.callbacks(kind="sms-status")[-1]

    again = fake.redeliver(delivered.index)

    assert again.redelivery_of == delivered.index and again.ok
    first, second = sink.requests(SMS_STATUS)[-2:]
    assert first.form == second.form
    token = "I-Twilio-Idempotency-Token"
    assert first.headers[token] == second.headers[token] == delivered.token
    assert fake.redeliver().token == delivered.token  # the last one: the redelivery itself


def test_callback_failures_are_recorded_not_raised(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(SMS_STATUS, "kapot", status=500)
    text(provider, sink)
    provider.send_sms(SmsRequest("p", WORKER, "x", "http://127.0.0.1:9", 60))
    assert fake.wait_idle()
    failed = fake.callbacks(kind="sms-status")
    assert [d.status_code for d in failed[:2]] == [500, 500]
    assert failed[-1].status_code is None and failed[-1].error


def test_rest_requires_basic_auth_with_the_account(twilio: FakeTwilioServer) -> None:
    url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    form = {"To": WORKER, "From": twilio.from_number, "Body": "x"}

    wrong = httpx.post(url, data=form, auth=(twilio.account_sid, "wrong"))
    missing = httpx.get(url)

    assert wrong.status_code == missing.status_code == 401
    assert wrong.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert twilio.fake.messages() == []
    right = httpx.post(url, data=form, auth=(twilio.account_sid, twilio.auth_token))
    assert right.status_code == 201 and right.json()["status"] == "queued"


def test_the_control_api_drives_a_phone_over_http(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, GATHER)
    sid = place(provider, sink)
    with httpx.Client(base_url=twilio.url) as control:
        answered = control.post(f"/_fake/calls/{sid}/answer").json()
        assert answered["status"] == "in-progress" and answered["gather"]["num_digits"] == 1
        assert control.post(f"/_fake/calls/{sid}/press", json={"digits": "2"}).status_code == 200
        assert control.post(f"/_fake/calls/{sid}/press", json={"digits": "2"}).status_code == 409
        assert control.post("/_fake/calls/CAnope/answer").status_code == 404
        assert control.post("/_fake/config", json={"sms_url": f"{sink.url}/sms"}).status_code == 200
        assert control.post("/_fake/reply", json={"from": WORKER, "body": "NEE"}).json() == {
            "replies": []
        }
        assert control.post("/_fake/wait_idle", json={}).json() == {"idle": True}
        state = control.get("/_fake/state").json()
    phone = next(p for p in state["phones"] if p["number"] == WORKER)
    assert phone["calls"][0]["sid"] == sid and phone["calls"][0]["status"] == "completed"
    assert phone["messages"][0]["body"] == "NEE"


def test_the_phone_page_shows_registered_phones(twilio: FakeTwilioServer) -> None:
    twilio.fake.register_phone("+31611122233", "Anna (VT)")
    page = httpx.get(f"{twilio.url}/phones")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "+31611122233" in page.text and "Anna (VT)" in page.text
    assert "Opnemen" in page.text and 'lang="nl"' in page.text


def test_the_harness_fails_on_what_no_test_expected(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    text(provider, sink)
    text(provider, sink)  # a duplicate page
    place(provider, sink, to="+31699999999")

    twilio.expect_sms(WORKER, contains="R-1")
    with pytest.raises(AssertionError, match="2 call") as stray:
        twilio.assert_nothing_unexpected()
    assert "+31699999999" in str(stray.value) and WORKER in str(stray.value)

    with pytest.raises(AssertionError, match="expected a call to \\+31600000000") as missing:
        twilio.expect_call("+31600000000", timeout=0.05)
    assert "(already expected)" in str(missing.value)

    twilio.expect_sms(WORKER)
    twilio.expect_call("+31699999999")
    twilio.assert_nothing_unexpected()


def _wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_delayed_create_is_taken_at_once_and_answered_late(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    with httpx.Client(base_url=twilio.url) as control:
        r = control.post("/_fake/delay_creates", json={"seconds": 0.4, "count": 1})
        assert r.json() == {"ok": True}
        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            placing = pool.submit(place, provider, sink)
            _wait_for(lambda: len(twilio.fake.calls(WORKER)) == 1)
            assert control.get("/_fake/state").json()["held"] == 1  # taken, not yet answered
            sid = placing.result(timeout=5)
        assert time.monotonic() - started >= 0.4
    assert twilio.fake.calls(WORKER)[0].sid == sid and twilio.fake.held == 0
    assert twilio.fake.take_delay() is None  # it was for one create only


def test_a_create_held_before_twilio_takes_it_is_dropped_when_the_client_leaves(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    twilio.fake.delay_creates(5, before=True)
    url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Calls.json"
    form = {"To": WORKER, "From": twilio.from_number, "Url": f"{sink.url}/twiml"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, data=form, auth=(twilio.account_sid, twilio.auth_token), timeout=0.3)
    _wait_for(lambda: twilio.fake.held == 0, timeout=2)  # noticed the hang-up, well before 5 s
    assert twilio.fake.calls() == []
    sid = place(provider, sink)
    assert [c.sid for c in twilio.fake.calls()] == [sid]

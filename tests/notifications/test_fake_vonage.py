"""The fake Vonage itself: its phones, its NCCO player, its signed webhooks, its fault
modes, its control API and phone page (also inside the Twilio face's), its CLI."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from notifications import vonage_webhooks as vw
from notifications.fake.harness import FakeTwilioServer, Received, WebhookSink
from notifications.fake.vonage import CallStateError, FakeVonage
from notifications.fake.vonage.harness import FakeVonageServer
from notifications.provider import CallRequest, ProviderUnavailable, SmsRequest
from notifications.vonage import VonageProvider

WORKER = "+31612345678"
ANSWER = "/webhooks/vonage/voice/page-2/answer"
EVENT = "/webhooks/vonage/voice/page-2/event"
KEY = "/webhooks/vonage/voice/page-2/key"
SMS_STATUS = "/webhooks/vonage/sms/page-1/status"
INBOUND = "/webhooks/vonage/sms/inbound"


def talk(text: str) -> dict[str, Any]:
    return {"action": "talk", "text": text, "language": "nl-NL"}


def wait_for_key(url: str) -> dict[str, Any]:
    return {
        "action": "input",
        "type": ["dtmf"],
        "dtmf": {"maxDigits": 1, "timeOut": 8},
        "eventUrl": [url],
    }


def respond_json(sink: WebhookSink, path: str, document: object) -> None:
    sink.respond(path, json.dumps(document), content_type="application/json")


@pytest.fixture
def vonage() -> Iterator[FakeVonageServer]:
    with FakeVonageServer() as server:
        yield server


@pytest.fixture
def fake(vonage: FakeVonageServer) -> FakeVonage:
    return vonage.fake


@pytest.fixture
def provider(vonage: FakeVonageServer) -> VonageProvider:
    return vonage.provider()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as receiver:
        yield receiver


@pytest.fixture
def page(sink: WebhookSink) -> WebhookSink:
    """Our service's stand-in: the page, one key, then an answer per key."""
    respond_json(sink, ANSWER, [talk("Oproep"), wait_for_key(sink.url + KEY)])
    respond_json(sink, KEY, [talk("Geaccepteerd")])
    return sink


def place(provider: VonageProvider, sink: WebhookSink) -> str:
    return provider.place_call(CallRequest("page-2", WORKER, sink.url, 25)).provider_id


def statuses(sink: WebhookSink) -> list[str]:
    return [json.loads(r.body).get("status", "error") for r in sink.requests(EVENT)]


def verified_voice(vonage: FakeVonageServer, received: Received) -> dict[str, Any]:
    assert vw.verify_voice_signature(
        vonage.signature_secret, received.headers.get("Authorization"), received.body
    )
    payload: dict[str, Any] = json.loads(received.body)
    return payload


# --- calls and the NCCO ---------------------------------------------------------------


def test_a_key_press_goes_to_the_inputs_event_url_and_its_ncco_is_run(
    vonage: FakeVonageServer, fake: FakeVonage, provider: VonageProvider, page: WebhookSink
) -> None:
    uuid = place(provider, page)
    fake.answer(uuid)
    call = fake.call(uuid)
    assert call.status == "answered" and call.answered_by == "human"
    assert call.spoken() == ["Oproep"] and call.pending is not None
    assert call.transcript[0].attrs["language"] == "nl-NL"

    fake.press(uuid, "12")  # maxDigits 1: only the 1 counts
    assert call.spoken() == ["Oproep", "Geaccepteerd"] and call.status == "completed"
    (key,) = page.requests(KEY)
    payload = verified_voice(vonage, key)
    assert payload["dtmf"] == {"digits": "1", "timed_out": False} and payload["uuid"] == uuid
    answer = verified_voice(vonage, page.requests(ANSWER)[0])
    assert answer["to"] == "31612345678" and answer["uuid"] == uuid
    assert fake.wait_idle()
    assert statuses(page) == ["started", "ringing", "answered", "human", "completed"]
    for event in page.requests(EVENT):
        verified_voice(vonage, event)


def test_no_key_in_time_says_so_on_the_event_url(
    fake: FakeVonage, provider: VonageProvider, page: WebhookSink
) -> None:
    respond_json(page, KEY, [talk("Nog eens"), wait_for_key(page.url + KEY + "?read=2")])
    uuid = place(provider, page)
    fake.answer(uuid)
    fake.gather_timeout(uuid)  # the phone page's name for it
    assert json.loads(page.requests(KEY)[-1].body)["dtmf"] == {"digits": "", "timed_out": True}
    assert fake.call(uuid).pending is not None
    assert fake.call(uuid).pending.event_url.endswith("?read=2")  # type: ignore[union-attr]
    fake.input_timeout(uuid)
    assert page.requests(KEY)[-1].url.endswith("/key?read=2")


def test_an_input_whose_event_url_fails_goes_on_with_the_rest_of_the_ncco(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink
) -> None:
    respond_json(sink, ANSWER, [wait_for_key(sink.url + KEY), talk("Daarna")])
    sink.respond(KEY, "kapot", status=500)
    uuid = place(provider, sink)
    fake.answer(uuid)
    fake.press(uuid, "1")
    assert fake.call(uuid).spoken() == ["Daarna"] and fake.call(uuid).status == "completed"


@pytest.mark.parametrize(
    "document",
    [
        "<Response/>",  # TwiML is not an NCCO
        json.dumps({"action": "talk", "text": "no list"}),
        json.dumps([{"action": "explode"}]),
        json.dumps([{"action": "talk", "text": "x" * 1501}]),
        json.dumps([{"action": "input", "type": ["dtmf"], "dtmf": {"timeOut": 30}}]),
    ],
)
def test_an_ncco_vonage_would_refuse_ends_the_call_with_an_error_event(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink, document: str
) -> None:
    sink.respond(ANSWER, document, content_type="application/json")
    uuid = place(provider, sink)
    fake.answer(uuid)
    call = fake.call(uuid)
    assert call.status == "completed" and [u.verb for u in call.transcript] == ["Error"]
    assert fake.wait_idle()
    errors = [json.loads(r.body) for r in sink.requests(EVENT) if "reason" in r.body.decode()]
    assert len(errors) == 1 and vw.parse_call_event(errors[0]) is None


def test_an_answer_url_that_fails_ends_the_call(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink
) -> None:
    sink.respond(ANSWER, "oops", status=503)
    uuid = place(provider, sink)
    fake.answer(uuid)
    assert fake.call(uuid).status == "completed" and fake.call(uuid).spoken() == []


def test_phone_actions_that_do_not_fit_the_call_are_refused(
    fake: FakeVonage, provider: VonageProvider, page: WebhookSink
) -> None:
    uuid = place(provider, page)
    with pytest.raises(CallStateError):
        fake.press(uuid, "1")
    fake.answer(uuid)
    with pytest.raises(CallStateError):
        fake.ring_out(uuid)
    fake.hang_up(uuid)
    assert fake.call(uuid).status == "completed"
    with pytest.raises(CallStateError):
        fake.hang_up(uuid)


# --- phone behaviours ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "final", "detected"),
    [
        ("accept", "completed", "human"),
        ("decline", "completed", "human"),
        ("voicemail", None, "machine"),
        ("no_answer", "timeout", None),
        ("busy", "busy", None),
    ],
)
def test_phone_behaviours(
    fake: FakeVonage,
    provider: VonageProvider,
    page: WebhookSink,
    behaviour: str,
    final: str | None,
    detected: str | None,
) -> None:
    fake.set_behaviour(WORKER, behaviour)
    uuid = place(provider, page)
    assert fake.wait_idle()
    seen = statuses(page)
    if detected:
        assert detected in seen
    if final:
        assert seen[-1] == final
    else:  # a voicemail keeps the line until someone hangs up
        assert fake.call(uuid).status == "answered" and fake.call(uuid).answered_by == "machine"
    if behaviour in ("accept", "decline"):
        digits = json.loads(page.requests(KEY)[0].body)["dtmf"]["digits"]
        assert digits == ("1" if behaviour == "accept" else "2")


@pytest.mark.parametrize(
    ("act", "status"),
    [("ring_out", "timeout"), ("busy", "busy"), ("fail", "failed"), ("hang_up", "busy")],
)
def test_a_ringing_phone_that_is_not_picked_up(
    fake: FakeVonage, provider: VonageProvider, page: WebhookSink, act: str, status: str
) -> None:
    uuid = place(provider, page)
    getattr(fake, act)(uuid)
    assert fake.call(uuid).status == status
    assert fake.wait_idle() and statuses(page)[-1] == status


def test_voicemail_is_reported_as_machine_before_the_ncco_runs(
    vonage: FakeVonageServer, fake: FakeVonage, provider: VonageProvider, page: WebhookSink
) -> None:
    uuid = place(provider, page)
    fake.voicemail(uuid)
    machine = [r for r in page.requests(EVENT) if json.loads(r.body).get("status") == "machine"]
    (event,) = machine
    payload = verified_voice(vonage, event)
    assert payload["call_uuid"] == uuid and "uuid" not in payload
    order = [r.path for r in page.requests() if r.path in (EVENT, ANSWER)]
    assert order.index(ANSWER) > page.requests().index(event)  # detection first
    assert order[-1] == ANSWER  # and the call stays up (until hung up over REST)
    provider.hang_up(uuid)
    assert fake.call(uuid).status == "completed"


# --- SMS -------------------------------------------------------------------------------


def test_receipts_are_signed_with_the_accounts_method(sink: WebhookSink) -> None:
    for method in ("sha256", "md5hash"):
        with FakeVonageServer(signature_method=method) as server:
            server.provider().send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
            assert server.fake.wait_idle()
        receipt = sink.requests(SMS_STATUS)[-1].form
        assert vw.verify_sms_signature(server.signature_secret, receipt, method=method)  # type: ignore[arg-type]
        assert receipt["timestamp"] and receipt["nonce"]


@pytest.mark.parametrize(("status", "code"), [("expired", "2"), ("rejected", "6")])
def test_an_undelivered_sms(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink, status: str, code: str
) -> None:
    fake.sms_fail(WORKER, status, code)
    sent = provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
    assert fake.wait_idle()
    parsed = vw.parse_dlr(sink.requests(SMS_STATUS)[-1].form)
    assert (parsed.provider_id, parsed.status, parsed.error_code) == (
        sent.provider_id,
        status,
        code,
    )
    assert parsed.outcome == "not_reached"
    assert fake.message(sent.provider_id).status == status
    fake.sms_ok(WORKER)
    provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
    assert fake.wait_idle() and sink.requests(SMS_STATUS)[-1].form["status"] == "delivered"
    with pytest.raises(ValueError, match="status must be"):
        fake.sms_fail(WORKER, "undelivered")


def test_a_phone_texts_back_and_gets_what_the_service_sends(
    vonage: FakeVonageServer, fake: FakeVonage, provider: VonageProvider, sink: WebhookSink
) -> None:
    def service(received: Received) -> tuple[int, str, str]:
        sms = vw.parse_inbound(received.form)
        assert vw.verify_sms_signature(vonage.signature_secret, received.form)
        answer = f"Ontvangen: {sms.body}"
        provider.send_sms(SmsRequest("reply-1", sms.from_number, answer, sink.url, 300))
        return 200, "text/plain", ""

    sink.respond(INBOUND, service)
    fake.set_sms_url(sink.url + INBOUND)
    provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
    vonage.expect_sms(WORKER)

    assert fake.reply(WORKER, "JA") == ["Ontvangen: JA"]
    inbound = sink.requests(INBOUND)[0].form
    assert inbound["msisdn"] == "31612345678" and inbound["to"] == "3197010000001"
    assert inbound["text"] == "JA" and inbound["keyword"] == "JA"
    assert [m.body for m in fake.inbox(WORKER)][:1] == ["Ontvangen: JA"]
    vonage.assert_nothing_unexpected()  # the answer was claimed by reply()


def test_a_reply_needs_the_inbound_url(fake: FakeVonage) -> None:
    with pytest.raises(RuntimeError, match="sms_url"):
        fake.reply(WORKER, "JA")


# --- fault modes -----------------------------------------------------------------------


def test_an_outage_answers_the_next_requests_then_ends(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink
) -> None:
    fake.rest_outage(503, count=1)
    with pytest.raises(ProviderUnavailable):
        provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
    assert provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300)).provider_id
    fake.rest_outage(500)  # every request, until lifted
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            provider.find_sent(channel="voice", to=WORKER, since=fake.messages()[0].created_at)
    fake.rest_outage(None)
    assert provider.find_sent(channel="voice", to=WORKER, since=fake.messages()[0].created_at) == []


def test_delay_creates_holds_the_answer_and_counts_what_it_holds(
    fake: FakeVonage, vonage: FakeVonageServer, sink: WebhookSink
) -> None:
    provider = vonage.provider(timeout=2)
    fake.delay_creates(0.3, count=1)
    started = time.monotonic()
    provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300))
    assert time.monotonic() - started < 0.3  # only the next one was held
    assert fake.held == 0


def test_redeliver_sends_the_same_event_signed_anew(
    vonage: FakeVonageServer, fake: FakeVonage, provider: VonageProvider, page: WebhookSink
) -> None:
    provider.send_sms(SmsRequest("page-1", WORKER, "Melding", page.url, 300))
    assert fake.wait_idle()
    first = fake.callbacks("sms-status")[-1]
    again = fake.redeliver(first.index)
    assert (
        again.redelivery_of == first.index
        and again.payload["messageId"] == first.payload["messageId"]
    )
    assert again.signature != first.signature
    first_form, again_form = (r.form for r in page.requests(SMS_STATUS)[-2:])
    assert vw.verify_sms_signature(vonage.signature_secret, again_form)
    assert vw.idempotency_key(SMS_STATUS, first_form) == vw.idempotency_key(SMS_STATUS, again_form)

    uuid = place(provider, page)
    assert fake.wait_idle()
    ringing = next(d for d in fake.callbacks("event", uuid) if d.payload["status"] == "ringing")
    fake.redeliver(ringing.index)
    bodies = [r.body for r in page.requests(EVENT) if json.loads(r.body)["status"] == "ringing"]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # same body, new JWT
    tokens = [r.headers["Authorization"] for r in page.requests(EVENT)]
    assert len(set(tokens)) == len(tokens)
    with pytest.raises(LookupError):
        fake.redeliver(10_000)


def test_reset_forgets_calls_messages_and_webhooks_but_not_phones(
    fake: FakeVonage, provider: VonageProvider, page: WebhookSink
) -> None:
    fake.register_phone(WORKER, "Bram")
    fake.set_behaviour(WORKER, "busy")
    place(provider, page)
    fake.reset()
    assert fake.calls() == [] and fake.callbacks() == []
    assert [p.label for p in fake.phones()] == ["Bram"] and fake.behaviour_of(WORKER) == "busy"


# --- control API, phone page, one page for both faces ---------------------------------


def test_the_control_api_over_https(
    vonage: FakeVonageServer, provider: VonageProvider, page: WebhookSink
) -> None:
    trust = ssl.create_default_context(cafile=vonage.ca_path)
    with httpx.Client(base_url=vonage.url, verify=trust, timeout=10) as http:
        assert http.post("/_fake/phones", json={"number": WORKER, "label": "Bram"}).is_success
        uuid = place(provider, page)
        assert http.post(f"/_fake/calls/{uuid}/answer").json()["status"] == "answered"
        pressed = http.post(f"/_fake/calls/{uuid}/press", json={"digits": "1"}).json()
        assert pressed["status"] == "completed"
        assert http.post(f"/_fake/calls/{uuid}/answer").status_code == 409
        assert http.get("/_fake/calls/nope").status_code == 404
        state = http.get("/_fake/state").json()
        assert state["provider"] == "vonage" and state["phones"][0]["label"] == "Bram"
        assert state["phones"][0]["calls"][0]["sid"] == uuid
        assert http.post("/_fake/reject", json={"number": WORKER}).is_success
        assert vonage.fake.phones()[0].rejection == 7
        assert http.post("/_fake/sms_fail", json={"number": WORKER, "status": "failed"}).is_success
        assert vonage.fake.phones()[0].sms_failure == ("failed", "2")
        assert http.post("/_fake/outage", json={"status": 503, "count": 1}).is_success
        assert http.post("/_fake/wait_idle").json() == {"idle": True}
        html = http.get("/phones").text
        assert "Bram" in html and "__INITIAL_STATE__" not in html


def test_the_twilio_face_shows_and_drives_the_vonage_phones(
    vonage: FakeVonageServer, provider: VonageProvider, page: WebhookSink
) -> None:
    vonage.fake.register_phone(WORKER, "Bram")
    with FakeTwilioServer(faces=[vonage.face()]) as twilio:
        twilio.fake.register_phone(WORKER, "Bram")
        uuid = place(provider, page)
        vonage.fake.wait_idle()
        with httpx.Client(base_url=twilio.url, timeout=10) as http:
            state = http.get("/_fake/state").json()
            (face,) = state["faces"]
            assert face["name"] == "vonage" and face["prefix"] == "/_faces/vonage"
            assert face["phones"][0]["calls"][0]["sid"] == uuid
            assert state["phones"][0]["number"] == WORKER  # the Twilio face's own
            answered = http.post(f"/_faces/vonage/_fake/calls/{uuid}/answer").json()
            assert answered["status"] == "answered"
            html = http.get("/phones").text
            assert '"faces"' in html and uuid in html
        twilio.assert_nothing_unexpected()
    assert vonage.fake.call(uuid).spoken() == ["Oproep"]


def test_the_twilio_face_without_faces_is_unchanged() -> None:
    with FakeTwilioServer() as twilio, httpx.Client(base_url=twilio.url) as http:
        assert "faces" not in http.get("/_fake/state").json()


# --- the CLI ---------------------------------------------------------------------------


def test_the_fake_runs_as_a_process_and_prints_what_a_service_needs(sink: WebhookSink) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "notifications.fake.vonage", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        settings: dict[str, str] = {}
        for line in process.stdout:
            if line.startswith("# ready"):
                break
            name, _, value = line.strip().partition("=")
            settings[name] = value
        assert settings["SAMENOP_VONAGE_API_HOST"].startswith("127.0.0.1:")
        provider = VonageProvider(
            application_id=settings["SAMENOP_VONAGE_APPLICATION_ID"],
            private_key=settings["SAMENOP_VONAGE_PRIVATE_KEY"],  # a file's path
            api_key=settings["SAMENOP_VONAGE_API_KEY"],
            api_secret=settings["SAMENOP_VONAGE_API_SECRET"],
            signature_secret=settings["SAMENOP_VONAGE_SIGNATURE_SECRET"],
            from_number=settings["SAMENOP_VONAGE_FROM"],
            api_host=settings["SAMENOP_VONAGE_API_HOST"],
            rest_host=settings["SAMENOP_VONAGE_REST_HOST"],
            ca_bundle=settings["SAMENOP_VONAGE_CA_BUNDLE"],
        )
        provider.place_call(CallRequest("page-2", WORKER, sink.url, 25))
        assert provider.send_sms(SmsRequest("page-1", WORKER, "Melding", sink.url, 300)).provider_id
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert not os.path.exists(settings["SAMENOP_VONAGE_CA_BUNDLE"])  # its secrets are gone

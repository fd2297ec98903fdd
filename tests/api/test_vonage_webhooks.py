"""End to end through the fake Vonage with the real SDK, over TLS: a phone rings, the NCCO
is read, a key is pressed, an SMS is answered; and the webhooks' own rules (403 on a
bad signature, 400 naming the field, a redelivery applied once).

The app pages through Vonage (``SAMENOP_PAGING_PROVIDER=vonage``). Every test ends with the fake's
check that no call or SMS went out that the test did not expect.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine, delete, func, select

from api.app import create_app
from api.state import AppState
from core import migrate
from core.clock import ManualClock
from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.timeutil import AMS
from dispatch.models import Event, InboundSms, Incident, WebhookReceipt
from notifications.fake.server import ServerThread
from notifications.fake.vonage import FakeVonage
from notifications.fake.vonage.harness import FakeVonageServer
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.api.live import free_port
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import API_KEY, BACKENDS, _make_database

INCIDENTS = "/api/v1/incidents"
BRAM = "+31612340102"  # vt-gv office hours, Tue 2026-03-10 before 17:00
UNIT, CALLBACK = "ACC-01", "06 12345678"
CALLBACK_SPOKEN = "0 6, 1 2 3 4, 5 6 7 8"


@dataclass
class Stack:
    url: str
    app_state: AppState
    vonage: FakeVonageServer
    clock: ManualClock
    http: httpx.Client
    engine: Engine

    @property
    def fake(self) -> FakeVonage:
        return self.vonage.fake

    def at(self, local: str) -> None:
        self.clock.set(datetime.fromisoformat(local).replace(tzinfo=AMS))

    def run(self) -> None:
        driver = self.app_state.driver
        assert driver is not None
        driver.run_once()
        self.fake.wait_idle()

    def settle(self) -> None:
        self.fake.wait_idle()
        self.run()

    def post(self) -> dict[str, Any]:
        body = incident(basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
        r = self.http.post(INCIDENTS, json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def dispatch(self, ref: str) -> dict[str, Any]:
        r = self.http.get(f"{INCIDENTS}/{ref}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def pages(self, ref: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{INCIDENTS}/{ref}/pages")
        assert r.status_code == 200, r.text
        return list(r.json())

    def event_types(self, dispatch_id: str) -> list[str]:
        with make_session_factory(self.engine)() as s:
            rows = s.scalars(select(Event).where(Event.dispatch_id == dispatch_id))
            return [e.type for e in rows]

    def call_to(self, number: str) -> str:
        return self.vonage.expect_call(number).uuid


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_config: ConfigSet,
) -> Iterator[Stack]:
    url, handle = _make_database(request.param, tmp_path_factory.mktemp("vonage"))
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        oncall_service.write_config(
            session=s, config=example_config, now=datetime(2026, 1, 1, tzinfo=UTC), source="t"
        )
        s.commit()
    clock = ManualClock(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))
    vonage = FakeVonageServer(now=clock.now).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"  # the public URL webhooks are built under
    settings = Settings(
        environment="test",
        database_url=url,
        api_keys=[API_KEY],
        paging_provider="vonage",
        delivery="inline",
        vonage_application_id=vonage.application_id,
        vonage_private_key=vonage.private_key_path,
        vonage_api_key=vonage.api_key,
        vonage_api_secret=vonage.api_secret,
        vonage_signature_secret=vonage.signature_secret,
        vonage_from=vonage.from_number,
        vonage_api_host=vonage.host,
        vonage_rest_host=vonage.host,
        vonage_ca_bundle=vonage.ca_path,
        public_base_url=base,
    )
    app = create_app(settings, clock=clock, run_delivery=False)
    server = ServerThread(app, "127.0.0.1", port, lifespan="on")
    server.start()
    vonage.fake.set_sms_url(f"{base}/webhooks/vonage/sms/inbound")
    http = httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=10)
    try:
        yield Stack(base, app.state.samenop, vonage, clock, http, engine)
    finally:
        http.close()
        server.stop()
        vonage.stop()
        app.state.samenop.engine.dispose()
        engine.dispose()
        if handle is not None:
            admin, name = handle  # type: ignore[misc]
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


@pytest.fixture
def stack(live: Stack) -> Iterator[Stack]:
    live.fake.reset()
    with live.engine.begin() as conn:
        for table in (Incident, WebhookReceipt, InboundSms):
            conn.execute(delete(table))
    live.at("2026-03-10T16:59")
    yield live
    live.fake.wait_idle()
    live.vonage.assert_nothing_unexpected()


def expect_confirmation(stack: Stack, d: dict[str, Any]) -> None:
    sms = stack.vonage.expect_sms(BRAM, contains="je hebt geaccepteerd")
    assert sms.body.startswith(f"Samen op in acuut {d['reference']}: je hebt geaccepteerd.")
    assert f"Bel politie {UNIT} op {CALLBACK}." in sms.body
    assert sms.client_ref is not None  # its page, for find_sent


def said(stack: Stack, uuid: str, since: int = 0) -> list[str]:
    return [u.text for u in stack.fake.call(uuid).transcript[since:] if u.verb == "Say"]


# --- voice -------------------------------------------------------------------------------


def test_accept_by_key_press(stack: Stack) -> None:
    d = stack.post()
    stack.run()
    uuid = stack.call_to(BRAM)
    placed = stack.fake.call(uuid)
    (answer_url,) = placed.request["answer_url"]
    assert answer_url.startswith(f"{stack.url}/webhooks/vonage/voice/")
    assert answer_url.endswith("/answer")
    stack.fake.answer(uuid)
    spoken = " ".join(said(stack, uuid))
    assert spoken.startswith("Dit is Samen op in acuut.") and "Druk 1" in spoken
    talk = [u for u in placed.transcript if u.verb == "Say"]
    assert all(u.attrs.get("language") == "nl-NL" for u in talk)
    heard = len(placed.transcript)
    stack.fake.press(uuid, "1")
    stack.settle()
    assert placed.status == "completed"
    done = stack.dispatch(d["reference"])
    assert done["paging_state"] == "accepted"
    assert done["assignments"][0]["answered_via"] == "voice"
    answer = said(stack, uuid, heard)
    assert answer[0].startswith("Je hebt de oproep geaccepteerd.")
    assert " ".join(answer).count(CALLBACK_SPOKEN) == 2
    expect_confirmation(stack, d)
    voice = stack.pages(d["reference"])[0]
    assert voice["status"] == "accepted" and voice["provider"] == "vonage"


def test_decline_by_key_press_calls_the_next_person(stack: Stack) -> None:
    d = stack.post()
    stack.run()
    uuid = stack.call_to(BRAM)
    stack.fake.answer(uuid)
    stack.fake.press(uuid, "2")
    stack.settle()
    assert said(stack, uuid)[-1].startswith("Je hebt de oproep geweigerd.")
    stack.call_to(d["assignments"][1]["phone"])


def test_repeat_and_no_key_read_the_page_again_then_say_goodbye(stack: Stack) -> None:
    d = stack.post()
    stack.run()
    uuid = stack.call_to(BRAM)
    stack.fake.answer(uuid)
    once = len(said(stack, uuid))
    stack.fake.press(uuid, "9")  # repeat
    assert len(said(stack, uuid)) == 2 * once
    stack.fake.input_timeout(uuid)  # the first reading after 9 timed out: read again
    assert len(said(stack, uuid)) == 3 * once
    stack.fake.input_timeout(uuid)  # the second too: goodbye, and the call ends
    assert said(stack, uuid)[-1] == "We hebben geen toets ontvangen. Tot ziens."
    stack.settle()
    assert stack.fake.call(uuid).status == "completed"
    assert stack.pages(d["reference"])[0]["error"] == "call ended without a key press"
    stack.vonage.expect_sms(BRAM, contains=d["reference"])  # the next channel, at once


def test_voicemail_is_not_a_person_the_sms_goes_out_at_once(stack: Stack) -> None:
    d = stack.post()
    stack.run()
    uuid = stack.call_to(BRAM)
    stack.fake.voicemail(uuid)
    stack.settle()
    assert stack.fake.call(uuid).status == "completed"  # hung up (or the NCCO ended)
    stack.vonage.expect_sms(BRAM, contains=d["reference"])
    voice, sms = stack.pages(d["reference"])[:2]
    assert voice["status"] == "failed" and "voicemail" in voice["error"]
    assert sms["status"] in ("sent", "delivered") and sms["provider"] == "vonage"


def test_busy_then_the_sms(stack: Stack) -> None:
    d = stack.post()
    stack.run()
    stack.fake.busy(stack.call_to(BRAM))
    stack.settle()
    stack.vonage.expect_sms(BRAM, contains=d["reference"])
    assert stack.pages(d["reference"])[0]["error"] == "call busy"


# --- SMS ---------------------------------------------------------------------------------


def sms_first(stack: Stack) -> dict[str, Any]:
    d = stack.post()
    stack.run()
    stack.fake.busy(stack.call_to(BRAM))
    stack.settle()
    stack.vonage.expect_sms(BRAM, contains=d["reference"])
    stack.settle()
    return d


def test_sms_is_delivered_and_the_receipt_recorded(stack: Stack) -> None:
    d = sms_first(stack)
    sms = stack.pages(d["reference"])[1]
    assert sms["status"] == "delivered" and sms["provider"] == "vonage"


def test_sms_reply_accept_is_answered_by_an_sms_of_its_own(stack: Stack) -> None:
    d = sms_first(stack)
    [answer] = stack.fake.reply(BRAM, "Ja!")
    assert answer == f"Geaccepteerd: {d['reference']}. De meldkamer is op de hoogte."
    stack.run()
    done = stack.dispatch(d["reference"])
    assert done["paging_state"] == "accepted"
    assert done["assignments"][0]["answered_via"] == "sms"
    # Vonage cannot answer inside the webhook: whom to call comes as the confirmation
    expect_confirmation(stack, d)
    assert stack.fake.reply(BRAM, "ja") == [f"Je hebt oproep {d['reference']} al beantwoord."]


def test_sms_reply_decline_moves_on(stack: Stack) -> None:
    d = sms_first(stack)
    [answer] = stack.fake.reply(BRAM, "2")
    assert answer.startswith("Geweigerd")
    stack.run()
    stack.call_to(d["assignments"][1]["phone"])


def test_an_undelivered_sms_moves_on_with_the_reason_in_dutch(stack: Stack) -> None:
    d = stack.post()
    stack.fake.sms_fail(BRAM, "expired", "2")
    try:
        stack.run()
        stack.fake.busy(stack.call_to(BRAM))
        stack.settle()
        stack.vonage.expect_sms(BRAM, contains=d["reference"])
        stack.settle()
        sms = stack.pages(d["reference"])[1]
        assert sms["status"] == "failed"
        assert "expired 2" in sms["error"] and "niet bereikbaar" in sms["error"]
        stack.call_to(BRAM)  # both channels failed: the next attempt starts now
    finally:
        stack.fake.sms_ok(BRAM)


def test_a_reply_that_cannot_be_sent_is_logged_not_a_500(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    sms_first(stack)
    stack.fake.rest_outage(503, count=1)  # the answer's send fails
    assert stack.fake.reply(BRAM, "wat?") == []
    inbound = stack.fake.callbacks("sms-inbound")[-1]
    assert inbound.status_code == 204
    assert any("not sent" in r.message for r in caplog.records)


# --- the webhooks' own rules -------------------------------------------------------------


def signed_voice(stack: Stack, body: dict[str, Any], *, secret: str | None = None) -> Any:
    content = json.dumps(body).encode()
    claims = {
        "iat": int(time.time()),
        "jti": "x",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(content).hexdigest(),
    }
    token = jwt.encode(claims, secret or stack.vonage.signature_secret, algorithm="HS256")
    return content, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/vonage/voice/p1/answer",
        "/webhooks/vonage/voice/p1/event",
        "/webhooks/vonage/voice/p1/key",
        "/webhooks/vonage/sms/p1/status",
        "/webhooks/vonage/sms/inbound",
    ],
)
def test_a_forged_or_missing_signature_is_refused(stack: Stack, path: str) -> None:
    body = {"uuid": "aaaaaaaa-bbbb", "status": "ringing", "dtmf": {"digits": "1"}}
    content, headers = signed_voice(stack, body, secret="not-the-signature-secret-at-all-no-no")
    assert stack.http.post(path, content=content, headers=headers).status_code == 403
    assert stack.http.post(path, json=body).status_code == 403
    form = {"messageId": "0A", "status": "delivered", "timestamp": "1", "sig": "00"}
    assert stack.http.post(path, data=form).status_code == 403


def test_a_malformed_webhook_gets_400_naming_the_field(stack: Stack) -> None:
    content, headers = signed_voice(stack, {"uuid": "aaaaaaaa-bbbb", "status": "exploded"})
    r = stack.http.post("/webhooks/vonage/voice/p1/event", content=content, headers=headers)
    assert r.status_code == 400 and "status" in r.json()["detail"]
    content, headers = signed_voice(stack, {"dtmf": {"digits": "1"}})
    r = stack.http.post("/webhooks/vonage/voice/p1/key", content=content, headers=headers)
    assert r.status_code == 400 and "uuid" in r.json()["detail"]
    signer = stack.fake.outbox.signer
    form = signer.sign_form({"messageId": "0A0000001234ABCD", "status": "maybe"})
    r = stack.http.post("/webhooks/vonage/sms/p1/status", data=form)
    assert r.status_code == 400 and "status" in r.json()["detail"]
    form = signer.sign_form({"msisdn": "06-1234", "to": "3197010000001", "messageId": "0B12"})
    r = stack.http.post("/webhooks/vonage/sms/inbound", data=form)
    assert r.status_code == 400 and "msisdn" in r.json()["detail"]


def test_sms_webhooks_may_come_as_get_or_as_json(stack: Stack) -> None:
    d = sms_first(stack)
    sms = stack.pages(d["reference"])[1]
    signer = stack.fake.outbox.signer
    receipt = {
        "msisdn": "31612340102",
        "to": "3197010000001",
        "messageId": sms["provider_id"],
        "status": "delivered",
        "err-code": "0",
    }
    path = f"/webhooks/vonage/sms/{sms['id']}/status"
    assert stack.http.get(path, params=signer.sign_form(receipt)).status_code == 204
    with make_session_factory(stack.engine)() as s:
        receipts = s.scalar(select(func.count()).select_from(WebhookReceipt))
    again = signer.sign_form(receipt)  # a redelivery, signed anew
    assert stack.http.get(path, params=again).status_code == 204
    with make_session_factory(stack.engine)() as s:
        assert s.scalar(select(func.count()).select_from(WebhookReceipt)) == receipts
    as_json = signer.sign_form(receipt | {"status": "accepted"})
    assert stack.http.post(path, json=as_json).status_code == 204
    forged = signer.sign_form(receipt) | {"status": "failed"}
    assert stack.http.get(path, params=forged).status_code == 403
    assert stack.pages(d["reference"])[1]["status"] == "delivered"


def test_an_error_report_on_the_event_url_is_accepted_and_changes_nothing(stack: Stack) -> None:
    content, headers = signed_voice(stack, {"reason": "Syntax error", "conversation_uuid": "C"})
    r = stack.http.post("/webhooks/vonage/voice/p1/event", content=content, headers=headers)
    assert r.status_code == 204


def test_the_answer_url_of_a_page_that_no_longer_asks_says_so(stack: Stack) -> None:
    content, headers = signed_voice(stack, {"uuid": "aaaaaaaa-bbbb", "to": "31612340102"})
    r = stack.http.post("/webhooks/vonage/voice/nope/answer", content=content, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert [a["text"] for a in r.json()] == [
        "Deze oproep is al afgehandeld. Je hoeft niets te doen. Tot ziens."
    ]


def test_a_redelivered_key_press_is_applied_once_and_answered_alike(stack: Stack) -> None:
    d = stack.post()
    stack.run()
    uuid = stack.call_to(BRAM)
    stack.fake.answer(uuid)
    stack.fake.press(uuid, "1")
    stack.settle()
    expect_confirmation(stack, d)
    key = stack.fake.callbacks("input", uuid)[-1]
    again = stack.fake.redeliver(key.index)  # signed anew, same event
    assert again.status_code == 200 and again.response_text == key.response_text
    receipt = stack.fake.callbacks("sms-status")[-1]
    assert stack.fake.redeliver(receipt.index).status_code == 204
    stack.settle()
    assert stack.event_types(d["id"]).count("assignment.accepted") == 1


def test_a_redelivered_inbound_sms_is_answered_once(stack: Stack) -> None:
    sms_first(stack)
    [answer] = stack.fake.reply(BRAM, "hoi")
    assert "Niet begrepen" in answer
    inbound = stack.fake.callbacks("sms-inbound")[-1]
    before = len(stack.fake.messages(BRAM))
    assert stack.fake.redeliver(inbound.index).status_code == 204
    stack.fake.wait_idle()
    assert len(stack.fake.messages(BRAM)) == before  # no second answer


def test_replies_and_their_receipts_stay_out_of_the_pages(stack: Stack) -> None:
    d = sms_first(stack)
    stack.fake.reply(BRAM, "hoi")
    stack.settle()
    assert [p["channel"] for p in stack.pages(d["reference"])] == ["voice", "sms"]


def test_the_router_is_mounted_under_webhooks_vonage(stack: Stack) -> None:
    """Each route answers in the app (unsigned: 403, not 404)."""
    for path in (
        "/webhooks/vonage/voice/p1/answer",
        "/webhooks/vonage/voice/p1/event",
        "/webhooks/vonage/voice/p1/key",
        "/webhooks/vonage/sms/p1/status",
        "/webhooks/vonage/sms/inbound",
    ):
        assert stack.http.post(path, json={}).status_code == 403, path

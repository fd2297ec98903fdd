"""One phone page for both faces of the fake: a person playing the worker answers a page
whichever provider carried it, in a real browser (Debian's Chromium, no download)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from notifications.fake.harness import FakeTwilioServer, WebhookSink
from notifications.fake.vonage.harness import FakeVonageServer
from notifications.provider import CallRequest, SmsRequest
from tests.api.test_dashboard_browser import ARGS, CHROMIUM

WORKER = "+31612345678"
ANSWER = "/webhooks/vonage/voice/page-2/answer"
KEY = "/webhooks/vonage/voice/page-2/key"


def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def faces() -> Iterator[tuple[FakeTwilioServer, FakeVonageServer, WebhookSink]]:
    with (
        FakeVonageServer() as vonage,
        FakeTwilioServer(faces=[vonage.face()]) as twilio,
        WebhookSink() as sink,
    ):
        yield twilio, vonage, sink


def test_a_vonage_call_is_answered_and_a_vonage_sms_replied_to_on_the_twilio_phone_page(
    faces: tuple[FakeTwilioServer, FakeVonageServer, WebhookSink], tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium)"
    twilio, vonage, sink = faces
    document = [
        {"action": "talk", "text": "Dit is Samen op in acuut.", "language": "nl-NL"},
        {
            "action": "input",
            "type": ["dtmf"],
            "dtmf": {"maxDigits": 1},
            "eventUrl": [sink.url + KEY],
        },
    ]
    sink.respond(ANSWER, json.dumps(document), content_type="application/json")
    sink.respond(
        KEY,
        json.dumps([{"action": "talk", "text": "Geaccepteerd."}]),
        content_type="application/json",
    )
    sink.respond("/inbound", "", content_type="text/plain")
    twilio.fake.register_phone(WORKER, "Bram (Veilig Thuis)")
    vonage.fake.set_sms_url(sink.url + "/inbound")
    provider = vonage.provider()
    provider.send_sms(SmsRequest("page-1", WORKER, "Samen op in acuut SO-K7Q2ZP", sink.url, 300))
    uuid = provider.place_call(CallRequest("page-2", WORKER, sink.url, 25)).provider_id
    until(lambda: vonage.fake.call(uuid).status == "ringing", "the Vonage call to ring")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(twilio.url + "/phones")
            assert page.locator(".phone").count() == 1  # one card for the number
            assert "nep-Vonage" in page.inner_text("header")
            assert "SO-K7Q2ZP" in page.inner_text(".phone .sms")
            page.click(f"button[data-sid='{uuid}'][data-action='answer']")
            page.click(f"button[data-sid='{uuid}'][data-digits='1']", timeout=10_000)
            until(lambda: vonage.fake.call(uuid).status == "completed", "the key to be pressed")
            page.fill(".phone .reply input", "JA")
            page.click(".phone .reply button")
            until(lambda: bool(sink.requests("/inbound")), "the reply to reach Vonage's webhook")
            page.screenshot(path=str(tmp_path / "phones.png"), full_page=True)
        finally:
            browser.close()
    assert vonage.fake.call(uuid).spoken() == ["Dit is Samen op in acuut.", "Geaccepteerd."]
    assert sink.requests("/inbound")[0].form["text"] == "JA"
    assert twilio.fake.messages() == []  # the reply went to the face that texted the phone

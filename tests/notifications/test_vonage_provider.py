"""The production ``VonageProvider`` (official SDK, real HTTPS) against the fake Vonage."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from notifications.fake.harness import WebhookSink
from notifications.fake.vonage import FakeVonage
from notifications.fake.vonage.harness import FakeVonageServer
from notifications.provider import CallRequest, DeliveryRejected, ProviderUnavailable, SmsRequest
from notifications.vonage import VonageCredentialsRejected, VonageProvider

WORKER = "+31612345678"
OTHER = "+31687654321"
ANSWER = "/webhooks/vonage/voice/page-2/answer"
EVENT = "/webhooks/vonage/voice/page-2/event"
SMS_STATUS = "/webhooks/vonage/sms/page-1/status"
T0 = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
PAGE = json.dumps(
    [
        {"action": "talk", "text": "Druk 1", "language": "nl-NL", "bargeIn": True},
        {"action": "input", "type": ["dtmf"], "dtmf": {"maxDigits": 1, "timeOut": 8}},
    ]
)


def sms(
    sink: WebhookSink,
    body: str = "Melding R-1 https://x.test/p/abc",
    to: str = WORKER,
    validity: int = 300,
    page_id: str = "page-1",
) -> SmsRequest:
    return SmsRequest(page_id, to, body, sink.url, validity)


def call(sink: WebhookSink, to: str = WORKER) -> CallRequest:
    return CallRequest("page-2", to, sink.url, 25)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


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
        receiver.respond(ANSWER, PAGE, content_type="application/json")
        yield receiver


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(clock: Clock) -> Iterator[FakeVonageServer]:
    """A fake whose records carry the test's clock, for ``find_sent`` windows."""
    with FakeVonageServer(now=clock) as server:
        yield server


def events(sink: WebhookSink, path: str = EVENT) -> list[str]:
    return [json.loads(r.body)["status"] for r in sink.requests(path)]


# --- SMS -------------------------------------------------------------------------------


def test_send_sms_submits_what_vonage_needs_and_the_receipt_comes_back(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    sent = provider.send_sms(sms(sink))

    message = vonage.expect_sms(WORKER, contains="R-1")
    assert sent.provider_id == message.message_id and sent.provider == "vonage"
    assert sent.status == "submitted" and sent.body == "Melding R-1 https://x.test/p/abc"
    assert sent.created_at is not None and sent.created_at.tzinfo is not None
    params = message.params
    assert params["to"] == "31612345678" and params["from"] == "3197010000001"
    assert params["client-ref"] == "page-1" and params["type"] == "text"
    assert params["callback"] == f"{sink.url}{SMS_STATUS}"
    assert params["ttl"] == "300000"
    assert "api_secret" not in params  # the credentials went in the Authorization header
    assert vonage.fake.wait_idle()
    (receipt,) = sink.requests(SMS_STATUS)
    assert receipt.form["status"] == "delivered" and receipt.form["messageId"] == sent.provider_id
    assert receipt.form["client-ref"] == "page-1" and receipt.form["sig"]
    vonage.assert_nothing_unexpected()


def test_an_sms_after_a_call_is_still_a_form_the_sms_api_reads(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    # The SDK leaves "Content-Type: application/json" behind after a JSON request; the
    # fake reads bodies as labelled, so a stale header would lose the credentials.
    provider.place_call(call(sink))
    provider.send_sms(sms(sink))
    assert vonage.expect_sms(WORKER).params["client-ref"] == "page-1"


def test_non_gsm_text_goes_as_unicode(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    provider.send_sms(sms(sink, body="Oproep Súdwest-Fryslân ✓"))
    assert vonage.expect_sms(WORKER).params["type"] == "unicode"
    provider.send_sms(sms(sink, body="Oproep Fryslân (GSM-7: â is not, é is)"))
    assert vonage.expect_sms(WORKER).params["type"] == "unicode"
    provider.send_sms(sms(sink, body="Oproep Súdwest, één"))  # ú is not GSM-7 either
    assert vonage.expect_sms(WORKER).params["type"] == "unicode"
    provider.send_sms(sms(sink, body="Oproep Sudwest, één, €5"))
    assert vonage.expect_sms(WORKER).params["type"] == "text"


def test_a_long_sms_goes_in_parts_each_with_its_receipt(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    sent = provider.send_sms(sms(sink, body="x" * 200))
    message = vonage.expect_sms(WORKER)
    assert len(message.parts) == 2 and sent.provider_id == message.parts[0]
    assert vonage.fake.wait_idle()
    ids = [r.form["messageId"] for r in sink.requests(SMS_STATUS)]
    assert ids == message.parts


@pytest.mark.parametrize(("asked", "ttl"), [(0, "20000"), (300, "300000"), (10**9, "604800000")])
def test_validity_is_clamped_to_vonages_ttl_range(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink, asked: int, ttl: str
) -> None:
    provider.send_sms(sms(sink, validity=asked))
    assert vonage.expect_sms(WORKER).params["ttl"] == ttl


def test_an_undelivered_sms_has_a_failed_receipt_with_the_error_code(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    vonage.fake.sms_fail(WORKER, "expired", "2")
    provider.send_sms(sms(sink))
    assert vonage.fake.wait_idle()
    (receipt,) = sink.requests(SMS_STATUS)
    assert receipt.form["status"] == "expired" and receipt.form["err-code"] == "2"


def test_a_callback_url_too_long_for_vonage_is_a_configuration_fault(
    provider: VonageProvider,
) -> None:
    request = SmsRequest("page-1", WORKER, "x", "https://" + "a" * 80 + ".example", 300)
    with pytest.raises(ProviderUnavailable, match="100 characters") as error:
        provider.send_sms(request)
    assert not error.value.maybe_sent


# --- calls -----------------------------------------------------------------------------


def test_place_call_asks_for_the_ncco_events_and_machine_detection(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    sent = provider.place_call(call(sink))

    placed = vonage.expect_call(WORKER)
    assert sent.provider_id == placed.uuid and sent.status == "started"
    assert sent.provider == "vonage" and sent.created_at is not None
    request = placed.request
    assert request["to"] == [{"type": "phone", "number": "31612345678"}]
    assert request["from"] == {"type": "phone", "number": "3197010000001"}
    assert request["answer_url"] == [f"{sink.url}{ANSWER}"]
    assert request["answer_method"] == "POST" and request["event_method"] == "POST"
    assert request["event_url"] == [f"{sink.url}{EVENT}"]
    assert request["ringing_timer"] == 25
    assert request["advanced_machine_detection"] == {"behavior": "continue", "mode": "detect"}
    assert placed.received_perf > 0


def test_a_call_rings_is_answered_reads_the_ncco_and_reports_each_step(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    uuid = provider.place_call(call(sink)).provider_id
    vonage.fake.answer(uuid)
    assert vonage.fake.call(uuid).spoken() == ["Druk 1"]
    assert vonage.fake.call(uuid).pending is not None

    provider.hang_up(uuid)
    assert vonage.fake.wait_idle()
    assert events(sink) == ["started", "ringing", "answered", "human", "completed"]
    final = json.loads(sink.requests(EVENT)[-1].body)
    assert final["uuid"] == uuid and "duration" in final
    provider.hang_up(uuid)  # already over: nothing to do, no error


def test_hang_up_of_a_ringing_call_cancels_it(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    uuid = provider.place_call(call(sink)).provider_id
    vonage.fake.wait_idle()
    provider.hang_up(uuid)
    assert vonage.fake.wait_idle()
    assert vonage.fake.call(uuid).status == "cancelled"
    assert events(sink)[-1] == "cancelled"


def test_hang_up_of_an_unknown_call_is_no_error(provider: VonageProvider) -> None:
    provider.hang_up("00000000-0000-4000-8000-000000000999")


@pytest.mark.parametrize("ring", [0, 500])
def test_ringing_time_is_clamped_to_vonages_range(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink, ring: int
) -> None:
    provider.place_call(CallRequest("page-2", WORKER, sink.url, ring))
    assert vonage.expect_call(WORKER).request["ringing_timer"] == (1 if ring == 0 else 120)


# --- refusals and outages --------------------------------------------------------------


@pytest.mark.parametrize("bad", ["0612345678", "+31 6 1234", "abc"])
def test_an_invalid_number_is_rejected_for_good(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink, bad: str
) -> None:
    with pytest.raises(DeliveryRejected) as sms_error:
        provider.send_sms(sms(sink, to=bad))
    with pytest.raises(DeliveryRejected) as call_error:
        provider.place_call(call(sink, to=bad))
    assert sms_error.value.code == "3" and "Invalid to address" in sms_error.value.message
    assert call_error.value.code == "400"
    assert fake.calls() == [] and fake.messages() == []


@pytest.mark.parametrize("code", ["7", "29", "33"])
def test_a_barred_number_is_rejected_with_vonages_status(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink, code: str
) -> None:
    fake.reject(WORKER, code)
    with pytest.raises(DeliveryRejected) as error:
        provider.send_sms(sms(sink))
    assert error.value.code == code
    with pytest.raises(DeliveryRejected) as call_error:
        provider.place_call(call(sink))
    assert call_error.value.code == "400"
    fake.reject(WORKER, None)
    assert provider.send_sms(sms(sink)).status == "submitted"


@pytest.mark.parametrize("code", ["1", "5", "9"])
def test_throttled_internal_error_or_account_trouble_is_unavailable_and_not_sent(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink, code: str
) -> None:
    fake.reject(WORKER, code)
    with pytest.raises(ProviderUnavailable) as error:
        provider.send_sms(sms(sink))
    assert not isinstance(error.value, VonageCredentialsRejected)
    assert not error.value.maybe_sent


@pytest.mark.parametrize(("status", "maybe_sent"), [(500, True), (502, True), (504, True)])
def test_server_errors_may_have_carried_out_the_request(
    fake: FakeVonage,
    provider: VonageProvider,
    sink: WebhookSink,
    status: int,
    maybe_sent: bool,
) -> None:
    fake.rest_outage(status, count=3)
    for send in (lambda: provider.place_call(call(sink)), lambda: provider.send_sms(sms(sink))):
        with pytest.raises(ProviderUnavailable) as error:
            send()
        assert error.value.maybe_sent is maybe_sent
    with pytest.raises(ProviderUnavailable):
        provider.find_sent(channel="sms", to=WORKER, since=T0)
    assert provider.send_sms(sms(sink)).status == "submitted"  # the outage is over


@pytest.mark.parametrize("status", [503, 429])
def test_unavailable_and_rate_limited_were_not_taken(
    fake: FakeVonage, provider: VonageProvider, sink: WebhookSink, status: int
) -> None:
    fake.rest_outage(status, count=2)
    with pytest.raises(ProviderUnavailable) as call_error:
        provider.place_call(call(sink))
    with pytest.raises(ProviderUnavailable) as sms_error:
        provider.send_sms(sms(sink))
    assert not call_error.value.maybe_sent and not sms_error.value.maybe_sent
    assert not isinstance(call_error.value, VonageCredentialsRejected)
    assert call_error.value.provider == sms_error.value.provider == "vonage"


def test_a_create_answered_too_late_may_have_been_carried_out(
    vonage: FakeVonageServer, sink: WebhookSink
) -> None:
    provider = vonage.provider(timeout=0.3)
    vonage.fake.delay_creates(1.0)
    with pytest.raises(ProviderUnavailable) as error:
        provider.place_call(call(sink))
    assert error.value.maybe_sent
    vonage.expect_call(WORKER)  # Vonage took it: the phone rings all the same


def test_a_create_held_before_vonage_took_it_is_not_placed(
    vonage: FakeVonageServer, sink: WebhookSink
) -> None:
    provider = vonage.provider(timeout=0.3)
    vonage.fake.delay_creates(0.6, before=True)
    with pytest.raises(ProviderUnavailable) as error:
        provider.send_sms(sms(sink))
    assert error.value.maybe_sent  # the provider cannot know it was not taken
    deadline = time.monotonic() + 2
    while vonage.fake.held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert vonage.fake.held == 0 and vonage.fake.messages() == []


def test_an_unreachable_vonage_did_not_take_anything(
    vonage: FakeVonageServer, provider: VonageProvider, sink: WebhookSink
) -> None:
    provider.send_sms(sms(sink))  # a kept-alive connection exists when Vonage goes away
    vonage.expect_sms(WORKER)
    vonage.stop_http()
    for send in (lambda: provider.send_sms(sms(sink)), lambda: provider.place_call(call(sink))):
        with pytest.raises(ProviderUnavailable) as error:
            send()
        assert not error.value.maybe_sent
    with pytest.raises(ProviderUnavailable):
        provider.find_sent(channel="voice", to=WORKER, since=T0)


def test_a_connection_refused_is_not_sent(vonage: FakeVonageServer, sink: WebhookSink) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once closed
    provider = VonageProvider(
        application_id=vonage.application_id,
        private_key=vonage.private_key_pem,
        api_key=vonage.api_key,
        api_secret=vonage.api_secret,
        signature_secret=vonage.signature_secret,
        from_number=vonage.from_number,
        api_host=f"127.0.0.1:{port}",
        rest_host=f"127.0.0.1:{port}",
        ca_bundle=vonage.ca_path,
        timeout=1.0,
    )
    with pytest.raises(ProviderUnavailable) as error:
        provider.place_call(call(sink))
    assert not error.value.maybe_sent


def test_a_server_the_ca_does_not_vouch_for_is_refused_before_sending(
    vonage: FakeVonageServer, sink: WebhookSink
) -> None:
    provider = VonageProvider(
        application_id=vonage.application_id,
        private_key=vonage.private_key_pem,
        api_key=vonage.api_key,
        api_secret=vonage.api_secret,
        signature_secret=vonage.signature_secret,
        from_number=vonage.from_number,
        api_host=vonage.host,
        rest_host=vonage.host,
        timeout=1.0,
    )  # no ca_bundle: the system's CAs know nothing of the fake's
    with pytest.raises(ProviderUnavailable) as error:
        provider.send_sms(sms(sink))
    assert not error.value.maybe_sent and "SSL" in str(error.value)
    assert vonage.fake.messages() == []


def test_wrong_credentials_say_so(vonage: FakeVonageServer, sink: WebhookSink) -> None:
    provider = vonage.provider(api_secret="not-the-secret")
    with pytest.raises(VonageCredentialsRejected, match="4: Bad Credentials"):
        provider.send_sms(sms(sink))
    with pytest.raises(VonageCredentialsRejected, match="401"):
        provider.find_sent(channel="sms", to=WORKER, since=T0)
    assert vonage.fake.messages() == []


def test_a_jwt_of_another_key_or_application_is_refused(
    vonage: FakeVonageServer, sink: WebhookSink, tmp_path: Path
) -> None:
    other = vonage.provider(application_id="11111111-1111-4111-8111-111111111111")
    with pytest.raises(VonageCredentialsRejected, match="401"):
        other.place_call(call(sink))
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(VonageCredentialsRejected):
        vonage.provider(private_key=pem).place_call(call(sink))
    assert vonage.fake.calls() == []


def test_the_private_key_may_be_a_file_and_pkcs1(
    vonage: FakeVonageServer, sink: WebhookSink, tmp_path: Path
) -> None:
    key = serialization.load_pem_private_key(vonage.private_key_pem.encode(), password=None)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "vonage-key"  # no extension: the SDK would take it for PEM text
    path.write_text(pkcs1)
    provider = vonage.provider(private_key=str(path))
    provider.place_call(call(sink))
    vonage.expect_call(WORKER)


# --- find_sent -------------------------------------------------------------------------


def test_find_sent_matches_sms_on_the_page_id_then_on_the_marker(
    timed: FakeVonageServer, clock: Clock, sink: WebhookSink
) -> None:
    provider = timed.provider()
    old = provider.send_sms(sms(sink, body="Melding R-1 https://x.test/p/AAA"))
    clock.now = T0 + timedelta(minutes=5)
    claim = clock.now
    wanted = provider.send_sms(sms(sink, body="Melding R-1 https://x.test/p/AAA"))
    clock.now += timedelta(seconds=30)
    other_page = provider.send_sms(sms(sink, body="Melding R-2 https://x.test/p/BBB", page_id="p2"))
    provider.send_sms(sms(sink, to=OTHER, body="Melding R-1 https://x.test/p/AAA"))
    assert timed.fake.wait_idle()  # the receipts are in: the records say "delivered"

    by_page = provider.find_sent(channel="sms", to=WORKER, since=claim, page_id="page-1")
    assert [s.provider_id for s in by_page] == [wanted.provider_id]
    assert by_page[0].body == "Melding R-1 https://x.test/p/AAA"
    assert by_page[0].status == "delivered" and by_page[0].provider == "vonage"
    by_marker = provider.find_sent(channel="sms", to=WORKER, since=claim, marker="p/BBB")
    assert [s.provider_id for s in by_marker] == [other_page.provider_id]
    everything = provider.find_sent(channel="sms", to=WORKER, since=T0)
    assert {s.provider_id for s in everything} == {
        old.provider_id,
        wanted.provider_id,
        other_page.provider_id,
    }
    moments = [s.created_at for s in everything]
    assert all(m is not None and m.tzinfo is not None for m in moments)
    assert moments == sorted(moments, reverse=True)  # type: ignore[type-var]
    assert provider.find_sent(channel="sms", to=WORKER, since=clock.now + timedelta(1)) == []


def test_find_sent_matches_calls_on_number_and_time(
    timed: FakeVonageServer, clock: Clock, sink: WebhookSink
) -> None:
    provider = timed.provider()
    provider.place_call(call(sink))
    clock.now = T0 + timedelta(minutes=2)
    first = provider.place_call(call(sink))
    clock.now += timedelta(seconds=1)
    second = provider.place_call(call(sink))
    provider.place_call(call(sink, to=OTHER))

    # A local (Amsterdam, +01:00) instant with microseconds still means the same second.
    since = (T0 + timedelta(minutes=2, microseconds=400)).astimezone()
    found = provider.find_sent(channel="voice", to=WORKER, since=since)

    assert [s.provider_id for s in found] == [second.provider_id, first.provider_id]
    assert all(s.body is None and s.provider == "vonage" for s in found)
    assert all(s.created_at is not None and s.created_at.tzinfo is UTC for s in found)

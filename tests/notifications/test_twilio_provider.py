"""The production ``TwilioProvider`` (official SDK, real HTTP) against the fake Twilio."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from notifications.fake import FakeTwilio
from notifications.fake.harness import FakeTwilioServer, WebhookSink
from notifications.provider import (
    CallRequest,
    DeliveryRejected,
    ProviderUnavailable,
    SmsRequest,
)
from notifications.twilio import TwilioCredentialsRejected, TwilioProvider

WORKER = "+31612345678"
TWIML = "/webhooks/twilio/voice/page-2"
STATUS = "/webhooks/twilio/call-status/page-2"
SMS_STATUS = "/webhooks/twilio/sms-status/page-1"
OTHER = "+31687654321"
T0 = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)


def sms(
    sink: WebhookSink,
    body: str = "Melding R-1 https://x.test/p/abc",
    to: str = WORKER,
    validity: int = 300,
) -> SmsRequest:
    return SmsRequest("page-1", to, body, sink.url, validity)


def call(sink: WebhookSink, to: str = WORKER) -> CallRequest:
    return CallRequest("page-2", to, sink.url, 25)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(clock: Clock) -> Iterator[FakeTwilioServer]:
    """A fake whose records carry the test's clock, for ``find_sent`` windows."""
    with FakeTwilioServer(now=clock) as server:
        yield server


def test_send_sms_creates_the_message_twilio_would(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sent = provider.send_sms(sms(sink))

    message = twilio.expect_sms(WORKER, contains="R-1")
    assert sent.provider_id == message.sid and sent.provider_id.startswith("SM")
    assert sent.status == "queued"
    assert sent.body == "Melding R-1 https://x.test/p/abc"
    assert sent.created_at is not None and sent.created_at.tzinfo is not None
    assert message.params["From"] == twilio.from_number
    assert message.params["StatusCallback"] == f"{sink.url}{SMS_STATUS}"
    assert message.params["ValidityPeriod"] == "300"
    assert twilio.fake.wait_idle()
    assert [r.form["MessageStatus"] for r in sink.requests(SMS_STATUS)] == ["sent", "delivered"]
    twilio.assert_nothing_unexpected()


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (36000, "36000"), (90000, "36000")])
def test_validity_is_clamped_to_twilios_range(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink, asked: int, sent: str
) -> None:
    provider.send_sms(sms(sink, validity=asked))
    assert twilio.expect_sms(WORKER).params["ValidityPeriod"] == sent


def test_place_call_asks_for_twiml_progress_and_async_amd(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sent = provider.place_call(call(sink))

    placed = twilio.expect_call(WORKER)
    assert sent.provider_id == placed.sid and sent.provider_id.startswith("CA")
    assert sent.status == "queued" and sent.created_at is not None
    params = placed.params
    assert params["Url"] == f"{sink.url}{TWIML}" and params["Method"] == "POST"
    assert params["StatusCallback"] == f"{sink.url}{STATUS}"
    assert params["StatusCallbackMethod"] == "POST"
    assert placed.status_callback_events == ["answered", "completed"]
    assert params["MachineDetection"] == "DetectMessageEnd"
    assert params["AsyncAmd"] == "true"
    assert params["AsyncAmdStatusCallback"] == f"{sink.url}/webhooks/twilio/amd/page-2"
    assert params["AsyncAmdStatusCallbackMethod"] == "POST"
    assert params["Timeout"] == "25"
    assert params["From"] == twilio.from_number
    assert placed.received_perf > 0


@pytest.mark.parametrize("bad", ["0612345678", "+31 6 1234", "abc"])
def test_an_invalid_number_is_rejected_for_good(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink, bad: str
) -> None:
    with pytest.raises(DeliveryRejected) as sms_error:
        provider.send_sms(sms(sink, to=bad))
    with pytest.raises(DeliveryRejected) as call_error:
        provider.place_call(call(sink, to=bad))

    assert sms_error.value.code == call_error.value.code == "21211"
    assert "not a valid phone number" in sms_error.value.message
    assert fake.calls() == [] and fake.messages() == []


@pytest.mark.parametrize("code", [21610, 21614, 21217])
def test_blocked_or_landline_numbers_are_rejected_with_twilios_code(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink, code: int
) -> None:
    fake.reject(WORKER, code)
    with pytest.raises(DeliveryRejected) as error:
        provider.send_sms(sms(sink))
    assert error.value.code == str(code)


def test_an_unreachable_twilio_is_unavailable_not_rejected(
    twilio: FakeTwilioServer, provider: TwilioProvider, sink: WebhookSink
) -> None:
    provider.send_sms(sms(sink))  # a kept-alive connection exists when Twilio goes away
    twilio.stop_http()

    with pytest.raises(ProviderUnavailable):
        provider.send_sms(sms(sink))
    with pytest.raises(ProviderUnavailable):
        provider.place_call(call(sink))
    with pytest.raises(ProviderUnavailable):
        provider.find_sent(channel="sms", to=WORKER, since=T0)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_unavailable(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink, status: int
) -> None:
    fake.rest_outage(status, count=2)
    with pytest.raises(ProviderUnavailable) as error:
        provider.send_sms(sms(sink))
    assert not isinstance(error.value, TwilioCredentialsRejected)
    with pytest.raises(ProviderUnavailable):
        provider.find_sent(channel="voice", to=WORKER, since=T0)

    assert provider.send_sms(sms(sink)).status == "queued"  # the outage is over


def test_a_wrong_auth_token_says_so(twilio: FakeTwilioServer, sink: WebhookSink) -> None:
    provider = twilio.provider(auth_token="not-the-token")

    with pytest.raises(TwilioCredentialsRejected, match="auth token") as error:
        provider.send_sms(sms(sink))
    assert "20003" in str(error.value)
    with pytest.raises(TwilioCredentialsRejected):
        provider.find_sent(channel="sms", to=WORKER, since=T0)
    assert twilio.fake.messages() == []


def test_find_sent_matches_sms_on_marker_and_time(
    timed: FakeTwilioServer, clock: Clock, sink: WebhookSink
) -> None:
    provider = timed.provider()
    old = provider.send_sms(sms(sink, body="Melding R-1 https://x.test/p/AAA"))
    clock.now = T0 + timedelta(minutes=5)
    claim = clock.now
    wanted = provider.send_sms(sms(sink, body="Melding R-1 https://x.test/p/AAA"))
    clock.now += timedelta(seconds=30)
    provider.send_sms(sms(sink, body="Melding R-2 https://x.test/p/BBB"))
    provider.send_sms(sms(sink, to=OTHER, body="Melding R-1 https://x.test/p/AAA"))

    found = provider.find_sent(channel="sms", to=WORKER, since=claim, marker="p/AAA")

    assert [s.provider_id for s in found] == [wanted.provider_id]
    assert old.provider_id not in [s.provider_id for s in found]
    assert found[0].body == "Melding R-1 https://x.test/p/AAA"
    everything = provider.find_sent(channel="sms", to=WORKER, since=T0)
    assert len(everything) == 3
    moments = [s.created_at for s in everything if s.created_at is not None]
    assert len(moments) == 3 and moments == sorted(moments, reverse=True)
    assert provider.find_sent(channel="sms", to=WORKER, since=clock.now + timedelta(1)) == []


def test_find_sent_matches_calls_on_number_and_time(
    timed: FakeTwilioServer, clock: Clock, sink: WebhookSink
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
    assert all(s.body is None for s in found)


def test_hang_up_ends_an_answered_call_with_a_completed_callback(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sink.respond(TWIML, '<Response><Gather numDigits="1"><Say>Druk 1</Say></Gather></Response>')
    sid = provider.place_call(call(sink)).provider_id
    fake.answer(sid)
    assert fake.call(sid).status == "in-progress"

    provider.hang_up(sid)

    assert fake.call(sid).status == "completed"
    assert fake.wait_idle()
    final = sink.requests(STATUS)[-1].form
    assert final["CallStatus"] == "completed"
    assert final["CallSid"] == sid and "CallDuration" in final
    provider.hang_up(sid)  # already over: nothing to do, no error


def test_hang_up_of_a_ringing_call_cancels_it(
    fake: FakeTwilio, provider: TwilioProvider, sink: WebhookSink
) -> None:
    sid = provider.place_call(call(sink)).provider_id
    provider.hang_up(sid)

    assert fake.wait_idle()
    assert fake.call(sid).status == "canceled"
    assert [r.form["CallStatus"] for r in sink.requests(STATUS)][-1] == "canceled"

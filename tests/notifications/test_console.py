"""The console provider: the demo's pages, kept and findable like a real provider's."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import ManualClock
from notifications.console import ConsoleProvider, mask_number
from notifications.provider import CallRequest, DeliveryRejected, Provider, SmsRequest

START = datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
NUMBER = "+31612345678"


def sms(
    page_id: str = "p1", to: str = NUMBER, body: str = "Samen op in acuut SO-K7Q2ZP"
) -> SmsRequest:
    return SmsRequest(
        page_id=page_id, to=to, body=body, callback_base="http://x", validity_seconds=300
    )


def call(page_id: str = "p1", to: str = NUMBER) -> CallRequest:
    return CallRequest(
        page_id=page_id,
        to=to,
        callback_base="http://x",
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def provider(clock: ManualClock) -> ConsoleProvider:
    return ConsoleProvider(clock)


def test_it_is_a_provider(provider: ConsoleProvider) -> None:
    as_provider: Provider = provider
    assert as_provider.name == "console"


def test_send_sms_and_place_call_answer_sent(provider: ConsoleProvider) -> None:
    sent = provider.send_sms(sms())
    assert sent.provider_id.startswith("CON")
    assert (sent.status, sent.created_at, sent.body) == ("sent", START, sms().body)
    called = provider.place_call(call())
    assert called.provider_id.startswith("CON")
    assert called.provider_id != sent.provider_id
    assert [(r.channel, r.page_id) for r in provider.records] == [("sms", "p1"), ("voice", "p1")]


def test_find_sent_filters_by_channel_number_time_and_marker(
    provider: ConsoleProvider, clock: ManualClock
) -> None:
    old = provider.send_sms(sms(body="oud /p/AAA"))
    clock.advance(timedelta(minutes=5))
    first = provider.send_sms(sms(body="nieuw /p/BBB"))
    second = provider.send_sms(sms(body="nieuw /p/CCC"))
    provider.send_sms(sms(to="+31687654321", body="ander /p/BBB"))
    rang = provider.place_call(call())
    since = START + timedelta(minutes=1)

    found = provider.find_sent(channel="sms", to=NUMBER, since=since)
    assert [s.provider_id for s in found] == [second.provider_id, first.provider_id]
    marked = provider.find_sent(channel="sms", to=NUMBER, since=since, marker="/p/BBB")
    assert [s.provider_id for s in marked] == [first.provider_id]
    assert old.provider_id in [s.provider_id for s in provider.find_sent(
        channel="sms", to=NUMBER, since=START, marker="/p/AAA")]  # fmt: skip
    calls = provider.find_sent(channel="voice", to=NUMBER, since=since, marker="ignored")
    assert [s.provider_id for s in calls] == [rang.provider_id]
    assert provider.find_sent(channel="voice", to=NUMBER, since=since + timedelta(hours=1)) == []


def test_hang_up_is_recorded(provider: ConsoleProvider) -> None:
    rang = provider.place_call(call())
    provider.hang_up(rang.provider_id)
    assert provider.hangups == [rang.provider_id]


def test_no_number_is_rejected(provider: ConsoleProvider) -> None:
    with pytest.raises(DeliveryRejected):
        provider.send_sms(sms(to=" "))
    assert provider.records == []


def test_log_shows_the_page_but_masks_the_number(
    provider: ConsoleProvider, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="samenop.pages"):
        provider.send_sms(sms(body="Samen op in acuut SO-K7Q2ZP: open /p/xyz"))
        provider.place_call(call())
    text = caplog.text
    assert "SO-K7Q2ZP" in text and "/p/xyz" in text
    assert NUMBER not in text
    assert "+316****5678" in text
    assert all(r.name == "samenop.pages" for r in caplog.records)


def test_mask_number() -> None:
    assert mask_number("+31612345678") == "+316****5678"
    assert mask_number("112") == "***"


def test_concurrent_sends_are_all_kept(provider: ConsoleProvider) -> None:
    threads = [
        threading.Thread(
            target=lambda n=n: [provider.send_sms(sms(page_id=f"p{n}-{i}")) for i in range(50)]
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = provider.records
    assert len(records) == 400
    assert len({r.provider_id for r in records}) == 400
    assert len(provider.find_sent(channel="sms", to=NUMBER, since=START)) == 400

"""The failover provider over two real Twilio providers (the SDK) and two fakes: the
secondary takes a page the primary did not take, never one the primary may have; the
circuit skips a failing primary and a probe brings it back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from notifications.failover import Circuit, FailoverProvider
from notifications.fake.harness import FakeTwilioServer
from notifications.provider import (
    CallRequest,
    DeliveryRejected,
    ProviderUnavailable,
    SmsRequest,
)
from notifications.twilio import TwilioProvider

WORKER = "+31612345678"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def primary() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture
def secondary() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


def named(server: FakeTwilioServer, name: str, timeout: float = 1.0) -> TwilioProvider:
    provider = server.provider(timeout=timeout)
    provider.name = name  # two Twilio accounts stand in for two providers
    return provider


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def failover(
    primary: FakeTwilioServer, secondary: FakeTwilioServer, ticks: Ticks
) -> FailoverProvider:
    providers = {"first": named(primary, "first"), "second": named(secondary, "second")}
    return FailoverProvider(
        dict(providers), ("first", "second"), Circuit(failures=2, probe_after=15, clock=ticks)
    )


def call(page: str = "p1", route: tuple[str, ...] | None = None) -> CallRequest:
    return CallRequest(page, WORKER, "http://127.0.0.1:9", route=route)


def test_pages_go_through_the_primary_while_it_answers(
    failover: FailoverProvider, primary: FakeTwilioServer, secondary: FakeTwilioServer
) -> None:
    sent = failover.place_call(call())
    assert sent.provider == "first"
    assert [c.sid for c in primary.fake.calls(WORKER)] == [sent.provider_id]
    assert secondary.fake.calls() == []


def test_a_primary_that_did_not_take_the_page_hands_it_to_the_secondary(
    failover: FailoverProvider, primary: FakeTwilioServer, secondary: FakeTwilioServer
) -> None:
    primary.fake.rest_outage(503)  # not taken
    sent = failover.send_sms(SmsRequest("p1", WORKER, "Melding", "http://127.0.0.1:9", 60))
    assert sent.provider == "second"
    assert primary.fake.messages() == [] and len(secondary.fake.messages(WORKER)) == 1
    primary.stop_http()  # unreachable: the connection is refused
    sent = failover.place_call(call("p2"))
    assert sent.provider == "second"
    assert failover.circuit.is_open("first")  # two failures in a row


def test_a_primary_that_may_have_taken_the_page_is_never_bypassed(
    failover: FailoverProvider, primary: FakeTwilioServer, secondary: FakeTwilioServer
) -> None:
    primary.fake.delay_creates(1.6)  # taken, answered after the 1 s timeout
    with pytest.raises(ProviderUnavailable) as caught:
        failover.place_call(call())
    assert caught.value.maybe_sent and caught.value.provider == "first"
    assert len(primary.fake.calls(WORKER)) == 1
    assert secondary.fake.calls() == []  # the phone rings once, through the primary
    primary.fake.rest_outage(500, count=1)  # a 500 may follow a carried-out request too
    with pytest.raises(ProviderUnavailable) as caught:
        failover.place_call(call("p2"))
    assert caught.value.maybe_sent and secondary.fake.calls() == []


def test_a_refusal_of_the_number_is_not_a_provider_failure(
    failover: FailoverProvider, primary: FakeTwilioServer, secondary: FakeTwilioServer
) -> None:
    primary.fake.reject(WORKER, 21610)
    with pytest.raises(DeliveryRejected):
        failover.place_call(call())
    assert secondary.fake.calls() == [] and not failover.circuit.is_open("first")


def test_an_open_circuit_skips_the_primary_until_a_probe_finds_it_back(
    failover: FailoverProvider,
    primary: FakeTwilioServer,
    secondary: FakeTwilioServer,
    ticks: Ticks,
) -> None:
    primary.fake.rest_outage(503)
    for page in ("p1", "p2"):
        assert failover.place_call(call(page)).provider == "second"
    assert failover.circuit.is_open("first")
    primary.fake.rest_outage(None)  # back, but nobody knows yet
    ticks.now += 5
    assert failover.place_call(call("p3")).provider == "second"  # skipped: no request
    assert primary.fake.calls() == []
    ticks.now += 11  # the probe is due: a harmless look-up, not a page
    # (the probe runs beside this page: the page goes through whichever is closed then)
    p4 = failover.place_call(call("p4")).provider
    deadline = time.monotonic() + 5
    while failover.circuit.is_open("first") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not failover.circuit.is_open("first")
    # the probe placed no call: the primary has at most that page
    assert len(primary.fake.calls()) == (1 if p4 == "first" else 0)
    assert failover.place_call(call("p5")).provider == "first"


def test_a_team_route_puts_its_own_provider_first(
    failover: FailoverProvider, primary: FakeTwilioServer, secondary: FakeTwilioServer
) -> None:
    assert failover.place_call(call(route=("second", "first"))).provider == "second"
    assert primary.fake.calls() == []


def test_find_sent_asks_every_provider_and_says_when_one_cannot_answer(
    failover: FailoverProvider, primary: FakeTwilioServer, secondary: FakeTwilioServer
) -> None:
    since = datetime.now(UTC).replace(microsecond=0)
    first = failover.providers["first"].place_call(call("p1"))
    second = failover.providers["second"].place_call(call("p2"))
    found = failover.find_sent(channel="voice", to=WORKER, since=since)
    assert {(s.provider, s.provider_id) for s in found} == {
        ("first", first.provider_id),
        ("second", second.provider_id),
    }
    secondary.fake.rest_outage(503)
    with pytest.raises(ProviderUnavailable):
        failover.find_sent(channel="voice", to=WORKER, since=since)


def test_failover_needs_two_configured_providers(primary: FakeTwilioServer) -> None:
    with pytest.raises(ValueError, match="two configured providers"):
        FailoverProvider({"first": named(primary, "first")}, ("first", "second"))

"""Failover end to end: Twilio is the primary and Vonage the secondary, each through its
real SDK and its fake (Vonage over TLS), on SQLite and PostgreSQL. When Twilio does not
take a page, Vonage carries it at once; a page Twilio may have taken is never sent
through Vonage too; the circuit goes back to Twilio when a probe finds it answering;
a team may put Vonage first. The pages list says which provider carried each page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from notifications.fake.vonage.harness import FakeVonageServer
from oncall.schemas import ConfigSet
from tests.api.live import Live, start_live
from tests.api.test_paging_twilio import BRAM, office_incident
from tests.api.test_scenarios import incident
from tests.conftest import BACKENDS

PROBE_AFTER = 0.5  # seconds an open circuit waits before it probes Twilio (tests only)


@dataclass
class Both:
    live: Live
    vonage: FakeVonageServer


@pytest.fixture(scope="module", params=BACKENDS)
def both(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_config: ConfigSet,
) -> Iterator[Both]:
    # The CIT of Den Haag wants Vonage first; everybody else has the service's order.
    teams = tuple(
        t.model_copy(update={"providers": ("vonage", "twilio")}) if t.id == "cit-haaglanden" else t
        for t in example_config.teams
    )
    config = example_config.model_copy(update={"teams": teams})
    vonage = FakeVonageServer().start()
    try:
        for live in start_live(
            request.param,
            tmp_path_factory.mktemp("failover"),
            config,
            paging_secondary="vonage",
            provider_timeout_seconds=1.0,
            circuit_failures=2,
            circuit_probe_seconds=PROBE_AFTER,
            vonage_application_id=vonage.application_id,
            vonage_private_key=vonage.private_key_path,
            vonage_api_key=vonage.api_key,
            vonage_api_secret=vonage.api_secret,
            vonage_signature_secret=vonage.signature_secret,
            vonage_from=vonage.from_number,
            vonage_api_host=vonage.host,
            vonage_rest_host=vonage.host,
            vonage_ca_bundle=vonage.ca_path,
        ):
            vonage.fake.set_sms_url(f"{live.url}/webhooks/vonage/sms/inbound")
            yield Both(live, vonage)
    finally:
        vonage.stop()


@pytest.fixture
def stack(both: Both) -> Iterator[Both]:
    live, vonage = both.live, both.vonage
    live.fake.reset()
    vonage.fake.reset()
    live.fake.rest_outage(None)
    vonage.fake.rest_outage(None)
    live.clean()
    live.at("2026-03-10T16:59")
    circuit = live.app_state.paging.provider.circuit  # type: ignore[attr-defined]
    for name in ("twilio", "vonage"):
        circuit.success(name)
    yield both
    live.fake.wait_idle()
    vonage.fake.wait_idle()
    live.fake.rest_outage(None)
    live.twilio.assert_nothing_unexpected()
    vonage.assert_nothing_unexpected()


def providers(live: Live, d: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["channel"], p["provider"]) for p in live.pages(d["reference"])]


def test_a_page_twilio_does_not_take_goes_through_vonage_at_once(stack: Both) -> None:
    live, vonage = stack.live, stack.vonage
    d = office_incident(live)
    live.fake.rest_outage(503)
    t0 = time.monotonic()
    live.run()
    call = vonage.expect_call(BRAM)
    took = time.monotonic() - t0
    assert took < 5.0, took
    assert live.fake.calls() == []
    assert providers(live, d)[0] == ("voice", "vonage")
    # the person answers on the Vonage call and accepts: the usual path
    vonage.fake.answer(call.uuid)
    vonage.fake.press(call.uuid, "1")
    vonage.fake.wait_idle()
    live.run()
    assert live.dispatch(d["reference"])["paging_state"] == "accepted"
    # the confirmation goes through Vonage too (Twilio still fails)
    vonage.expect_sms(BRAM, contains="je hebt geaccepteerd")
    confirmation = [p for p in live.pages(d["reference"]) if p["kind"] == "confirmation"]
    assert [p["provider"] for p in confirmation] == ["vonage"]


def test_an_unreachable_twilio_hands_pages_to_vonage_and_the_circuit_brings_it_back(
    stack: Both,
) -> None:
    live, vonage = stack.live, stack.vonage
    live.twilio.stop_http()  # connections refused from now on
    try:
        t0 = time.monotonic()
        first = office_incident(live)
        live.run()
        vonage.expect_call(BRAM)
        assert time.monotonic() - t0 < 5.0
        second = office_incident(live)
        live.run()
        vonage.expect_call(BRAM)
        circuit = live.app_state.paging.provider.circuit  # type: ignore[attr-defined]
        assert circuit.is_open("twilio")
        assert providers(live, first)[0][1] == providers(live, second)[0][1] == "vonage"
    finally:
        live.twilio.start()  # Twilio is back (on the same port)
    time.sleep(PROBE_AFTER + 0.1)
    third = office_incident(live)
    live.run()  # it sets off the probe of Twilio; on a slow machine the probe may already
    # have closed the circuit, and then this page goes through Twilio: either, once
    carrier = providers(live, third)[0][1]
    assert carrier in ("vonage", "twilio")
    (vonage if carrier == "vonage" else live.twilio).expect_call(BRAM)
    deadline = time.monotonic() + 5
    while circuit.is_open("twilio") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not circuit.is_open("twilio")
    fourth = office_incident(live)
    live.run()
    live.twilio.expect_call(BRAM)
    assert providers(live, fourth)[0] == ("voice", "twilio")


def test_a_page_twilio_may_have_taken_is_not_sent_through_vonage(stack: Both) -> None:
    live, vonage = stack.live, stack.vonage
    d = office_incident(live)
    live.fake.delay_creates(1.6)  # Twilio takes the call; its answer comes after 1 s
    live.run()
    call = live.twilio.expect_call(BRAM)
    live.fake.rest_outage(503)  # and Twilio cannot be asked at first
    live.clock.advance(timedelta(seconds=3))
    live.run()
    assert vonage.fake.calls() == []  # never the second provider for an uncertain page
    live.fake.rest_outage(None)
    live.clock.advance(timedelta(seconds=3))
    live.run()
    voice = live.pages(d["reference"])[0]
    assert (voice["provider"], voice["provider_id"], voice["status"]) == (
        "twilio",
        call.sid,
        "sent",
    )
    assert vonage.fake.calls() == [] and len(live.fake.calls(BRAM)) == 1


def test_a_team_may_page_through_vonage_first(stack: Both) -> None:
    live, vonage = stack.live, stack.vonage
    live.at("2026-11-21T12:00")
    d = live.post(**incident(basisteam="laak", reported_at="2026-11-21T12:00"))
    live.run()
    for a in d["assignments"][:2]:  # a two-person call-out: both paged at once
        vonage.expect_call(a["phone"])
    assert live.fake.calls() == []
    assert {p for channel, p in providers(live, d) if channel == "voice"} == {"vonage"}

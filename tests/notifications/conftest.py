"""The fake Twilio on a free port, a webhook receiver standing in for our service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notifications.fake import FakeTwilio
from notifications.fake.harness import FakeTwilioServer, WebhookSink
from notifications.twilio import TwilioProvider


@pytest.fixture
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture
def fake(twilio: FakeTwilioServer) -> FakeTwilio:
    return twilio.fake


@pytest.fixture
def provider(twilio: FakeTwilioServer) -> TwilioProvider:
    return twilio.provider()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as receiver:
        yield receiver

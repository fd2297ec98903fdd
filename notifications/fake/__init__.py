"""A local Twilio: the REST subset our provider uses, and the phones it reaches.

Tests and the demo run the real ``TwilioProvider`` (the official SDK) against it, so
the code path that talks to Twilio in production is the one under test.
"""

from notifications.fake.app import create_fake_app
from notifications.fake.records import Call, Delivery, Message, Phone, Utterance
from notifications.fake.state import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM,
    CallStateError,
    FakeTwilio,
    TwilioError,
)

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "DEFAULT_FROM",
    "Call",
    "CallStateError",
    "Delivery",
    "FakeTwilio",
    "Message",
    "Phone",
    "TwilioError",
    "Utterance",
    "create_fake_app",
]

"""The local fake's Vonage face: the REST subset our ``VonageProvider`` uses, over TLS,
and the phones it reaches.

Tests and the demo run the real ``VonageProvider`` (the official SDK) against it, so
the code path that talks to Vonage in production is the one under test.
"""

from notifications.fake.vonage.records import SignedDelivery, VonageCall, VonageMessage
from notifications.fake.vonage.rest import VonageApiError
from notifications.fake.vonage.state import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_APPLICATION_ID,
    DEFAULT_FROM,
    DEFAULT_SIGNATURE_SECRET,
    FakeVonage,
)
from notifications.fake.vonage.voice import CallStateError

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_FROM",
    "DEFAULT_SIGNATURE_SECRET",
    "CallStateError",
    "FakeVonage",
    "SignedDelivery",
    "VonageApiError",
    "VonageCall",
    "VonageMessage",
]

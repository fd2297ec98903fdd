"""The small interface every paging provider implements, and what it answers with.

A provider only delivers: it places a call or sends an SMS to a number and says what
the outside world did with it. What an answer *means* (accept, decline, escalate) is
decided by ``dispatch``; this package never imports it.

Idempotency: each page carries its own id (``page_id``). Twilio's REST API has no
idempotency key on create, so after a crash between the provider call and the database
write the caller asks ``find_sent`` for what already went out to that number since the
claim, before it sends again. SMS bodies carry the page's signed link, so an SMS is
matched on its body; calls are matched on number and time, and the caller discards
provider ids it already knows for other pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Channel = Literal["voice", "sms"]


@dataclass(frozen=True)
class CallRequest:
    page_id: str
    to: str
    twiml_url: str  # fetched by the provider when the call is answered (POST)
    status_url: str  # call progress: ringing, answered, completed, busy, no-answer, failed
    amd_url: str  # asynchronous answering-machine detection result
    ring_seconds: int = 30


@dataclass(frozen=True)
class SmsRequest:
    page_id: str
    to: str
    body: str
    status_url: str  # delivery receipts: sent, delivered, undelivered, failed
    validity_seconds: int  # the carrier drops the SMS after this; <= the escalation step


@dataclass(frozen=True)
class Sent:
    """What the provider accepted: its id for the call or message, and its status."""

    provider_id: str
    status: str
    created_at: datetime | None = None
    body: str | None = None


class DeliveryRejected(Exception):
    """The provider refused this delivery for good (invalid or blocked number, ...).

    The page is "not reached"; retrying the same request would fail the same way.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ProviderUnavailable(Exception):
    """The provider could not be asked (network, 5xx, timeout): try again later."""


class Provider(Protocol):
    name: str

    def place_call(self, request: CallRequest) -> Sent: ...

    def send_sms(self, request: SmsRequest) -> Sent: ...

    def hang_up(self, provider_id: str) -> None:
        """End a call in progress (a voicemail answered it, or it is no longer needed)."""
        ...

    def find_sent(
        self, *, channel: Channel, to: str, since: datetime, marker: str | None = None
    ) -> list[Sent]:
        """Calls or messages to ``to`` created at or after ``since``, newest first.

        For SMS, only messages whose body contains ``marker`` (when given).
        """
        ...

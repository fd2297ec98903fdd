"""The small interface every paging provider implements, and what it answers with.

A provider only delivers: it places a call or sends an SMS to a number and says what
the outside world did with it. What an answer *means* (accept, decline, escalate) is
decided by ``dispatch``; this package never imports it.

Webhook addresses: a request carries the service's public base URL
(``callback_base``); each provider builds its own webhook paths under it (Twilio's
under ``/webhooks/twilio``, Vonage's under ``/webhooks/vonage``), each with the page
id in the path, so a callback names the page it is for.

Idempotency: each page carries its own id (``page_id``). Neither Twilio's nor Vonage's
REST API has an idempotency key on create, so after a crash, or a send whose outcome
is unknown (``ProviderUnavailable`` with ``maybe_sent``), the caller asks ``find_sent``
for what already went out to that number since the claim before it sends again. SMS
bodies carry the page's signed link, so an SMS is matched on its body (or on the page
id where the provider keeps a reference of ours, as Vonage's ``client-ref``); calls
are matched on number and time, and the caller discards provider ids it already knows
for other pages.
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
    callback_base: str  # the service's public base URL; the provider adds its paths
    ring_seconds: int = 30
    # Providers to use, primary first (a team's own choice); None: the service's order.
    # Only a failover provider reads it.
    route: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SmsRequest:
    page_id: str
    to: str
    body: str
    callback_base: str  # the service's public base URL; delivery receipts come here
    validity_seconds: int  # the carrier drops the SMS after this; <= the escalation step
    route: tuple[str, ...] | None = None  # as for calls


@dataclass(frozen=True)
class Sent:
    """What the provider accepted: its id for the call or message, and its status."""

    provider_id: str
    status: str
    created_at: datetime | None = None
    body: str | None = None
    # Which provider carried it (its ``name``); a failover provider sets the one used.
    provider: str | None = None


class DeliveryRejected(Exception):
    """The provider refused this delivery for good (invalid or blocked number, ...).

    The page is "not reached"; retrying the same request would fail the same way.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ProviderUnavailable(Exception):
    """The provider could not be asked (network, 5xx, timeout): try again later.

    ``maybe_sent`` says the request may have been carried out all the same: it reached
    the provider and no clear answer came back (a read timeout, a connection reset
    after the request was written, a 500/502/504). Such a send is treated like a
    crash mid-send: before anything is sent again, the provider is asked
    (``find_sent``) what already went out. A refused connection, a connect timeout,
    429 and 503 mean the provider did not take the request.
    """

    def __init__(
        self, message: str = "", *, maybe_sent: bool = False, provider: str | None = None
    ) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        # The provider that failed (a failover provider names the one it last tried).
        self.provider = provider


class Provider(Protocol):
    name: str

    def place_call(self, request: CallRequest) -> Sent: ...

    def send_sms(self, request: SmsRequest) -> Sent: ...

    def hang_up(self, provider_id: str) -> None:
        """End a call in progress (a voicemail answered it, or it is no longer needed)."""
        ...

    def find_sent(
        self,
        *,
        channel: Channel,
        to: str,
        since: datetime,
        marker: str | None = None,
        page_id: str | None = None,
    ) -> list[Sent]:
        """Calls or messages to ``to`` created at or after ``since``, newest first.

        For SMS, only messages whose body contains ``marker`` (when given); a provider
        that tagged its sends with the page id matches on ``page_id`` instead.
        """
        ...

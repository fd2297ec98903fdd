"""A provider that pages into the log: the embedded demo runs without a phone or Twilio.

It behaves like a provider that accepted everything (ids, ``find_sent``, ``hang_up``)
so the delivery code runs the same path as with Twilio; nobody answers, so pages run
into their deadlines and escalate unless answered through the web page or the API.
The phone number is masked in the log: log files travel further than the database.
The SMS text is logged whole, link included, because in the demo that link is how the
page gets answered.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock, SystemClock
from notifications.provider import (
    CallRequest,
    Channel,
    DeliveryRejected,
    Sent,
    SmsRequest,
)

logger = logging.getLogger("samenop.pages")


@dataclass(frozen=True)
class ConsoleRecord:
    """One call or SMS as the console provider 'sent' it."""

    channel: Channel
    provider_id: str
    page_id: str
    to: str
    created_at: datetime
    body: str | None = None  # SMS text


def mask_number(number: str) -> str:
    """'+31612345678' -> '+316****5678': enough to tell workers apart in a log."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


class ConsoleProvider:
    name = "console"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._records: list[ConsoleRecord] = []
        self._hangups: list[str] = []

    # --- Provider ---

    def place_call(self, request: CallRequest) -> Sent:
        record = self._record("voice", request.page_id, request.to)
        logger.info(
            "call %s to %s for page %s",
            record.provider_id,
            mask_number(request.to),
            request.page_id,
        )
        return Sent(
            provider_id=record.provider_id,
            status="sent",
            created_at=record.created_at,
            provider=self.name,
        )

    def send_sms(self, request: SmsRequest) -> Sent:
        record = self._record("sms", request.page_id, request.to, body=request.body)
        logger.info(
            "sms %s to %s for page %s: %s",
            record.provider_id,
            mask_number(request.to),
            request.page_id,
            request.body,
        )
        return Sent(
            provider_id=record.provider_id,
            status="sent",
            created_at=record.created_at,
            body=record.body,
            provider=self.name,
        )

    def hang_up(self, provider_id: str) -> None:
        with self._lock:
            self._hangups.append(provider_id)
        logger.info("hang up %s", provider_id)

    def find_sent(
        self,
        *,
        channel: Channel,
        to: str,
        since: datetime,
        marker: str | None = None,
        page_id: str | None = None,
    ) -> list[Sent]:
        with self._lock:
            records = list(self._records)
        found = [
            r
            for r in reversed(records)  # newest first, also among equal timestamps
            if r.channel == channel
            and r.to == to
            and r.created_at >= since
            and (page_id is None or r.page_id == page_id)
            and (marker is None or channel != "sms" or marker in (r.body or ""))
        ]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return [Sent(r.provider_id, "sent", r.created_at, r.body, self.name) for r in found]

    # --- for the demo and tests ---

    @property
    def records(self) -> list[ConsoleRecord]:
        """Everything sent so far, oldest first (a copy)."""
        with self._lock:
            return list(self._records)

    @property
    def hangups(self) -> list[str]:
        with self._lock:
            return list(self._hangups)

    def _record(
        self,
        channel: Channel,
        page_id: str,
        to: str,
        *,
        body: str | None = None,
    ) -> ConsoleRecord:
        if not to.strip():
            raise DeliveryRejected("invalid_number", "no phone number to page")
        record = ConsoleRecord(
            channel=channel,
            provider_id="CON" + uuid.uuid4().hex,
            page_id=page_id,
            to=to,
            created_at=self._clock.now(),
            body=body,
        )
        with self._lock:
            self._records.append(record)
        return record

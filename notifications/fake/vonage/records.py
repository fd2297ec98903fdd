"""What the fake Vonage remembers, and how Vonage's APIs would show it.

Numbers are kept in E.164 with the "+" (as the phones and the tests know them) and
shown without it where Vonage does (``31612345678``). Every record keeps the request it
was created with and the ``time.perf_counter()`` instant that request arrived, like
the Twilio face's records, so tests and benchmarks can look at both the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notifications.fake.records import Delivery, Utterance

ENDED_CALL_STATUSES = frozenset(
    {"completed", "busy", "cancelled", "unanswered", "rejected", "failed", "timeout"}
)
FINAL_SMS_STATUSES = frozenset({"delivered", "expired", "failed", "rejected", "unknown"})


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_message_id() -> str:
    """Vonage's SMS message ids: 16 hexadecimal characters."""
    return uuid.uuid4().hex[:16].upper()


def digits(number: str) -> str:
    return number.lstrip("+")


def e164(number: str) -> str:
    return number if number.startswith("+") or not number.isdigit() else f"+{number}"


def iso(moment: datetime | None) -> str | None:
    """Vonage's event and call times: ``2020-01-01T12:00:00.000Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def report_time(moment: datetime | None) -> str | None:
    """The Reports API's times: ``2020-06-04T12:21:35+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000") if moment else None


@dataclass
class PendingInput:
    """An NCCO ``input`` action waiting for keys, with the actions that follow it."""

    event_url: str
    method: str
    max_digits: int
    timeout: int
    submit_on_hash: bool
    rest: list[dict[str, Any]]
    prompts: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.event_url,
            "method": self.method,
            "num_digits": self.max_digits,
            "timeout": self.timeout,
            "prompts": self.prompts,
        }


@dataclass
class VonageCall:
    uuid: str
    conversation_uuid: str
    to: str  # E.164
    from_: str  # E.164
    request: dict[str, Any]  # the create-call JSON as received
    created_at: datetime
    received_perf: float
    status: str = "started"
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    answered_by: str | None = None  # human / machine, with machine detection
    transcript: list[Utterance] = field(default_factory=list)
    pending: PendingInput | None = None
    expected: bool = False

    @property
    def sid(self) -> str:
        """The call's id under the name the Twilio face (and the phone page) uses."""
        return self.uuid

    @property
    def url(self) -> str | None:
        urls = self.request.get("answer_url") or []
        return str(urls[0]) if urls else None

    @property
    def event_url(self) -> str | None:
        urls = self.request.get("event_url") or []
        return str(urls[0]) if urls else None

    @property
    def machine_detection(self) -> bool:
        return bool(
            self.request.get("advanced_machine_detection") or self.request.get("machine_detection")
        )

    @property
    def ended(self) -> bool:
        return self.status in ENDED_CALL_STATUSES

    @property
    def in_progress(self) -> bool:
        return self.status == "answered"

    @property
    def duration(self) -> int | None:
        if self.ended_at is None:
            return None
        if self.answered_at is None:
            return 0
        return max(0, round((self.ended_at - self.answered_at).total_seconds()))

    def spoken(self) -> list[str]:
        """The texts said to the person, in order (the NCCO's talk actions)."""
        return [u.text for u in self.transcript if u.verb == "Say"]

    def to_vonage(self) -> dict[str, Any]:
        """``GET /v1/calls/{uuid}``, as the SDK's ``CallInfo`` reads it."""
        body: dict[str, Any] = {
            "_links": {"self": {"href": f"/v1/calls/{self.uuid}"}},
            "uuid": self.uuid,
            "conversation_uuid": self.conversation_uuid,
            "to": {"type": "phone", "number": digits(self.to)},
            "from": {"type": "phone", "number": digits(self.from_)},
            "status": self.status,
            "direction": "outbound",
            "start_time": iso(self.created_at),
            "network": "20416",
        }
        if self.ended_at is not None:
            body.update(
                end_time=iso(self.ended_at),
                duration=str(self.duration or 0),
                rate="0.01000000",
                price=f"{(self.duration or 0) / 6000:.8f}",
            )
        return body

    def snapshot(self) -> dict[str, Any]:
        """The control API's view (the shape the phone page reads)."""
        return {
            "sid": self.uuid,
            "to": self.to,
            "from": self.from_,
            "status": self.status,
            "answered_by": self.answered_by,
            "created_at": self.created_at.isoformat(),
            "duration": self.duration,
            "params": self.request,
            "transcript": [u.to_json() for u in self.transcript],
            "gather": self.pending.to_json() if self.pending else None,
            "expected": self.expected,
        }


@dataclass
class VonageMessage:
    message_id: str  # the first part's id (what the service records)
    to: str  # E.164 (or the phone's own number, for an inbound message)
    from_: str
    body: str
    direction: str  # outbound-api (the SMS API), inbound (a phone texted our number)
    request: dict[str, str]
    created_at: datetime
    received_perf: float
    parts: list[str] = field(default_factory=list)  # every part's message id
    client_ref: str | None = None
    status: str = "submitted"
    error_code: str | None = None
    finalized_at: datetime | None = None
    expected: bool = False

    @property
    def sid(self) -> str:
        return self.message_id

    @property
    def callback(self) -> str | None:
        return self.request.get("callback") or None

    @property
    def params(self) -> dict[str, str]:
        return self.request

    def to_record(self, account_id: str, *, include_message: bool) -> dict[str, Any]:
        """A record of the Reports API (``GET /v2/reports/records``, product SMS)."""
        record: dict[str, Any] = {
            "account_id": account_id,
            "message_id": self.message_id,
            "client_ref": self.client_ref,
            "direction": "outbound" if self.direction != "inbound" else "inbound",
            "from": digits(self.from_),
            "to": digits(self.to),
            "network": "20416",
            "network_name": "Fake Mobile NL",
            "country": "NL",
            "country_name": "Netherlands",
            "date_received": report_time(self.created_at),
            "date_finalized": report_time(self.finalized_at),
            "latency": "0",
            "status": self.status,
            "error_code": self.error_code or "0",
            "error_code_description": "Delivered" if self.status == "delivered" else self.status,
            "currency": "EUR",
            "total_price": f"{0.07 * len(self.parts or [1]):.8f}",
            "concatenated": len(self.parts) > 1,
        }
        if include_message:
            record["message_body"] = self.body
        return record

    def snapshot(self) -> dict[str, Any]:
        return {
            "sid": self.message_id,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "direction": self.direction,
            "status": self.status,
            "error_code": self.error_code,
            "created_at": self.created_at.isoformat(),
            "params": self.request,
            "parts": self.parts,
            "expected": self.expected,
        }


@dataclass
class SignedDelivery(Delivery):
    """A webhook the fake sent, with the payload as it went out (JSON or form)."""

    payload: dict[str, Any] = field(default_factory=dict)
    encoding: str = "json"  # json (voice) or form (SMS)

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {"payload": self.payload, "encoding": self.encoding}

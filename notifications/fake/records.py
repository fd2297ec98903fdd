"""What the fake Twilio remembers, and how Twilio's REST API would show it.

Every record keeps the exact form parameters it was created with and the
``time.perf_counter()`` instant its request arrived, because tests assert on what our
service sent and benchmarks measure intake -> provider latency from these instants.
The JSON shapes follow Twilio's 2010-04-01 API closely enough for the official SDK's
``MessageInstance`` / ``CallInstance`` and its paging to parse them unchanged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from notifications.fake.markup import Verb

API_VERSION = "2010-04-01"
ENDED_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
BEHAVIOURS = ("manual", "accept", "decline", "no_answer", "voicemail", "busy")


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's own date format on resources: ``Thu, 30 Jul 2015 20:12:31 +0000``."""
    return format_datetime(moment.astimezone(UTC)) if moment else None


def first_values(form: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in form.items() if values}


@dataclass
class Utterance:
    """One thing that happened on the line: spoken text, a key press, a redirect, ..."""

    verb: str
    text: str
    attrs: dict[str, str] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {"verb": self.verb, "text": self.text, "attrs": self.attrs}


@dataclass
class PendingGather:
    """A ``<Gather>`` waiting for keys, with the verbs that follow it in its document."""

    action: str
    method: str
    num_digits: int | None
    timeout: int
    finish_on_key: str
    action_on_empty_result: bool
    rest: list[Verb]
    doc_url: str
    prompts: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "method": self.method,
            "num_digits": self.num_digits,
            "timeout": self.timeout,
            "prompts": self.prompts,
        }


@dataclass
class Call:
    sid: str
    account_sid: str
    to: str
    from_: str
    form: dict[str, list[str]]
    created_at: datetime
    received_perf: float
    status: str = "queued"
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    answered_by: str | None = None
    error_code: str | None = None
    transcript: list[Utterance] = field(default_factory=list)
    gather: PendingGather | None = None
    expected: bool = False
    sequence: int = 0

    @property
    def params(self) -> dict[str, str]:
        return first_values(self.form)

    @property
    def url(self) -> str | None:
        return self.params.get("Url")

    @property
    def status_callback_events(self) -> list[str]:
        events = [e for v in self.form.get("StatusCallbackEvent", []) for e in v.split()]
        return events or ["completed"]

    @property
    def ended(self) -> bool:
        return self.status in ENDED_CALL_STATUSES

    @property
    def duration(self) -> int | None:
        if self.ended_at is None:
            return None
        if self.answered_at is None:
            return 0
        return max(0, round((self.ended_at - self.answered_at).total_seconds()))

    def spoken(self) -> list[str]:
        """The texts said to the person, in order (``<Say>``, also inside ``<Gather>``)."""
        return [u.text for u in self.transcript if u.verb == "Say"]

    def to_twilio(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"
        base = uri[: -len(".json")]
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.ended_at or self.answered_at or self.created_at),
            "direction": "outbound-api",
            "duration": None if self.duration is None else str(self.duration),
            "end_time": rfc2822(self.ended_at),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.created_at),
            "status": self.status,
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "payments": f"{base}/Payments.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
                "streams": f"{base}/Streams.json",
                "transcriptions": f"{base}/Transcriptions.json",
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
                "user_defined_message_subscriptions": (
                    f"{base}/UserDefinedMessageSubscriptions.json"
                ),
            },
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": uri,
        }

    def snapshot(self) -> dict[str, Any]:
        """The control API's view: the Twilio fields plus what the phone experienced."""
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "status": self.status,
            "answered_by": self.answered_by,
            "created_at": self.created_at.isoformat(),
            "duration": self.duration,
            "params": self.params,
            "status_callback_events": self.status_callback_events,
            "transcript": [u.to_json() for u in self.transcript],
            "gather": self.gather.to_json() if self.gather else None,
            "expected": self.expected,
        }


@dataclass
class Message:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    direction: str  # outbound-api (REST), outbound-reply (TwiML answer), inbound (a phone)
    form: dict[str, list[str]]
    created_at: datetime
    received_perf: float
    status: str = "queued"
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    error_code: str | None = None
    expected: bool = False

    @property
    def params(self) -> dict[str, str]:
        return first_values(self.form)

    @property
    def num_segments(self) -> int:
        # GSM-7 fits 160 characters in one part, 153 per part when concatenated.
        length = len(self.body)
        return 1 if length <= 160 else -(-length // 153)

    def to_twilio(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        base = uri[: -len(".json")]
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created_at),
            "date_sent": rfc2822(self.sent_at),
            "date_updated": rfc2822(self.updated_at or self.created_at),
            "direction": self.direction,
            "error_code": int(self.error_code) if self.error_code else None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": self.to,
            "uri": uri,
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "direction": self.direction,
            "status": self.status,
            "error_code": self.error_code,
            "created_at": self.created_at.isoformat(),
            "params": self.params,
            "expected": self.expected,
        }


@dataclass
class Delivery:
    """One HTTP request the fake made to our service (a callback or a TwiML fetch)."""

    index: int
    kind: str  # call-status, amd, twiml, gather, sms-status, sms-inbound
    sid: str
    url: str
    method: str
    params: dict[str, str]
    token: str
    signature: str
    sent_at: datetime
    status_code: int | None = None
    response_text: str = ""
    error: str | None = None
    elapsed_ms: float = 0.0
    redelivery_of: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "sid": self.sid,
            "url": self.url,
            "method": self.method,
            "params": self.params,
            "token": self.token,
            "sent_at": self.sent_at.isoformat(),
            "status_code": self.status_code,
            "response_text": self.response_text,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "redelivery_of": self.redelivery_of,
        }


@dataclass
class Phone:
    """A number the fake plays the phone for, and how that phone behaves."""

    number: str
    label: str = ""
    behaviour: str = "manual"
    sms_failure: tuple[str, str] | None = None  # (status, error code)
    rejection: int | None = None  # Twilio error code answered on create

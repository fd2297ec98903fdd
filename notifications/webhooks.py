"""Verify and read Twilio's webhooks: call progress, answering-machine detection, SMS
delivery receipts, inbound SMS and key presses.

Pure: no database, no web framework. Each parser returns a small typed result and the
caller (dispatch) decides what it means for the page. A malformed request raises
``WebhookInvalid`` naming the field, so the log says what was wrong rather than
failing somewhere later.

Twilio delivers webhooks at least once; ``idempotency_key`` lets the caller recognise
a second delivery of the same event.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from twilio.request_validator import (  # type: ignore[import-untyped,unused-ignore]
    RequestValidator,
    get_signature_algorithm,
)

from core.texts import SMS_ERROR_NL, SMS_ERROR_UNKNOWN_NL
from notifications.twiml import KeyAction, parse_key

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"

CallOutcome = Literal["progress", "ended", "not_reached"]
SmsOutcome = Literal["progress", "delivered", "not_reached"]

CALL_OUTCOMES: dict[str, CallOutcome] = {
    "queued": "progress",
    "initiated": "progress",
    "ringing": "progress",
    "in-progress": "progress",
    "answered": "progress",
    # Whether "completed" means answered depends on a key press, which only the
    # caller knows.
    "completed": "ended",
    "busy": "not_reached",
    "no-answer": "not_reached",
    "failed": "not_reached",
    "canceled": "not_reached",
}
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)
HUMAN_ANSWERS = frozenset({"human", "unknown"})
SMS_OUTCOMES: dict[str, SmsOutcome] = {
    "queued": "progress",
    "accepted": "progress",
    "scheduled": "progress",
    "sending": "progress",
    "sent": "progress",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "not_reached",
    "failed": "not_reached",
    "canceled": "not_reached",
}

_SID_RE = re.compile(r"^[A-Za-z0-9_.:-]{2,64}$")
_NUMBER_RE = re.compile(r"^\+?[0-9A-Za-z]{2,32}$")  # E.164, or an alphanumeric sender
_ERROR_CODE_RE = re.compile(r"^[0-9]{1,6}$")


class WebhookInvalid(Exception):
    """A webhook missed a field or carried a value that cannot be right."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class CallStatus:
    provider_id: str
    status: str
    outcome: CallOutcome
    duration: int | None  # seconds, on completed calls
    error_code: str | None


@dataclass(frozen=True)
class AmdResult:
    provider_id: str
    answered_by: str
    is_machine: bool


@dataclass(frozen=True)
class SmsStatus:
    provider_id: str
    status: str
    outcome: SmsOutcome
    error_code: str | None
    error_text: str | None  # Dutch, for the event log planners read
    # The reference we gave the message (Vonage's ``client-ref``: the page id), which
    # every part of a long SMS carries, each under an id of its own.
    reference: str | None = None


@dataclass(frozen=True)
class InboundSms:
    provider_id: str
    from_number: str
    to_number: str
    body: str


@dataclass(frozen=True)
class KeyPress:
    provider_id: str
    digits: str
    action: KeyAction


# --- signature ---------------------------------------------------------------------


def public_url(base_url: str, path: str, query: str | bytes = "") -> str:
    """The URL Twilio requested, as Twilio saw it, for signature checks.

    Behind a proxy the app sees its own host and scheme, not the public ones Twilio
    signed, so the configured public base URL is used instead. ``path`` is the path as
    the app receives it; when the proxy strips a prefix, ``base_url`` carries it.
    ``query`` is the raw query string, unchanged (re-encoding it breaks the signature).
    """
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


def verify_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    signature: str | None,
    *,
    settings_header: str | None = None,
) -> bool:
    """True when ``signature`` (the X-Twilio-Signature header) matches the request.

    ``params`` are the POSTed form fields as received; a multi-dict with ``getlist``
    (Starlette's form) keeps repeated fields. ``settings_header`` is the
    X-Twilio-Webhooks-Signature-Settings header, which selects HMAC-SHA256 for webhooks
    signed with a shared key; without it the Auth Token's HMAC-SHA1 applies.
    """
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(settings_header)
    return bool(validator.validate(url, params, signature, algorithm=algorithm))


def idempotency_key(
    path: str,
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    header_token: str | None,
) -> str:
    """Same key for every delivery of one webhook event.

    Twilio's I-Twilio-Idempotency-Token header when present; otherwise a SHA-256 of the
    path and the sorted fields, which are identical on a redelivery.
    """
    if header_token and header_token.strip():
        return header_token.strip()
    pairs = params.items() if isinstance(params, Mapping) else params
    canonical = json.dumps([path, sorted((str(k), str(v)) for k, v in pairs)])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- parsing -----------------------------------------------------------------------


def _field(params: Mapping[str, Any], *names: str, required: bool = True) -> str | None:
    """The first of ``names`` present (Twilio renamed some, e.g. SmsSid -> MessageSid)."""
    for name in names:
        value = params.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise WebhookInvalid(name, "must be text")
            return value
    if required:
        raise WebhookInvalid(names[0], "missing")
    return None


def _required(params: Mapping[str, Any], *names: str) -> str:
    value = _field(params, *names)
    if value is None:
        raise WebhookInvalid(names[0], "missing")
    return value


def _sid(params: Mapping[str, Any], *names: str) -> str:
    value = _required(params, *names).strip()
    if not _SID_RE.match(value):
        raise WebhookInvalid(names[0], "not a provider id")
    return value


def _status(params: Mapping[str, Any], known: Mapping[str, str], *names: str) -> str:
    value = _required(params, *names).strip().lower()
    if value not in known:
        raise WebhookInvalid(names[0], f"unknown status {value[:40]!r}")
    return value


def _error_code(params: Mapping[str, Any]) -> str | None:
    value = (_field(params, "ErrorCode", required=False) or "").strip()
    if not value or value == "0":
        return None
    if not _ERROR_CODE_RE.match(value):
        raise WebhookInvalid("ErrorCode", "not a number")
    return value


def _number(params: Mapping[str, Any], name: str) -> str:
    value = _required(params, name).strip()
    if not _NUMBER_RE.match(value):
        raise WebhookInvalid(name, "not a phone number")
    return value


def sms_error_text(code: str | None) -> str | None:
    """Dutch explanation of a Twilio messaging error code, for the event log."""
    if code is None:
        return None
    return SMS_ERROR_NL.get(code) or SMS_ERROR_UNKNOWN_NL.format(code=code)


def parse_call_status(params: Mapping[str, Any]) -> CallStatus:
    """A call progress callback: queued ... ringing ... completed / busy / no-answer."""
    status = _status(params, CALL_OUTCOMES, "CallStatus")
    raw_duration = _field(params, "CallDuration", required=False)
    duration: int | None = None
    if raw_duration is not None and raw_duration.strip():
        if not raw_duration.strip().isascii() or not raw_duration.strip().isdigit():
            raise WebhookInvalid("CallDuration", "not a whole number of seconds")
        duration = int(raw_duration)
    return CallStatus(
        provider_id=_sid(params, "CallSid"),
        status=status,
        outcome=CALL_OUTCOMES[status],
        duration=duration,
        error_code=_error_code(params),
    )


def parse_amd(params: Mapping[str, Any]) -> AmdResult:
    """Asynchronous answering-machine detection: who (or what) picked up."""
    answered_by = _required(params, "AnsweredBy").strip().lower()
    if answered_by not in MACHINE_ANSWERS | HUMAN_ANSWERS:
        raise WebhookInvalid("AnsweredBy", f"unknown value {answered_by[:40]!r}")
    return AmdResult(
        provider_id=_sid(params, "CallSid"),
        answered_by=answered_by,
        is_machine=answered_by in MACHINE_ANSWERS,
    )


def parse_sms_status(params: Mapping[str, Any]) -> SmsStatus:
    """An SMS delivery receipt; ``error_text`` explains why it did not arrive."""
    status = _status(params, SMS_OUTCOMES, "MessageStatus", "SmsStatus")
    error_code = _error_code(params)
    return SmsStatus(
        provider_id=_sid(params, "MessageSid", "SmsSid"),
        status=status,
        outcome=SMS_OUTCOMES[status],
        error_code=error_code,
        error_text=sms_error_text(error_code),
    )


def parse_inbound_sms(params: Mapping[str, Any]) -> InboundSms:
    """A worker's SMS reply. An empty body (a picture only) is kept as ""."""
    return InboundSms(
        provider_id=_sid(params, "MessageSid", "SmsSid"),
        from_number=_number(params, "From"),
        to_number=_number(params, "To"),
        body=_field(params, "Body", required=False) or "",
    )


def parse_digits(params: Mapping[str, Any]) -> KeyPress:
    """The key pressed during the page call (the Gather action)."""
    digits = _required(params, "Digits").strip()
    return KeyPress(provider_id=_sid(params, "CallSid"), digits=digits, action=parse_key(digits))

"""Verify and read Vonage's webhooks: call events, the key pressed, SMS delivery receipts
and inbound SMS, into the same typed results as Twilio's (``notifications.webhooks``).

Pure: no database, no web framework. The caller (dispatch) decides what a result means
for the page; a malformed webhook raises ``WebhookInvalid`` naming the field.

Vonage signs its webhooks in two ways, both with the account's signature secret:

- Voice (answer, event, input): a JWT (HS256) in ``Authorization: Bearer``, whose
  ``payload_hash`` claim is the SHA-256 of the body, so the body cannot be changed.
- SMS (delivery receipts, inbound messages): a ``sig`` parameter over the sorted
  parameters and a ``timestamp``, by the method the account is set to (HMAC-SHA256,
  -SHA1, -SHA512, -MD5, or the older "md5hash").

Vonage delivers at least once; ``idempotency_key`` gives every delivery of one event the
same key, whatever its signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

import jwt

from core.texts import SMS_ERROR_UNKNOWN_NL, VONAGE_SMS_ERROR_NL
from notifications.twiml import parse_key
from notifications.webhooks import (
    AmdResult,
    CallOutcome,
    CallStatus,
    InboundSms,
    KeyPress,
    SmsOutcome,
    SmsStatus,
    WebhookInvalid,
)

SignatureMethod = Literal["md5hash", "md5", "sha1", "sha256", "sha512"]
SIGNATURE_METHODS: tuple[SignatureMethod, ...] = ("md5hash", "md5", "sha1", "sha256", "sha512")
# Fields the SMS signature adds to a webhook; a redelivery carries new values.
SIGNING_FIELDS = frozenset({"sig", "timestamp", "nonce"})
MAX_AGE_SECONDS = 300  # an older signature is refused (a replayed request)
LEEWAY_SECONDS = 60  # Vonage's clock may run a little ahead of ours

CALL_OUTCOMES: dict[str, CallOutcome] = {
    "started": "progress",
    "ringing": "progress",
    "answered": "progress",
    # The leg was cut; "completed" follows with the summary.
    "disconnected": "progress",
    # Whether "completed" means answered depends on a key press, which only the
    # caller knows.
    "completed": "ended",
    "busy": "not_reached",
    "cancelled": "not_reached",
    "unanswered": "not_reached",
    "rejected": "not_reached",
    "failed": "not_reached",
    "timeout": "not_reached",
}
MACHINE_DETECTION = frozenset({"human", "machine"})
SMS_OUTCOMES: dict[str, SmsOutcome] = {
    "accepted": "progress",
    "buffered": "progress",
    # No final word from the carrier: the phone may have it. Escalation goes on by the
    # page's deadline rather than at once.
    "unknown": "progress",
    "delivered": "delivered",
    "expired": "not_reached",
    "failed": "not_reached",
    "rejected": "not_reached",
}

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{2,64}$")
_MSISDN_RE = re.compile(r"^\+?[0-9]{6,15}$")
_SENDER_RE = re.compile(r"^[0-9A-Za-z]{2,15}$")  # our number, or an alphanumeric id
_CODE_RE = re.compile(r"^[0-9]{1,6}$")
_DETAIL_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
# Fields of the events without a status: error, transfer, record, input.
_OTHER_EVENTS = ("reason", "conversation_uuid_to", "recording_url", "dtmf", "speech")


# --- signatures --------------------------------------------------------------------


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def verify_voice_signature(
    signature_secret: str,
    authorization: str | None,
    body: bytes,
    *,
    now: float | None = None,
    max_age: float = MAX_AGE_SECONDS,
) -> bool:
    """True when the ``Authorization`` header holds Vonage's JWT for exactly this body.

    Checked: the HS256 signature with the signature secret, the ``payload_hash`` claim
    against the body's SHA-256, and that the token was issued lately (``iat``). The
    SDK's ``vonage_jwt.verify_signature`` checks only the first and raises, rather than
    answering False, on a token issued a second "in the future" by a clock a little
    ahead of ours; hence PyJWT itself, with some leeway.
    """
    token = bearer_token(authorization)
    if not token or not signature_secret:
        return False
    moment = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            signature_secret,
            algorithms=["HS256"],
            options={"require": ["iat", "payload_hash"], "verify_iat": False},
        )
        issued = float(claims["iat"])
    except (jwt.PyJWTError, TypeError, ValueError):
        return False
    if issued > moment + LEEWAY_SECONDS or moment - issued > max_age:
        return False
    expected = hashlib.sha256(body).hexdigest()
    return hmac.compare_digest(str(claims["payload_hash"]).lower(), expected)


def sms_signature(
    params: Mapping[str, Any], signature_secret: str, method: SignatureMethod = "sha256"
) -> str:
    """Vonage's ``sig`` over ``params`` (without ``sig``), hex, lower case.

    Each parameter, sorted by name, as ``&name=value`` with ``&`` and ``=`` in values
    replaced by ``_``; HMAC of that with the secret as key, or for "md5hash" the MD5 of
    that with the secret appended.
    """
    canonical = "".join(
        f"&{key}={str(value).replace('&', '_').replace('=', '_')}"
        for key, value in sorted(params.items())
        if key != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((canonical + signature_secret).encode("utf-8")).hexdigest()
    if method not in SIGNATURE_METHODS:
        raise ValueError(f"unknown signature method {method!r}")
    digest = hmac.new(signature_secret.encode("utf-8"), canonical.encode("utf-8"), method)
    return digest.hexdigest()


def verify_sms_signature(
    signature_secret: str,
    params: Mapping[str, Any],
    *,
    method: SignatureMethod = "sha256",
    now: float | None = None,
    max_age: float = MAX_AGE_SECONDS,
) -> bool:
    """True when ``sig`` matches the other parameters and ``timestamp`` is recent."""
    given = params.get("sig")
    if not isinstance(given, str) or not given or not signature_secret:
        return False
    try:
        stamp = float(str(params.get("timestamp", "")))
    except ValueError:
        return False
    moment = time.time() if now is None else now
    if abs(moment - stamp) > max_age:
        return False
    expected = sms_signature(params, signature_secret, method)
    return hmac.compare_digest(given.strip().lower(), expected)


def idempotency_key(path: str, payload: Mapping[str, Any]) -> str:
    """Same key for every delivery of one webhook event.

    A SHA-256 of the path (with its query) and the payload. The SMS signature's own
    fields (``sig``, ``timestamp``, ``nonce``) are left out, as a redelivery signs anew;
    a voice webhook's signature is in its header, and its ``timestamp`` is the event's
    own time, so it stays.
    """
    signed = "sig" in payload
    kept = {k: v for k, v in payload.items() if not (signed and k in SIGNING_FIELDS)}
    canonical = json.dumps([path, kept], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- parsing -----------------------------------------------------------------------


def _text(payload: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise WebhookInvalid(name, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WebhookInvalid(name, "must be text")
    return str(value).strip()


def _required(payload: Mapping[str, Any], name: str) -> str:
    value = _text(payload, name)
    if not value:
        raise WebhookInvalid(name, "missing")
    return value


def _id(payload: Mapping[str, Any], name: str) -> str:
    value = _required(payload, name)
    if not _ID_RE.match(value):
        raise WebhookInvalid(name, "not a provider id")
    return value


def _e164(payload: Mapping[str, Any], name: str) -> str:
    """A number as Vonage sends it (``31612345678``), in E.164 (``+31612345678``)."""
    value = _required(payload, name)
    if _MSISDN_RE.match(value):
        return value if value.startswith("+") else f"+{value}"
    if _SENDER_RE.match(value):
        return value  # an alphanumeric sender id has no "+"
    raise WebhookInvalid(name, "not a phone number")


def sms_error_text(code: str | None) -> str | None:
    """Dutch explanation of a Vonage delivery-receipt error code, for the event log."""
    if code is None:
        return None
    return VONAGE_SMS_ERROR_NL.get(code) or SMS_ERROR_UNKNOWN_NL.format(code=code)


def parse_call_event(payload: Mapping[str, Any]) -> CallStatus | AmdResult | None:
    """A call event: progress, the end, or who picked up (machine detection).

    None for an event that says nothing about the call's progress (an error report,
    a transfer, a recording, an input without an eventUrl of its own), which Vonage
    sends to the same URL.
    """
    raw = payload.get("status")
    if raw is None:
        if any(name in payload for name in _OTHER_EVENTS):
            return None
        raise WebhookInvalid("status", "missing")
    status = (_text(payload, "status") or "").lower()
    if status in MACHINE_DETECTION:
        # This event names the call "call_uuid"; accept "uuid" as well.
        field = "call_uuid" if payload.get("call_uuid") is not None else "uuid"
        return AmdResult(
            provider_id=_id(payload, field),
            answered_by=status,
            is_machine=status == "machine",
        )
    if status not in CALL_OUTCOMES:
        raise WebhookInvalid("status", f"unknown status {status[:40]!r}")
    duration: int | None = None
    raw_duration = _text(payload, "duration", required=False)
    if raw_duration:
        if not raw_duration.isascii() or not raw_duration.isdigit():
            raise WebhookInvalid("duration", "not a whole number of seconds")
        duration = int(raw_duration)
    detail = (_text(payload, "detail", required=False) or "").lower() or None
    if detail is not None and not _DETAIL_RE.match(detail):
        raise WebhookInvalid("detail", "not a reason code")
    return CallStatus(
        provider_id=_id(payload, "uuid"),
        status=status,
        outcome=CALL_OUTCOMES[status],
        duration=duration,
        error_code=detail,
    )


def parse_input(payload: Mapping[str, Any]) -> KeyPress:
    """The key pressed during the page call (the NCCO's input action).

    ``dtmf`` is an object (``{"digits": "1", "timed_out": false}``) or, in older
    payloads, the digits themselves. Empty ``digits`` means no key came in time.
    """
    dtmf = payload.get("dtmf")
    if dtmf is None:
        raise WebhookInvalid("dtmf", "missing")
    if isinstance(dtmf, Mapping):
        raw = dtmf.get("digits")
        if raw is not None and not isinstance(raw, str):
            raise WebhookInvalid("dtmf.digits", "must be text")
        digits = (raw or "").strip()
    elif isinstance(dtmf, str):
        digits = dtmf.strip()
    else:
        raise WebhookInvalid("dtmf", "must be an object or text")
    if len(digits) > 20 or any(c not in "0123456789*#" for c in digits):
        raise WebhookInvalid("dtmf.digits", "not keypad digits")
    return KeyPress(provider_id=_id(payload, "uuid"), digits=digits, action=parse_key(digits))


def parse_dlr(params: Mapping[str, Any]) -> SmsStatus:
    """An SMS delivery receipt; ``error_text`` explains in Dutch why it did not arrive."""
    status = _required(params, "status").lower()
    if status not in SMS_OUTCOMES:
        raise WebhookInvalid("status", f"unknown status {status[:40]!r}")
    code = _text(params, "err-code", required=False) or None
    if code is not None and not _CODE_RE.match(code):
        raise WebhookInvalid("err-code", "not a number")
    if code is not None:
        code = str(int(code))  # "000" -> "0"
    error = None if code in (None, "0") else code
    return SmsStatus(
        provider_id=_id(params, "messageId"),
        status=status,
        outcome=SMS_OUTCOMES[status],
        error_code=error,
        error_text=sms_error_text(error),
        reference=_text(params, "client-ref", required=False) or None,
    )


def parse_inbound(params: Mapping[str, Any]) -> InboundSms:
    """A worker's SMS reply. Vonage drops the "+"; it is put back (E.164)."""
    return InboundSms(
        provider_id=_id(params, "messageId"),
        from_number=_e164(params, "msisdn"),
        to_number=_e164(params, "to"),
        body=_body(params),
    )


def _body(params: Mapping[str, Any]) -> str:
    """The text as sent (not stripped); none (a picture only) is kept as ""."""
    value = params.get("text")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebhookInvalid("text", "must be text")
    return value

"""Vonage's webhooks: signatures (voice JWT, SMS sig), parsing into the shared results,
and the idempotency key. Signed here by the SDK and PyJWT, the way Vonage signs."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from vonage_http_client import Auth
from vonage_jwt import verify_signature

from notifications import vonage_webhooks as vw
from notifications.webhooks import AmdResult, CallStatus, WebhookInvalid

SECRET = "a-signature-secret-of-thirty-two-bytes!"
NOW = 1_767_000_000.0
UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"


def token(body: bytes, *, secret: str = SECRET, iat: float = NOW, **claims: Any) -> str:
    payload = {
        "iat": int(iat),
        "jti": "c3f1b1f0-7c55-4f6e-a4f5-8d3f2a9f7e11",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "devkey01",
        "application_id": "00000000-0000-4000-8000-000000000000",
    } | claims
    return jwt.encode(payload, secret, algorithm="HS256")


def signed_form(
    params: dict[str, str], *, method: str = "sha256", at: float = NOW
) -> dict[str, str]:
    """Signed the SDK's way (``Auth.sign_params``), as Vonage signs its SMS webhooks."""
    signed = dict(params, timestamp=str(int(at)))
    auth = Auth(api_key="devkey01", signature_secret=SECRET, signature_method=method)
    signed["sig"] = auth.sign_params(dict(signed))
    return signed


# --- voice: the JWT ----------------------------------------------------------------------

BODY = json.dumps({"uuid": UUID, "status": "ringing"}).encode()


def test_a_vonage_jwt_over_this_body_is_accepted() -> None:
    auth = f"Bearer {token(BODY)}"
    assert vw.verify_voice_signature(SECRET, auth, BODY, now=NOW + 5)
    # the SDK's own check agrees about the signature
    assert verify_signature(token(BODY, iat=time.time()), SECRET)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic ZGV2a2V5MDE6c2VjcmV0",
        "Bearer not.a.jwt",
        f"Bearer {token(BODY, secret='someone-elses-secret-of-32-bytes')}",
        f"Bearer {jwt.encode({'iat': int(NOW), 'payload_hash': 'x'}, 'k' * 32)}",
    ],
)
def test_missing_or_forged_signatures_are_refused(authorization: str | None) -> None:
    assert not vw.verify_voice_signature(SECRET, authorization, BODY, now=NOW)


def test_a_changed_body_is_refused() -> None:
    auth = f"Bearer {token(BODY)}"
    tampered = BODY.replace(b"ringing", b"answered")
    assert not vw.verify_voice_signature(SECRET, auth, tampered, now=NOW)
    assert not vw.verify_voice_signature(SECRET, auth, BODY + b" ", now=NOW)


def test_a_token_without_payload_hash_or_iat_is_refused() -> None:
    no_hash = jwt.encode({"iat": int(NOW)}, SECRET, algorithm="HS256")
    no_iat = jwt.encode({"payload_hash": hashlib.sha256(BODY).hexdigest()}, SECRET)
    for value in (no_hash, no_iat):
        assert not vw.verify_voice_signature(SECRET, f"Bearer {value}", BODY, now=NOW)


def test_an_old_token_is_refused_and_a_little_clock_skew_is_not() -> None:
    auth = f"Bearer {token(BODY)}"
    assert not vw.verify_voice_signature(SECRET, auth, BODY, now=NOW + vw.MAX_AGE_SECONDS + 1)
    assert vw.verify_voice_signature(SECRET, auth, BODY, now=NOW - 30)  # Vonage's clock ahead
    assert not vw.verify_voice_signature(SECRET, auth, BODY, now=NOW - 600)


def test_the_other_algorithms_are_refused() -> None:
    unsigned = jwt.encode(
        {"iat": int(NOW), "payload_hash": hashlib.sha256(BODY).hexdigest()}, None, "none"
    )
    assert not vw.verify_voice_signature(SECRET, f"Bearer {unsigned}", BODY, now=NOW)
    assert not vw.verify_voice_signature("", f"Bearer {token(BODY)}", BODY, now=NOW)  # no secret


# --- SMS: the sig ------------------------------------------------------------------------

DLR = {
    "msisdn": "31612345678",
    "to": "3197010000001",
    "messageId": "0A0000001234ABCD",
    "status": "delivered",
    "err-code": "0",
    "client-ref": "page-1",
    "message-timestamp": "2026-03-10 16:00:00",
}


@pytest.mark.parametrize("method", ["sha256", "sha1", "sha512", "md5"])
def test_our_sms_signature_is_the_sdks(method: vw.SignatureMethod) -> None:
    signed = signed_form(DLR, method=method)
    assert vw.sms_signature(signed, SECRET, method) == signed["sig"]
    assert vw.verify_sms_signature(SECRET, signed, method=method, now=NOW)


def test_values_with_ampersands_and_equals_signs_are_signed_as_vonage_documents() -> None:
    params = signed_form(DLR | {"text": "JA & NEE = 1"})
    assert vw.verify_sms_signature(SECRET, params, now=NOW)


def test_md5hash_is_the_md5_of_the_parameters_and_the_secret() -> None:
    params = dict(DLR, timestamp=str(int(NOW)))
    canonical = "".join(f"&{k}={v}" for k, v in sorted(params.items()))
    params["sig"] = hashlib.md5((canonical + SECRET).encode()).hexdigest()
    assert vw.verify_sms_signature(SECRET, params, method="md5hash", now=NOW)
    assert not vw.verify_sms_signature(SECRET, params, method="sha256", now=NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "failed"},  # tampered
        {"sig": "0" * 64},  # forged
        {"sig": ""},  # missing
        {"timestamp": "not-a-number"},
    ],
)
def test_a_changed_or_missing_sms_signature_is_refused(change: dict[str, str]) -> None:
    params = signed_form(DLR) | change
    assert not vw.verify_sms_signature(SECRET, params, now=NOW)


def test_sms_signature_without_sig_or_secret_is_refused() -> None:
    params = signed_form(DLR)
    assert not vw.verify_sms_signature(SECRET, {k: v for k, v in params.items() if k != "sig"})
    assert not vw.verify_sms_signature("", params, now=NOW)
    assert not vw.verify_sms_signature("another-secret", params, now=NOW)


def test_a_stale_sms_signature_is_refused() -> None:
    params = signed_form(DLR, at=NOW - vw.MAX_AGE_SECONDS - 1)
    assert not vw.verify_sms_signature(SECRET, params, now=NOW)
    assert vw.verify_sms_signature(SECRET, signed_form(DLR, at=NOW - 60), now=NOW)


def test_the_signature_compares_in_constant_time_case_insensitively() -> None:
    params = signed_form(DLR)
    params["sig"] = params["sig"].upper()
    assert vw.verify_sms_signature(SECRET, params, now=NOW)


# --- the idempotency key -----------------------------------------------------------------


def test_a_redelivered_sms_webhook_has_the_same_key_whatever_its_signature() -> None:
    first = signed_form(DLR, at=NOW) | {"nonce": "1"}
    again = signed_form(DLR, at=NOW + 30) | {"nonce": "2"}
    path = "/webhooks/vonage/sms/page-1/status"
    assert first["sig"] != again["sig"]
    assert vw.idempotency_key(path, first) == vw.idempotency_key(path, again)
    other = signed_form(DLR | {"status": "failed"})
    assert vw.idempotency_key(path, other) != vw.idempotency_key(path, first)
    assert vw.idempotency_key("/other", first) != vw.idempotency_key(path, first)


def test_voice_events_keep_their_own_timestamp_in_the_key() -> None:
    path = "/webhooks/vonage/voice/page-2/key"
    nine = {"uuid": UUID, "dtmf": {"digits": "9", "timed_out": False}}
    first = vw.idempotency_key(path, nine | {"timestamp": "2026-03-10T16:00:00.000Z"})
    second = vw.idempotency_key(path, nine | {"timestamp": "2026-03-10T16:00:20.000Z"})
    assert first != second  # pressing 9 twice is two events
    assert first == vw.idempotency_key(path, nine | {"timestamp": "2026-03-10T16:00:00.000Z"})


# --- call events ---------------------------------------------------------------------------


def event(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "from": "3197010000001",
        "to": "31612345678",
        "uuid": UUID,
        "conversation_uuid": "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "status": status,
        "direction": "outbound",
        "timestamp": "2026-03-10T16:00:00.000Z",
    } | extra


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("started", "progress"),
        ("ringing", "progress"),
        ("answered", "progress"),
        ("disconnected", "progress"),
        ("completed", "ended"),
        ("busy", "not_reached"),
        ("cancelled", "not_reached"),
        ("unanswered", "not_reached"),
        ("rejected", "not_reached"),
        ("failed", "not_reached"),
        ("timeout", "not_reached"),
    ],
)
def test_every_call_status_maps_onto_an_outcome(status: str, outcome: str) -> None:
    parsed = vw.parse_call_event(event(status))
    assert parsed == CallStatus(UUID, status, outcome, None, None)  # type: ignore[arg-type]


def test_completed_carries_the_duration_and_a_failure_its_detail() -> None:
    done = vw.parse_call_event(event("completed", duration="42", price="0.001"))
    assert isinstance(done, CallStatus) and done.duration == 42
    failed = vw.parse_call_event(event("failed", detail="unavailable"))
    assert isinstance(failed, CallStatus) and failed.error_code == "unavailable"
    answered = vw.parse_call_event(event("answered", start_time=None, rate=None))
    assert isinstance(answered, CallStatus) and answered.duration is None


@pytest.mark.parametrize(("status", "machine"), [("human", False), ("machine", True)])
def test_machine_detection_results_name_the_call_by_call_uuid(status: str, machine: bool) -> None:
    payload = {k: v for k, v in event(status).items() if k != "uuid"} | {"call_uuid": UUID}
    assert vw.parse_call_event(payload) == AmdResult(UUID, status, machine)


def test_error_reports_and_other_events_say_nothing_about_the_call() -> None:
    error = {"reason": "Syntax error in NCCO.", "conversation_uuid": "CON-1", "timestamp": "x"}
    assert vw.parse_call_event(error) is None
    transfer = {"conversation_uuid_from": "CON-1", "conversation_uuid_to": "CON-2", "uuid": UUID}
    assert vw.parse_call_event(transfer) is None
    keys = {"dtmf": {"digits": "1", "timed_out": False}, "uuid": UUID, "timestamp": "x"}
    assert vw.parse_call_event(keys) is None  # an input without an eventUrl of its own


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"uuid": UUID}, "status"),
        (event("exploded"), "status"),
        (event("ringing") | {"status": ["ringing"]}, "status"),
        ({k: v for k, v in event("ringing").items() if k != "uuid"}, "uuid"),
        (event("ringing", uuid="not a/uuid"), "uuid"),
        (event("completed", duration="4.5"), "duration"),
        (event("failed", detail="Not <b>a</b> code"), "detail"),
        ({"status": "machine", "to": "31612345678"}, "uuid"),
    ],
)
def test_a_malformed_call_event_names_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(WebhookInvalid) as error:
        vw.parse_call_event(payload)
    assert error.value.field == field


# --- the key pressed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtmf", "digits", "action"),
    [
        ({"digits": "1", "timed_out": False}, "1", "accept"),
        ({"digits": "2", "timed_out": False}, "2", "decline"),
        ({"digits": "9", "timed_out": False}, "9", "repeat"),
        ({"digits": "5", "timed_out": False}, "5", "invalid"),
        ({"digits": "", "timed_out": True}, "", "invalid"),
        ({"digits": None, "timed_out": True}, "", "invalid"),
        ("1", "1", "accept"),  # the older payload: the digits themselves
    ],
)
def test_the_key_pressed(dtmf: Any, digits: str, action: str) -> None:
    press = vw.parse_input({"uuid": UUID, "dtmf": dtmf, "timestamp": "x"})
    assert (press.provider_id, press.digits, press.action) == (UUID, digits, action)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"uuid": UUID}, "dtmf"),
        ({"uuid": UUID, "dtmf": 1}, "dtmf"),
        ({"uuid": UUID, "dtmf": {"digits": 1}}, "dtmf.digits"),
        ({"uuid": UUID, "dtmf": {"digits": "1; drop"}}, "dtmf.digits"),
        ({"dtmf": {"digits": "1"}}, "uuid"),
    ],
)
def test_a_malformed_input_names_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(WebhookInvalid) as error:
        vw.parse_input(payload)
    assert error.value.field == field


# --- delivery receipts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("delivered", "delivered"),
        ("accepted", "progress"),
        ("buffered", "progress"),
        ("unknown", "progress"),
        ("expired", "not_reached"),
        ("failed", "not_reached"),
        ("rejected", "not_reached"),
    ],
)
def test_every_receipt_status_maps_onto_an_outcome(status: str, outcome: str) -> None:
    parsed = vw.parse_dlr(DLR | {"status": status})
    assert (parsed.provider_id, parsed.status, parsed.outcome) == (
        "0A0000001234ABCD",
        status,
        outcome,
    )
    assert parsed.error_code is None and parsed.error_text is None


def test_a_failed_receipt_explains_its_error_code_in_dutch() -> None:
    expired = vw.parse_dlr(DLR | {"status": "expired", "err-code": "2"})
    assert expired.error_code == "2" and expired.error_text is not None
    assert "niet bereikbaar" in expired.error_text
    barred = vw.parse_dlr(DLR | {"status": "rejected", "err-code": "006"})
    assert (
        barred.error_code == "6" and barred.error_text is not None and "spam" in barred.error_text
    )
    odd = vw.parse_dlr(DLR | {"status": "failed", "err-code": "77"})
    assert odd.error_text == "foutcode 77 van de provider"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"status": ""}, "status"),
        ({"err-code": "x1"}, "err-code"),
        ({"messageId": "a b"}, "messageId"),
    ],
)
def test_a_malformed_receipt_names_the_field(change: dict[str, str], field: str) -> None:
    with pytest.raises(WebhookInvalid) as error:
        vw.parse_dlr(DLR | change)
    assert error.value.field == field


# --- inbound SMS ---------------------------------------------------------------------------

INBOUND = {
    "msisdn": "31612345678",
    "to": "3197010000001",
    "messageId": "0B0000001234ABCD",
    "text": " JA K7Q2ZP ",
    "type": "text",
    "keyword": "JA",
    "message-timestamp": "2026-03-10 16:00:00",
}


def test_an_inbound_sms_gets_its_plus_back() -> None:
    sms = vw.parse_inbound(INBOUND)
    assert sms.from_number == "+31612345678" and sms.to_number == "+3197010000001"
    assert sms.provider_id == "0B0000001234ABCD" and sms.body == " JA K7Q2ZP "
    assert vw.parse_inbound({k: v for k, v in INBOUND.items() if k != "text"}).body == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"msisdn": "06-12345678"}, "msisdn"),
        ({"msisdn": ""}, "msisdn"),
        ({"to": "+31 97"}, "to"),
        ({"messageId": ""}, "messageId"),
    ],
)
def test_a_malformed_inbound_sms_names_the_field(change: dict[str, str], field: str) -> None:
    with pytest.raises(WebhookInvalid) as error:
        vw.parse_inbound(INBOUND | change)
    assert error.value.field == field

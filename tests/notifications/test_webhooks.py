"""Twilio webhooks: signatures, and what each callback reports."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from notifications.webhooks import (
    AmdResult,
    CallStatus,
    InboundSms,
    KeyPress,
    SmsStatus,
    WebhookInvalid,
    idempotency_key,
    parse_amd,
    parse_call_status,
    parse_digits,
    parse_inbound_sms,
    parse_sms_status,
    public_url,
    verify_signature,
)

TOKEN = "12345678901234567890123456789012"
URL = "https://samenop.example.nl/hooks/twilio/sms?page=6f1c2f0e"
CALL = "CA" + "a" * 32
MESSAGE = "SM" + "b" * 32
PARAMS = {"MessageSid": MESSAGE, "From": "+31612345678", "To": "+3197010000000", "Body": "JA"}


def _sign(url: str, params: object, algorithm: str | None = None) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, params, algorithm))


# --- signatures ----------------------------------------------------------------------


def test_a_correct_signature_passes() -> None:
    assert verify_signature(TOKEN, URL, PARAMS, _sign(URL, PARAMS))


def test_a_changed_param_fails() -> None:
    signature = _sign(URL, PARAMS)
    assert not verify_signature(TOKEN, URL, {**PARAMS, "Body": "NEE"}, signature)
    assert not verify_signature(TOKEN, URL, {**PARAMS, "Extra": "1"}, signature)


def test_a_changed_url_fails() -> None:
    signature = _sign(URL, PARAMS)
    assert not verify_signature(TOKEN, URL.replace("6f1c2f0e", "6f1c2f0f"), PARAMS, signature)
    assert not verify_signature(TOKEN, URL.replace("https", "http"), PARAMS, signature)


def test_wrong_token_or_missing_signature_fails() -> None:
    signature = _sign(URL, PARAMS)
    assert not verify_signature("another-token", URL, PARAMS, signature)
    assert not verify_signature(TOKEN, URL, PARAMS, None)
    assert not verify_signature(TOKEN, URL, PARAMS, "")
    assert not verify_signature("", URL, PARAMS, signature)


def test_explicit_default_port_is_tolerated() -> None:
    with_port = URL.replace("example.nl/", "example.nl:443/")
    assert verify_signature(TOKEN, URL, PARAMS, _sign(with_port, PARAMS))


def test_repeated_form_fields_are_all_signed() -> None:
    form = FormData([("CallSid", CALL), ("StatusCallbackEvent", "a"), ("StatusCallbackEvent", "b")])
    signature = _sign(URL, form)
    assert verify_signature(TOKEN, URL, form, signature)
    assert not verify_signature(
        TOKEN, URL, {"CallSid": CALL, "StatusCallbackEvent": "b"}, signature
    )


def test_shared_key_webhooks_use_the_algorithm_in_the_settings_header() -> None:
    signature = _sign(URL, PARAMS, "HMAC_SHA256")
    header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    assert verify_signature(TOKEN, URL, PARAMS, signature, settings_header=header)
    assert not verify_signature(TOKEN, URL, PARAMS, signature)  # read as SHA-1
    assert not verify_signature(TOKEN, URL, PARAMS, signature, settings_header="algorithm=HMAC_MD5")


@pytest.mark.parametrize(
    ("base", "path", "query", "expected"),
    [
        ("https://samenop.example.nl", "/hooks/sms", "", "https://samenop.example.nl/hooks/sms"),
        ("https://samenop.example.nl/", "/hooks/sms", "a=1&b=%2F", "https://samenop.example.nl/hooks/sms?a=1&b=%2F"),
        ("https://example.nl/samenop", "hooks/sms", b"page=x", "https://example.nl/samenop/hooks/sms?page=x"),
    ],
)  # fmt: skip
def test_public_url(base: str, path: str, query: str | bytes, expected: str) -> None:
    assert public_url(base, path, query) == expected


def test_signature_over_the_public_url_behind_a_proxy() -> None:
    # Twilio signed the public address; the app itself sees http://10.0.0.5:8000/...
    signed = "https://samenop.example.nl/hooks/twilio/call-status?page=1"
    signature = _sign(signed, {"CallSid": CALL, "CallStatus": "ringing"})
    url = public_url("https://samenop.example.nl", "/hooks/twilio/call-status", b"page=1")
    assert verify_signature(TOKEN, url, {"CallSid": CALL, "CallStatus": "ringing"}, signature)


# --- idempotency ---------------------------------------------------------------------


def test_idempotency_key_prefers_twilio_header() -> None:
    assert idempotency_key("/hooks/sms", PARAMS, "ACxx-123-abc") == "ACxx-123-abc"


def test_idempotency_key_without_header_is_stable_and_distinguishes() -> None:
    key = idempotency_key("/hooks/sms", PARAMS, None)
    assert key == idempotency_key("/hooks/sms", dict(reversed(list(PARAMS.items()))), "")
    assert key == idempotency_key("/hooks/sms", list(PARAMS.items()), None)
    assert len(key) == 64
    assert key != idempotency_key("/hooks/sms-status", PARAMS, None)
    assert key != idempotency_key("/hooks/sms", {**PARAMS, "Body": "NEE"}, None)


# --- call status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("queued", "progress"),
        ("initiated", "progress"),
        ("ringing", "progress"),
        ("in-progress", "progress"),
        ("answered", "progress"),
        ("completed", "ended"),
        ("busy", "not_reached"),
        ("no-answer", "not_reached"),
        ("failed", "not_reached"),
        ("canceled", "not_reached"),
        ("Completed", "ended"),
    ],
)
def test_call_status_outcomes(status: str, outcome: str) -> None:
    result = parse_call_status({"CallSid": CALL, "CallStatus": status})
    assert result == CallStatus(CALL, status.lower(), outcome, None, None)  # type: ignore[arg-type]


def test_completed_call_with_duration_and_failed_call_with_error() -> None:
    done = parse_call_status({"CallSid": CALL, "CallStatus": "completed", "CallDuration": "42"})
    assert done.duration == 42
    failed = parse_call_status({"CallSid": CALL, "CallStatus": "failed", "ErrorCode": "13224"})
    assert (failed.outcome, failed.error_code) == ("not_reached", "13224")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"CallStatus": "ringing"}, "CallSid"),
        ({"CallSid": CALL}, "CallStatus"),
        ({"CallSid": CALL, "CallStatus": "exploded"}, "CallStatus"),
        ({"CallSid": "", "CallStatus": "ringing"}, "CallSid"),
        ({"CallSid": "CA 1", "CallStatus": "ringing"}, "CallSid"),
        ({"CallSid": CALL, "CallStatus": "completed", "CallDuration": "-1"}, "CallDuration"),
        ({"CallSid": CALL, "CallStatus": "completed", "CallDuration": "٤٢"}, "CallDuration"),
        ({"CallSid": CALL, "CallStatus": "failed", "ErrorCode": "bad"}, "ErrorCode"),
    ],
)
def test_bad_call_status_names_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(WebhookInvalid) as caught:
        parse_call_status(params)
    assert caught.value.field == field
    assert caught.value.rule


# --- answering machine ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("answered_by", "machine"),
    [
        ("human", False),
        ("unknown", False),
        ("machine_start", True),
        ("machine_end_beep", True),
        ("machine_end_silence", True),
        ("machine_end_other", True),
        ("fax", True),
    ],
)
def test_amd(answered_by: str, machine: bool) -> None:
    assert parse_amd({"CallSid": CALL, "AnsweredBy": answered_by}) == AmdResult(
        CALL, answered_by, machine
    )


def test_amd_unknown_value() -> None:
    with pytest.raises(WebhookInvalid) as caught:
        parse_amd({"CallSid": CALL, "AnsweredBy": "robot"})
    assert caught.value.field == "AnsweredBy"


# --- SMS status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("queued", "progress"),
        ("accepted", "progress"),
        ("sending", "progress"),
        ("sent", "progress"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "not_reached"),
        ("failed", "not_reached"),
    ],
)
def test_sms_status_outcomes(status: str, outcome: str) -> None:
    result = parse_sms_status({"MessageSid": MESSAGE, "MessageStatus": status})
    assert result == SmsStatus(MESSAGE, status, outcome, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "code", ["30001", "30002", "30003", "30004", "30005", "30006", "30007", "30008", "30034"]
)
def test_sms_error_codes_are_explained(code: str) -> None:
    result = parse_sms_status(
        {"MessageSid": MESSAGE, "MessageStatus": "undelivered", "ErrorCode": code}
    )
    assert result.error_code == code
    assert result.error_text
    assert code not in result.error_text  # a real explanation, not the fallback


def test_sms_status_unknown_error_code_and_legacy_names() -> None:
    result = parse_sms_status({"SmsSid": MESSAGE, "SmsStatus": "failed", "ErrorCode": "21610"})
    assert result.provider_id == MESSAGE
    assert result.error_text is not None and "21610" in result.error_text
    ok = parse_sms_status({"MessageSid": MESSAGE, "MessageStatus": "delivered", "ErrorCode": ""})
    assert (ok.error_code, ok.error_text) == (None, None)


def test_sms_status_missing_fields() -> None:
    with pytest.raises(WebhookInvalid) as caught:
        parse_sms_status({"MessageSid": MESSAGE})
    assert caught.value.field == "MessageStatus"
    with pytest.raises(WebhookInvalid) as caught:
        parse_sms_status({"MessageStatus": "sent"})
    assert caught.value.field == "MessageSid"


# --- inbound SMS and key presses -----------------------------------------------------


def test_inbound_sms() -> None:
    assert parse_inbound_sms(PARAMS) == InboundSms(MESSAGE, "+31612345678", "+3197010000000", "JA")
    picture_only = {k: v for k, v in PARAMS.items() if k != "Body"}
    assert parse_inbound_sms(picture_only).body == ""


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"From": ""}, "From"),
        ({"From": "+31 6 12"}, "From"),
        ({"To": "<script>"}, "To"),
        ({"MessageSid": "SM b"}, "MessageSid"),
    ],
)
def test_inbound_sms_bad_fields(changes: dict[str, str], field: str) -> None:
    with pytest.raises(WebhookInvalid) as caught:
        parse_inbound_sms({**PARAMS, **changes})
    assert caught.value.field == field


def test_inbound_sms_non_text_field() -> None:
    with pytest.raises(WebhookInvalid) as caught:
        parse_inbound_sms({**PARAMS, "Body": object()})
    assert caught.value.field == "Body"


@pytest.mark.parametrize(
    ("digits", "action"), [("1", "accept"), ("2", "decline"), ("9", "repeat"), ("5", "invalid")]
)
def test_digits(digits: str, action: str) -> None:
    assert parse_digits({"CallSid": CALL, "Digits": digits}) == KeyPress(CALL, digits, action)  # type: ignore[arg-type]


def test_digits_missing() -> None:
    with pytest.raises(WebhookInvalid) as caught:
        parse_digits({"CallSid": CALL})
    assert caught.value.field == "Digits"

"""The SMS side of the fake Vonage: the SMS API's checks, delivery receipts, and a phone
texting our number.

``submit`` answers ``POST /sms/json`` the way the SMS API does: HTTP 200 whatever
happened, with a per-message ``status`` ("0" taken, else Vonage's error code and
text). A long text is split into parts, each with its own message id, and each part
gets its own signed delivery receipt (on the outbox thread, after the REST answer).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from notifications.fake.vonage.outbox import VonageOutbox
from notifications.fake.vonage.records import VonageMessage, digits, e164, new_message_id
from notifications.messages import sms_segments

ERROR_TEXTS = {
    "1": "Throttled",
    "2": "Missing Parameters",
    "3": "Invalid Parameters",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "6": "Invalid Message",
    "7": "Number Barred",
    "8": "Partner Account Barred",
    "9": "Partner Quota Violation",
    "12": "Message Too Long",
    "15": "Invalid Sender Address",
    "23": "Invalid Callback Url",
    "29": "Non-Whitelisted Destination",
    "33": "Number De-activated",
}
TTL_MIN, TTL_MAX = 20_000, 604_800_000
TEXT_MAX = 3200  # characters; longer is "Message Too Long"
_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
_SENDER = re.compile(r"^(?:[1-9][0-9]{6,14}|[0-9A-Za-z ]{1,11})$")


class SmsRefused(Exception):
    """The SMS API's answer to a message it did not take: a status code and its text."""

    def __init__(self, status: str, text: str | None = None) -> None:
        super().__init__(f"{status}: {text or ERROR_TEXTS.get(status, 'Error')}")
        self.status = status
        self.text = text or ERROR_TEXTS.get(status, "Error")

    def answer(self) -> dict[str, Any]:
        return {
            "message-count": "1",
            "messages": [{"status": self.status, "error-text": self.text}],
        }


def validate(params: Mapping[str, str]) -> None:
    """The SMS API's checks on a message, in the order it makes them."""
    for name in ("from", "to"):
        if not params.get(name):
            raise SmsRefused("2", f"Missing {name} param")
    kind = params.get("type", "text")
    if kind not in ("text", "unicode", "binary"):
        raise SmsRefused("3", "Invalid type param")
    if kind != "binary" and not params.get("text"):
        raise SmsRefused("2", "Missing text param")
    if not _NUMBER.match(params["to"]):
        raise SmsRefused("3", "Invalid to address")
    if not _SENDER.match(params["from"]):
        raise SmsRefused("15", "Invalid from address")
    if len(params.get("text", "")) > TEXT_MAX:
        raise SmsRefused("12", "Message too long")
    ttl = params.get("ttl")
    if ttl is not None and not (ttl.isdigit() and TTL_MIN <= int(ttl) <= TTL_MAX):
        raise SmsRefused("3", "Invalid ttl param")
    callback = params.get("callback", "")
    if callback and (len(callback) > 100 or not callback.startswith(("http://", "https://"))):
        raise SmsRefused("23", "Invalid callback url")
    if len(params.get("client-ref", "")) > 100:
        raise SmsRefused("3", "Invalid client-ref param")


class SmsFlow:
    def __init__(
        self,
        *,
        outbox: VonageOutbox,
        changed: threading.Condition,
        api_key: str,
        now: Callable[[], datetime],
        store: Callable[[VonageMessage], None],
        failure_of: Callable[[str], tuple[str, str] | None],
    ) -> None:
        self._outbox = outbox
        self._changed = changed
        self._api_key = api_key
        self._now = now
        self._store = store
        self._failure_of = failure_of

    def message(self, params: dict[str, str], received_perf: float) -> VonageMessage:
        """A taken message: one id per part, as the SMS API answers."""
        text = params.get("text", "")
        parts = [new_message_id() for _ in range(sms_segments(text) if text else 1)]
        return VonageMessage(
            message_id=parts[0],
            to=e164(params["to"]),
            from_=e164(params["from"]),
            body=text,
            direction="outbound-api",
            request=dict(params),
            created_at=self._now(),
            received_perf=received_perf,
            parts=parts,
            client_ref=params.get("client-ref") or None,
        )

    @staticmethod
    def answer(message: VonageMessage) -> dict[str, Any]:
        return {
            "message-count": str(len(message.parts)),
            "messages": [
                {
                    "to": digits(message.to),
                    "message-id": part,
                    "status": "0",
                    "remaining-balance": "100.00000000",
                    "message-price": "0.07000000",
                    "network": "20416",
                    **({"client-ref": message.client_ref} if message.client_ref else {}),
                }
                for part in message.parts
            ],
        }

    def deliver(self, message: VonageMessage) -> None:
        """One receipt per part: "delivered", or the phone's failure (status, err-code)."""
        failure = self._failure_of(message.to)
        status, code = failure if failure is not None else ("delivered", "0")
        with self._changed:
            message.status = status
            message.error_code = None if code == "0" else code
            message.finalized_at = self._now()
            self._changed.notify_all()
        url = message.callback
        if not url or message.request.get("status-report-req", "true").lower() == "false":
            return
        moment = self._now().astimezone(UTC)
        for part in message.parts:
            params = {
                "msisdn": digits(message.to),
                "to": digits(message.from_),
                "network-code": "20416",
                "messageId": part,
                "price": "0.07000000",
                "status": status,
                "scts": moment.strftime("%y%m%d%H%M"),
                "err-code": code,
                "api-key": self._api_key,
                "message-timestamp": moment.strftime("%Y-%m-%d %H:%M:%S"),
            }
            if message.client_ref:
                params["client-ref"] = message.client_ref
            self._outbox.post(kind="sms-status", sid=part, url=url, payload=params, encoding="form")

    def inbound(self, url: str, ours: str, from_number: str, body: str) -> VonageMessage:
        """The phone at ``from_number`` texts our number: Vonage posts it to ``url``."""
        moment = self._now()
        message = VonageMessage(
            message_id=new_message_id(),
            to=ours,
            from_=from_number,
            body=body,
            direction="inbound",
            request={},
            created_at=moment,
            received_perf=time.perf_counter(),
            status="delivered",
        )
        message.parts = [message.message_id]
        self._store(message)
        words = body.split()
        params = {
            "msisdn": digits(from_number),
            "to": digits(ours),
            "messageId": message.message_id,
            "text": body,
            "type": "text" if body.isascii() else "unicode",
            "keyword": words[0].upper() if words else "",
            "api-key": self._api_key,
            "message-timestamp": moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }
        self._outbox.post(
            kind="sms-inbound", sid=message.message_id, url=url, payload=params, encoding="form"
        )
        return message

"""The SMS side of the fake: delivery receipts, and a phone texting our number.

Runs on the outbox thread, like the voice side, so a message's ``sent`` receipt always
reaches our service before its ``delivered`` (or ``undelivered``) one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from notifications.fake.markup import TwimlError, sms_replies
from notifications.fake.outbox import Outbox
from notifications.fake.records import API_VERSION, Message, new_sid


class SmsFlow:
    def __init__(
        self,
        *,
        outbox: Outbox,
        changed: threading.Condition,
        account_sid: str,
        now: Callable[[], datetime],
        store: Callable[[Message], None],
        failure_of: Callable[[str], tuple[str, str] | None],
    ) -> None:
        self._outbox = outbox
        self._changed = changed
        self._account_sid = account_sid
        self._now = now
        self._store = store
        self._failure_of = failure_of

    def deliver(self, message: Message) -> None:
        """``sent`` then ``delivered``; or ``sent`` then ``undelivered``; or ``failed``."""
        failure = self._failure_of(message.to)
        if failure is None:
            steps: list[tuple[str, str | None]] = [("sent", None), ("delivered", None)]
        else:
            final, error = failure
            steps = ([("sent", None)] if final == "undelivered" else []) + [(final, error)]
        url = message.params.get("StatusCallback")
        for status, code in steps:
            with self._changed:
                moment = self._now()
                message.status, message.updated_at, message.error_code = status, moment, code
                if status == "sent":
                    message.sent_at = moment
                self._changed.notify_all()
            if not url:
                continue
            params = {
                "AccountSid": self._account_sid,
                "ApiVersion": API_VERSION,
                "From": message.from_,
                "MessageSid": message.sid,
                "MessageStatus": status,
                "SmsSid": message.sid,
                "SmsStatus": status,
                "To": message.to,
            }
            if code:
                params["ErrorCode"] = code
            self._outbox.send(kind="sms-status", sid=message.sid, url=url, params=params)

    def reply(self, url: str, ours: str, from_number: str, body: str) -> list[str]:
        """POST the phone's text to our inbound webhook; record the TwiML answers as sent."""
        inbound = self._message(from_number, ours, body, "inbound", "received")
        self._store(inbound)
        params = {
            "AccountSid": self._account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_number,
            "MessageSid": inbound.sid,
            "NumMedia": "0",
            "NumSegments": str(inbound.num_segments),
            "SmsMessageSid": inbound.sid,
            "SmsSid": inbound.sid,
            "SmsStatus": "received",
            "To": ours,
        }
        delivery = self._outbox.send(kind="sms-inbound", sid=inbound.sid, url=url, params=params)
        try:
            texts = sms_replies(delivery.response_text) if delivery.ok else []
        except TwimlError:
            texts = []  # Twilio logs error 12100 and sends nothing
        for text in texts:
            self._store(self._message(ours, from_number, text, "outbound-reply", "delivered"))
        return texts

    def _message(self, from_: str, to: str, body: str, direction: str, status: str) -> Message:
        moment = self._now()
        return Message(
            sid=new_sid("SM"),
            account_sid=self._account_sid,
            to=to,
            from_=from_,
            body=body,
            direction=direction,
            form={},
            created_at=moment,
            received_perf=time.perf_counter(),
            status=status,
            sent_at=moment if direction != "inbound" else None,
        )

"""``FakeTwilio``: a Twilio account and the phones it reaches, in one process.

It answers the REST subset our ``TwilioProvider`` uses, and plays every phone: it
rings, answers, listens to the TwiML, presses keys, goes to voicemail, delivers or
drops an SMS and sends replies back. Tests drive it directly; the demo and separate
processes drive it over the ``/_fake`` control API (``app.py``). All HTTP it makes to
our service goes through one ordered outbox thread; everything here is thread-safe.

Phone actions (``answer``, ``press``, ``reply`` ...) wait until Twilio's side of the
action is done (callbacks sent, TwiML read), so a test can assert right after them.
REST operations never wait on the outbox: our service may call REST from inside a
webhook the outbox is waiting on.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifications.fake.expectations import Expectations
from notifications.fake.outbox import Outbox
from notifications.fake.records import (
    API_VERSION,
    BEHAVIOURS,
    Call,
    Delivery,
    Message,
    Phone,
    first_values,
    new_sid,
)
from notifications.fake.rest import (
    OUTAGES,
    REJECTIONS,
    TwilioError,
    in_range,
    matches,
    validate_call,
    validate_message,
)
from notifications.fake.sms import SmsFlow
from notifications.fake.voice import CallFlow, CallStateError

DEFAULT_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEFAULT_AUTH_TOKEN = "dev-twilio-token"
DEFAULT_FROM = "+3197010000000"

__all__ = ["CallStateError", "Delay", "FakeTwilio", "TwilioError"]


@dataclass(frozen=True)
class Delay:
    """How long one REST create is held, and whether Twilio has taken it meanwhile."""

    seconds: float
    before: bool


class FakeTwilio(Expectations):
    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        from_number: str = DEFAULT_FROM,
        sms_url: str | None = None,
        callback_timeout: float = 10.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.sms_url = sms_url
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls: dict[str, Call] = {}
        self._messages: dict[str, Message] = {}
        self._phones: dict[str, Phone] = {}
        self._default = Phone("*")
        self._outage: list[int | None] | None = None  # [status, remaining or None]
        self._delay: tuple[Delay, int | None] | None = None  # (delay, remaining or None)
        self._holding = 0
        self.outbox = Outbox(auth_token, timeout=callback_timeout)
        self._voice = CallFlow(
            outbox=self.outbox,
            changed=self._changed,
            account_sid=account_sid,
            now=self._now,
            behaviour_of=self.behaviour_of,
        )
        self._sms = SmsFlow(
            outbox=self.outbox,
            account_sid=account_sid,
            now=self._now,
            changed=self._changed,
            store=self._store_message,
            failure_of=self._sms_failure,
        )

    def close(self) -> None:
        self.outbox.close()

    def reset(self) -> None:
        """Forget calls, messages and callbacks (phones and their settings stay)."""
        self.outbox.wait_idle()
        with self._changed:
            self._calls.clear()
            self._messages.clear()
            self.outbox.clear()
            self._changed.notify_all()

    # -- REST --------------------------------------------------------------------------

    def authorized(self, authorization: str | None) -> bool:
        """HTTP Basic with the account SID and auth token, as Twilio requires."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(
            password, self.auth_token
        )

    def rest_outage(self, status: int | None = 503, count: int | None = None) -> None:
        """Answer the next ``count`` REST requests (all when None) with ``status``."""
        with self._lock:
            self._outage = None if status is None else [status, count]

    def take_outage(self) -> TwilioError | None:
        with self._lock:
            if self._outage is None:
                return None
            status, remaining = self._outage
            assert status is not None
            if remaining is not None:
                if remaining <= 1:
                    self._outage = None
                else:
                    self._outage[1] = remaining - 1
        code, text = OUTAGES.get(status, (20000 + status, "Service Unavailable"))
        return TwilioError(status, code, text)

    def delay_creates(
        self, seconds: float | None, *, count: int | None = 1, before: bool = False
    ) -> None:
        """Hold the next ``count`` REST creates (calls and messages; all when None) for
        ``seconds`` before answering, so a test can kill the client inside the request.

        By default Twilio has taken the request (the call rings, the SMS goes out) and only
        its answer is late. With ``before`` the request is held before Twilio takes it and
        dropped if the client goes away meanwhile: it never reached Twilio.
        """
        with self._lock:
            if not seconds or seconds <= 0 or (count is not None and count < 1):
                self._delay = None
            else:
                self._delay = (Delay(float(seconds), before), count)

    def take_delay(self) -> Delay | None:
        with self._lock:
            if self._delay is None:
                return None
            delay, remaining = self._delay
            if remaining is not None:
                self._delay = None if remaining <= 1 else (delay, remaining - 1)
            return delay

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Counts a create being held (``held`` in the snapshot) while the block runs."""
        with self._changed:
            self._holding += 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._holding -= 1
                self._changed.notify_all()

    @property
    def held(self) -> int:
        with self._lock:
            return self._holding

    def create_message(self, form: dict[str, list[str]], received_perf: float) -> Message:
        params = validate_message(first_values(form))
        self._check_rejection(params["To"])
        message = Message(
            sid=new_sid("SM"),
            account_sid=self.account_sid,
            to=params["To"],
            from_=params.get("From", ""),
            body=params.get("Body", ""),
            direction="outbound-api",
            form=form,
            created_at=self._now(),
            received_perf=received_perf,
        )
        self._store_message(message)
        self.outbox.submit(lambda: self._sms.deliver(message))
        return message

    def create_call(self, form: dict[str, list[str]], received_perf: float) -> Call:
        params = validate_call(first_values(form))
        to, from_ = params["To"], params["From"]
        self._check_rejection(to)
        call = Call(
            sid=new_sid("CA"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            form=form,
            created_at=self._now(),
            received_perf=received_perf,
        )
        with self._changed:
            self._calls[call.sid] = call
            self._phone(to)
            self._changed.notify_all()
        self.outbox.submit(lambda: self._voice.dial(call))
        return call

    def update_call(self, sid: str, form: dict[str, list[str]]) -> Call:
        """``POST Calls/{sid}.json``: only ``Status`` (completed / canceled) is supported."""
        call = self._get(self._calls, sid, "Calls")
        status = first_values(form).get("Status")
        if status not in ("completed", "canceled"):
            raise TwilioError(400, 21218, "Only Status=completed or Status=canceled is supported")
        with self._lock:
            if call.ended:
                raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
            if status == "canceled" and call.status == "in-progress":
                return call  # Twilio ignores a cancel of an answered call
            final = "completed" if call.status == "in-progress" else "canceled"
            ended = self._voice.mark_ended(call, final)
        if ended:
            self.outbox.submit(lambda: self._voice.final_callback(call))
        return call

    def list_calls(self, query: Mapping[str, str]) -> list[Call]:
        with self._lock:
            calls = [c for c in self._calls.values() if matches(query, c.to, c.from_)]
        status = query.get("Status")
        calls = [c for c in calls if status is None or c.status == status]
        calls = [c for c in calls if in_range(query, "StartTime", c.created_at)]
        return sorted(reversed(calls), key=lambda c: c.created_at, reverse=True)

    def list_messages(self, query: Mapping[str, str]) -> list[Message]:
        with self._lock:
            messages = [m for m in self._messages.values() if matches(query, m.to, m.from_)]
        messages = [m for m in messages if in_range(query, "DateSent", m.sent_at or m.created_at)]
        return sorted(reversed(messages), key=lambda m: m.created_at, reverse=True)

    def get_call(self, sid: str) -> Call:
        return self._get(self._calls, sid, "Calls")

    def get_message(self, sid: str) -> Message:
        return self._get(self._messages, sid, "Messages")

    # -- the phones --------------------------------------------------------------------

    def answer(self, call_sid: str) -> Call:
        """A person picks up: answered callback, TwiML read, AMD says ``human``."""
        return self._act(call_sid, lambda call: self._voice.answer(call, "human"))

    def voicemail(self, call_sid: str, answered_by: str = "machine_end_beep") -> Call:
        """A voicemail box picks up; the call stays up until someone hangs up."""
        return self._act(call_sid, lambda call: self._voice.answer(call, answered_by))

    def press(self, call_sid: str, digits: str) -> Call:
        return self._act(call_sid, lambda call: self._voice.press(call, digits))

    def gather_timeout(self, call_sid: str) -> Call:
        return self._act(call_sid, self._voice.gather_timeout)

    def hang_up(self, call_sid: str) -> Call:
        """The person hangs up (an answered call completes; a ringing one is rejected: busy)."""

        def hang(call: Call) -> None:
            if call.ended:
                raise CallStateError(f"call {call.sid} already ended ({call.status})")
            self._voice.end(call, "completed" if call.status == "in-progress" else "busy")

        return self._act(call_sid, hang)

    def ring_out(self, call_sid: str) -> Call:
        return self._act(call_sid, lambda call: self._unanswered(call, "no-answer", None))

    def busy(self, call_sid: str) -> Call:
        return self._act(call_sid, lambda call: self._unanswered(call, "busy", None))

    def fail(self, call_sid: str, error_code: str = "31005") -> Call:
        return self._act(call_sid, lambda call: self._unanswered(call, "failed", error_code))

    def reply(self, from_number: str, body: str) -> list[str]:
        """The phone at ``from_number`` texts our number; returns the TwiML ``<Message>`` texts.

        Each answered text is recorded as delivered to that phone (it shows in its inbox).
        """
        url = self.sms_url
        if not url:
            raise RuntimeError("no inbound SMS webhook configured (sms_url)")
        with self._lock:
            ours = next(
                (m.from_ for m in reversed(self._messages.values()) if m.to == from_number),
                self.from_number,
            )
        return self.outbox.run(lambda: self._sms.reply(url, ours, from_number, body))

    def redeliver(self, index: int | None = None) -> Delivery:
        """Send callback ``index`` (the last one when None) again, same token and params."""
        return self.outbox.redeliver(index)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        return self.outbox.wait_idle(timeout)

    # -- configuration -----------------------------------------------------------------

    def register_phone(self, number: str, label: str = "") -> Phone:
        with self._changed:
            phone = self._phone(number)
            phone.label = label or phone.label
            self._changed.notify_all()
            return phone

    def set_behaviour(self, number: str, behaviour: str) -> None:
        """How the phone answers calls by itself; ``"*"`` sets it for every other number."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}")
        with self._lock:
            self._phone(number).behaviour = behaviour

    def behaviour_of(self, number: str) -> str:
        with self._lock:
            phone = self._phones.get(number)
            if phone is not None and phone.behaviour != "manual":
                return phone.behaviour
            return self._default.behaviour

    def sms_fail(self, number: str, status: str = "undelivered", error_code: str = "30003") -> None:
        """SMS to ``number`` end ``undelivered`` (after ``sent``) or ``failed``, with the code."""
        if status not in ("undelivered", "failed"):
            raise ValueError("status must be 'undelivered' or 'failed'")
        with self._lock:
            self._phone(number).sms_failure = (status, str(error_code))

    def sms_ok(self, number: str) -> None:
        with self._lock:
            self._phone(number).sms_failure = None

    def reject(self, number: str, code: int | None = 21610) -> None:
        """Refuse creates to ``number`` with this Twilio error code (None: accept again)."""
        with self._lock:
            self._phone(number).rejection = code

    def set_sms_url(self, url: str | None) -> None:
        self.sms_url = url

    # -- queries -----------------------------------------------------------------------

    def calls(self, to: str | None = None) -> list[Call]:
        """Calls in the order they were placed."""
        with self._lock:
            return [c for c in self._calls.values() if to is None or c.to == to]

    def messages(self, to: str | None = None, *, direction: str | None = None) -> list[Message]:
        """Messages in the order they were created (REST, replies, and phones' own texts)."""
        with self._lock:
            return [
                m
                for m in self._messages.values()
                if (to is None or m.to == to) and (direction is None or m.direction == direction)
            ]

    def inbox(self, number: str) -> list[Message]:
        """What the phone at ``number`` received, newest first (including TwiML answers)."""
        return list(reversed(self.messages(number)))

    def call(self, sid: str) -> Call:
        with self._lock:
            if sid not in self._calls:
                raise LookupError(f"no call {sid}")
            return self._calls[sid]

    def message(self, sid: str) -> Message:
        with self._lock:
            if sid not in self._messages:
                raise LookupError(f"no message {sid}")
            return self._messages[sid]

    def callbacks(self, kind: str | None = None, sid: str | None = None) -> list[Delivery]:
        return self.outbox.deliveries(kind=kind, sid=sid)

    def phones(self) -> list[Phone]:
        with self._lock:
            return list(self._phones.values())

    def snapshot(self) -> dict[str, Any]:
        """Everything the phone page shows, as JSON."""
        with self._lock:
            phones = []
            for phone in self._phones.values():
                conversation = [
                    m.snapshot()
                    for m in reversed(self._messages.values())
                    if phone.number in (m.to, m.from_)
                ]
                calls = [
                    c.snapshot() for c in reversed(self._calls.values()) if c.to == phone.number
                ]
                phones.append(
                    {
                        "number": phone.number,
                        "label": phone.label,
                        "behaviour": self.behaviour_of(phone.number),
                        "sms_failure": phone.sms_failure,
                        "messages": conversation,
                        "calls": calls,
                    }
                )
            return {
                "account_sid": self.account_sid,
                "from_number": self.from_number,
                "sms_url": self.sms_url,
                "default_behaviour": self._default.behaviour,
                "phones": phones,
                "callbacks": len(self.outbox.deliveries()),
                "held": self._holding,
            }

    # -- internals ---------------------------------------------------------------------

    def _phone(self, number: str) -> Phone:
        if number == "*":
            return self._default
        if number not in self._phones:
            self._phones[number] = Phone(number)
        return self._phones[number]

    def _check_rejection(self, to: str) -> None:
        with self._lock:
            phone = self._phones.get(to)
            code = phone.rejection if phone else None
        if code:
            text = REJECTIONS.get(code, "The message cannot be delivered to this number.")
            raise TwilioError(400, code, text.format(to=to))

    def _store_message(self, message: Message) -> None:
        with self._changed:
            self._messages[message.sid] = message
            self._phone(message.from_ if message.direction == "inbound" else message.to)
            self._changed.notify_all()

    def _get(self, records: Mapping[str, Any], sid: str, resource: str) -> Any:
        with self._lock:
            record = records.get(sid)
        if record is None:
            uri = f"/{API_VERSION}/Accounts/{self.account_sid}/{resource}/{sid}.json"
            raise TwilioError(404, 20404, f"The requested resource {uri} was not found")
        return record

    def _act(self, call_sid: str, action: Callable[[Call], None]) -> Call:
        call = self.call(call_sid)
        self.outbox.run(lambda: action(call))
        return call

    def _unanswered(self, call: Call, status: str, error_code: str | None) -> None:
        if call.status not in ("queued", "ringing"):
            raise CallStateError(f"call {call.sid} is {call.status}; only a ringing call")
        self._voice.end(call, status, error_code)

    def _sms_failure(self, number: str) -> tuple[str, str] | None:
        with self._lock:
            phone = self._phones.get(number)
            return (phone.sms_failure if phone else None) or self._default.sms_failure

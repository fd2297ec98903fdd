"""``FakeVonage``: a Vonage account and the phones it reaches, in one process.

The Vonage face of the local fake. It answers the REST subset the official SDK uses
for our ``VonageProvider`` (Voice API calls, the SMS API, the Reports API's records),
checks credentials as Vonage does (the application's RS256 JWT for Voice, the API key
and secret for SMS and reports), and plays every phone: it rings, answers, runs the
NCCO, presses keys, goes to voicemail, delivers or drops an SMS and texts back. Its
webhooks are signed as Vonage signs them. All HTTP to our service goes through one
ordered outbox thread; everything here is thread-safe.

Phone actions wait until Vonage's side of the action is done (events sent, NCCO run),
so a test can assert right after them. REST operations never wait on the outbox: our
service may call REST from inside a webhook the outbox is waiting on.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import jwt

from notifications.fake.records import BEHAVIOURS, Phone
from notifications.fake.vonage.expectations import VonageExpectations
from notifications.fake.vonage.faults import FaultModes
from notifications.fake.vonage.outbox import Signer, VonageOutbox
from notifications.fake.vonage.records import (
    SignedDelivery,
    VonageCall,
    VonageMessage,
    digits,
    e164,
    new_uuid,
)
from notifications.fake.vonage.rest import VonageApiError, parse_time, validate_call
from notifications.fake.vonage.sms import SmsFlow, SmsRefused, validate
from notifications.fake.vonage.voice import CallStateError, VoiceFlow

DEFAULT_APPLICATION_ID = "00000000-0000-4000-8000-000000000000"
DEFAULT_API_KEY = "devkey01"
DEFAULT_API_SECRET = "dev-vonage-secret"
DEFAULT_SIGNATURE_SECRET = "dev-vonage-signature-secret-change-me"  # >= 32 bytes (HS256)
DEFAULT_FROM = "+3197010000001"
DEFAULT_REJECTION = "7"  # the SMS API's "Number Barred"
SMS_FAILURES = ("expired", "failed", "rejected", "unknown")

__all__ = ["CallStateError", "FakeVonage", "VonageApiError"]


class FakeVonage(VonageExpectations, FaultModes):
    name = "vonage"  # its name on the phone page, next to the Twilio face

    def __init__(
        self,
        *,
        public_key: str,
        application_id: str = DEFAULT_APPLICATION_ID,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        signature_secret: str = DEFAULT_SIGNATURE_SECRET,
        signature_method: str = "sha256",
        from_number: str = DEFAULT_FROM,
        sms_url: str | None = None,
        callback_timeout: float = 10.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.public_key = public_key
        self.application_id = application_id
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_secret = signature_secret
        self.from_number = from_number
        self.sms_url = sms_url
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls: dict[str, VonageCall] = {}
        self._messages: dict[str, VonageMessage] = {}
        self._phones: dict[str, Phone] = {}
        self._default = Phone("*")
        self._outage = None
        self._delay = None
        self._holding = 0
        signer = Signer(api_key, application_id, signature_secret, signature_method)
        self.outbox = VonageOutbox(signer, timeout=callback_timeout)
        self._voice = VoiceFlow(
            outbox=self.outbox, changed=self._changed, now=self._now, behaviour_of=self.behaviour_of
        )
        self._sms = SmsFlow(
            outbox=self.outbox,
            changed=self._changed,
            api_key=api_key,
            now=self._now,
            store=self._store_message,
            failure_of=self._sms_failure,
        )

    def close(self) -> None:
        self.outbox.close()

    def reset(self) -> None:
        """Forget calls, messages and webhooks (phones and their settings stay)."""
        self.outbox.wait_idle()
        with self._changed:
            self._calls.clear()
            self._messages.clear()
            self.outbox.clear()
            self._changed.notify_all()

    # -- credentials -------------------------------------------------------------------

    def voice_authorized(self, authorization: str | None) -> bool:
        """The Voice API's check: a JWT (RS256) of our application, not expired."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        try:
            claims = jwt.decode(
                token.strip(),
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "jti", "application_id"]},
                leeway=60,
            )
        except jwt.PyJWTError:
            return False
        return hmac.compare_digest(str(claims["application_id"]), self.application_id)

    def basic_authorized(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.credentials_match(user, password)

    def credentials_match(self, key: str, secret: str) -> bool:
        """The account's API key and secret (the SMS and Reports APIs' credentials)."""
        return hmac.compare_digest(key, self.api_key) and hmac.compare_digest(
            secret, self.api_secret
        )

    # -- REST: Voice API ---------------------------------------------------------------

    def create_call(self, body: Any, received_perf: float) -> VonageCall:
        request = validate_call(body)
        to = e164(request["to"][0]["number"])
        from_ = e164(str(request["from"]["number"]))
        self._check_rejection(to, voice=True)
        call = VonageCall(
            uuid=new_uuid(),
            conversation_uuid=f"CON-{new_uuid()}",
            to=to,
            from_=from_,
            request=request,
            created_at=self._now(),
            received_perf=received_perf,
        )
        with self._changed:
            self._calls[call.uuid] = call
            self._phone(to)
            self._changed.notify_all()
        self.outbox.submit(lambda: self._voice.dial(call))
        return call

    def list_calls(self, query: Mapping[str, str]) -> list[VonageCall]:
        """``GET /v1/calls``: newest first unless ``order=asc``; date_start/date_end."""
        start, end = parse_time(query.get("date_start")), parse_time(query.get("date_end"))
        with self._lock:
            calls = list(self._calls.values())
        calls = [c for c in calls if query.get("status") in (None, c.status)]
        calls = [c for c in calls if query.get("conversation_uuid") in (None, c.conversation_uuid)]
        floor = [c.created_at.astimezone(UTC).replace(microsecond=0) for c in calls]
        calls = [
            c
            for c, at in zip(calls, floor, strict=True)
            if (start is None or at >= start) and (end is None or at <= end)
        ]
        calls.sort(key=lambda c: c.created_at, reverse=query.get("order", "desc") != "asc")
        return calls

    def get_call(self, uuid: str) -> VonageCall:
        with self._lock:
            call = self._calls.get(uuid)
        if call is None:
            raise VonageApiError(404, "Not Found", f"Call {uuid} was not found")
        return call

    def update_call(self, uuid: str, body: Any) -> None:
        """``PUT /v1/calls/{uuid}``: only ``{"action": "hangup"}`` is played here."""
        action = body.get("action") if isinstance(body, dict) else None
        if action != "hangup":
            raise VonageApiError(400, "Bad Request", f"action {action!r} is not supported")
        with self._lock:
            call = self._calls.get(uuid)
            if call is None or call.ended:
                # Vonage does not find a call that is over among those it can modify.
                raise VonageApiError(404, "Not Found", "The call was not found or is not active")
            final = "completed" if call.in_progress else "cancelled"
            ended = self._voice.mark_ended(call, final)
        if ended:
            self.outbox.submit(lambda: self._voice.final_event(call))

    # -- REST: SMS API and the Reports API ---------------------------------------------

    def send_sms(self, params: dict[str, str], received_perf: float) -> dict[str, Any]:
        """``POST /sms/json`` once authenticated: the SMS API's answer (always 200)."""
        try:
            validate(params)
            self._check_rejection(e164(params["to"]), voice=False)
        except SmsRefused as exc:
            return exc.answer()
        message = self._sms.message(params, received_perf)
        self._store_message(message)
        self.outbox.submit(lambda: self._sms.deliver(message))
        return self._sms.answer(message)

    def records(self, query: Mapping[str, str]) -> list[VonageMessage]:
        """The SMS records ``GET /v2/reports/records`` returns, oldest first."""
        ids = {i.strip() for i in query.get("id", "").split(",") if i.strip()}
        start, end = parse_time(query.get("date_start")), parse_time(query.get("date_end"))
        direction = query.get("direction", "outbound")
        with self._lock:
            messages = list(self._messages.values())
        found = []
        for m in messages:
            outbound = m.direction != "inbound"
            if outbound != (direction == "outbound"):
                continue
            if ids and m.message_id not in ids:
                continue
            at = m.created_at.astimezone(UTC)
            if (start is not None and at < start) or (end is not None and at >= end):
                continue
            if query.get("status") not in (None, m.status):
                continue
            found.append(m)
        return sorted(found, key=lambda m: m.created_at)

    # -- the phones --------------------------------------------------------------------

    def answer(self, uuid: str) -> VonageCall:
        """A person picks up: answered, machine detection says ``human``, the NCCO runs."""
        return self._act(uuid, lambda call: self._voice.answer(call, "human"))

    def voicemail(self, uuid: str) -> VonageCall:
        """A voicemail picks up; the call stays up until someone hangs up."""
        return self._act(uuid, lambda call: self._voice.answer(call, "machine"))

    def press(self, uuid: str, keys: str) -> VonageCall:
        return self._act(uuid, lambda call: self._voice.press(call, keys))

    def input_timeout(self, uuid: str) -> VonageCall:
        """No key within the input's timeOut."""
        return self._act(uuid, self._voice.input_timeout)

    gather_timeout = input_timeout  # the Twilio face's name, which the phone page uses

    def hang_up(self, uuid: str) -> VonageCall:
        """The person hangs up (an answered call completes; a ringing one is declined)."""

        def hang(call: VonageCall) -> None:
            if call.ended:
                raise CallStateError(f"call {call.uuid} already ended ({call.status})")
            self._voice.end(call, "completed" if call.in_progress else "busy")

        return self._act(uuid, hang)

    def ring_out(self, uuid: str) -> VonageCall:
        """Nobody picks up before the ringing timer runs out."""
        return self._act(uuid, lambda c: self._unanswered(c, VoiceFlow.no_answer_status(c)))

    def busy(self, uuid: str) -> VonageCall:
        return self._act(uuid, lambda call: self._unanswered(call, "busy"))

    def fail(self, uuid: str) -> VonageCall:
        return self._act(uuid, lambda call: self._unanswered(call, "failed"))

    def reply(self, from_number: str, body: str) -> list[str]:
        """The phone at ``from_number`` texts our number; returns what the service sent back.

        Vonage cannot answer inside the webhook: the service answers with the SMS API,
        while the webhook is in progress. Those answers are returned (and so count as
        expected), like the Twilio face's TwiML replies.
        """
        url = self.sms_url
        if not url:
            raise RuntimeError("no inbound SMS webhook configured (sms_url)")
        with self._lock:
            ours = next(
                (m.from_ for m in reversed(self._messages.values()) if m.to == from_number),
                self.from_number,
            )
            before = set(self._messages)
        self.outbox.run(lambda: self._sms.inbound(url, ours, from_number, body))
        with self._changed:
            answers = [
                m
                for key, m in self._messages.items()
                if key not in before and m.to == from_number and m.direction == "outbound-api"
            ]
            for message in answers:
                message.expected = True
            return [m.body for m in answers]

    def redeliver(self, index: int | None = None) -> SignedDelivery:
        """Send webhook ``index`` (the last one when None) again, signed anew."""
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

    def sms_fail(self, number: str, status: str = "expired", error_code: str = "2") -> None:
        """SMS to ``number`` end with this receipt status and ``err-code`` (undelivered)."""
        if status not in SMS_FAILURES:
            raise ValueError(f"status must be one of {', '.join(SMS_FAILURES)}")
        with self._lock:
            self._phone(number).sms_failure = (status, str(error_code))

    def sms_ok(self, number: str) -> None:
        with self._lock:
            self._phone(number).sms_failure = None

    def reject(self, number: str, code: str | int | None = DEFAULT_REJECTION) -> None:
        """Refuse SMS to ``number`` with this SMS API status, and calls with HTTP 400
        (None: accept again)."""
        with self._lock:
            self._phone(number).rejection = None if code is None else int(code)

    def set_sms_url(self, url: str | None) -> None:
        self.sms_url = url

    # -- queries -----------------------------------------------------------------------

    def calls(self, to: str | None = None) -> list[VonageCall]:
        with self._lock:
            return [c for c in self._calls.values() if to is None or c.to == to]

    def messages(
        self, to: str | None = None, *, direction: str | None = None
    ) -> list[VonageMessage]:
        with self._lock:
            return [
                m
                for m in self._messages.values()
                if (to is None or m.to == to) and (direction is None or m.direction == direction)
            ]

    def inbox(self, number: str) -> list[VonageMessage]:
        return list(reversed(self.messages(number)))

    def call(self, uuid: str) -> VonageCall:
        with self._lock:
            if uuid not in self._calls:
                raise LookupError(f"no call {uuid}")
            return self._calls[uuid]

    def message(self, message_id: str) -> VonageMessage:
        with self._lock:
            for message in self._messages.values():
                if message_id in (message.message_id, *message.parts):
                    return message
        raise LookupError(f"no message {message_id}")

    def callbacks(self, kind: str | None = None, sid: str | None = None) -> list[SignedDelivery]:
        return [
            d for d in self.outbox.deliveries(kind=kind, sid=sid) if isinstance(d, SignedDelivery)
        ]

    def phones(self) -> list[Phone]:
        with self._lock:
            return list(self._phones.values())

    def snapshot(self) -> dict[str, Any]:
        """Everything the phone page shows, as JSON (the Twilio face's shape)."""
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
                "provider": self.name,
                "application_id": self.application_id,
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

    def _check_rejection(self, to: str, *, voice: bool) -> None:
        with self._lock:
            phone = self._phones.get(to)
            code = phone.rejection if phone else None
        if not code:
            return
        if voice:
            raise VonageApiError(
                400, "Bad Request", f"The destination {digits(to)} cannot be called ({code})"
            )
        raise SmsRefused(str(code))

    def _store_message(self, message: VonageMessage) -> None:
        with self._changed:
            self._messages[message.message_id] = message
            self._phone(message.from_ if message.direction == "inbound" else message.to)
            self._changed.notify_all()

    def _act(self, uuid: str, action: Callable[[VonageCall], None]) -> VonageCall:
        call = self.call(uuid)
        self.outbox.run(lambda: action(call))
        return call

    def _unanswered(self, call: VonageCall, status: str) -> None:
        if call.status not in ("started", "ringing"):
            raise CallStateError(f"call {call.uuid} is {call.status}; only a ringing call")
        self._voice.end(call, status)

    def _sms_failure(self, number: str) -> tuple[str, str] | None:
        with self._lock:
            phone = self._phones.get(number)
            return (phone.sms_failure if phone else None) or self._default.sms_failure

"""The voice side of the fake Vonage: what Vonage does on the line once a call is placed.

Runs on the outbox thread only, so the events of a call reach our service in Vonage's
order: started, ringing, answered, human/machine (machine detection in "detect"
mode settles before the NCCO runs), the answer webhook, the input results, and the
final status. The NCCO our service answers with is run action by action: ``talk`` is
said (kept in the transcript), ``input`` waits for keys; its result goes to the
input's ``eventUrl`` and the NCCO that comes back replaces the rest, as on Vonage.
Talk and input actions are checked with the SDK's NCCO models, so an NCCO Vonage
would refuse fails here too (an error event, and the call ends).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from vonage_voice.models import Input, Talk  # type: ignore[import-untyped, unused-ignore]

from notifications.fake.records import Utterance
from notifications.fake.vonage.outbox import VonageOutbox
from notifications.fake.vonage.records import PendingInput, VonageCall, digits, iso

_MAX_DOCUMENTS = 25  # NCCOs fetched for one call, as a guard against loops
_DEFAULT_INPUT_TIMEOUT = 3  # seconds, Vonage's default dtmf.timeOut
_DEFAULT_MAX_DIGITS = 4


class CallStateError(RuntimeError):
    """A phone action that does not fit the call's state (pressing keys on a ringing call)."""


class NccoError(ValueError):
    """An NCCO Vonage could not run (its error event says why)."""


class VoiceFlow:
    def __init__(
        self,
        *,
        outbox: VonageOutbox,
        changed: threading.Condition,
        now: Callable[[], datetime],
        behaviour_of: Callable[[str], str],
    ) -> None:
        self._outbox = outbox
        self._changed = changed
        self._now = now
        self._behaviour_of = behaviour_of

    # -- progress ----------------------------------------------------------------------

    def dial(self, call: VonageCall) -> None:
        """After the REST create: started, ringing, then whatever the phone is set to do."""
        self._event(call, "started")
        with self._changed:
            if call.ended:
                return
            call.status = "ringing"
            self._changed.notify_all()
        self._event(call, "ringing")
        behaviour = self._behaviour_of(call.to)
        if behaviour in ("accept", "decline"):
            self.answer(call, "human")
            if call.pending is not None and not call.ended:
                self.press(call, "1" if behaviour == "accept" else "2")
        elif behaviour == "voicemail":
            self.answer(call, "machine")
        elif behaviour == "no_answer":
            self.end(call, self.no_answer_status(call))
        elif behaviour == "busy":
            self.end(call, "busy")

    @staticmethod
    def no_answer_status(call: VonageCall) -> str:
        """With a ``ringing_timer``, Vonage gives up and says "timeout"; else "unanswered"."""
        return "timeout" if call.request.get("ringing_timer") else "unanswered"

    def answer(self, call: VonageCall, answered_by: str) -> None:
        """A person or a voicemail picks up: answered, machine detection, the NCCO."""
        with self._changed:
            if call.status not in ("started", "ringing"):
                raise CallStateError(f"call {call.uuid} is {call.status}; only a ringing call")
            call.status = "answered"
            call.answered_at = self._now()
            if call.machine_detection:
                call.answered_by = answered_by
            self._changed.notify_all()
        self._event(call, "answered", {"start_time": None, "rate": None, "network": None})
        if call.machine_detection:
            self._send_event(
                call,
                {
                    "call_uuid": call.uuid,
                    "from": digits(call.from_),
                    "to": digits(call.to),
                    "status": answered_by,
                    "conversation_uuid": call.conversation_uuid,
                    "timestamp": iso(self._now()),
                },
            )
        if call.request.get("ncco") is not None:
            self._run(call, call.request["ncco"], depth=0)
            return
        payload = {
            "to": digits(call.to),
            "from": digits(call.from_),
            "uuid": call.uuid,
            "conversation_uuid": call.conversation_uuid,
        }
        url = call.url or ""
        self._fetch(call, "answer", url, call.request.get("answer_method", "GET"), payload, [], 0)

    def press(self, call: VonageCall, keys: str) -> None:
        pending = self._take_input(call)
        typed = keys
        if pending.submit_on_hash and "#" in typed:
            typed = typed.split("#", 1)[0]
        typed = typed[: pending.max_digits]
        self._say(call, Utterance("Digits", typed))
        self._input_result(call, pending, typed, timed_out=False)

    def input_timeout(self, call: VonageCall) -> None:
        """No key within the input's ``timeOut``: Vonage says so on its eventUrl."""
        pending = self._take_input(call)
        self._say(call, Utterance("Timeout", ""))
        self._input_result(call, pending, "", timed_out=True)

    def end(self, call: VonageCall, status: str) -> None:
        if self.mark_ended(call, status):
            self.final_event(call)

    def mark_ended(self, call: VonageCall, status: str) -> bool:
        """Settle the final status at once (a REST hang-up answers before its event)."""
        with self._changed:
            if call.ended:
                return False
            call.status = status
            call.ended_at = self._now()
            call.pending = None
            self._changed.notify_all()
            return True

    def final_event(self, call: VonageCall) -> None:
        extra: dict[str, Any] = {}
        if call.status == "completed":
            body = call.to_vonage()
            extra = {key: body.get(key) for key in ("end_time", "network", "duration", "rate")}
            extra.update(start_time=iso(call.answered_at), price=body.get("price"))
        self._event(call, call.status, extra)

    # -- internals ---------------------------------------------------------------------

    def _event(self, call: VonageCall, status: str, extra: dict[str, Any] | None = None) -> None:
        payload = {
            "from": digits(call.from_),
            "to": digits(call.to),
            "uuid": call.uuid,
            "conversation_uuid": call.conversation_uuid,
            "status": status,
            "direction": "outbound",
            "timestamp": iso(self._now()),
        } | (extra or {})
        self._send_event(call, payload)

    def _send_event(self, call: VonageCall, payload: dict[str, Any]) -> None:
        url = call.event_url
        if not url:
            return
        method = call.request.get("event_method", "POST")
        self._outbox.post(
            kind="event", sid=call.uuid, url=url, payload=payload, encoding="json", method=method
        )

    def _take_input(self, call: VonageCall) -> PendingInput:
        with self._changed:
            pending = call.pending
            if call.ended or pending is None:
                raise CallStateError(f"no input is waiting on call {call.uuid} ({call.status})")
            call.pending = None
            self._changed.notify_all()
            return pending

    def _say(self, call: VonageCall, utterance: Utterance) -> None:
        with self._changed:
            call.transcript.append(utterance)
            self._changed.notify_all()

    def _input_result(
        self, call: VonageCall, pending: PendingInput, keys: str, *, timed_out: bool
    ) -> None:
        payload = {
            "speech": {},
            "dtmf": {"digits": keys, "timed_out": timed_out},
            "from": digits(call.from_),
            "to": digits(call.to),
            "uuid": call.uuid,
            "conversation_uuid": call.conversation_uuid,
            "timestamp": iso(self._now()),
        }
        self._fetch(call, "input", pending.event_url, pending.method, payload, pending.rest, 0)

    def _fetch(
        self,
        call: VonageCall,
        kind: str,
        url: str,
        method: str,
        payload: dict[str, Any],
        rest: list[dict[str, Any]],
        depth: int,
    ) -> None:
        """Ask our service for the next NCCO and run it.

        The answer webhook must return one; an input's eventUrl that fails or returns
        nothing lets the NCCO go on with what followed the input, as Vonage does.
        """
        if call.ended:
            return
        delivery = self._outbox.post(
            kind=kind, sid=call.uuid, url=url, payload=payload, encoding="json", method=method
        )
        text = delivery.response_text.strip()
        if not delivery.ok or not text:
            if kind == "answer":
                reason = delivery.error or f"HTTP {delivery.status_code} from the answer_url"
                self._error(call, reason)
            else:
                self._run_actions(call, rest, depth)
            return
        try:
            ncco = json.loads(text)
        except ValueError:
            self._error(call, "Syntax error in NCCO. Invalid JSON.")
            return
        self._run(call, ncco, depth + 1)

    def _run(self, call: VonageCall, ncco: object, depth: int) -> None:
        if depth > _MAX_DOCUMENTS:
            self._error(call, "Too many NCCOs for one call.")
            return
        if not isinstance(ncco, list) or not all(isinstance(a, dict) for a in ncco):
            self._error(call, "Syntax error in NCCO. Invalid value type or action.")
            return
        self._run_actions(call, ncco, depth)

    def _run_actions(self, call: VonageCall, actions: list[dict[str, Any]], depth: int) -> None:
        for position, action in enumerate(actions):
            if call.ended:
                return
            try:
                name = _check(action)
            except NccoError as exc:
                self._error(call, str(exc))
                return
            if name == "talk":
                attrs = {k: str(v) for k, v in action.items() if k not in ("action", "text")}
                for _ in range(max(1, int(action.get("loop", 1) or 1))):
                    self._say(call, Utterance("Say", str(action["text"]), attrs))
            elif name == "input":
                self._wait_for_keys(call, action, actions[position + 1 :])
                return
            elif name == "stream":
                self._say(call, Utterance("Play", str((action.get("streamUrl") or [""])[0])))
            else:
                self._say(call, Utterance(name, "", {"note": "not played by the fake"}))
        self.end(call, "completed")

    def _wait_for_keys(
        self, call: VonageCall, action: dict[str, Any], rest: list[dict[str, Any]]
    ) -> None:
        dtmf = action.get("dtmf") or {}
        urls = action.get("eventUrl") or []
        prompts = [u.text for u in call.transcript if u.verb == "Say"][-12:]
        pending = PendingInput(
            event_url=str(urls[0]) if urls else (call.event_url or ""),
            method=str(action.get("eventMethod") or "POST").upper(),
            max_digits=int(dtmf.get("maxDigits") or _DEFAULT_MAX_DIGITS),
            timeout=int(dtmf.get("timeOut") or _DEFAULT_INPUT_TIMEOUT),
            submit_on_hash=bool(dtmf.get("submitOnHash")),
            rest=rest,
            prompts=prompts,
        )
        with self._changed:
            if call.ended:
                return
            call.transcript.append(Utterance("Gather", "", {"eventUrl": pending.event_url}))
            call.pending = pending
            self._changed.notify_all()

    def _error(self, call: VonageCall, reason: str) -> None:
        """Vonage reports the fault on the event URL and ends the call."""
        self._say(call, Utterance("Error", reason))
        self._send_event(
            call,
            {
                "reason": reason,
                "conversation_uuid": call.conversation_uuid,
                "timestamp": iso(self._now()),
            },
        )
        self.end(call, "completed" if call.status == "answered" else "failed")


def _check(action: dict[str, Any]) -> str:
    """The action's name, after the checks Vonage makes (talk and input in full)."""
    name = action.get("action")
    model = {"talk": Talk, "input": Input}.get(str(name))
    if model is not None:
        try:
            model.model_validate({k: v for k, v in action.items() if k != "action"})
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise NccoError(f"Invalid {name} action: {detail}") from exc
        return str(name)
    if name in ("stream", "connect", "conversation", "record", "notify", "wait"):
        return str(name)
    raise NccoError(f"Syntax error in NCCO. Invalid value type or action: {name!r}")

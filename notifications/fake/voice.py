"""The voice side of the fake: what Twilio does on the line once a call is placed.

Runs on the outbox thread only, so every callback and TwiML fetch of a call happens in
Twilio's order: initiated, ringing, answered, the TwiML fetch, the asynchronous AMD
result, the Gather action, completed. State changes happen under the fake's lock and
are checked again after every HTTP round trip, because our service may end the call
over REST (``Status=completed``) while one of its own webhooks is still running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from notifications.fake.markup import TwimlError, Verb, int_attr, parse, resolve
from notifications.fake.outbox import Outbox
from notifications.fake.records import API_VERSION, Call, PendingGather, Utterance, rfc2822

_MAX_DOCUMENTS = 25  # Redirect loops: Twilio gives up too
_SIP_CODES = {"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487"}
_AMD_DURATION_MS = {"human": "2150", "unknown": "5000"}


class CallStateError(RuntimeError):
    """A phone action that does not fit the call's state (pressing keys on a ringing call)."""


class CallFlow:
    def __init__(
        self,
        *,
        outbox: Outbox,
        changed: threading.Condition,
        account_sid: str,
        now: Callable[[], datetime],
        behaviour_of: Callable[[str], str],
    ) -> None:
        self._outbox = outbox
        self._changed = changed
        self._account_sid = account_sid
        self._now = now
        self._behaviour_of = behaviour_of

    # -- progress ----------------------------------------------------------------------

    def dial(self, call: Call) -> None:
        """After the REST create: initiated, ringing, then whatever the phone is set to do."""
        self._progress(call, "initiated", "initiated")
        with self._changed:
            if call.ended:
                return
            call.status = "ringing"
            self._changed.notify_all()
        self._progress(call, "ringing", "ringing")
        behaviour = self._behaviour_of(call.to)
        if behaviour in ("accept", "decline"):
            self.answer(call, "human")
            if call.gather is not None and not call.ended:
                self.press(call, "1" if behaviour == "accept" else "2")
        elif behaviour == "voicemail":
            self.answer(call, "machine_end_beep")
        elif behaviour == "no_answer":
            self.end(call, "no-answer")
        elif behaviour == "busy":
            self.end(call, "busy")

    def answer(self, call: Call, answered_by: str) -> None:
        """A human or a voicemail box picks up: answered, the TwiML, then the AMD result."""
        with self._changed:
            if call.status not in ("queued", "ringing"):
                raise CallStateError(f"call {call.sid} is {call.status}; only a ringing call")
            call.status = "in-progress"
            call.answered_at = self._now()
            if call.params.get("MachineDetection"):
                call.answered_by = answered_by
            self._changed.notify_all()
        self._progress(call, "answered", "in-progress")
        params = call.params
        detect = bool(params.get("MachineDetection"))
        asynchronous = params.get("AsyncAmd", "").lower() == "true"
        extra = {"AnsweredBy": answered_by} if detect and not asynchronous else {}
        if params.get("Twiml"):
            self._run(call, params["Twiml"], call.url or "", depth=0)
        elif call.url:
            self._fetch(call, "twiml", call.url, params.get("Method", "POST"), extra, depth=0)
        else:
            self.end(call, "completed")
        amd_url = params.get("AsyncAmdStatusCallback")
        if detect and asynchronous and amd_url:
            self._outbox.send(
                kind="amd",
                sid=call.sid,
                url=amd_url,
                method=params.get("AsyncAmdStatusCallbackMethod", "POST"),
                params={
                    "AccountSid": self._account_sid,
                    "CallSid": call.sid,
                    "AnsweredBy": answered_by,
                    "MachineDetectionDuration": _AMD_DURATION_MS.get(answered_by, "4200"),
                },
            )

    def press(self, call: Call, digits: str) -> None:
        gather = self._take_gather(call)
        finished_on = ""
        if gather.finish_on_key and gather.finish_on_key in digits:
            digits, finished_on = digits.split(gather.finish_on_key, 1)[0], gather.finish_on_key
        if gather.num_digits:
            digits = digits[: gather.num_digits]
        self._say(call, Utterance("Digits", digits))
        extra = {"Digits": digits, "FinishedOnKey": finished_on, "msg": "Gather End"}
        self._fetch(call, "gather", gather.action, gather.method, extra, depth=0)

    def gather_timeout(self, call: Call) -> None:
        """No key within the timeout: Twilio falls through to the verbs after the Gather."""
        gather = self._take_gather(call)
        self._say(call, Utterance("Timeout", ""))
        if gather.action_on_empty_result:
            extra = {"FinishedOnKey": "", "msg": "Gather End"}
            self._fetch(call, "gather", gather.action, gather.method, extra, depth=0)
        else:
            self._run_verbs(call, gather.rest, gather.doc_url, depth=0)

    def end(self, call: Call, status: str, error_code: str | None = None) -> None:
        if self.mark_ended(call, status, error_code):
            self.final_callback(call)

    def mark_ended(self, call: Call, status: str, error_code: str | None = None) -> bool:
        """Settle the final status at once (a REST hang-up answers with it)."""
        with self._changed:
            if call.ended:
                return False
            call.status = status
            call.ended_at = self._now()
            call.error_code = error_code
            call.gather = None
            self._changed.notify_all()
            return True

    def final_callback(self, call: Call) -> None:
        duration = call.duration or 0
        extra = {
            "CallDuration": str(duration),
            "Duration": str(-(-duration // 60)),
            "SipResponseCode": _SIP_CODES.get(call.status, "500"),
        }
        if call.error_code:
            extra["ErrorCode"] = call.error_code
        self._progress(call, "completed", call.status, extra)

    # -- internals ---------------------------------------------------------------------

    def _take_gather(self, call: Call) -> PendingGather:
        with self._changed:
            gather = call.gather
            if call.ended or gather is None:
                raise CallStateError(f"no <Gather> is waiting on call {call.sid} ({call.status})")
            call.gather = None
            self._changed.notify_all()
            return gather

    def _say(self, call: Call, utterance: Utterance) -> None:
        with self._changed:
            call.transcript.append(utterance)
            self._changed.notify_all()

    def base_params(self, call: Call, status: str) -> dict[str, str]:
        return {
            "AccountSid": self._account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    def _progress(
        self, call: Call, event: str, status: str, extra: dict[str, str] | None = None
    ) -> None:
        url = call.params.get("StatusCallback")
        if not url or event not in call.status_callback_events:
            return
        with self._changed:
            sequence = call.sequence
            call.sequence += 1
        params = self.base_params(call, status) | {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": rfc2822(self._now()) or "",
        }
        method = call.params.get("StatusCallbackMethod", "POST")
        self._outbox.send(
            kind="call-status", sid=call.sid, url=url, params=params | (extra or {}), method=method
        )

    def _fetch(
        self, call: Call, kind: str, url: str, method: str, extra: dict[str, str], depth: int
    ) -> None:
        if call.ended:
            return
        params = self.base_params(call, "in-progress") | extra
        delivery = self._outbox.send(kind=kind, sid=call.sid, url=url, params=params, method=method)
        if not delivery.ok:
            reason = delivery.error or f"HTTP {delivery.status_code}"
            self._application_error(call, "11200", f"HTTP retrieval failure: {reason}")
            return
        self._run(call, delivery.response_text, url, depth)

    def _run(self, call: Call, document: str, doc_url: str, depth: int) -> None:
        try:
            verbs = parse(document)
        except TwimlError as exc:
            self._application_error(call, "12100", f"Document parse failure: {exc}")
            return
        self._run_verbs(call, verbs, doc_url, depth)

    def _application_error(self, call: Call, code: str, text: str) -> None:
        """Twilio says "An application error has occurred" and hangs up."""
        self._say(call, Utterance("Error", text, {"code": code}))
        self.end(call, "completed")

    def _run_verbs(self, call: Call, verbs: list[Verb], doc_url: str, depth: int) -> None:
        if depth > _MAX_DOCUMENTS:
            self._application_error(call, "11100", "too many redirects")
            return
        for position, verb in enumerate(verbs):
            if call.ended:
                return
            if verb.name == "Gather":
                self._gather(call, verb, verbs[position + 1 :], doc_url)
                return
            if verb.name == "Redirect":
                self._say(call, Utterance("Redirect", verb.text, verb.attrs))
                target = resolve(doc_url, verb.text)
                method = verb.attrs.get("method", "POST")
                self._fetch(call, "twiml", target, method, {}, depth + 1)
                return
            if verb.name in ("Hangup", "Reject"):
                self._say(call, Utterance(verb.name, "", verb.attrs))
                self.end(call, "completed")
                return
            self._say(call, _utterance(verb))
        self.end(call, "completed")

    def _gather(self, call: Call, verb: Verb, rest: list[Verb], doc_url: str) -> None:
        prompts: list[str] = []
        for child in verb.children:
            self._say(call, _utterance(child))
            if child.name == "Say":
                prompts.append(child.text)
        attrs = verb.attrs
        gather = PendingGather(
            action=resolve(doc_url, attrs.get("action")),
            method=attrs.get("method", "POST").upper(),
            num_digits=int_attr(attrs, "numDigits", None),
            timeout=int_attr(attrs, "timeout", 5) or 5,
            finish_on_key=attrs.get("finishOnKey", "#"),
            action_on_empty_result=attrs.get("actionOnEmptyResult", "").lower() == "true",
            rest=rest,
            doc_url=doc_url,
            prompts=prompts,
        )
        with self._changed:
            if call.ended:
                return
            call.transcript.append(Utterance("Gather", "", attrs))
            call.gather = gather
            self._changed.notify_all()


def _utterance(verb: Verb) -> Utterance:
    if verb.name == "Pause":
        return Utterance("Pause", verb.attrs.get("length", "1"), verb.attrs)
    return Utterance(verb.name, verb.text, verb.attrs)

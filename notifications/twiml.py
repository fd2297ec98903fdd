"""TwiML for the page call and the SMS replies, built with the Twilio SDK.

The call reads the page, waits for one key, reads it once more if nothing was pressed,
then says goodbye and hangs up. A call that ends without a key press counts as not
reached; the caller decides that from the status callback. Every spoken sentence comes
from ``notifications.messages`` (and so from ``core.texts``), which keeps
``every_message`` complete for the privacy test.
"""

from __future__ import annotations

from typing import Any, Literal

from twilio.twiml.messaging_response import (  # type: ignore[import-untyped,unused-ignore]
    MessagingResponse,
)
from twilio.twiml.voice_response import (  # type: ignore[import-untyped,unused-ignore]
    VoiceResponse,
)

from notifications.messages import Callback, PageInfo, voice_accepted, voice_answer, voice_script

# Amazon Polly's Dutch standard voice; one voice for every sentence, so a worker woken
# at night hears the same speaker throughout.
VOICE = "Polly.Lotte"
LANGUAGE = "nl-NL"
GATHER_TIMEOUT = 8  # seconds to wait for a key after the script has been read
READS = 2  # the script is read once, then once more when no key was pressed

KEY_ACCEPT = "1"
KEY_DECLINE = "2"
KEY_REPEAT = "9"

KeyAction = Literal["accept", "decline", "repeat", "invalid"]
KeyResult = Literal["accepted", "declined", "repeat", "invalid", "closed"]

_KEYS: dict[str, KeyAction] = {
    KEY_ACCEPT: "accept",
    KEY_DECLINE: "decline",
    KEY_REPEAT: "repeat",
}


def parse_key(digits: str | None) -> KeyAction:
    """What the pressed key asks for; anything but exactly one known key is invalid."""
    return _KEYS.get((digits or "").strip(), "invalid")


def _say(parent: Any, text: str) -> None:
    parent.say(text, voice=VOICE, language=LANGUAGE)


def _read_page(
    response: VoiceResponse, info: PageInfo, action_url: str, *, lead: str | None = None
) -> None:
    for attempt in range(READS):
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            action=action_url,
            method="POST",
            timeout=GATHER_TIMEOUT,
        )
        if lead and attempt == 0:
            _say(gather, lead)
        for sentence in voice_script(info):
            _say(gather, sentence)
    _say(response, voice_answer("no_key"))
    response.hangup()


def page_call(info: PageInfo, action_url: str) -> str:
    """The TwiML fetched when the worker picks up; key presses are POSTed to action_url."""
    response = VoiceResponse()
    _read_page(response, info, action_url)
    return str(response.to_xml())


def key_answer(
    result: KeyResult,
    *,
    info: PageInfo | None = None,
    action_url: str | None = None,
    callback: Callback | None = None,
) -> str:
    """The TwiML answering a key press, once the caller has decided what it meant.

    ``repeat`` and ``invalid`` read the page again and need ``info`` and ``action_url``;
    ``closed`` is for a page that is no longer open (answered elsewhere, cancelled).
    ``accepted`` with a ``callback`` reads the police's callback number, twice, and says
    an SMS with it follows.
    """
    response = VoiceResponse()
    if result in ("repeat", "invalid"):
        if info is None or action_url is None:
            raise ValueError(f"key answer {result!r} reads the page again: give info and url")
        lead = voice_answer("invalid") if result == "invalid" else None
        _read_page(response, info, action_url, lead=lead)
    elif result == "accepted" and callback is not None:
        for sentence in voice_accepted(callback):
            _say(response, sentence)
        response.hangup()
    elif result in ("accepted", "declined", "closed"):
        _say(response, voice_answer(result))
        response.hangup()
    else:
        raise ValueError(f"unknown key result {result!r}")
    return str(response.to_xml())


def hangup() -> str:
    """End the call without a word (a voicemail picked up: leave nothing on it)."""
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())


def sms_reply(text: str | None) -> str:
    """Messaging TwiML answering an inbound SMS; empty when nothing should be sent."""
    response = MessagingResponse()
    if text is not None:
        response.message(text)
    return str(response.to_xml())

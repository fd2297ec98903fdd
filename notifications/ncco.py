"""NCCOs (Vonage's call scripts) for the page call and the key answers: what ``twiml``
is for Twilio, built with the SDK's NCCO models so Vonage's limits are checked here.

The call reads the page, waits for one key, reads it once more if nothing was pressed,
then says goodbye and ends. Unlike TwiML, where the call falls through to what follows
a ``<Gather>``, Vonage sends the end of every ``input`` action (a key, or none in time)
to its ``eventUrl`` and runs the NCCO that comes back; so the second reading and the
goodbye are answers to a timed-out input, and the reading's number travels in the
``eventUrl`` (``?read=2``). Every sentence comes from ``notifications.messages``, the
same Dutch as the TwiML, in ``nl-NL``.
"""

from __future__ import annotations

from typing import Any

from vonage_voice.models import Input, Talk  # type: ignore[import-untyped, unused-ignore]
from vonage_voice.models.input_types import Dtmf  # type: ignore[import-untyped, unused-ignore]

from notifications.messages import Callback, PageInfo, voice_accepted, voice_answer, voice_script
from notifications.twiml import GATHER_TIMEOUT, READS, KeyResult

LANGUAGE = "nl-NL"
INPUT_TIMEOUT = GATHER_TIMEOUT  # seconds to wait for a key after the page was read
READ_PARAM = "read"

Ncco = list[dict[str, Any]]


def _talk(text: str, *, barge_in: bool = False) -> dict[str, Any]:
    # bargeIn: a key pressed while the page is read ends the reading and counts, as a
    # key pressed during TwiML's <Gather><Say> does.
    action = Talk(text=text, language=LANGUAGE, bargeIn=True if barge_in else None)
    dumped: dict[str, Any] = action.model_dump(exclude_none=True, mode="json")
    return dumped


def read_url(key_url: str, read: int) -> str:
    """The input's eventUrl for the ``read``-th reading (the first carries no query)."""
    if read <= 1:
        return key_url
    return f"{key_url}{'&' if '?' in key_url else '?'}{READ_PARAM}={read}"


def page_call(info: PageInfo, key_url: str, *, read: int = 1, lead: str | None = None) -> Ncco:
    """The NCCO answered when the worker picks up: the page, then one key.

    ``read`` counts the readings (the timed-out input of the last one says goodbye);
    ``lead`` is said first (after an unknown key).
    """
    sentences = ([lead] if lead else []) + voice_script(info)
    ncco = [_talk(sentence, barge_in=True) for sentence in sentences]
    wait = Input(
        type=["dtmf"],
        dtmf=Dtmf(maxDigits=1, timeOut=INPUT_TIMEOUT),
        eventUrl=[read_url(key_url, read)],
        eventMethod="POST",
    )
    ncco.append(wait.model_dump(exclude_none=True, mode="json"))
    return ncco


def no_key(info: PageInfo | None, key_url: str, read: int) -> Ncco:
    """The answer to an input that timed out: read the page once more, or say goodbye."""
    if info is not None and read < READS:
        return page_call(info, key_url, read=read + 1)
    return [_talk(voice_answer("no_key"))]


def key_answer(
    result: KeyResult,
    *,
    info: PageInfo | None = None,
    key_url: str | None = None,
    callback: Callback | None = None,
) -> Ncco:
    """The NCCO answering a key press, once the caller has decided what it meant.

    ``repeat`` and ``invalid`` read the page again and need ``info`` and ``key_url``;
    ``closed`` is for a page that is no longer open. ``accepted`` with a ``callback``
    reads the police's callback number, twice, and says an SMS with it follows. The
    call ends when the NCCO does.
    """
    if result in ("repeat", "invalid"):
        if info is None or key_url is None:
            raise ValueError(f"key answer {result!r} reads the page again: give info and url")
        lead = voice_answer("invalid") if result == "invalid" else None
        return page_call(info, key_url, lead=lead)
    if result == "accepted" and callback is not None:
        return [_talk(sentence) for sentence in voice_accepted(callback)]
    if result in ("accepted", "declined", "closed"):
        return [_talk(voice_answer(result))]
    raise ValueError(f"unknown key result {result!r}")

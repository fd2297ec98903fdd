"""Read an inbound SMS reply: accept, decline, help, or not understood; and which page.

Replies are typed at night on a phone, often with autocorrect: "Ja!", " ja. ",
"JA SO-K7Q2ZP", "k7q2zp ja". Case, spacing and punctuation are forgiven; the words are
not: an accept sends someone out, so only the listed words count and anything else is
"unknown" (the service then answers how to reply). A code is only read when it is the
first or last word, in the reference alphabet; a typed 0 for O (or 1 for I) is not
corrected, since neither letter occurs in codes and a guess could pick another page.

Pure: the caller finds the worker's open pages and decides what the reply means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from notifications.messages import CODE_ALPHABET, CODE_LENGTH, REFERENCE_PREFIX

ReplyKindIn = Literal["accept", "decline", "help", "unknown"]

ACCEPT_WORDS = ("JA", "J", "YES", "Y", "OK", "AKKOORD", "KOM", "1")
DECLINE_WORDS = ("NEE", "N", "NO", "KAN NIET", "2")
HELP_WORDS = ("HELP", "INFO", "?")

_PHRASES: dict[str, ReplyKindIn] = {
    **dict.fromkeys(ACCEPT_WORDS, "accept"),
    **dict.fromkeys(DECLINE_WORDS, "decline"),
    **dict.fromkeys(HELP_WORDS, "help"),
}
# Words: runs of letters and digits (any script, so "JÁ" stays one unknown word rather
# than turning into "J"), plus a lone "?" which is a word of its own.
_TOKEN_RE = re.compile(r"[^\W_]+|\?")
_PREFIX = REFERENCE_PREFIX.rstrip("-")  # "SO"
_CODE_RE = re.compile(rf"^(?:{_PREFIX})?([{CODE_ALPHABET}]{{{CODE_LENGTH}}})$")
MAX_BODY = 1600  # Twilio's own limit; longer input is not a reply


@dataclass(frozen=True)
class Reply:
    kind: ReplyKindIn
    code: str | None = None


UNKNOWN = Reply("unknown")


def _code(token: str) -> str | None:
    match = _CODE_RE.match(token)
    return match.group(1) if match else None


def _split_code(tokens: list[str]) -> tuple[list[str], str | None]:
    """Take a code off the front or back ("SO-K7Q2ZP" arrives as "SO", "K7Q2ZP")."""
    if len(tokens) >= 2:
        if tokens[-2] == _PREFIX and (code := _code(tokens[-1])):
            return tokens[:-2], code
        if tokens[0] == _PREFIX and (code := _code(tokens[1])):
            return tokens[2:], code
    if tokens and (code := _code(tokens[-1])):
        return tokens[:-1], code
    if tokens and (code := _code(tokens[0])):
        return tokens[1:], code
    return tokens, None


def parse_reply(body: str | None) -> Reply:
    """What an SMS reply asks for; never raises, whatever arrives."""
    if not body or len(body) > MAX_BODY:
        return UNKNOWN
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(body.upper()):
        if not (token == "?" and tokens and tokens[-1] == "?"):  # "??" asks for help too
            tokens.append(token)
    if not tokens:
        return UNKNOWN
    words, code = _split_code(tokens)
    kind = _PHRASES.get(" ".join(words))
    if kind is None:
        return UNKNOWN
    return Reply(kind, code)

"""What a page says on a phone: the SMS, the voice script and the answers to SMS replies.

A phone is not a safe place for case details: lock screens show SMS previews, carriers
keep voicemail, phones are shared at home. So a page says only what ``PageInfo`` can
hold (a reference, its short code, municipality, case type, mode, purpose and staff)
plus the signed link behind which the details are shown after checks and audit
logging. ``PageInfo`` has no field for anything else, so no caller can add a name,
address or age by accident; ``every_message`` renders every text the product can send,
so a test can check them all. Once a worker accepts, the texts that confirm it also
carry a ``Callback``: the police unit and the number it is called back on, which are
the police's own contact, not facts about the people involved.

All wording comes from ``core.texts``; this module only assembles it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

from core.texts import (
    CASE_TYPE_NL,
    CONTACT_TEXTS,
    MODE_NL,
    PAGE_PURPOSE_NL,
    PAGE_STAFF_NL,
    PAGE_TEXTS,
    REPLY_TEXTS,
)

CaseType = Literal["HG", "KM"]
Mode = Literal["on_scene", "phone", "video"]
Purpose = Literal["respond", "consult", "team_line"]
ReplyKind = Literal[
    "accepted",
    "declined",
    "already_answered",
    "closed",
    "ambiguous",
    "unknown_code",
    "no_open",
    "unknown",
    "help",
    "rate_limited",
]
VoiceAnswer = Literal["accepted", "declined", "invalid", "closed", "no_key"]

ALL_CASE_TYPES: tuple[CaseType, ...] = get_args(CaseType)
ALL_MODES: tuple[Mode, ...] = get_args(Mode)
ALL_PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
ALL_REPLY_KINDS: tuple[ReplyKind, ...] = get_args(ReplyKind)
ALL_VOICE_ANSWERS: tuple[VoiceAnswer, ...] = get_args(VoiceAnswer)

REFERENCE_PREFIX = "SO-"
# Same alphabet as dispatch's reference generator: no 0/O and 1/I, which are confused
# when read out over the phone or typed on a small keyboard at night.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
EXAMPLE_CODE = "K7Q2ZP"  # shown in the help reply when the worker has no open page

_REFERENCE_RE = re.compile(rf"^{REFERENCE_PREFIX}[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
_CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
# Municipality names have letters, spaces and a little punctuation ("'s-Hertogenbosch",
# "Bergen (NH.)", "Súdwest-Fryslân"), never digits: a digit would mean something else
# (a house number, an age, a phone number) was passed where the name belongs.
_MUNICIPALITY_RE = re.compile(r"^['’]?[^\W\d_](?:[^\W\d_]|[ '’.()-])*$")
_MUNICIPALITY_MAX = 60


@dataclass(frozen=True)
class PageInfo:
    """Everything a page may say. Adding a field here widens what leaves the building."""

    reference: str
    code: str
    municipality: str | None
    case_type: CaseType
    mode: Mode
    purpose: Purpose = "respond"
    staff: int = 1

    def __post_init__(self) -> None:
        if not _REFERENCE_RE.match(self.reference):
            raise ValueError(f"reference {self.reference!r} is not SO- plus 6 code characters")
        if self.code != self.reference[len(REFERENCE_PREFIX) :]:
            raise ValueError(f"code {self.code!r} does not match reference {self.reference!r}")
        if self.municipality is not None and (
            len(self.municipality) > _MUNICIPALITY_MAX
            or not _MUNICIPALITY_RE.match(self.municipality)
        ):
            raise ValueError(f"municipality {self.municipality!r} does not look like a name")
        if self.case_type not in CASE_TYPE_NL:
            raise ValueError(f"unknown case type {self.case_type!r}")
        if self.mode not in MODE_NL:
            raise ValueError(f"unknown mode {self.mode!r}")
        if self.purpose not in PAGE_PURPOSE_NL:
            raise ValueError(f"unknown purpose {self.purpose!r}")
        if self.staff not in PAGE_STAFF_NL:
            raise ValueError(f"staff must be 1 or 2, not {self.staff!r}")

    @classmethod
    def from_reference(
        cls,
        reference: str,
        *,
        municipality: str | None,
        case_type: CaseType,
        mode: Mode,
        purpose: Purpose = "respond",
        staff: int = 1,
    ) -> PageInfo:
        """Build from a reference, deriving the short code (the part a worker types)."""
        reference = reference.upper()
        return cls(
            reference=reference,
            code=reference[len(REFERENCE_PREFIX) :],
            municipality=municipality,
            case_type=case_type,
            mode=mode,
            purpose=purpose,
            staff=staff,
        )


def is_code(value: str) -> bool:
    """True for a well-formed short code (upper case, reference alphabet)."""
    return bool(_CODE_RE.match(value))


# --- SMS ---------------------------------------------------------------------------

# GSM 03.38: the 7-bit SMS alphabet. One character outside it and the whole message is
# sent as UCS-2, which cuts a segment from 160 to 70 characters.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # each takes two septets (escape + char)
_GSM7_REPLACE = {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "}


def to_gsm7(text: str) -> str:
    """``text`` in the GSM 7-bit alphabet: accents dropped where needed, others as '?'.

    Frisian municipality names ("Súdwest-Fryslân") would otherwise push the page into
    UCS-2 and three or more segments, which some handsets show out of order.
    """
    out: list[str] = []
    for char in text:
        char = _GSM7_REPLACE.get(char, char)
        if char in _GSM7_BASIC or char in _GSM7_EXTENDED:
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base and all(c in _GSM7_BASIC for c in base):
            out.append(base)
        else:
            out.append("?")
    return "".join(out)


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes (what the carrier bills and splits)."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text):
        septets = len(text) + sum(1 for c in text if c in _GSM7_EXTENDED)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _summary(info: PageInfo) -> str:
    parts: list[str | None] = [
        PAGE_PURPOSE_NL[info.purpose],
        CASE_TYPE_NL[info.case_type],
        PAGE_TEXTS["sms_municipality"].format(municipality=info.municipality)
        if info.municipality
        else None,
        MODE_NL[info.mode],
        PAGE_STAFF_NL[info.staff],
    ]
    return ", ".join(p for p in parts if p)


def sms_body(info: PageInfo, link: str) -> str:
    """The page as an SMS: reference, what is asked, how to answer, and the link."""
    text = PAGE_TEXTS["sms_page"].format(
        reference=info.reference, code=info.code, summary=_summary(info), link=link
    )
    return to_gsm7(text)


def reply_text(
    kind: ReplyKind,
    *,
    reference: str | None = None,
    code: str | None = None,
    codes: Sequence[str] = (),
) -> str:
    """The SMS sent back after a worker's reply.

    ``reference`` for accepted / declined / already_answered / closed; ``codes`` (the
    worker's open pages) for ambiguous and unknown_code; ``code`` for unknown_code (what
    was typed) and optionally help (an example; the worker's own code reads best).
    """
    template = REPLY_TEXTS[kind]
    params: dict[str, object] = {}
    if "{reference}" in template:
        if not reference:
            raise ValueError(f"reply {kind!r} needs a reference")
        params["reference"] = reference
    if "{codes}" in template:
        if not codes:
            raise ValueError(f"reply {kind!r} needs the open codes")
        params.update(codes=", ".join(codes), count=len(codes), first=codes[0])
    if "{code}" in template:
        if kind == "help":
            code = code or EXAMPLE_CODE
        if not code:
            raise ValueError(f"reply {kind!r} needs a code")
        params["code"] = code
    return to_gsm7(template.format(**params))


# --- voice -------------------------------------------------------------------------


def spell_reference(reference: str) -> str:
    """'SO-K7Q2ZP' -> 'S O, K 7 Q 2 Z P': letter by letter, so speech does not guess."""
    head, _, tail = reference.partition("-")
    spelled = [" ".join(part) for part in (head, tail) if part]
    return ", ".join(spelled)


def voice_script(info: PageInfo) -> list[str]:
    """The sentences read out when the worker picks up, in the order they are read."""
    sentences = [
        PAGE_TEXTS["voice_intro"],
        PAGE_TEXTS["voice_reference"].format(spelled=spell_reference(info.reference)),
    ]
    if info.purpose == "consult":
        sentences.append(PAGE_TEXTS["voice_consult"])
    elif info.purpose == "team_line":
        sentences.append(PAGE_TEXTS["voice_team_line"])
    if info.municipality:
        sentences.append(PAGE_TEXTS["voice_municipality"].format(municipality=info.municipality))
    sentences.append(PAGE_TEXTS["voice_case_type"].format(case_type=CASE_TYPE_NL[info.case_type]))
    sentences.append(PAGE_TEXTS["voice_mode"].format(mode=MODE_NL[info.mode]))
    if info.staff == 2:
        sentences.append(PAGE_TEXTS["voice_staff"])
    sentences.append(PAGE_TEXTS["voice_keys"])
    return sentences


def voice_answer(kind: VoiceAnswer) -> str:
    """What the call says after a key press (or when none came)."""
    return PAGE_TEXTS[f"voice_{kind}"]


# --- after an accept: the police's callback number and the step page ----------------

# A police unit's name as the feed sends it ("GV-21", "Noord 3.1"): one printable line.
_UNIT_RE = re.compile(r"^\S(?:[^\x00-\x1f\x7f]*\S)?$")
UNIT_MAX = 64
# A phone number as people read it ("06 12345678", "0900 8844", "+44 20 7946 0958").
_NUMBER_RE = re.compile(r"^\+?[0-9][0-9 ()-]{2,24}$")


@dataclass(frozen=True)
class Callback:
    """The police unit on the case and the number the worker calls it back on."""

    unit: str
    number: str  # as people read it: national format for Dutch numbers

    def __post_init__(self) -> None:
        if len(self.unit) > UNIT_MAX or not _UNIT_RE.match(self.unit):
            raise ValueError(f"police unit {self.unit!r} is not one printable line")
        if not _NUMBER_RE.match(self.number):
            raise ValueError(f"callback {self.number!r} does not look like a phone number")

    @classmethod
    def from_feed(cls, unit: str, number: str) -> Callback:
        """From what the police feed sent: the unit on one printable line."""
        line = " ".join("".join(c if c.isprintable() else " " for c in unit).split())
        return cls(unit=line[:UNIT_MAX].strip() or CONTACT_TEXTS["unit_unknown"], number=number)


EXAMPLE_CALLBACK = Callback(unit="GV-21", number="0900 8844")


def spell_number(number: str) -> str:
    """'06 12345678' -> '0 6, 1 2 3 4, 5 6 7 8': digit by digit, a pause every few."""
    groups: list[str] = []
    for part in re.findall(r"\+|\d+", number):
        if part == "+":
            groups.append("+")
            continue
        groups.extend(" ".join(part[i : i + 4]) for i in range(0, len(part), 4))
    spelled = ", ".join(groups)
    return spelled.replace("+, ", "+ ")


def confirmation_sms(reference: str, callback: Callback, link: str) -> str:
    """The SMS after an accept (by voice, link or the control room): who to call, the
    number, and the link to the worker's step page."""
    text = CONTACT_TEXTS["sms_confirmation"].format(
        reference=reference, unit=callback.unit, number=callback.number, link=link
    )
    return to_gsm7(text)


def accepted_reply(reference: str, callback: Callback, link: str) -> str:
    """The answer to an SMS reply that accepted: the same facts, so no second SMS."""
    text = CONTACT_TEXTS["reply_accepted"].format(
        reference=reference, unit=callback.unit, number=callback.number, link=link
    )
    return to_gsm7(text)


def voice_accepted(callback: Callback) -> list[str]:
    """What the call says after key 1: accepted, the callback number twice, SMS follows."""
    spelled = spell_number(callback.number)
    return [
        CONTACT_TEXTS["voice_accepted"],
        CONTACT_TEXTS["voice_callback"].format(spelled=spelled),
        CONTACT_TEXTS["voice_callback_again"].format(spelled=spelled),
        CONTACT_TEXTS["voice_sms_follows"],
    ]


# --- everything, for the privacy test ----------------------------------------------


def every_message(
    info: PageInfo,
    link: str,
    *,
    other_codes: Sequence[str] = ("M4B9XT",),
    callback: Callback = EXAMPLE_CALLBACK,
    worker_link: str | None = None,
) -> list[str]:
    """Every text the product can send to a phone about ``info``, without duplicates.

    The SMS and voice page for every purpose, mode, case type and staff count (keeping
    the reference and municipality of ``info``), every reply kind and every voice
    answer, and what an accept is confirmed with (``callback`` and ``worker_link``, the
    step page; ``link`` stands in for it when not given). ``other_codes`` stand in for
    the worker's other open pages in the replies that list them.
    """
    texts: list[str] = []
    for purpose in ALL_PURPOSES:
        for mode in ALL_MODES:
            for case_type in ALL_CASE_TYPES:
                for staff in PAGE_STAFF_NL:
                    variant = replace(
                        info, purpose=purpose, mode=mode, case_type=case_type, staff=staff
                    )
                    texts.append(sms_body(variant, link))
                    texts.extend(voice_script(variant))
    codes = [info.code, *other_codes]
    for kind in ALL_REPLY_KINDS:
        texts.append(reply_text(kind, reference=info.reference, code=info.code, codes=codes))
    texts.extend(voice_answer(kind) for kind in ALL_VOICE_ANSWERS)
    step_page = worker_link or link
    texts.append(confirmation_sms(info.reference, callback, step_page))
    texts.append(accepted_reply(info.reference, callback, step_page))
    texts.extend(voice_accepted(callback))
    return list(dict.fromkeys(texts))

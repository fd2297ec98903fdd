"""What a page says (SMS, voice, replies, TwiML), and that it never says more."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import pytest

from core.texts import CASE_TYPE_NL, MODE_NL
from notifications import twiml
from notifications.messages import (
    ALL_CASE_TYPES,
    ALL_MODES,
    ALL_PURPOSES,
    ALL_REPLY_KINDS,
    EXAMPLE_CALLBACK,
    UNIT_MAX,
    Callback,
    PageInfo,
    accepted_reply,
    confirmation_sms,
    every_message,
    reply_text,
    sms_body,
    sms_segments,
    spell_number,
    spell_reference,
    to_gsm7,
    voice_accepted,
    voice_answer,
    voice_script,
)

# A realistic link: public base URL plus a 43-character token (see notifications.links).
LINK = "https://samenop.example.nl/p/" + "A" * 43
# The worker's step page after an accept: a 32-character token (see notifications.links).
WORKER_LINK = "https://samenop.example.nl/w/" + "B" * 32
CALLBACK = Callback(unit="GV-21", number="0900 8844")
INFO = PageInfo.from_reference(
    "SO-K7Q2ZP", municipality="Rotterdam", case_type="HG", mode="on_scene"
)


def info(**changes: object) -> PageInfo:
    return dataclasses.replace(INFO, **changes)  # type: ignore[arg-type]


# --- PageInfo ------------------------------------------------------------------------


def test_page_info_derives_the_code_from_the_reference() -> None:
    page = PageInfo.from_reference("so-m4b9xt", municipality=None, case_type="KM", mode="phone")
    assert (page.reference, page.code) == ("SO-M4B9XT", "M4B9XT")
    assert (page.purpose, page.staff) == ("respond", 1)


@pytest.mark.parametrize(
    "changes",
    [
        {"reference": "SO-K7Q2Z0", "code": "K7Q2Z0"},  # 0 is not in the alphabet
        {"reference": "XX-K7Q2ZP"},
        {"code": "M4B9XT"},  # not the reference's code
        {"case_type": "XX"},
        {"mode": "walk"},
        {"purpose": "chat"},
        {"staff": 3},
        {"municipality": "Kerkstraat 12"},  # digits never belong in a municipality
        {"municipality": "Rotterdam\nJan Jansen"},
        {"municipality": "A" * 61},
    ],
)
def test_page_info_refuses_what_is_not_a_page_fact(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        info(**changes)


@pytest.mark.parametrize(
    "name", ["'s-Hertogenbosch", "Bergen (NH.)", "Súdwest-Fryslân", "Capelle aan den IJssel"]
)
def test_real_municipality_names_are_accepted(name: str) -> None:
    assert info(municipality=name).municipality == name


# --- SMS -----------------------------------------------------------------------------


def test_sms_body_says_reference_case_type_place_mode_how_to_answer_and_link() -> None:
    body = sms_body(INFO, LINK)
    assert body.startswith("Samen op in acuut SO-K7Q2ZP: huiselijk geweld, gem. Rotterdam")
    assert "ter plaatse" in body
    assert "Antwoord JA of NEE" in body
    assert "JA K7Q2ZP" in body
    assert body.endswith(LINK)


def test_sms_body_for_a_consult_says_a_consult_is_asked() -> None:
    body = sms_body(info(purpose="consult", mode="phone"), LINK)
    assert "consult gevraagd" in body
    assert "telefonisch" in body


def test_sms_body_for_the_team_line_and_for_two_staff() -> None:
    body = sms_body(info(purpose="team_line", staff=2, case_type="KM"), LINK)
    assert "24/7-lijn" in body
    assert "kindermishandeling" in body
    assert "twee personen" in body


def test_sms_body_without_municipality_leaves_it_out() -> None:
    body = sms_body(info(municipality=None), LINK)
    assert "gem." not in body
    assert "huiselijk geweld, ter plaatse." in body


@pytest.mark.parametrize("purpose", ALL_PURPOSES)
@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("staff", [1, 2])
def test_every_sms_page_fits_two_gsm7_segments(purpose: str, mode: str, staff: int) -> None:
    page = info(purpose=purpose, mode=mode, staff=staff, municipality="Capelle aan den IJssel")
    page = dataclasses.replace(page, case_type="KM")  # the longer case type
    body = sms_body(page, LINK)
    assert to_gsm7(body) == body
    assert sms_segments(body) <= 2


def test_frisian_names_stay_in_gsm7() -> None:
    body = sms_body(info(municipality="Súdwest-Fryslân"), LINK)
    assert "gem. Sudwest-Fryslan" in body
    assert to_gsm7(body) == body


def test_to_gsm7_keeps_gsm_characters_and_replaces_the_rest() -> None:
    assert to_gsm7("é à ü Ä ß € [x]") == "é à ü Ä ß € [x]"
    assert to_gsm7("’s-Hertogenbosch – ok") == "'s-Hertogenbosch - ok"
    assert to_gsm7("ŝ 🚓") == "s ?"


def test_sms_segments_counts_gsm7_and_ucs2() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("€" * 80) == 1  # escape characters take two septets
    assert sms_segments("€" * 81) == 2
    assert sms_segments("ŝ" * 70) == 1
    assert sms_segments("ŝ" * 71) == 2


# --- replies -------------------------------------------------------------------------


def test_reply_texts() -> None:
    assert reply_text("accepted", reference="SO-K7Q2ZP") == (
        "Geaccepteerd: SO-K7Q2ZP. De meldkamer is op de hoogte."
    )
    assert "SO-K7Q2ZP" in reply_text("declined", reference="SO-K7Q2ZP")
    assert reply_text("closed", reference="SO-K7Q2ZP") == "Oproep SO-K7Q2ZP is niet meer open."
    assert reply_text("ambiguous", codes=["K7Q2ZP", "M4B9XT"]) == (
        "Je hebt 2 open oproepen: K7Q2ZP, M4B9XT. Antwoord JA K7Q2ZP of NEE K7Q2ZP."
    )
    assert reply_text("unknown") == (
        "Niet begrepen. Antwoord JA (1) om te accepteren of NEE (2) om te weigeren."
    )
    assert reply_text("rate_limited") == "Te veel berichten; bel de meldkamer."
    assert "JA M4B9XT" in reply_text("help", code="M4B9XT")
    assert "JA K7Q2ZP" in reply_text("help")  # an example when the worker has no page
    assert "M4B9XT" in reply_text("unknown_code", code="ABCDEF", codes=["M4B9XT"])


@pytest.mark.parametrize(
    ("kind", "params"),
    [("accepted", {}), ("ambiguous", {}), ("unknown_code", {"codes": ["M4B9XT"]})],
)
def test_reply_text_refuses_missing_facts(kind: str, params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        reply_text(kind, **params)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ALL_REPLY_KINDS)
def test_every_reply_fits_one_segment(kind: str) -> None:
    text = reply_text(kind, reference="SO-K7Q2ZP", code="K7Q2ZP", codes=["K7Q2ZP", "M4B9XT"])
    assert sms_segments(text) == 1


# --- voice ---------------------------------------------------------------------------


def test_spell_reference() -> None:
    assert spell_reference("SO-K7Q2ZP") == "S O, K 7 Q 2 Z P"


def test_voice_script_order() -> None:
    script = voice_script(info(purpose="consult", staff=2))
    joined = " ".join(script)
    positions = [
        joined.index("S O, K 7 Q 2 Z P"),
        joined.index("consult"),
        joined.index("Rotterdam"),
        joined.index("huiselijk geweld"),
        joined.index("ter plaatse"),
        joined.index("twee personen"),
    ]
    assert positions == sorted(positions)
    assert script[-1] == "Druk 1 om te accepteren, 2 om te weigeren, 9 om te herhalen."


def _says(xml: str) -> list[ET.Element]:
    root = ET.fromstring(xml.split("?>", 1)[1])
    assert root.tag == "Response"
    return list(root.iter("Say"))


def test_page_call_reads_twice_inside_gathers_then_hangs_up() -> None:
    xml = twiml.page_call(INFO, "https://samenop.example.nl/hooks/voice/key?page=1&x=2")
    root = ET.fromstring(xml.split("?>", 1)[1])
    children = list(root)
    assert [c.tag for c in children] == ["Gather", "Gather", "Say", "Hangup"]
    for gather in children[:2]:
        assert gather.attrib == {
            "action": "https://samenop.example.nl/hooks/voice/key?page=1&x=2",
            "input": "dtmf",
            "method": "POST",
            "numDigits": "1",
            "timeout": "8",
        }
        assert [s.text for s in gather.iter("Say")] == voice_script(INFO)
    assert children[2].text == voice_answer("no_key")
    for say in _says(xml):
        assert say.attrib == {"language": "nl-NL", "voice": twiml.VOICE}


@pytest.mark.parametrize("result", ["accepted", "declined", "closed"])
def test_final_key_answers_confirm_and_hang_up(result: str) -> None:
    xml = twiml.key_answer(result)  # type: ignore[arg-type]
    root = ET.fromstring(xml.split("?>", 1)[1])
    assert [c.tag for c in root] == ["Say", "Hangup"]
    assert root[0].text == voice_answer(result)  # type: ignore[arg-type]
    assert root[0].attrib["language"] == "nl-NL"


def test_repeat_and_invalid_read_the_page_again() -> None:
    url = "https://samenop.example.nl/hooks/voice/key"
    repeat = ET.fromstring(twiml.key_answer("repeat", info=INFO, action_url=url).split("?>", 1)[1])
    assert [c.tag for c in repeat] == ["Gather", "Gather", "Say", "Hangup"]
    invalid = twiml.key_answer("invalid", info=INFO, action_url=url)
    first = [s.text for s in ET.fromstring(invalid.split("?>", 1)[1])[0].iter("Say")]
    assert first == [voice_answer("invalid"), *voice_script(INFO)]
    with pytest.raises(ValueError):
        twiml.key_answer("repeat")


def test_hangup_and_sms_reply() -> None:
    root = ET.fromstring(twiml.hangup().split("?>", 1)[1])
    assert [c.tag for c in root] == ["Hangup"]
    reply = ET.fromstring(twiml.sms_reply("Geaccepteerd & klaar").split("?>", 1)[1])
    assert [(c.tag, c.text) for c in reply] == [("Message", "Geaccepteerd & klaar")]
    assert list(ET.fromstring(twiml.sms_reply(None).split("?>", 1)[1])) == []


def test_accepted_with_a_callback_reads_the_number_twice_and_hangs_up() -> None:
    xml = twiml.key_answer("accepted", callback=CALLBACK)
    root = ET.fromstring(xml.split("?>", 1)[1])
    assert [c.tag for c in root] == ["Say", "Say", "Say", "Say", "Hangup"]
    said = [c.text or "" for c in root if c.tag == "Say"]
    assert said == voice_accepted(CALLBACK)
    assert sum("0 9 0 0, 8 8 4 4" in s for s in said) == 2
    assert "sms" in said[-1]
    assert all(c.attrib["language"] == "nl-NL" for c in root if c.tag == "Say")


@pytest.mark.parametrize(
    ("digits", "action"),
    [("1", "accept"), ("2", "decline"), ("9", "repeat"), (" 1 ", "accept"), ("3", "invalid"),
     ("", "invalid"), (None, "invalid"), ("12", "invalid"), ("#", "invalid")],
)  # fmt: skip
def test_parse_key(digits: str | None, action: str) -> None:
    assert twiml.parse_key(digits) == action


# --- privacy -------------------------------------------------------------------------

ALLOWED_FIELDS = {"reference", "code", "municipality", "case_type", "mode", "purpose", "staff"}

# What the police know about the (hypothetical) incident behind the page: Kerkstraat 12,
# 3011 AB Rotterdam; Jan de Vries (34, verdachte, 0612345678), Sanne de Vries (7, kind),
# Fatima el Amrani (31, slachtoffer, +31687654321). None of it may reach a phone, and
# PageInfo has nowhere to put it; the test below looks for each piece anyway.


def test_page_info_holds_only_the_allowed_facts() -> None:
    assert {f.name for f in dataclasses.fields(PageInfo)} == ALLOWED_FIELDS
    # after an accept: the police unit and its number, the police's own contact
    assert {f.name for f in dataclasses.fields(Callback)} == {"unit", "number"}


@pytest.mark.parametrize("municipality", ["Rotterdam", "'s-Hertogenbosch", None])
def test_no_message_carries_more_than_reference_place_case_type_mode_and_link(
    municipality: str | None,
) -> None:
    page = info(municipality=municipality)
    others = ["M4B9XT"]
    texts = every_message(
        page, LINK, other_codes=others, callback=CALLBACK, worker_link=WORKER_LINK
    )
    # Some of each kind: 3 purposes x 3 modes x 2 case types x 2 staff SMS pages ...
    assert sum(text.endswith(LINK) for text in texts) == 36
    # ... and the confirmation SMS and the reply to JA, both with the step page
    assert sum(text.endswith(WORKER_LINK) for text in texts) == 2
    assert len(texts) > 50

    forbidden = ["Kerkstraat", "3011", "Jan", "Vries", "Sanne", "Fatima", "Amrani"]
    forbidden += ["verdachte", "slachtoffer", "kind ", "612345678", "687654321", "34", "31"]

    # Strip what may carry digits by design (the police's unit and callback number
    # among them); what is left may hold only single digits of the answer instructions
    # ("Druk 1", "JA (1)", "2 open oproepen") and "24/7".
    allowed_tokens = [LINK, WORKER_LINK, page.reference, spell_reference(page.reference)]
    allowed_tokens += [page.code, *others, CALLBACK.unit, spell_number(CALLBACK.number)]
    allowed_tokens += [CALLBACK.number]
    for text in texts:
        for word in forbidden:
            assert word.lower() not in text.lower(), (word, text)
        rest = text
        for token in allowed_tokens:
            rest = rest.replace(token, " ")
        rest = rest.replace("24/7", " ")
        assert set(re.findall(r"\d+", rest)) <= {"1", "2", "9"}, text
        assert "@" not in rest and "+" not in rest, text


def test_every_message_covers_every_case_type_mode_and_reply() -> None:
    joined = "\n".join(every_message(INFO, LINK))
    for case_type in ALL_CASE_TYPES:
        assert CASE_TYPE_NL[case_type] in joined
    for mode in ALL_MODES:
        assert MODE_NL[mode] in joined
    codes = [INFO.code, "M4B9XT"]
    for kind in ALL_REPLY_KINDS:
        assert reply_text(kind, reference=INFO.reference, code=INFO.code, codes=codes) in joined


def test_every_sentence_twiml_speaks_is_in_every_message() -> None:
    url = "https://samenop.example.nl/hooks/voice/key"
    texts = set(every_message(INFO, LINK))
    for purpose in ALL_PURPOSES:
        page = info(purpose=purpose, staff=2)
        documents = [
            twiml.page_call(page, url),
            twiml.key_answer("repeat", info=page, action_url=url),
            twiml.key_answer("invalid", info=page, action_url=url),
            twiml.key_answer("accepted"),
            twiml.key_answer("accepted", callback=EXAMPLE_CALLBACK),
            twiml.key_answer("declined"),
            twiml.key_answer("closed"),
        ]
        for xml in documents:
            for say in _says(xml):
                assert say.text in texts


# --- after an accept: whom to call, and the step page ---------------------------------


def test_confirmation_sms_says_reference_unit_number_and_step_page() -> None:
    body = confirmation_sms("SO-K7Q2ZP", CALLBACK, WORKER_LINK)
    assert body == (
        "Samen op in acuut SO-K7Q2ZP: je hebt geaccepteerd. Bel politie GV-21 op 0900 8844. "
        f"Je stappen: {WORKER_LINK}"
    )
    reply = accepted_reply("SO-K7Q2ZP", CALLBACK, WORKER_LINK)
    assert reply.startswith("Geaccepteerd: SO-K7Q2ZP.")
    assert "GV-21" in reply and "0900 8844" in reply and reply.endswith(WORKER_LINK)


def test_confirmations_fit_two_gsm7_segments_with_the_longest_unit() -> None:
    longest = Callback(unit="Ü" + "x" * (UNIT_MAX - 1), number="+44 20 7946 0958")
    for text in (
        confirmation_sms("SO-K7Q2ZP", longest, WORKER_LINK),
        accepted_reply("SO-K7Q2ZP", longest, WORKER_LINK),
    ):
        assert to_gsm7(text) == text
        assert sms_segments(text) <= 2


@pytest.mark.parametrize(
    ("number", "spelled"),
    [
        ("06 12345678", "0 6, 1 2 3 4, 5 6 7 8"),
        ("0900 8844", "0 9 0 0, 8 8 4 4"),
        ("088 123 4567", "0 8 8, 1 2 3, 4 5 6 7"),
        ("+44 20 7946 0958", "+ 4 4, 2 0, 7 9 4 6, 0 9 5 8"),
    ],
)
def test_spell_number_reads_digit_by_digit_in_groups(number: str, spelled: str) -> None:
    assert spell_number(number) == spelled


@pytest.mark.parametrize(
    "changes",
    [
        {"unit": ""},
        {"unit": "GV-21\nJan de Vries"},
        {"unit": "x" * (UNIT_MAX + 1)},
        {"number": "bel Jan"},
        {"number": "12"},
    ],
)
def test_callback_refuses_what_is_not_a_unit_or_number(changes: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(CALLBACK, **changes)


def test_callback_from_the_feed_keeps_the_unit_on_one_line() -> None:
    made = Callback.from_feed("  GV-21\t\n noord\x07 ", "06 12345678")
    assert made == Callback(unit="GV-21 noord", number="06 12345678")
    assert len(Callback.from_feed("y" * 100, "0900 8844").unit) == UNIT_MAX
    assert Callback.from_feed(" \x07 ", "0900 8844").unit == "(eenheid onbekend)"

"""The NCCOs of the page call: what the TwiML says, in Vonage's form, and never more."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from notifications import ncco, twiml
from notifications.messages import (
    ALL_CASE_TYPES,
    ALL_MODES,
    ALL_PURPOSES,
    EXAMPLE_CALLBACK,
    Callback,
    PageInfo,
    every_message,
    spell_number,
    spell_reference,
    voice_accepted,
    voice_answer,
    voice_script,
)

KEY_URL = "https://samenop.example.nl/webhooks/vonage/voice/0f1e2d3c-page/key"
LINK = "https://samenop.example.nl/p/" + "A" * 43
CALLBACK = Callback(unit="GV-21", number="0900 8844")
INFO = PageInfo.from_reference(
    "SO-K7Q2ZP", municipality="Rotterdam", case_type="HG", mode="on_scene"
)


def info(**changes: object) -> PageInfo:
    return dataclasses.replace(INFO, **changes)  # type: ignore[arg-type]


def talks(document: list[dict[str, Any]]) -> list[str]:
    return [a["text"] for a in document if a["action"] == "talk"]


def test_page_call_reads_the_script_in_dutch_then_waits_for_one_key() -> None:
    document = ncco.page_call(INFO, KEY_URL)
    assert talks(document) == voice_script(INFO)
    *spoken, wait = document
    assert all(a["action"] == "talk" and a["language"] == "nl-NL" for a in spoken)
    assert all(a["bargeIn"] is True for a in spoken)  # a key may cut the reading short
    assert wait == {
        "action": "input",
        "type": ["dtmf"],
        "dtmf": {"maxDigits": 1, "timeOut": twiml.GATHER_TIMEOUT},
        "eventUrl": [KEY_URL],
        "eventMethod": "POST",
    }


def test_no_key_reads_the_page_once_more_then_says_goodbye() -> None:
    second = ncco.no_key(INFO, KEY_URL, 1)
    assert talks(second) == voice_script(INFO)
    assert second[-1]["eventUrl"] == [f"{KEY_URL}?read=2"]
    assert twiml.READS == 2
    goodbye = ncco.no_key(INFO, KEY_URL, 2)
    assert goodbye == [{"text": voice_answer("no_key"), "language": "nl-NL", "action": "talk"}]
    assert talks(ncco.no_key(None, KEY_URL, 1)) == [voice_answer("no_key")]


def test_the_reading_number_joins_a_query_the_url_already_has() -> None:
    assert ncco.read_url(f"{KEY_URL}?x=1", 2) == f"{KEY_URL}?x=1&read=2"
    assert ncco.read_url(KEY_URL, 1) == KEY_URL


@pytest.mark.parametrize("result", ["accepted", "declined", "closed"])
def test_final_key_answers_say_one_sentence_and_end(result: str) -> None:
    document = ncco.key_answer(result)  # type: ignore[arg-type]
    assert talks(document) == [voice_answer(result)]  # type: ignore[arg-type]
    assert [a["action"] for a in document] == ["talk"]  # the call ends with the NCCO


def test_repeat_and_invalid_read_the_page_again() -> None:
    repeat = ncco.key_answer("repeat", info=INFO, key_url=KEY_URL)
    assert talks(repeat) == voice_script(INFO) and repeat[-1]["eventUrl"] == [KEY_URL]
    invalid = ncco.key_answer("invalid", info=INFO, key_url=KEY_URL)
    assert talks(invalid) == [voice_answer("invalid"), *voice_script(INFO)]
    with pytest.raises(ValueError, match="give info and url"):
        ncco.key_answer("repeat")
    with pytest.raises(ValueError, match="unknown key result"):
        ncco.key_answer("maybe")  # type: ignore[arg-type]


def test_accepted_with_a_callback_reads_the_number_twice() -> None:
    document = ncco.key_answer("accepted", callback=CALLBACK)
    assert talks(document) == voice_accepted(CALLBACK)
    spelled = spell_number(CALLBACK.number)
    assert sum(spelled in text for text in talks(document)) == 2
    assert all(a["language"] == "nl-NL" for a in document)


def test_every_ncco_says_the_same_sentences_as_the_twiml() -> None:
    def says(xml: str) -> list[str]:
        return [e.text or "" for e in ET.fromstring(xml).iter("Say")]

    for purpose in ALL_PURPOSES:
        page = info(purpose=purpose, staff=2)
        pairs = [
            (ncco.key_answer("repeat", info=page, key_url=KEY_URL),
             twiml.key_answer("repeat", info=page, action_url=KEY_URL)),
            (ncco.key_answer("invalid", info=page, key_url=KEY_URL),
             twiml.key_answer("invalid", info=page, action_url=KEY_URL)),
            (ncco.key_answer("accepted", callback=EXAMPLE_CALLBACK),
             twiml.key_answer("accepted", callback=EXAMPLE_CALLBACK)),
            (ncco.key_answer("declined"), twiml.key_answer("declined")),
            (ncco.key_answer("closed"), twiml.key_answer("closed")),
        ]  # fmt: skip
        for document, xml in pairs:
            # TwiML reads the page twice in one document; the NCCO reads it once per
            # input, so each sentence of the NCCO is one of the TwiML's, in order.
            spoken = says(xml)
            assert talks(document) == spoken[: len(talks(document))]
        first_reading = says(twiml.page_call(page, KEY_URL))[: len(voice_script(page))]
        assert talks(ncco.page_call(page, KEY_URL)) == first_reading


def _every_ncco(page: PageInfo, callback: Callback) -> list[list[dict[str, Any]]]:
    documents = []
    for purpose in ALL_PURPOSES:
        for mode in ALL_MODES:
            for case_type in ALL_CASE_TYPES:
                for staff in (1, 2):
                    variant = dataclasses.replace(
                        page, purpose=purpose, mode=mode, case_type=case_type, staff=staff
                    )
                    documents.append(ncco.page_call(variant, KEY_URL))
                    documents.append(ncco.no_key(variant, KEY_URL, 1))
                    documents.append(ncco.key_answer("invalid", info=variant, key_url=KEY_URL))
    documents += [ncco.key_answer(r) for r in ("accepted", "declined", "closed")]
    documents.append(ncco.key_answer("accepted", callback=callback))
    documents.append(ncco.no_key(page, KEY_URL, 2))
    return documents


@pytest.mark.parametrize("municipality", ["Rotterdam", "'s-Hertogenbosch", None])
def test_no_ncco_carries_more_than_reference_place_case_type_mode(
    municipality: str | None,
) -> None:
    """The privacy check of tests/notifications/test_messages.py, for Vonage's calls."""
    page = info(municipality=municipality)
    documents = _every_ncco(page, CALLBACK)
    texts = [t for d in documents for t in talks(d)]
    allowed_texts = set(every_message(page, LINK, callback=CALLBACK))
    assert set(texts) <= allowed_texts  # nothing spoken that the text catalogue lacks

    forbidden = ["Kerkstraat", "3011", "Jan", "Vries", "Sanne", "Fatima", "Amrani"]
    forbidden += ["verdachte", "slachtoffer", "kind ", "612345678", "687654321", "34", "31"]
    allowed_tokens = [page.reference, spell_reference(page.reference), page.code]
    allowed_tokens += [CALLBACK.unit, spell_number(CALLBACK.number), CALLBACK.number]
    for document in documents:
        for action in document:
            # Only what is said, and where the key goes: no other field can carry text.
            assert set(action) <= {
                "action", "text", "language", "bargeIn",
                "type", "dtmf", "eventUrl", "eventMethod",
            }  # fmt: skip
            if action["action"] == "input":
                assert action["eventUrl"][0].startswith(KEY_URL)
                continue
            text = action["text"]
            for word in forbidden:
                assert word.lower() not in text.lower(), (word, text)
            rest = text
            for token in allowed_tokens:
                rest = rest.replace(token, " ")
            rest = rest.replace("24/7", " ")
            assert set(re.findall(r"\d+", rest)) <= {"1", "2", "9"}, text
            assert "@" not in rest and "+" not in rest, text

"""Reading SMS replies typed at night: forgiving on form, strict on words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.messages import CODE_ALPHABET, CODE_LENGTH
from notifications.replies import (
    ACCEPT_WORDS,
    DECLINE_WORDS,
    HELP_WORDS,
    Reply,
    parse_reply,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("JA", Reply("accept")),
        ("ja!", Reply("accept")),
        (" Ja. ", Reply("accept")),
        ("j", Reply("accept")),
        ("Yes", Reply("accept")),
        ("ok", Reply("accept")),
        ("Akkoord", Reply("accept")),
        ("kom", Reply("accept")),
        ("1", Reply("accept")),
        ("NEE", Reply("decline")),
        ("nee.", Reply("decline")),
        ("n", Reply("decline")),
        ("No", Reply("decline")),
        ("kan niet", Reply("decline")),
        ("Kan  niet!", Reply("decline")),
        ("2", Reply("decline")),
        ("help", Reply("help")),
        ("INFO", Reply("help")),
        ("?", Reply("help")),
        ("??", Reply("help")),
        ("JA K7Q2ZP", Reply("accept", "K7Q2ZP")),
        ("K7Q2ZP ja", Reply("accept", "K7Q2ZP")),
        ("1 k7q2zp", Reply("accept", "K7Q2ZP")),
        ("ja SO-K7Q2ZP", Reply("accept", "K7Q2ZP")),
        ("JA SOK7Q2ZP", Reply("accept", "K7Q2ZP")),
        ("so-k7q2zp, nee", Reply("decline", "K7Q2ZP")),
        ("kan niet M4B9XT", Reply("decline", "M4B9XT")),
        ("NEE\nM4B9XT", Reply("decline", "M4B9XT")),
        ("help K7Q2ZP", Reply("help", "K7Q2ZP")),
    ],
)
def test_understood_replies(body: str, expected: Reply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        None,
        "!!!",
        "ja ik kom eraan",  # only the listed words count: an accept sends someone out
        "ja nee",
        "ja?",
        "JÁ",  # not "J" followed by noise
        "JA K7Q2Z0",  # 0 is not in the code alphabet, and is not corrected to O
        "JA K7Q2ZPX",
        "JA K7Q2Z",
        "K7Q2ZP",
        "JA K7Q2ZP M4B9XT",
        "kan K7Q2ZP niet",
        "ja_ja",
        "x" * 2000,
        "ja " + "x" * 1600,
    ],
)
def test_not_understood_replies(body: str | None) -> None:
    assert parse_reply(body) == Reply("unknown")


@given(st.text())
def test_parse_reply_never_raises(body: str) -> None:
    reply = parse_reply(body)
    assert reply.kind in {"accept", "decline", "help", "unknown"}
    if reply.code is not None:
        assert len(reply.code) == CODE_LENGTH
        assert set(reply.code) <= set(CODE_ALPHABET)


codes = st.text(alphabet=CODE_ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)
padding = st.text(alphabet=" \t\n.,!;:", max_size=3)


def _random_case(text: str, flips: list[bool]) -> str:
    return "".join(c.lower() if flip else c for c, flip in zip(text, flips, strict=False))


@given(
    word=st.sampled_from(["JA", "NEE"]),
    code=codes,
    prefix=st.sampled_from(["", "SO-", "SO", "SO "]),
    code_first=st.booleans(),
    pads=st.tuples(padding, padding, padding),
    flips=st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_yes_or_no_with_any_code_round_trips(
    word: str,
    code: str,
    prefix: str,
    code_first: bool,
    pads: tuple[str, str, str],
    flips: list[bool],
) -> None:
    reference = prefix + code
    parts = [reference, word] if code_first else [word, reference]
    body = pads[0] + parts[0] + " " + pads[1] + parts[1] + pads[2]
    body = _random_case(body, flips)
    expected = "accept" if word == "JA" else "decline"
    assert parse_reply(body) == Reply(expected, code)


@pytest.mark.parametrize("word", [*ACCEPT_WORDS, *DECLINE_WORDS, *HELP_WORDS])
def test_every_listed_word_is_understood_alone_and_with_a_code(word: str) -> None:
    alone = parse_reply(word.lower())
    assert alone.kind != "unknown"
    assert alone.code is None
    with_code = parse_reply(f"{word} SO-M4B9XT")
    assert with_code == Reply(alone.kind, "M4B9XT")

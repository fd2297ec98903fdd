"""Signed, expiring page links: short, unforgeable, and honest about expiry."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.links import (
    TOKEN_CHARS,
    LinkExpired,
    LinkInvalid,
    link_url,
    sign,
    verify,
)

SECRET = "test-link-secret"
PAGE = "6f1c2f0e-5b8a-4d7e-9c3a-2b1d0e9f8a7c"
NOW = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


def test_round_trip() -> None:
    token = sign(PAGE, LATER, SECRET)
    assert verify(token, NOW, SECRET) == PAGE


def test_token_is_compact_and_url_safe() -> None:
    token = sign(PAGE, LATER, SECRET)
    assert len(token) == TOKEN_CHARS == 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert PAGE.replace("-", "") not in token  # nothing readable


def test_link_url() -> None:
    assert link_url("https://samenop.example.nl", "abc") == "https://samenop.example.nl/p/abc"
    assert link_url("https://samenop.example.nl/", "abc") == "https://samenop.example.nl/p/abc"


def test_expiry_boundary_and_expired_carries_the_page() -> None:
    token = sign(PAGE, LATER, SECRET)
    assert verify(token, LATER - timedelta(seconds=1), SECRET) == PAGE
    with pytest.raises(LinkExpired) as caught:
        verify(token, LATER, SECRET)
    assert caught.value.page_id == PAGE
    assert caught.value.expired_at == LATER
    assert isinstance(caught.value, LinkInvalid)


def test_other_timezones_are_the_same_instant() -> None:
    from zoneinfo import ZoneInfo

    token = sign(PAGE, LATER.astimezone(ZoneInfo("Europe/Amsterdam")), SECRET)
    assert verify(token, NOW.astimezone(ZoneInfo("Europe/Amsterdam")), SECRET) == PAGE


def test_wrong_secret_is_invalid_not_expired() -> None:
    token = sign(PAGE, NOW - timedelta(hours=1), SECRET)
    with pytest.raises(LinkInvalid) as caught:
        verify(token, NOW, "another-secret")
    assert not isinstance(caught.value, LinkExpired)


def test_every_flipped_byte_is_refused() -> None:
    token = sign(PAGE, LATER, SECRET)
    raw = bytearray(base64.urlsafe_b64decode(token + "="))
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        with pytest.raises(LinkInvalid):
            verify(forged, NOW, SECRET)


def test_a_second_spelling_of_the_same_token_is_refused() -> None:
    token = sign(PAGE, LATER, SECRET)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    other = token[:-1] + alphabet[last ^ 0x01]  # same bytes, different unused bits
    assert base64.urlsafe_b64decode(other + "=") == base64.urlsafe_b64decode(token + "=")
    with pytest.raises(LinkInvalid):
        verify(other, NOW, SECRET)


@pytest.mark.parametrize(
    "token", ["", "abc", "A" * 43, "A" * 44, "!" * 43, "A" * 42 + "=", " " + "A" * 42]
)
def test_garbled_tokens_are_invalid(token: str) -> None:
    with pytest.raises(LinkInvalid):
        verify(token, NOW, SECRET)


@given(st.text(max_size=60))
def test_verify_only_ever_raises_link_invalid(token: str) -> None:
    with pytest.raises(LinkInvalid):
        verify(token, NOW, SECRET)


@given(st.uuids(), st.integers(min_value=1, max_value=2**32 - 1))
def test_any_page_and_expiry_round_trip(page: uuid.UUID, seconds: int) -> None:
    expires = datetime.fromtimestamp(seconds, UTC)
    token = sign(str(page), expires, SECRET)
    assert verify(token, expires - timedelta(seconds=1), SECRET) == str(page)


def test_bad_inputs_to_sign_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        sign("not-a-uuid", LATER, SECRET)
    with pytest.raises(ValueError):
        sign(PAGE, datetime(2025, 1, 1), SECRET)  # naive: which instant?
    with pytest.raises(ValueError):
        sign(PAGE, LATER, "")
    with pytest.raises(ValueError):
        sign(PAGE, datetime(2200, 1, 1, tzinfo=UTC), SECRET)
    with pytest.raises(ValueError):
        verify(sign(PAGE, LATER, SECRET), datetime(2025, 1, 1), SECRET)

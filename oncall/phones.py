"""Phone numbers: validated and stored as E.164; Dutch numbers accepted as typed."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "NL"


def normalize_phone(raw: str) -> str:
    """Return the E.164 form of ``raw`` or raise ``ValueError`` saying why not.

    ``06 12345678``, ``+31 6 1234 5678`` and ``0031612345678`` all give
    ``+31612345678``; Dutch service numbers (``0800-2000``) are accepted too.
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError("a phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"'{raw}' is not a phone number ({exc})") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=8192)
def display_phone(e164: str) -> str:
    """National format for Dutch numbers (as people read them), international otherwise."""
    number = phonenumbers.parse(e164, DEFAULT_REGION)
    if number.country_code == 31:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

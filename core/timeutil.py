"""Time helpers: UTC storage, Europe/Amsterdam wall clock, Dutch public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

AMS = ZoneInfo("Europe/Amsterdam")


def ensure_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; naive values are refused (they are ambiguous)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: an instant needs a timezone or offset")
    return value.astimezone(UTC)


def local(value: datetime) -> datetime:
    return ensure_utc(value).astimezone(AMS)


@lru_cache(maxsize=64)
def _nl_holidays(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("NL", years=year, language="nl").items())


def holiday_name(day: date) -> str | None:
    """The Dutch public holiday on ``day`` (from the ``holidays`` package), if any."""
    return _nl_holidays(day.year).get(day)


def is_public_holiday(day: date) -> bool:
    return day in _nl_holidays(day.year)

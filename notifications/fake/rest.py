"""Twilio's REST rules the fake enforces: error shapes, parameter checks, list filters.

Our provider maps Twilio's error codes to "rejected for good" or "try again later", so
the fake answers with the same codes and JSON shape Twilio uses for the same mistakes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
REJECTIONS = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21217: "Phone number does not appear to be valid",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' number",
    21614: "'To' number is not a valid mobile number",
}
OUTAGES = {429: (20429, "Too Many Requests"), 500: (20500, "Internal Server Error")}


class TwilioError(Exception):
    """An error answer in Twilio's JSON shape (status, code, message, more_info)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def validate_message(params: dict[str, str]) -> dict[str, str]:
    """The checks Twilio makes on ``POST Messages.json`` before accepting a message."""
    to = params["To"] = params.get("To", "").strip()
    body = params.get("Body", "")
    if not to:
        raise TwilioError(400, 21604, "A 'To' phone number is required.")
    if not E164.match(to):
        raise TwilioError(400, 21211, REJECTIONS[21211].format(to=to))
    if not params.get("From") and not params.get("MessagingServiceSid"):
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not body and not params.get("MediaUrl"):
        raise TwilioError(400, 21602, "Message body is required.")
    if len(body) > 1600:
        raise TwilioError(400, 21617, "The concatenated message body exceeds 1600 characters.")
    validity = params.get("ValidityPeriod")
    if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
        raise TwilioError(400, 21624, "ValidityPeriod must be between 1 and 36000 seconds.")
    return params


def validate_call(params: dict[str, str]) -> dict[str, str]:
    """The checks Twilio makes on ``POST Calls.json``."""
    to = params["To"] = params.get("To", "").strip()
    from_ = params["From"] = params.get("From", "").strip()
    if not to:
        raise TwilioError(400, 21201, "No 'To' number is specified")
    if not E164.match(to):
        raise TwilioError(400, 21211, REJECTIONS[21211].format(to=to))
    if not from_:
        raise TwilioError(400, 21213, "No 'From' number is specified")
    if not E164.match(from_):
        raise TwilioError(400, 21212, f"The 'From' number {from_} is not a valid phone number.")
    url = params.get("Url", "")
    if not params.get("Twiml") and not url.startswith(("http://", "https://")):
        raise TwilioError(400, 21205, "Url parameter is required and must be a valid URL.")
    return params


def matches(query: Mapping[str, str], to: str, from_: str) -> bool:
    return query.get("To", to) == to and query.get("From", from_) == from_


def in_range(query: Mapping[str, str], field: str, moment: datetime) -> bool:
    """Twilio's ``Field`` / ``Field<`` / ``Field>`` filters (inclusive).

    Twilio compares whole days for ``YYYY-MM-DD``; given a full timestamp, the fake
    compares to the second, which is what a precise ``find_sent`` needs.
    """
    moment = moment.astimezone(UTC).replace(microsecond=0)
    for suffix in ("", "<", ">"):
        value = query.get(field + suffix)
        if not value:
            continue
        bound = _parse_bound(value)
        mine: date | datetime = moment if isinstance(bound, datetime) else moment.date()
        if (suffix == "" and mine != bound) or (suffix == "<" and mine > bound):
            return False
        if suffix == ">" and mine < bound:
            return False
    return True


def _parse_bound(value: str) -> date | datetime:
    value = value.strip()
    if len(value) == 10:
        return datetime.strptime(value, "%Y-%m-%d").date()
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)

"""Vonage's REST rules the fake enforces: error shapes and the Voice API's checks.

The Voice and Reports APIs answer errors as problem+json (``type``, ``title``,
``detail``, ``invalid_parameters``); the SDK turns the status into its exception
classes and our provider sorts those into "rejected for good" or "try again later",
so the fake answers with the statuses Vonage uses for the same mistakes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

ERRORS_URL = "https://developer.vonage.com/api-errors"
_NUMBER = re.compile(r"^[1-9][0-9]{6,14}$")
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class VonageApiError(Exception):
    """An error answer in Vonage's problem+json shape."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str = "",
        invalid: list[dict[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.detail = detail
        self.invalid = invalid or []
        super().__init__(f"{status} {self.title}: {detail}")

    def to_json(self) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        body: dict[str, Any] = {
            "type": f"{ERRORS_URL}#{slug}",
            "title": self.title,
            "detail": self.detail or self.title,
            "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
        }
        if self.invalid:
            body["invalid_parameters"] = self.invalid
        return body


def outage(status: int) -> VonageApiError:
    return VonageApiError(status, detail="The fake Vonage is having an outage")


def _invalid(name: str, reason: str) -> VonageApiError:
    return VonageApiError(
        400,
        "Bad Request",
        "The request failed due to validation errors",
        [{"name": name, "reason": reason}],
    )


def validate_call(body: Any) -> dict[str, Any]:
    """The checks the Voice API makes on ``POST /v1/calls``."""
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    to = body.get("to")
    if not isinstance(to, list) or len(to) != 1 or not isinstance(to[0], dict):
        raise _invalid("to", "exactly one endpoint is required")
    if to[0].get("type", "phone") != "phone":
        raise _invalid("to[0].type", "only phone endpoints are played by the fake")
    if not _NUMBER.match(str(to[0].get("number", ""))):
        raise _invalid("to[0].number", "must be E.164 without a leading +")
    sender = body.get("from")
    if not isinstance(sender, dict) or not _NUMBER.match(str(sender.get("number", ""))):
        raise _invalid("from.number", "must be one of your numbers, E.164 without a +")
    has_ncco, has_url = body.get("ncco") is not None, body.get("answer_url") is not None
    if has_ncco == has_url:
        raise _invalid("answer_url", "give either answer_url or ncco")
    if has_url:
        urls = body["answer_url"]
        if not isinstance(urls, list) or not urls or not str(urls[0]).startswith("http"):
            raise _invalid("answer_url", "must be a list with one http(s) URL")
    for name in ("event_url",):
        urls = body.get(name)
        if urls is not None and (not isinstance(urls, list) or not str(urls[0]).startswith("http")):
            raise _invalid(name, "must be a list with one http(s) URL")
    for name in ("answer_method", "event_method"):
        if body.get(name) not in (None, "GET", "POST"):
            raise _invalid(name, "must be GET or POST")
    timer = body.get("ringing_timer")
    if timer is not None and not (isinstance(timer, int) and 1 <= timer <= 120):
        raise _invalid("ringing_timer", "must be between 1 and 120")
    detection = body.get("advanced_machine_detection")
    if detection is not None:
        if not isinstance(detection, dict):
            raise _invalid("advanced_machine_detection", "must be an object")
        if detection.get("behavior") not in (None, "continue", "hangup"):
            raise _invalid("advanced_machine_detection.behavior", "continue or hangup")
        if detection.get("mode") not in (None, "default", "detect", "detect_beep"):
            raise _invalid("advanced_machine_detection.mode", "default, detect or detect_beep")
    return body


def parse_time(value: str | None) -> datetime | None:
    """A filter's time (ISO 8601, "Z" or an offset), in UTC; whole seconds as given."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise VonageApiError(400, "Bad Request", f"invalid date {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

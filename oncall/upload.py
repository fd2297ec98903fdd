"""A configuration sent over HTTP (JSON or YAML bytes), read by the same loader as files.

JSON is read as JSON (``json.loads`` is fast; turning it into YAML text first made a
5 MB upload cost seconds of parsing), then checked exactly like a parsed YAML file,
so both get the same paths and messages. A top-level ``version`` (as returned by GET)
is accepted and ignored, so an export can be edited and sent back. An empty document is
refused (an empty configuration is ``{}``).
"""

from __future__ import annotations

import json
import re

from oncall.loader import ConfigError, ConfigIssue, Origins, load_data, load_text
from oncall.schemas import ConfigSet

_VERSION_LINE = re.compile(r"(?m)^version:[^\n]*\n?")


def load_upload(
    body: bytes, *, yaml: bool, name: str = "request", max_entries: int | None = None
) -> tuple[ConfigSet, Origins]:
    """The configuration in ``body``; raises ``ConfigError`` listing every problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(name, "", f"not UTF-8 text (byte {exc.start})")]) from exc
    if yaml:
        # Drop a top-level ``version:`` line without re-serialising the planner's YAML.
        text = _VERSION_LINE.sub("", text)
        return load_text(text, name=name, max_entries=max_entries, empty_ok=False)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError([ConfigIssue(name, "", f"invalid JSON: {exc}")]) from exc
    if isinstance(data, dict):
        data.pop("version", None)
    return load_data(data, name=name, max_entries=max_entries, empty_ok=False)

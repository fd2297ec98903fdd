"""Logs: one JSON object per line in production, secrets and phone numbers scrubbed, and
faults logged when they start and when they end instead of once per retry.

Why scrub in the handler and not at each call site: a log line is written by our code,
by uvicorn's access log (whose paths carry signed links and query strings), by RQ and
by libraries whose exceptions quote what they were given. One filter on the handler
sees all of them. It removes values of secret query parameters (``key=``, ``token=``,
``ticket=`` ...), the signed tokens in the worker's links (``/p/...``, ``/w/...``),
phone numbers, and ``Authorization``/``Cookie``-like values; event fields passed with
``extra=`` whose names say they are personal or secret are dropped.

``FaultLog``: a retry loop that meets a database outage used to log a full traceback
every half second. It now logs the first failure (with one traceback), counts the rest
silently, reminds once a minute while the fault lasts, and says when it is over:
"recovered after N failures in X s".
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import logging.config
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from core import metrics

LogFormat = Literal["json", "text"]

# --- scrubbing ---------------------------------------------------------------------------

_SECRET_PARAMS = (
    "key|api_key|apikey|x-api-key|token|ticket|secret|signature|sig|password|passwd|"
    "session|sessionid|csrf|csrf_token|code|auth|access_token|refresh_token"
)
_QUERY_SECRET = re.compile(rf"(?i)([?&;](?:{_SECRET_PARAMS})=)[^&;\s\"']*")
# The signed links in SMS and the worker's step page carry a bearer token in the path.
_PATH_TOKEN = re.compile(r"(/(?:p|w)/)[A-Za-z0-9_.~-]{12,}")
_HEADER_SECRET = re.compile(
    r"(?i)\b(authorization|cookie|set-cookie|x-api-key|x-twilio-signature)"
    r"(['\"]?\s*[:=]\s*['\"]?)[^'\"\s,;}]+(?:\s+[^'\"\s,;}]+)?"
)
# International (+31 6 1234 5678, 0031...) and Dutch national (06 12345678, 020-1234567)
# numbers; not digits inside ids (a UUID's groups are bounded by hex or a dash).
_PHONE = re.compile(
    r"(?<![\w/.-])(?:\+|00)[1-9](?:[ -]?\d){7,14}(?![\w-])"
    r"|(?<![\w/.-])0[1-9](?:[ -]?\d){8}(?![\w-])"
)
REDACTED = "[redacted]"

# Event fields (``extra=``) never written: personal data and secrets. A key is dropped
# when one of its parts (split at "_" and "-") is one of these words, or when it
# contains one of the substrings ("page" is not "age"; "callback_number" is dropped).
_DROPPED_PARTS = frozenset(
    {"name", "names", "age", "ages", "person", "persons", "address", "body", "key", "to"}
)
_DROPPED_SUBSTRINGS = (
    "phone",
    "number",
    "token",
    "ticket",
    "secret",
    "password",
    "cookie",
    "signature",
    "authorization",
    "apikey",
    "api_key",
    "callback",
    "credential",
    "session",
)


def _dropped(key: str) -> bool:
    lower = key.lower()
    if any(part in _DROPPED_PARTS for part in re.split(r"[_\-]", lower)):
        return True
    return any(sub in lower for sub in _DROPPED_SUBSTRINGS)


# What every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)


# The console provider (development and the demo only: production refuses it) logs each
# SMS whole, because in the demo its link is how a page gets answered.
KEEPS_LINKS = frozenset({"samenop.pages"})


def scrub(text: str, *, links: bool = False) -> str:
    """``text`` without secret query values, link tokens (unless ``links``), header
    secrets or phone numbers."""
    if not text:
        return text
    text = _QUERY_SECRET.sub(rf"\1{REDACTED}", text)
    if not links:
        text = _PATH_TOKEN.sub(rf"\1{REDACTED}", text)
    text = _HEADER_SECRET.sub(rf"\1\2{REDACTED}", text)
    return _PHONE.sub("[phone]", text)


class Scrub(logging.Filter):
    """Rewrites each record's message (and its exception text) scrubbed, once, so every
    formatter downstream gets clean text. Attached to the handlers, not the loggers:
    records of every library pass through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_scrubbed", False):
            return True
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            _access_fields(record)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = scrub(message, links=record.name in KEEPS_LINKS), None
        # The traceback formatted once, scrubbed; formatters use ``exc_text`` when set.
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        record._scrubbed = True
        return True


def _access_fields(record: logging.LogRecord) -> None:
    """uvicorn's access record as event fields: method, path (scrubbed), status."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5:
        _client, method, path, _version, status = args
        record.method = method
        record.path = scrub(str(path))
        record.status = status


# --- context ------------------------------------------------------------------------------

_FIELDS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "samenop_log_fields", default=None
)


@contextlib.contextmanager
def fields(**values: Any) -> Iterator[None]:
    """Add event fields (e.g. ``reference="SO-7KQ2MZ"``) to every record logged inside."""
    current = _FIELDS.get() or {}
    token = _FIELDS.set({**current, **values})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def _event_fields(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = dict(_FIELDS.get() or {})
    for key, value in record.__dict__.items():
        if key in _STANDARD or key.startswith("_"):
            continue
        found[key] = value
    return {
        key: _plain(value)
        for key, value in found.items()
        if key == "reference" or not _dropped(key)
    }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not _dropped(str(k))}
    return scrub(str(value))


# --- formatters ---------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, event fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage(), links=record.name in KEEPS_LINKS),
        }
        for key, value in _event_fields(record).items():
            out.setdefault(key, value)
        exc = record.exc_text
        if not exc and record.exc_info and record.exc_info[0] is not None:
            exc = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if exc:
            out["exception"] = scrub(exc)
        if record.stack_info:
            out["stack"] = scrub(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For development: ``time level logger: message key=value ...``, scrubbed too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = scrub(super().format(record), links=record.name in KEEPS_LINKS)
        # (the access line says method, path and status already)
        extra = {} if record.name == "uvicorn.access" else _event_fields(record)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def resolve_format(log_format: LogFormat | None, environment: str) -> LogFormat:
    """``log_format`` when set; otherwise JSON in production, text elsewhere."""
    if log_format is not None:
        return log_format
    return "json" if environment == "production" else "text"


def logging_config(log_format: LogFormat, level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the whole process, uvicorn included (pass it
    as uvicorn's ``log_config``): one stderr handler, scrubbed, JSON or text."""
    formatter = "json" if log_format == "json" else "text"
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrub": {"()": Scrub}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["scrub"],
            }
        },
        "root": {"handlers": ["default"], "level": upper},
        "loggers": {
            # uvicorn's own handlers are replaced by the root's (same format, scrubbed)
            "uvicorn": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": upper, "propagate": True},
            # quiet libraries that log every request they make
            "twilio.http_client": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
        },
    }


def configure(log_format: LogFormat, level: str = "info") -> None:
    """Apply ``logging_config`` to this process (CLI commands, workers)."""
    logging.config.dictConfig(logging_config(log_format, level))


# --- faults -------------------------------------------------------------------------------


class FaultLog:
    """Log a fault when it starts and when it ends, with a count, not once per retry.

    ``failed(exc)`` logs the first failure with its traceback (and the first of any other
    exception type meeting the same loop meanwhile), then counts silently, reminding
    with one line every ``remind_every`` seconds while it lasts. ``ok()`` after a
    failure logs "recovered after N failures in X s"; while nothing failed it costs a
    single attribute read. Thread-safe: a sweeper's threads share one.
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        remind_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        level: int = logging.ERROR,
        settle_after: float | None = None,
    ) -> None:
        self.logger = logger
        self.what = what
        self.remind_every = remind_every
        self.level = level
        # Where nothing calls ``ok()`` (a failure seen per request), a fault counts as
        # over when no failure came for this long: the next failure says how the
        # previous fault went and starts a new one (logged with its traceback).
        self.settle_after = settle_after
        self._last = 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self.failures = 0  # in the current fault (0: none)
        self.faults = 0  # faults started since this object was made
        self._since = 0.0
        self._reminded = 0.0
        self._kinds: set[str] = set()

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException | None = None, **event: Any) -> None:
        """One more failure; logged only when it starts the fault or is of a new kind."""
        now = self._clock()
        kind = type(exc).__name__ if exc is not None else "-"
        settled: tuple[int, float, float] | None = None
        with self._lock:
            if (
                self.settle_after is not None
                and self.failures
                and now - self._last >= self.settle_after
            ):
                settled = (self.failures, self._last - self._since, now - self._last)
                self.failures = 0
                self._kinds.clear()
            self._last = now
            self.failures += 1
            first = self.failures == 1
            new_kind = kind not in self._kinds and len(self._kinds) < 8
            self._kinds.add(kind)
            if first:
                self.faults += 1
                self._since = self._reminded = now
            remind = not new_kind and now - self._reminded >= self.remind_every
            if remind:
                self._reminded = now
            count, elapsed = self.failures, now - self._since
        fields = {"fault": self.what, "failures": count, **event}
        if settled is not None:
            count_then, lasted, quiet = settled
            self.logger.warning(
                "%s: the previous fault ended: %d failure%s in %.1f s, then none for %.0f s",
                self.what,
                count_then,
                "" if count_then == 1 else "s",
                lasted,
                quiet,
                extra={"fault": self.what, "failures": count_then, "seconds": round(lasted, 3)},
            )
        if first:
            metrics.current().faults.labels(fault=self.what).inc()
            self.logger.log(
                self.level,
                "%s failing: %s",
                self.what,
                _describe(exc),
                exc_info=_exc_info(exc),
                extra=fields,
            )
        elif new_kind:
            self.logger.log(
                self.level,
                "%s still failing, now also: %s",
                self.what,
                _describe(exc),
                exc_info=_exc_info(exc),
                extra=fields,
            )
        elif remind:
            self.logger.warning(
                "%s still failing: %d failures in %.0f s (last: %s)",
                self.what,
                count,
                elapsed,
                _describe(exc),
                extra=fields,
            )

    def ok(self, **event: Any) -> None:
        """The operation succeeded: if a fault was under way, say that it is over."""
        if not self.failures:  # the common case: no lock, nothing logged
            return
        now = self._clock()
        with self._lock:
            count, self.failures = self.failures, 0
            elapsed = now - self._since
            self._kinds.clear()
        if count:
            self._ended(count, elapsed, **event)

    def _ended(self, count: int, elapsed: float, **event: Any) -> None:
        """The fault is over: one line with how many failures over how long."""
        self.logger.warning(
            "%s recovered after %d failure%s in %.1f s",
            self.what,
            count,
            "" if count == 1 else "s",
            elapsed,
            extra={"fault": self.what, "failures": count, "seconds": round(elapsed, 3), **event},
        )


class FaultLogs:
    """One ``FaultLog`` per key (e.g. per provider), made on first use."""

    def __init__(self, logger: logging.Logger, what: str, **options: Any) -> None:
        self.logger, self.what, self.options = logger, what, options
        self._logs: dict[str, FaultLog] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> FaultLog:
        found = self._logs.get(key)
        if found is None:
            with self._lock:
                found = self._logs.setdefault(
                    key, FaultLog(self.logger, self.what.format(key=key), **self.options)
                )
        return found


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "-"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _exc_info(exc: BaseException | None) -> Any:
    if exc is None:
        return None
    return (type(exc), exc, exc.__traceback__)

"""Validation errors that name the field and the rule broken, for the feed's developers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from core.logs import FaultLog

log = logging.getLogger(__name__)
# A database outage answers every request 503: logged when it starts, not per request.
_DATABASE_FAULTS = FaultLog(log, "database (requests answered 503)", settle_after=30.0)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _rule(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


async def validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "rule": _rule(e), "type": e.get("type")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['rule']}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": summary, "errors": errors})


async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The database did not answer: say so, and that a retry is safe (intake is idempotent)."""
    _DATABASE_FAULTS.failed(exc)
    return JSONResponse(
        status_code=503,
        headers={"Retry-After": "2"},
        content={
            "detail": "database unavailable; nothing was stored. Retry the same request: "
            "a retry never creates a second dispatch."
        },
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(OperationalError, database_unavailable)

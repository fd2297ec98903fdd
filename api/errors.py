"""Error bodies that name the field and the rule broken, for the feed's developers.

Two shapes, and the OpenAPI document declares both (``api.apidocs``):
``ValidationErrorBody`` for input that fails validation (every bad field named) and
``ErrorBody`` for everything else a route refuses (``detail`` is a sentence, or an
object with a ``message`` and what the rule needs to explain itself).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from api.bounds import PATTERN_RULES
from core.logs import FaultLog

log = logging.getLogger(__name__)
# A database outage answers every request 503: logged when it starts, not per request.
_DATABASE_FAULTS = FaultLog(log, "database (requests answered 503)", settle_after=30.0)


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        description="Where: a body field (persons[0].age), a query or path parameter, "
        "'body' or 'path'"
    )
    rule: str = Field(description="The rule it breaks, in words")
    type: str | None = Field(default=None, description="Machine-readable kind of problem")


class ValidationErrorBody(BaseModel):
    """422: the request does not validate; every bad field is named."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="Every problem on one line: 'field: rule; field: rule'")
    errors: list[FieldError]


class ConfigIssueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Place in the configuration, e.g. rules[2].windows[0].start")
    rule: str
    line: int | None = None


class WouldRemove(BaseModel):
    """409 of a configuration write that needs ``confirm=true``: what it would remove."""

    model_config = ConfigDict(extra="forbid")

    reasons: list[str] = Field(description="regions, teams_with_open_incidents, people_share")
    objects: dict[str, list[str]] = Field(description="Every id removed, per section")
    regions: list[str]
    teams_with_open_incidents: list[str]
    people: list[str]
    people_share: float
    people_share_limit: float


class ErrorDetail(BaseModel):
    """A refusal that carries more than a sentence: the rule, and where it applies."""

    model_config = ConfigDict(extra="forbid")

    message: str
    error: str | None = Field(default=None, description="Code of the rule, e.g. invalid_transition")
    action: str | None = None
    stage: str | None = None
    role: str | None = None
    errors: list[FieldError] | None = None
    issues: list[ConfigIssueBody] | None = None
    would_remove: WouldRemove | None = None


class ErrorBody(BaseModel):
    """Any other refusal (400, 401, 403, 404, 405, 409, 410, 413, 422, 503)."""

    model_config = ConfigDict(extra="forbid")

    detail: str | ErrorDetail


class InvalidInput(Exception):
    """Raised by a route for a parameter it checks itself: answered like request validation."""

    def __init__(self, field: str, rule: str, type: str = "value_error") -> None:
        super().__init__(f"{field}: {rule}")
        self.field, self.rule, self.type = field, rule, type


def validation_content(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``ValidationErrorBody`` from ``{"field", "rule", "type"}`` items."""
    summary = "; ".join(f"{e['field']}: {e['rule']}" for e in errors)
    return {"detail": summary, "errors": errors}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _rule(error: Any) -> str:
    if error.get("type") == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern in PATTERN_RULES:
            text = str(error.get("input", ""))
            shown = text if len(text) <= 40 else text[:40] + "…"
            return f"'{shown}' does not match the pattern of {PATTERN_RULES[pattern]}"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _errors(raw: Any) -> list[dict[str, Any]]:
    return [
        {"field": _field(tuple(e.get("loc", ()))), "rule": _rule(e), "type": e.get("type")}
        for e in raw
    ]


async def validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content=validation_content(_errors(exc.errors())))


async def invalid_input(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    error = {"field": exc.field, "rule": exc.rule, "type": exc.type}
    return JSONResponse(status_code=422, content=validation_content([error]))


async def model_invalid(_request: Request, exc: Exception) -> JSONResponse:
    """A model built inside a route from request data refused it: still the caller's input."""
    assert isinstance(exc, ValidationError)
    return JSONResponse(status_code=422, content=validation_content(_errors(exc.errors())))


async def data_refused(_request: Request, exc: Exception) -> JSONResponse:
    """The database refused a value (out of range, bad text): a bound this service missed.

    Logged so the bound gets added; the caller gets a 422 instead of a 500.
    """
    log.warning("database refused a value: %s", exc.orig if isinstance(exc, DataError) else exc)
    return JSONResponse(
        status_code=422,
        content={"detail": "a value is out of range or not allowed; nothing was stored"},
    )


async def conflict(_request: Request, exc: Exception) -> JSONResponse:
    """A uniqueness rule of the database refused a write no route expected to clash (two
    requests racing for one name, say): the caller's request conflicts, it is no 500."""
    log.warning(
        "database refused a write: %s", exc.orig if isinstance(exc, IntegrityError) else exc
    )
    return JSONResponse(
        status_code=409,
        content={"detail": "conflicts with what is stored (a duplicate); nothing was changed"},
    )


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


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this path (Starlette names only the first route's)."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own handler, except that a 405 lists every allowed method in ``Allow``."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        methods = allowed_methods(request)
        if methods:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(ValidationError, model_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DataError, data_refused)
    app.add_exception_handler(IntegrityError, conflict)
    app.add_exception_handler(OperationalError, database_unavailable)

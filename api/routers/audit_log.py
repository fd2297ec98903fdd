"""Searching the audit log (admins): the API and a Dutch page.

Filters by actor, action, object and a time window (at most ``MAX_WINDOW``), newest
first (in the order the rows were written), at most 500 rows per answer; ``before_id``
pages back. The page is rendered on the server (no script) with the same filters as a
GET form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.principal import Role
from api import auth
from api.deps import Admin, AppClock, DbSession
from api.routers.pages import Viewer, templates
from core.timeutil import ensure_utc
from dispatch.models import AuditLog
from oncall.schemas import parse_local_datetime

router = APIRouter(tags=["audit"])

MAX_WINDOW = timedelta(days=92)
DEFAULT_WINDOW = timedelta(days=7)
MAX_ROWS = 500
PAGE_ROWS = 100
BIGINT_MAX = 2**63 - 1

Text = Annotated[str, StringConstraints(min_length=1, max_length=128)]
When = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class AuditRead(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_kind: str | None
    actor_role: str | None
    source_address: str | None
    region: str | None
    action: str
    object_type: str
    object_id: str
    detail: str | None


@dataclass(frozen=True)
class Search:
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    before_id: int | None = None


class SearchRefused(ValueError):
    """A search this log does not run (422): the reason in English (API) and Dutch (page)."""

    def __init__(self, field: str, rule: str, dutch: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.dutch = dutch

    def http(self) -> HTTPException:
        return HTTPException(422, detail=str(self))


FIELD_NL = {"since": "Vanaf", "until": "Tot"}


def _instant(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return ensure_utc(parse_local_datetime(value))
    except (ValueError, OverflowError) as exc:
        raise SearchRefused(
            name, str(exc), f"{FIELD_NL[name]}: geen datum en tijd zoals 2026-12-01T08:00."
        ) from exc


def window(search: Search, now: datetime) -> tuple[datetime, datetime]:
    """The time window asked (default the last week), refused beyond ``MAX_WINDOW``."""
    until = search.until or now
    try:
        since = search.since or until - DEFAULT_WINDOW
    except OverflowError as exc:  # an until in the first week of year 1
        raise SearchRefused("until", str(exc), "Tot ligt te vroeg.") from exc
    if since > until:
        raise SearchRefused("since", "after until", "Vanaf ligt na Tot.")
    if until - since > MAX_WINDOW:
        days = MAX_WINDOW.days
        raise SearchRefused(
            "since",
            f"the window may span at most {days} days",
            f"De periode mag hooguit {days} dagen zijn.",
        )
    return since, until


def find(session: Session, search: Search, now: datetime) -> list[AuditLog]:
    since, until = window(search, now)
    query = select(AuditLog).where(AuditLog.at >= since, AuditLog.at <= until)
    if search.actor:
        query = query.where(AuditLog.actor == search.actor)
    if search.action:
        query = query.where(AuditLog.action == search.action)
    if search.object_type:
        query = query.where(AuditLog.object_type == search.object_type)
    if search.object_id:
        query = query.where(AuditLog.object_id == search.object_id)
    if search.before_id is not None:
        query = query.where(AuditLog.id < search.before_id)
    query = query.order_by(AuditLog.id.desc()).limit(min(search.limit, MAX_ROWS))
    return list(session.scalars(query))


def _read(row: AuditLog) -> AuditRead:
    return AuditRead(
        id=row.id,
        at=row.at,
        actor=row.actor,
        actor_kind=row.actor_kind,
        actor_role=row.actor_role,
        source_address=row.source_address,
        region=row.region_id,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        detail=row.detail,
    )


@router.get(
    "/api/v1/audit",
    response_model=list[AuditRead],
    summary="Search the audit log (admin)",
)
def search_audit(
    session: DbSession,
    clock: AppClock,
    caller: Admin,
    actor: Annotated[Text | None, Query(description="e.g. account:jan or key:meldkamer")] = None,
    action: Annotated[Text | None, Query(description="e.g. incident.read, config.region")] = None,
    object_type: Annotated[Text | None, Query(description="e.g. dispatch")] = None,
    object_id: Annotated[Text | None, Query()] = None,
    since: Annotated[When | None, Query(description="ISO; default a week before until")] = None,
    until: Annotated[When | None, Query(description="ISO; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=BIGINT_MAX, description="Older than this row (paging)")
    ] = None,
) -> list[AuditRead]:
    try:
        search = Search(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=_instant("since", since),
            until=_instant("until", until),
            limit=limit,
            before_id=before_id,
        )
        return [_read(r) for r in find(session, search, clock.now())]
    except SearchRefused as exc:
        raise exc.http() from exc


ROLE_NL = {
    "admin": "beheerder",
    "planner": "planner",
    "operator": "meldkamer",
    "feed": "koppeling",
    "worker": "medewerker",
}


def _form_value(request: Request, name: str, limit: int = 128) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value[:limit] or None


def _next_page(filters: dict[str, Any], rows: list[AuditLog]) -> str | None:
    if len(rows) < PAGE_ROWS:
        return None
    return urlencode({**{k: v for k, v in filters.items() if v}, "before_id": rows[-1].id})


@router.get(
    "/admin/audit",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[auth.page_roles()],
)
def audit_page(request: Request, session: DbSession, clock: AppClock, viewer: Viewer) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    if viewer.principal.role is not Role.ADMIN:
        return templates.TemplateResponse(
            request, "refused.html", {"viewer": viewer, "csrf": viewer.csrf}, status_code=403
        )
    error: str | None = None
    rows: list[AuditLog] = []
    filters: dict[str, Any] = {
        name: _form_value(request, name)
        for name in ("actor", "action", "object_type", "object_id", "since", "until")
    }
    try:
        before = _form_value(request, "before_id", 19)
        search = Search(
            actor=filters["actor"],
            action=filters["action"],
            object_type=filters["object_type"],
            object_id=filters["object_id"],
            since=_instant("since", filters["since"]),
            until=_instant("until", filters["until"]),
            limit=PAGE_ROWS,
            before_id=min(int(before), BIGINT_MAX) if before and before.isdigit() else None,
        )
        rows = find(session, search, clock.now())
    except SearchRefused as exc:
        error = exc.dutch
    response = templates.TemplateResponse(
        request,
        "audit.html",
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "rows": rows,
            "filters": filters,
            "error": error,
            "roles": ROLE_NL,
            "more": _next_page(filters, rows),
            "max_days": MAX_WINDOW.days,
        },
        status_code=422 if error else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response

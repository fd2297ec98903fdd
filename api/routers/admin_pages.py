"""The admin page (Dutch): accounts, live sign-in sessions and API keys.

The page is rendered on the server from the database; every change on it (an account,
a key, a rotation, a revocation, ending sessions, (de)activating) goes through the JSON
API in ``api.routers.access``, posted by ``admin.js`` with the session's CSRF token, so
the page can do nothing the API would not let the same admin do, and every change is
audited there. After a change the script fetches this page again and swaps in its
lists. A new key's secret is shown once, by the script, from the API's answer; it is
never part of this page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.models import Account, ApiKey, WebSession
from access.principal import Role
from api import auth
from api.deps import AppClock, DbSession, State
from api.routers.pages import Viewer, place_names, templates

router = APIRouter(include_in_schema=False)

ROLE_NL = {
    "admin": "beheerder",
    "planner": "planner",
    "operator": "meldkamer",
    "feed": "koppeling",
    "worker": "medewerker",
}
ACCOUNT_ROLES = (Role.OPERATOR, Role.PLANNER, Role.ADMIN, Role.WORKER)
KEY_ROLES = (Role.FEED, Role.OPERATOR, Role.PLANNER, Role.ADMIN)
MAX_ROWS = 1000


def key_state(key: ApiKey, now: datetime) -> tuple[str, str]:
    """(state, Dutch text): active, replaced (still working for the overlap), expired,
    revoked."""
    if key.revoked_at is not None:
        return "revoked", "ingetrokken"
    if key.expires_at is not None:
        if key.expires_at <= now:
            return "expired", "verlopen"
        return "replaced", "vervangen; werkt nog tot"
    return "active", "actief"


def _scope(names: dict[str, str], regions: list[str] | None, basisteams: list[str] | None) -> str:
    parts = [names.get(r, r) for r in regions or ()] + [names.get(b, b) for b in basisteams or ()]
    if regions is None and not basisteams:
        return "alle regio's"
    return ", ".join(parts) or "—"


def _live_sessions(
    session: Session, now: datetime, idle: timedelta
) -> list[tuple[WebSession, str]]:
    rows = session.execute(
        select(WebSession, Account.username)
        .join(Account, Account.id == WebSession.account_id)
        .where(
            WebSession.ended_at.is_(None),
            WebSession.expires_at > now,
            WebSession.last_seen_at > now - idle,
        )
        .order_by(Account.username, WebSession.created_at.desc())
        .limit(MAX_ROWS)
    )
    return [(row, username) for row, username in rows]


@router.get("/admin", response_class=HTMLResponse, dependencies=[auth.page_roles()])
def admin_page(
    request: Request, state: State, session: DbSession, clock: AppClock, viewer: Viewer
) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    if viewer.principal.role is not Role.ADMIN:
        return templates.TemplateResponse(
            request, "refused.html", {"viewer": viewer, "csrf": viewer.csrf}, status_code=403
        )
    now = clock.now()
    snapshot = state.snapshots.get(session=session)
    names = place_names(snapshot)
    config = snapshot.config
    regions: list[dict[str, Any]] = []
    for region in sorted(config.regions, key=lambda r: r.name):
        basisteams = sorted(
            (b for b in config.basisteams if b.region == region.id), key=lambda b: b.name
        )
        regions.append({"id": region.id, "name": region.name, "basisteams": basisteams})
    accounts = [
        {
            "row": a,
            "scope": _scope(names, a.regions, a.basisteams),
            "locked": a.locked_until is not None and a.locked_until > now,
        }
        for a in session.scalars(select(Account).order_by(Account.username).limit(MAX_ROWS))
    ]
    keys = []
    for k in session.scalars(
        select(ApiKey).order_by(ApiKey.name, ApiKey.id.desc()).limit(MAX_ROWS)
    ):
        code, text = key_state(k, now)
        keys.append(
            {
                "row": k,
                "scope": _scope(names, k.regions, k.basisteams),
                "state": code,
                "state_text": text,
            }
        )
    idle = timedelta(minutes=state.settings.session_idle_minutes)
    response = templates.TemplateResponse(
        request,
        "admin.html",
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "accounts": accounts,
            "sessions": _live_sessions(session, now, idle),
            "keys": keys,
            "regions": regions,
            "roles": ROLE_NL,
            "account_roles": [r.value for r in ACCOUNT_ROLES],
            "key_roles": [r.value for r in KEY_ROLES],
            "overlap_hours": state.settings.key_rotation_overlap_hours,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response

"""Server-rendered pages (Dutch): sign-in and the control-room dashboard.

The dashboard is rendered with the open incidents as they are now; ``dashboard.js``
then follows the websocket (``/ws``) and keeps the list live.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from access import service as access
from access.principal import Role
from api import audit, auth
from api.deps import AppClock, DbSession, Snapshot, State
from core import texts
from core.texts import ASSIGNMENT_NL, CASE_TYPE_NL, LAYER_NL, MODE_NL, PAGING_NL, TEAM_KIND_NL
from core.timeutil import AMS
from dispatch import live, service
from oncall.phones import display_phone
from oncall.snapshot import ConfigSnapshot

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
templates.env.filters["local"] = lambda d: (
    d.astimezone(AMS).strftime("%d-%m-%Y %H:%M") if d else "—"
)
templates.env.filters["phone"] = lambda e164: display_phone(e164) if e164 else "—"
templates.env.globals.update(
    MODE_NL=MODE_NL,
    CASE_TYPE_NL=CASE_TYPE_NL,
    TEAM_KIND_NL=TEAM_KIND_NL,
    PAGING_NL=PAGING_NL,
    ASSIGNMENT_NL=ASSIGNMENT_NL,
    LAYER_NL=LAYER_NL,
)

STATUS_NL = {
    "paired": "gekoppeld",
    "no_candidates": "niemand beschikbaar",
    "fallback": "landelijke lijn",
    "police_call": "politie belt zelf",
}
templates.env.globals["STATUS_NL"] = STATUS_NL


def page_labels() -> dict[str, Any]:
    """Every Dutch label the live pages' scripts need, keyed by what it labels."""
    return {
        "stage": texts.STAGE_NL,
        "outcome": texts.OUTCOME_NL,
        "action": texts.ACTION_NL,
        "consult": texts.CONSULT_NL,
        "handover": texts.HANDOVER_NL,
        "measure": texts.MEASURE_NL,
        "paging": PAGING_NL,
        "assignment": ASSIGNMENT_NL,
        "case_type": CASE_TYPE_NL,
        "mode": MODE_NL,
        "status": STATUS_NL,
        "alarm": texts.ALARM_NL,
        "half_staffed": texts.HALF_STAFFED_DECISION_NL,
        "live": texts.LIVE_NL,
        "misc": texts.PAGE_NL,
        "error": texts.ACTION_ERROR_NL,
        "control": texts.CONTROL_ROOM_NL,
        "refused": texts.CONTROL_ROOM_REFUSED_NL,
        "field": texts.FIELD_NL,
        "problem": texts.VALIDATION_NL,
    }


def place_names(snapshot: ConfigSnapshot) -> dict[str, str]:
    """Display names of regions, basisteams and municipalities by id or CBS code."""
    config = snapshot.config
    return {
        **{r.id: r.name for r in config.regions},
        **{b.id: b.name for b in config.basisteams},
        **{m.code: m.name for m in config.municipalities},
    }


def _remote(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, error: str | None, code: int = 200) -> Response:
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"error": error, "oidc": bool(request.app.state.samenop.settings.oidc_issuer)},
        status_code=code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login", response_class=HTMLResponse, dependencies=[auth.public("the sign-in page")])
def login_form(request: Request) -> Response:
    return _login_page(request, None)


LOGIN_REFUSED_NL = {
    "bad_credentials": "Onbekende gebruikersnaam of verkeerd wachtwoord.",
    "locked": "Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. "
    "Probeer het later opnieuw.",
    "rate_limited": "Te veel mislukte pogingen vanaf dit adres. Probeer het later opnieuw.",
    "origin": "Aanmelden kan alleen vanaf deze pagina.",
}


@router.post("/login", response_class=HTMLResponse, dependencies=[auth.public("the sign-in page")])
async def login(request: Request, state: State) -> Response:
    """Username and password; a new server-side session (a fresh cookie every time)."""
    if request.headers.get("origin") and not auth.same_origin(request, state):
        return _login_page(request, LOGIN_REFUSED_NL["origin"], 403)
    body = await request.body()  # bounded by the body-size limit before it is read
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    username = (fields.get("username") or [""])[0].strip().lower()[:64]
    password = (fields.get("password") or [""])[0][: access.MAX_PASSWORD + 1]
    settings = state.settings
    rules = access.LoginRules(
        max_failures=settings.login_max_failures,
        lockout=timedelta(minutes=settings.login_lockout_minutes),
        per_remote=settings.login_per_address,
        window=timedelta(minutes=settings.login_window_minutes),
    )
    remote = _remote(request)

    def attempt() -> tuple[str | None, str | None, int | None]:
        now = state.clock.now()
        with state.sessions() as session:
            try:
                account = access.authenticate(
                    session,
                    username=username,
                    password=password,
                    remote=remote,
                    now=now,
                    rules=rules,
                )
            except access.LoginRefused as refused:
                session.commit()  # the failure counts
                return None, refused.reason, refused.retry_after
            token, _row = access.start_session(
                session, account, now=now, limits=auth.limits(state), remote=remote
            )
            audit_note(session, now, f"account:{account.username}", "session.start", remote)
            session.commit()
            return token, None, None

    token, reason, retry_after = await asyncio.to_thread(attempt)
    if token is None:
        response = _login_page(request, LOGIN_REFUSED_NL[reason or "bad_credentials"], 401)
        if reason == "rate_limited" or reason == "locked":
            response.status_code = 429
            response.headers["Retry-After"] = str(retry_after or 60)
        return response
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        auth.COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.environment == "production",
        max_age=settings.session_absolute_hours * 3600,
    )
    return response


@router.post("/logout", dependencies=[auth.public("ends the caller's own session")])
async def logout(request: Request, state: State) -> Response:
    """Ends the session on the server (the cookie alone no longer works)."""
    found = await auth.signed_in(request, state)
    if found is not None:
        body = await request.body()
        sent = (
            parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10).get("csrf") or [""]
        )[0]
        if not auth.same_origin(request, state) or not secrets.compare_digest(
            sent.encode(), found.csrf.encode()
        ):
            raise HTTPException(403, detail="csrf: missing or wrong (reload the page)")
        session_id = found.principal.session_id or ""

        def end() -> None:
            now = state.clock.now()
            with state.sessions() as session:
                access.end_session(session, session_id, now=now, by=found.principal.actor)
                audit_note(session, now, found.principal.actor, "session.end", _remote(request))
                session.commit()

        await asyncio.to_thread(end)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


def audit_note(session: Session, now: datetime, actor: str, action: str, remote: str) -> None:
    service.audit(
        session=session,
        now=now,
        actor=actor,
        action=action,
        object_type="session",
        object_id=actor,
        detail=f"from {remote}",
    )


async def page_viewer(request: Request, state: State) -> auth.SignedIn | None:
    """Who is looking at a page: a signed-in account (None: send them to /login)."""
    found = await auth.signed_in(request, state)
    if found is None and auth.demo_open(state):
        return auth.SignedIn(auth.DEMO, "", "demo")
    return found


Viewer = Annotated[auth.SignedIn | None, Depends(page_viewer)]
PAGE_ROLES = (Role.OPERATOR, Role.PLANNER, Role.ADMIN)


def _refused(request: Request, viewer: auth.SignedIn) -> Response:
    return templates.TemplateResponse(
        request,
        "refused.html",
        {"viewer": viewer, "csrf": viewer.csrf},
        status_code=403,
    )


@router.get(
    "/",
    response_class=HTMLResponse,
    dependencies=[auth.page_roles(Role.OPERATOR, Role.PLANNER)],
)
def dashboard(
    request: Request,
    state: State,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
    viewer: Viewer,
) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    principal = viewer.principal
    if principal.role is Role.WORKER:  # a worker's home is their own shifts
        return RedirectResponse("/shifts", status_code=303)
    if principal.role not in PAGE_ROLES:
        return _refused(request, viewer)
    now = clock.now()
    if principal.role is Role.PLANNER:
        dispatches: list[dict[str, Any]] = []  # planners see rosters, not incidents
    elif principal.unbounded:
        dispatches = live.open_summaries(session, region_ids=None, basisteam_ids=None, now=now)
    else:
        dispatches = live.open_summaries(
            session,
            region_ids=set(principal.regions or ()),
            basisteam_ids=set(principal.basisteams),
            now=now,
        )
    if dispatches:  # the page shows incident details: one row naming which
        audit.note(
            session,
            request,
            principal,
            "dashboard.view",
            "dispatch",
            f"{len(dispatches)} incidents",
            detail={"ids": [d["id"] for d in dispatches]},
        )
        session.commit()
    config = snapshot.config
    teams = []
    for team in config.teams:
        oc = snapshot.on_call(team.id, now)
        names = [
            snapshot.people[e.person].name if e.person in snapshot.people else e.person
            for e in oc.entries
        ]
        teams.append({"team": team, "names": names, "entries": oc.entries})
    filter_regions = []
    for region in sorted(config.regions, key=lambda r: r.name):
        basisteams = sorted(
            (b for b in config.basisteams if b.region == region.id), key=lambda b: b.name
        )
        if basisteams:
            filter_regions.append({"name": region.name, "basisteams": basisteams})
    labels = page_labels()
    page_data = {
        "labels": labels,
        "places": place_names(snapshot),
        "people": {p.id: p.name for p in config.people},
        "teams": {t.id: t.name for t in config.teams},
        # an incident may name only its municipality: the filter finds its basisteam
        "basisteam_of": {m: b.id for b in config.basisteams for m in b.municipalities},
        "dispatches": dispatches,
    }
    response = templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "dispatches": dispatches,
            "teams": teams,
            "now": now,
            "version": snapshot.version,
            "labels": labels,
            "filter_regions": filter_regions,
            "phones_url": state.settings.demo_phones_url,
            "page_data": page_data,
            "viewer": viewer,
            "csrf": viewer.csrf,
            "incidents": principal.role is not Role.PLANNER,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response

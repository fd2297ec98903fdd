"""Server-rendered pages (Dutch): the control-room overview of dispatches and on-call."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import AppClock, DbSession, Snapshot, State
from core.texts import ASSIGNMENT_NL, CASE_TYPE_NL, LAYER_NL, MODE_NL, PAGING_NL, TEAM_KIND_NL
from core.timeutil import AMS
from dispatch import service
from oncall.phones import display_phone

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
}
templates.env.globals["STATUS_NL"] = STATUS_NL


COOKIE = "samenop_pages"


def _token(key: str) -> str:
    """What the cookie holds: derived from an API key, never the key itself."""
    return hmac.new(key.encode(), b"samenop-pages", hashlib.sha256).hexdigest()


def _signed_in(request: Request, state: State) -> bool:
    """Pages are open in the development demo; elsewhere they need an API key once."""
    if state.settings.environment == "development":
        return True
    cookie = request.cookies.get(COOKIE, "")
    return any(hmac.compare_digest(cookie, _token(key)) for key in state.settings.api_keys)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, state: State) -> Response:
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    key = (fields.get("key") or [""])[0].strip()
    if not any(hmac.compare_digest(key, k) for k in state.settings.api_keys):
        return templates.TemplateResponse(
            request, "login.html", {"error": "Onbekende sleutel."}, status_code=401
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        _token(key),
        httponly=True,
        samesite="strict",
        secure=state.settings.environment == "production",
        max_age=12 * 3600,
    )
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, state: State, session: DbSession, snapshot: Snapshot, clock: AppClock
) -> Response:
    if not _signed_in(request, state):
        return RedirectResponse("/login", status_code=303)
    now = clock.now()
    dispatches = service.list_dispatches(session=session, limit=50)
    teams = []
    for team in snapshot.config.teams:
        oc = snapshot.on_call(team.id, now)
        names = [
            snapshot.people[e.person].name if e.person in snapshot.people else e.person
            for e in oc.entries
        ]
        teams.append({"team": team, "names": names, "entries": oc.entries})
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "dispatches": dispatches,
            "teams": teams,
            "now": now,
            "version": snapshot.version,
            "regions": {r.id: r.name for r in snapshot.config.regions},
            "people": {p.id: p.name for p in snapshot.config.people},
            "team_names": {t.id: t.name for t in snapshot.config.teams},
            "phones_url": state.settings.demo_phones_url,
            "places": {
                **{b.id: b.name for b in snapshot.config.basisteams},
                **{x.code: x.name for x in snapshot.config.municipalities},
            },
        },
    )

"""Server-rendered pages (Dutch): sign-in and the control-room dashboard.

The dashboard is rendered with the open incidents as they are now; ``dashboard.js``
then follows the websocket (``/ws``) and keeps the list live.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import auth
from api.deps import AppClock, DbSession, Snapshot, State
from core import texts
from core.texts import ASSIGNMENT_NL, CASE_TYPE_NL, LAYER_NL, MODE_NL, PAGING_NL, TEAM_KIND_NL
from core.timeutil import AMS
from dispatch import live
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
        auth.COOKIE,
        auth.cookie_token(key),
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
    if not auth.signed_in(request.cookies, state):
        return RedirectResponse("/login", status_code=303)
    now = clock.now()
    dispatches = live.open_summaries(session, region_ids=None, basisteam_ids=None, now=now)
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
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response

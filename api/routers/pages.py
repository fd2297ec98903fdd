"""Server-rendered pages (Dutch): the control-room overview of dispatches and on-call."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import AppClock, DbSession, Snapshot
from core.texts import CASE_TYPE_NL, MODE_NL, TEAM_KIND_NL
from core.timeutil import AMS
from dispatch import service
from oncall.phones import display_phone

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
templates.env.filters["local"] = lambda d: (
    d.astimezone(AMS).strftime("%d-%m-%Y %H:%M") if d else "—"
)
templates.env.filters["phone"] = lambda e164: display_phone(e164) if e164 else "—"
templates.env.globals.update(MODE_NL=MODE_NL, CASE_TYPE_NL=CASE_TYPE_NL, TEAM_KIND_NL=TEAM_KIND_NL)

STATUS_NL = {
    "paired": "gekoppeld",
    "no_candidates": "niemand beschikbaar",
    "fallback": "landelijke lijn",
}
templates.env.globals["STATUS_NL"] = STATUS_NL


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: DbSession, snapshot: Snapshot, clock: AppClock
) -> HTMLResponse:
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
            "places": {
                **{b.id: b.name for b in snapshot.config.basisteams},
                **{x.code: x.name for x in snapshot.config.municipalities},
            },
        },
    )

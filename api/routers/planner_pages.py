"""The planner's pages (Dutch): the region overview and a team's calendar with its editors.

``/planner`` is rendered on the server: every team of the viewer's regions over the next
8 weeks, a cell per week, red where there is a gap. ``/planner/teams/{team}`` is a
shell with the team's configuration in a JSON data island; ``planner.js`` draws the
week or month calendar from ``GET /api/v1/planning/teams/{team}/calendar`` and makes
every change through the planning API (a preview first, then a save, then undo), with
the session's CSRF token, so the page can do nothing the API would not let the same
planner do, and every change is versioned and audited there.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from access.principal import Principal, Role
from api import auth, work
from api.bounds import SlugPath
from api.deps import AppClock, DbReader, Snapshot, State
from api.routers.pages import Viewer, templates
from core import texts
from core.timeutil import AMS
from oncall import calendar, changes
from oncall.scope import wall_to_utc
from oncall.snapshot import ConfigSnapshot

router = APIRouter(include_in_schema=False)

WEEKS = 8
# An admin sees every region; more than this many at once is one region at a time.
MAX_REGIONS_AT_ONCE = 3
DateQuery = Annotated[
    str | None, Query(pattern=r"^20[0-9]{2}-[01][0-9]-[0-3][0-9]$", description="YYYY-MM-DD")
]
_WEEKDAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
_MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def _short(day: date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def _midnight(day: date) -> datetime:
    return wall_to_utc(datetime.combine(day, time()))


def _planned_regions(principal: Principal, snapshot: ConfigSnapshot) -> list[str]:
    if principal.role is Role.ADMIN or principal.regions is None:
        return [r.id for r in snapshot.config.regions]
    return [r.id for r in snapshot.config.regions if principal.plans(r.id)]


def _gate(request: Request, viewer: auth.SignedIn | None) -> Response | None:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    if viewer.principal.role not in (Role.PLANNER, Role.ADMIN):
        return templates.TemplateResponse(
            request, "refused.html", {"viewer": viewer, "csrf": viewer.csrf}, status_code=403
        )
    return None


def _hours_nl(minutes: int) -> str:
    return str(round(minutes / 60, 1)).replace(".", ",")


def _week_cells(cal: calendar.TeamCalendar, monday: date) -> list[dict[str, Any]]:
    cells = []
    for week in range(WEEKS):
        first = monday + timedelta(weeks=week)
        lo, hi = _midnight(first), _midnight(first + timedelta(weeks=1))
        minutes = 0
        texts_: list[str] = []
        for gap in cal.gaps:
            a, b = max(gap.start, lo), min(gap.end, hi)
            if b > a:
                minutes += int((b - a).total_seconds() // 60)
                local = a.astimezone(AMS)
                texts_.append(
                    f"{_short(local.date())} {local:%H:%M}: "
                    + texts.GAP_NL.format(needed=gap.needed, available=gap.available)
                )
        tight = 0
        for span in cal.tight:
            a, b = max(span.start, lo), min(span.end, hi)
            if b > a:
                tight += int((b - a).total_seconds() // 60)
        cells.append(
            {
                "start": first.isoformat(),
                "minutes": minutes,
                "hours": round(minutes / 60, 1),
                "title": "; ".join(texts_[:6]),
                "tight": texts.TIGHT_CELL_NL.format(hours=_hours_nl(tight)) if tight else "",
                "tight_title": texts.TIGHT_NL.format(needed=max(s.needed for s in cal.tight))
                if tight
                else "",
            }
        )
    return cells


@router.get("/planner", response_class=HTMLResponse, dependencies=[auth.page_roles(Role.PLANNER)])
async def planner_overview(
    request: Request,
    state: State,
    session: DbReader,
    snapshot: Snapshot,
    clock: AppClock,
    viewer: Viewer,
    region: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] = None,
) -> Response:
    refused = _gate(request, viewer)
    if refused is not None or viewer is None:
        return refused or RedirectResponse("/login", status_code=303)
    session.close()
    mine = _planned_regions(viewer.principal, snapshot)
    if region is not None and region not in mine:
        raise HTTPException(404, detail=f"unknown region '{region}'")
    shown = [region] if region else mine[:MAX_REGIONS_AT_ONCE] if len(mine) > 1 else mine
    today = clock.now().astimezone(AMS).date()
    monday = today - timedelta(days=today.weekday())
    lo, hi = _midnight(monday), _midnight(monday + timedelta(weeks=WEEKS))

    def job(deadline: work.Deadline) -> list[dict[str, Any]]:
        out = []
        for rid in shown:
            teams = []
            for cal in calendar.region_overview(snapshot, rid, lo, hi, check=deadline.check):
                cells = _week_cells(cal, monday)
                teams.append(
                    {
                        "id": cal.team,
                        "name": snapshot.teams[cal.team].name,
                        "cells": cells,
                        "gap_hours": round(sum(c["minutes"] for c in cells) / 60, 1),
                    }
                )
            out.append({"id": rid, "name": snapshot.regions[rid].name, "teams": teams})
        return out

    regions = await work.run(
        job, seconds=state.settings.work_timeout_seconds, what="the region overview"
    )
    weeks = [
        {
            "start": (monday + timedelta(weeks=w)).isoformat(),
            "label": f"wk {(monday + timedelta(weeks=w)).isocalendar().week}",
            "title": _short(monday + timedelta(weeks=w)),
        }
        for w in range(WEEKS)
    ]
    response = templates.TemplateResponse(
        request,
        "planner.html",
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "regions": regions,
            "weeks": weeks,
            "choices": [{"id": r, "name": snapshot.regions[r].name} for r in mine],
            "region": region,
            "version": snapshot.version,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _team_data(snapshot: ConfigSnapshot, team_id: str) -> dict[str, Any]:
    """What the team page's script edits: the team's people, rotations, shifts and
    overrides (as the API takes them back)."""
    config = snapshot.config
    members = snapshot.members.get(team_id, {})
    people = [
        {
            **p.model_dump(mode="json"),
            "role": members.get(p.id),
            "member": p.id in members,
        }
        for p in config.people
        if p.id in members
    ]
    doc = changes.document(
        config.model_copy(
            update={
                "rotations": tuple(r for r in config.rotations if r.team == team_id),
                "shifts": tuple(s for s in config.shifts if s.team == team_id),
                "overrides": tuple(o for o in config.overrides if o.team == team_id),
                "people": (),
                "regions": (),
                "municipalities": (),
                "basisteams": (),
                "teams": (),
                "rules": (),
            }
        )
    )
    return {
        "people": people,
        "rotations": doc.get("rotations", []),
        "shifts": [{**s, "key": f"{s['team']}/{s['person']}/{s['start']}"} for s in doc["shifts"]],
        "overrides": doc.get("overrides", []),
    }


@router.get(
    "/planner/teams/{team}",
    response_class=HTMLResponse,
    dependencies=[auth.page_roles(Role.PLANNER)],
)
def planner_team(
    team: SlugPath,
    request: Request,
    session: DbReader,
    snapshot: Snapshot,
    clock: AppClock,
    viewer: Viewer,
    start: DateQuery = None,
    view: Annotated[str, Query(pattern=r"^(week|month)$")] = "week",
) -> Response:
    refused = _gate(request, viewer)
    if refused is not None or viewer is None:
        return refused or RedirectResponse("/login", status_code=303)
    session.close()
    found = snapshot.teams.get(team)
    principal = viewer.principal
    if found is None or (
        principal.role is not Role.ADMIN
        and found.region is not None
        and not principal.plans(found.region)
    ):
        raise HTTPException(404, detail=f"unknown team '{team}'")
    today = clock.now().astimezone(AMS).date()
    try:
        first = date.fromisoformat(start) if start else today
    except ValueError as exc:
        raise HTTPException(422, detail="start: not a date (YYYY-MM-DD)") from exc
    region = snapshot.regions.get(found.region or "")
    data = {
        "team": {"id": found.id, "name": found.name, "region": found.region},
        "start": first.isoformat(),
        "today": today.isoformat(),
        "view": view,
        "labels": texts.PLANNER_NL,
        "may_edit": principal.role is Role.ADMIN
        or (found.region is not None and principal.plans(found.region)),
        **_team_data(snapshot, team),
    }
    response = templates.TemplateResponse(
        request,
        "planner_team.html",
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "team": found,
            "region": region,
            "page_data": data,
            "version": snapshot.version,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response

"""The evaluation report: JSON, a CSV export for Excel, and a Dutch page with charts.

Planners and admins, for a region they plan (another region: 403; operators and feeds
are refused by their role). The period is whole Amsterdam days, ``start`` to ``end``
inclusive, at most ``evaluation.MAX_DAYS``; by default the last 30 days up to today.
The figures come from ``dispatch.evaluation_store`` (a projection of the events) and
``dispatch.evaluation`` (the table). Each view is audited with its region and period.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from access.principal import Principal, Role
from api import audit, auth, svg
from api.bounds import RegionId
from api.deps import AppClock, DbSession, Planner, Snapshot
from api.errors import InvalidInput
from api.routers.pages import Viewer, templates
from core import texts
from core.timeutil import AMS
from dispatch import evaluation, evaluation_store
from oncall.snapshot import ConfigSnapshot

router = APIRouter(tags=["evaluation"])

DATE_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
DEFAULT_DAYS = 30
DayQuery = Annotated[
    str | None,
    Query(
        pattern=DATE_PATTERN,
        max_length=10,
        description="A local (Amsterdam) day, YYYY-MM-DD",
    ),
]
Table = Literal["teams", "hours", "weekdays", "days"]


class DurationsRead(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class FiguresRead(BaseModel):
    incidents: int
    joint_approach: int
    consults: int
    without_vt: int
    outcomes: dict[str, int]
    declines: int
    paging_unanswered: int
    to_accept: DurationsRead
    to_arrival: DurationsRead


class TeamFiguresRead(FiguresRead):
    team: str | None
    name: str


class HourRead(BaseModel):
    hour: int
    incidents: int
    joint_approach: int


class WeekdayRead(BaseModel):
    weekday: str
    incidents: int
    joint_approach: int


class DayRead(BaseModel):
    date: date
    incidents: int
    joint_approach: int


class EvaluationRead(BaseModel):
    region: str
    region_name: str
    start: date
    end: date
    timezone: str
    totals: FiguresRead
    by_hour: list[HourRead]
    by_weekday: list[WeekdayRead]
    by_day: list[DayRead]
    teams: list[TeamFiguresRead]


@dataclass(frozen=True)
class Asked:
    region: str
    start: date
    end: date


def _day(name: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(name, f"not a calendar day ({text})") from exc


def allowed_regions(principal: Principal, snapshot: ConfigSnapshot) -> list[str]:
    """The regions whose evaluation this caller may read, by name."""
    ids = [r for r in snapshot.regions if principal.plans(r)]
    return sorted(ids, key=lambda r: snapshot.regions[r].name)


def resolve(
    principal: Principal,
    snapshot: ConfigSnapshot,
    region: str | None,
    start: str | None,
    end: str | None,
    today: date,
) -> Asked:
    """The region and period asked for: 422 naming the field, 404 for a region that
    does not exist, 403 for one the caller does not plan."""
    if region is None:
        mine = allowed_regions(principal, snapshot)
        if len(mine) != 1:
            raise InvalidInput("region", "required (a region id)", "missing")
        region = mine[0]
    if region not in snapshot.regions:
        raise HTTPException(404, detail=f"unknown region '{region}'")
    if not principal.plans(region):
        raise HTTPException(
            403, detail=f"region: '{region}' is outside the regions of {principal.actor}"
        )
    last = _day("end", end) or today
    first = _day("start", start) or last - timedelta(days=DEFAULT_DAYS - 1)
    problem = evaluation.check_period(first, last)
    if problem is not None:
        raise InvalidInput("end" if last < first else "start", problem)
    return Asked(region, first, last)


def compute(session: Session, asked: Asked) -> evaluation.Report:
    first, after = evaluation.period_bounds(asked.start, asked.end)
    facts = evaluation_store.facts(session, asked.region, first, after)
    return evaluation.report(asked.region, asked.start, asked.end, facts)


def team_name(snapshot: ConfigSnapshot, team: str | None) -> str:
    if team is None:
        return texts.EVALUATION_NL["no_team"]
    found = snapshot.teams.get(team)
    return found.name if found is not None else team


def as_read(report: evaluation.Report, snapshot: ConfigSnapshot) -> dict[str, Any]:
    data = report.as_dict()
    data["region_name"] = snapshot.regions[report.region_id].name
    for row in data["teams"]:
        row["name"] = team_name(snapshot, row["team"])
    return data


def _today(clock: Any) -> date:
    today: date = clock.now().astimezone(AMS).date()
    return today


def _audit(
    session: Session, request: Request, principal: Principal, action: str, asked: Asked
) -> None:
    audit.note(
        session,
        request,
        principal,
        action,
        "evaluation",
        asked.region,
        detail={"start": asked.start.isoformat(), "end": asked.end.isoformat()},
        region=asked.region,
    )
    session.commit()


@router.get(
    "/api/v1/evaluation",
    response_model=EvaluationRead,
    summary="The evaluation of a region over a period (from the recorded events)",
    responses={404: {"description": "Unknown region"}},
)
def evaluation_json(
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
    caller: Planner,
    region: RegionId = None,
    start: DayQuery = None,
    end: DayQuery = None,
) -> dict[str, Any]:
    """Incidents, how often the joint approach was applied (joint on scene, phone or
    video consult), the other outcomes, declines, the times from the report to the
    first acceptance and to arrival (median, 90th percentile), by hour of day and day
    of week (Amsterdam time) and per team. ``start``/``end`` are local days, inclusive."""
    asked = resolve(caller, snapshot, region, start, end, _today(clock))
    report = compute(session, asked)
    _audit(session, request, caller, "evaluation.view", asked)
    return as_read(report, snapshot)


# --- CSV -----------------------------------------------------------------------------------


def _minutes(seconds: float | None) -> str:
    """Minutes with a decimal comma (Dutch Excel), empty when there is nothing."""
    if seconds is None:
        return ""
    return f"{seconds / 60:.1f}".replace(".", ",")


def _cell(value: Any) -> str:
    """A cell Excel will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


FIGURE_COLUMNS = (
    "incidents",
    "joint_approach",
    "joint_on_scene",
    "consults",
    "phone_consult",
    "video_consult",
    "police_call",
    "without_vt",
    "no_consult",
    "cancelled",
    "no_responder",
    "open",
    "declines",
    "paging_unanswered",
    "accept_median",
    "accept_p90",
    "arrival_median",
    "arrival_p90",
)


def _figure_cells(f: evaluation.Figures) -> list[Any]:
    values: dict[str, Any] = {
        "incidents": f.incidents,
        "joint_approach": f.applied,
        "consults": f.consults,
        "without_vt": f.without_vt,
        "declines": f.declines,
        "paging_unanswered": f.unanswered,
        "accept_median": _minutes(f.accept.median),
        "accept_p90": _minutes(f.accept.p90),
        "arrival_median": _minutes(f.arrival.median),
        "arrival_p90": _minutes(f.arrival.p90),
        **f.outcomes,
    }
    return [values[c] for c in FIGURE_COLUMNS]


def csv_rows(report: evaluation.Report, snapshot: ConfigSnapshot, table: Table) -> list[list[Any]]:
    """The rows of the export (header first)."""
    nl = texts.EVALUATION_CSV_NL
    region = snapshot.regions[report.region_id].name
    period: list[Any] = [report.start.isoformat(), report.end.isoformat()]
    rows: list[list[Any]]
    if table == "teams":
        header = [nl["region"], nl["start"], nl["end"], nl["team"]]
        rows = [header + [nl[c] for c in FIGURE_COLUMNS]]
        rows.append([region, *period, nl["total"], *_figure_cells(report.total)])
        for team, figures in report.teams:
            rows.append([region, *period, team_name(snapshot, team), *_figure_cells(figures)])
        return rows
    slots: list[tuple[str, evaluation.Slot]]
    if table == "hours":
        key = nl["hour"]
        slots = [(f"{h:02d}:00", s) for h, s in enumerate(report.by_hour)]
    elif table == "weekdays":
        key = nl["weekday"]
        slots = [
            (texts.WEEKDAY_NL[evaluation.WEEKDAYS[d]], s) for d, s in enumerate(report.by_weekday)
        ]
    else:
        key = nl["day"]
        slots = [(d.isoformat(), s) for d, s in report.by_day]
    rows = [[nl["region"], nl["start"], nl["end"], key, nl["incidents"], nl["joint_approach"]]]
    for label, s in slots:
        rows.append([region, *period, label, s.incidents, s.applied])
    return rows


def to_csv(rows: list[list[Any]]) -> bytes:
    """``;``-separated, CRLF, UTF-8 with a byte-order mark (Excel reads it as UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@router.get(
    "/api/v1/evaluation.csv",
    summary="The evaluation as CSV for Excel (';', UTF-8 with BOM, Dutch column names)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        404: {"description": "Unknown region"},
    },
)
def evaluation_csv(
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
    caller: Planner,
    region: RegionId = None,
    start: DayQuery = None,
    end: DayQuery = None,
    table: Annotated[
        Table,
        Query(description="teams (the table, a total and a row per team), hours, weekdays, days"),
    ] = "teams",
) -> Response:
    asked = resolve(caller, snapshot, region, start, end, _today(clock))
    report = compute(session, asked)
    _audit(session, request, caller, "evaluation.export", asked)
    name = f"evaluatie-{asked.region}-{asked.start}-{asked.end}-{table}.csv"
    return Response(
        to_csv(csv_rows(report, snapshot, table)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


# --- the page --------------------------------------------------------------------------------


def _minutes_nl(seconds: float | None) -> str:
    if seconds is None:
        return texts.EVALUATION_NL["none"]
    return texts.EVALUATION_NL["minutes"].format(value=_minutes(seconds))


def charts(report: evaluation.Report) -> dict[str, Any]:
    nl = texts.EVALUATION_NL
    two = (nl["chart_incidents"], nl["chart_applied"])
    hours = [f"{h:02d}" for h in range(24)]
    days = [texts.DAY_NL[d] for d in evaluation.WEEKDAYS]
    outcomes = [
        (texts.EVALUATION_BUCKET_NL[b], report.total.outcomes[b]) for b in evaluation.BUCKETS
    ]
    return {
        "outcomes": svg.hbar_chart(nl["outcomes"], nl["outcome_desc"], outcomes),
        "hours": svg.bar_chart(
            nl["by_hour"],
            nl["hour_desc"],
            hours,
            [
                (two[0], [s.incidents for s in report.by_hour]),
                (two[1], [s.applied for s in report.by_hour]),
            ],
        ),
        "weekdays": svg.bar_chart(
            nl["by_weekday"],
            nl["weekday_desc"],
            days,
            [
                (two[0], [s.incidents for s in report.by_weekday]),
                (two[1], [s.applied for s in report.by_weekday]),
            ],
        ),
        "days": svg.line_chart(
            nl["by_day"],
            nl["day_desc"],
            [d.strftime("%d-%m") for d, _s in report.by_day],
            [
                (two[0], [s.incidents for _d, s in report.by_day]),
                (two[1], [s.applied for _d, s in report.by_day]),
            ],
            width=1100,
        ),
    }


@router.get(
    "/evaluatie",
    response_class=HTMLResponse,
    dependencies=[auth.page_roles(Role.PLANNER)],
)
def evaluation_page(
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
    viewer: Viewer,
    region: RegionId = None,
    start: DayQuery = None,
    end: DayQuery = None,
) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    principal = viewer.principal
    mine = allowed_regions(principal, snapshot)
    if principal.role not in (Role.PLANNER, Role.ADMIN) or not mine:
        return templates.TemplateResponse(
            request, "refused.html", {"viewer": viewer, "csrf": viewer.csrf}, status_code=403
        )
    try:
        asked = resolve(principal, snapshot, region or mine[0], start, end, _today(clock))
    except HTTPException as refused:  # another region, or none such: the page says so
        return templates.TemplateResponse(
            request,
            "refused.html",
            {"viewer": viewer, "csrf": viewer.csrf},
            status_code=refused.status_code,
        )
    report = compute(session, asked)
    _audit(session, request, principal, "evaluation.view", asked)
    query = f"region={asked.region}&start={asked.start}&end={asked.end}"
    response = templates.TemplateResponse(
        request,
        "evaluation.html",
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "nl": texts.EVALUATION_NL,
            "buckets": [(b, texts.EVALUATION_BUCKET_NL[b]) for b in evaluation.BUCKETS],
            "weekdays": [texts.WEEKDAY_NL[d] for d in evaluation.WEEKDAYS],
            "regions": [(r, snapshot.regions[r].name) for r in mine],
            "asked": asked,
            "region_name": snapshot.regions[asked.region].name,
            "report": report,
            "teams": [(team_name(snapshot, t), f) for t, f in report.teams],
            "charts": charts(report),
            "minutes": _minutes_nl,
            "csv_url": f"/api/v1/evaluation.csv?{query}",
            "csv_query": query,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response

"""The planner's read routes: team calendars, the region overview, gaps, who could fill
a gap, and rest and fairness counts.

All of it is computed from the cached snapshot of the active configuration by the pure
functions of ``oncall.calendar``, ``oncall.gaps`` and ``oncall.fairness``, off the event
loop and within the service's time limit (``api.work``). Ranges are bounded so each
request stays short. Reading another region's team answers 404 (as if it did not
exist for the caller); national partner teams are visible to every planner.

Dates in and out are ISO 8601; a value without an offset is Amsterdam time, a date
alone is its local midnight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.principal import Principal
from api import scope, work
from api.bounds import Instant, SlugPath
from api.deps import AppClock, AppSettings, DbReader, Planner, RosterReader, Snapshot
from api.errors import InvalidInput
from core.texts import GAP_NL, TIGHT_NL, UNREACHABLE_NL
from core.timeutil import AMS, ensure_utc
from dispatch.models import Assignment
from dispatch.states import AssignmentStatus
from oncall import calendar, fairness, gaps
from oncall.schemas import parse_local_datetime
from oncall.scope import wall_to_utc
from oncall.snapshot import ConfigSnapshot

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])

MAX_CALENDAR_DAYS = 62
MAX_OVERVIEW_WEEKS = 9
MAX_GAP_DAYS = 56
MAX_CANDIDATE_DAYS = 31

TeamPath = SlugPath
StartQuery = Annotated[
    Instant | None,
    Query(description="ISO date or date-time; without offset Amsterdam time; default today"),
]
EndQuery = Annotated[
    Instant | None,
    Query(description="ISO date or date-time (exclusive); default 7 days after start"),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown team or region, or one outside your regions"}
}


# --- response shapes --------------------------------------------------------------


class BlockRead(BaseModel):
    person: str
    name: str
    layer: str
    start: datetime
    end: datetime
    source: str
    source_id: str | None
    reachable: bool


class NeedRead(BaseModel):
    rules: list[str]
    staff: int
    start: datetime
    end: datetime


class GapOut(BaseModel):
    team: str
    rules: list[str]
    start: datetime
    end: datetime
    minutes: int
    needed: int
    available: int
    text: str


class TightRead(BaseModel):
    """Covered with no one to spare: one person falling out makes a gap ("krap")."""

    start: datetime
    end: datetime
    minutes: int
    needed: int
    text: str


class UnreachableRead(BaseModel):
    person: str
    name: str
    reason: str
    text: str


class CalendarRead(BaseModel):
    team: str
    team_name: str
    region: str | None
    start: datetime
    end: datetime
    blocks: list[BlockRead]
    needs: list[NeedRead]
    gaps: list[GapOut]
    tight: list[TightRead]  # covered, but with no one to spare


class DayRead(BaseModel):
    date: date
    gap_minutes: int
    least_available: int | None  # fewest reachable people on call while a rule needs them
    thin: bool  # any gap that day
    tight_minutes: int  # covered with no one to spare (one falling out makes a gap)


class TeamOverview(BaseModel):
    team: str
    team_name: str
    gap_minutes: int
    gaps: list[GapOut]
    tight_minutes: int  # covered, but with no one to spare
    days: list[DayRead]
    blocks: list[BlockRead] | None = None


class OverviewRead(BaseModel):
    region: str
    start: datetime
    end: datetime
    teams: list[TeamOverview]


class GapsRead(BaseModel):
    team: str
    team_name: str
    start: datetime
    end: datetime
    gaps: list[GapOut]
    unreachable: list[UnreachableRead]


class CandidateRead(BaseModel):
    person: str
    name: str
    hours_this_quarter: float
    reasons: list[str]


class CountsRead(BaseModel):
    person: str
    name: str
    hours: float
    shifts: int
    nights: int
    weekends: int
    holidays: int


class BreachRead(BaseModel):
    code: str
    person: str
    name: str
    rule: str
    text: str
    start: datetime | None


class FairnessRead(BaseModel):
    team: str
    quarter: str
    start: datetime
    end: datetime
    counts: list[CountsRead]
    breaches: list[BreachRead]


# --- helpers ----------------------------------------------------------------------


def _instant(name: str, text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        return ensure_utc(parse_local_datetime(text))
    except ValueError as exc:
        raise InvalidInput(name, str(exc)) from exc


def _today(now: datetime) -> datetime:
    return wall_to_utc(datetime.combine(now.astimezone(AMS).date(), time()))


def _range(
    start: str | None, end: str | None, now: datetime, days: int, default_days: int = 7
) -> tuple[datetime, datetime]:
    lo = _instant("start", start, _today(now))
    hi = _instant("end", end, lo + timedelta(days=min(default_days, days)))
    if hi <= lo:
        raise InvalidInput("end", "must be after 'start'")
    if hi - lo > timedelta(days=days):
        raise InvalidInput("end", f"at most {days} days after 'start'")
    return lo, hi


def visible_team(caller: Principal, snapshot: ConfigSnapshot, team_id: str) -> None:
    """404 for an unknown team or one outside the caller's regions."""
    team = snapshot.teams.get(team_id)
    mine = scope.visible_regions(caller, snapshot)
    if team is None or (mine is not None and team.region is not None and team.region not in mine):
        raise HTTPException(status_code=404, detail=f"no team '{team_id}'")


def _visible_region(caller: Principal, snapshot: ConfigSnapshot, region: str) -> None:
    mine = scope.visible_regions(caller, snapshot)
    if region not in snapshot.regions or (mine is not None and region not in mine):
        raise HTTPException(status_code=404, detail=f"no region '{region}'")


def _team_people(snapshot: ConfigSnapshot, team_id: str) -> list[str]:
    """Members and everyone a roster of the team names (the call-outs that matter)."""
    people = dict.fromkeys(snapshot.members.get(team_id, {}))
    people.update(dict.fromkeys(p for p, _ in gaps.unreachable(snapshot, team_id)))
    for rotation in snapshot.config.rotations:
        if rotation.team == team_id:
            people.update(dict.fromkeys(rotation.participants))
    return list(people)


def _names(snapshot: ConfigSnapshot) -> dict[str, str]:
    return {p.id: p.name for p in snapshot.config.people}


def _block(b: calendar.Block, names: dict[str, str]) -> BlockRead:
    return BlockRead(
        person=b.person,
        name=names.get(b.person, b.person),
        layer=b.layer,
        start=b.start,
        end=b.end,
        source=b.source,
        source_id=b.source_id,
        reachable=b.reachable,
    )


def _gap(g: calendar.Gap) -> GapOut:
    return GapOut(
        team=g.team,
        rules=list(g.rules),
        start=g.start,
        end=g.end,
        minutes=g.minutes,
        needed=g.needed,
        available=g.available,
        text=GAP_NL.format(needed=g.needed, available=g.available),
    )


def _tight(t: calendar.Tight) -> TightRead:
    return TightRead(
        start=t.start,
        end=t.end,
        minutes=t.minutes,
        needed=t.needed,
        text=TIGHT_NL.format(needed=t.needed),
    )


def _overlap_minutes(
    spans: Sequence[calendar.Gap | calendar.Tight], lo: datetime, hi: datetime
) -> int:
    minutes = 0
    for s in spans:
        a, b = max(s.start, lo), min(s.end, hi)
        if b > a:
            minutes += int((b - a).total_seconds() // 60)
    return minutes


def _days(cal: calendar.TeamCalendar) -> list[DayRead]:
    """Per local day of the range: minutes of gap and the thinnest cover."""
    first = cal.start.astimezone(AMS).date()
    last = (cal.end - timedelta(microseconds=1)).astimezone(AMS).date()
    out: list[DayRead] = []
    day = first
    while day <= last:
        lo = max(cal.start, wall_to_utc(datetime.combine(day, time())))
        hi = min(cal.end, wall_to_utc(datetime.combine(day + timedelta(days=1), time())))
        minutes = _overlap_minutes(cal.gaps, lo, hi)
        least: int | None = None
        for need in cal.needs:
            if need.start < hi and need.end > lo:
                count = _least_reachable(cal, max(need.start, lo), min(need.end, hi))
                least = count if least is None else min(least, count)
        out.append(
            DayRead(
                date=day,
                gap_minutes=minutes,
                least_available=least,
                thin=minutes > 0,
                tight_minutes=_overlap_minutes(cal.tight, lo, hi),
            )
        )
        day += timedelta(days=1)
    return out


def _least_reachable(cal: calendar.TeamCalendar, lo: datetime, hi: datetime) -> int:
    """Fewest reachable people on call at once within [lo, hi)."""
    inside = [b for b in cal.blocks if b.reachable and b.start < hi and b.end > lo]
    points = sorted(
        {lo, *(b.start for b in inside if b.start > lo), *(b.end for b in inside if b.end < hi)}
    )
    return min(sum(1 for b in inside if b.start <= t < b.end) for t in points)


def night_callouts(
    session: Session, people: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """Accepted call-outs at night (00:00-07:00 local) of these people, for any team,
    from four weeks before [start, end) (the rest rule looks back) up to its end."""
    if not people:
        return []
    rows = session.execute(
        select(Assignment.person_id, Assignment.answered_at).where(
            Assignment.person_id.in_(list(people)),
            Assignment.status == AssignmentStatus.ACCEPTED.value,
            Assignment.person_id.is_not(None),
            Assignment.answered_at >= start - fairness.FOUR_WEEKS,
            Assignment.answered_at < end,
        )
    )
    out: list[tuple[str, datetime]] = []
    for person, at in rows:
        if person is None or at is None:
            continue
        when = ensure_utc(at) if at.tzinfo else at.replace(tzinfo=UTC)
        if fairness.is_night(when):
            out.append((str(person), when))
    return out


# --- routes -----------------------------------------------------------------------


@router.get(
    "/teams/{team_id}/calendar",
    response_model=CalendarRead,
    summary="A team's calendar: who is on call, the rules' windows and the gaps",
    responses=NOT_FOUND,
)
async def team_calendar(
    team_id: TeamPath,
    snapshot: Snapshot,
    session: DbReader,
    clock: AppClock,
    settings: AppSettings,
    caller: RosterReader,
    start: StartQuery = None,
    end: EndQuery = None,
) -> CalendarRead:
    """At most 62 days; blocks are primary and backup, with overrides and explicit shifts
    marked by their source."""
    visible_team(caller, snapshot, team_id)
    lo, hi = _range(start, end, clock.now(), MAX_CALENDAR_DAYS)
    session.close()

    def job(deadline: work.Deadline) -> CalendarRead:
        cal = calendar.team_calendar(snapshot, team_id, lo, hi, check=deadline.check)
        names = _names(snapshot)
        team = snapshot.teams[team_id]
        return CalendarRead(
            team=team_id,
            team_name=team.name,
            region=team.region,
            start=lo,
            end=hi,
            blocks=[_block(b, names) for b in cal.blocks],
            needs=[
                NeedRead(rules=list(n.rules), staff=n.staff, start=n.start, end=n.end)
                for n in cal.needs
            ],
            gaps=[_gap(g) for g in cal.gaps],
            tight=[_tight(t) for t in cal.tight],
        )

    return await work.run(job, seconds=settings.work_timeout_seconds, what="a team calendar")


@router.get(
    "/regions/{region_id}/overview",
    response_model=OverviewRead,
    summary="Every team of a region over the coming weeks: where coverage is thin",
    responses=NOT_FOUND,
)
async def region_overview(
    region_id: SlugPath,
    snapshot: Snapshot,
    session: DbReader,
    clock: AppClock,
    settings: AppSettings,
    caller: RosterReader,
    start: StartQuery = None,
    weeks: Annotated[int, Query(ge=1, le=MAX_OVERVIEW_WEEKS, description="Weeks (1-9)")] = 8,
    blocks: Annotated[bool, Query(description="Include every team's blocks")] = False,
) -> OverviewRead:
    _visible_region(caller, snapshot, region_id)
    lo = _instant("start", start, _today(clock.now()))
    hi = lo + timedelta(weeks=weeks)
    session.close()

    def job(deadline: work.Deadline) -> OverviewRead:
        names = _names(snapshot)
        teams: list[TeamOverview] = []
        for cal in calendar.region_overview(snapshot, region_id, lo, hi, check=deadline.check):
            teams.append(
                TeamOverview(
                    team=cal.team,
                    team_name=snapshot.teams[cal.team].name,
                    gap_minutes=sum(g.minutes for g in cal.gaps),
                    gaps=[_gap(g) for g in cal.gaps],
                    tight_minutes=sum(t.minutes for t in cal.tight),
                    days=_days(cal),
                    blocks=[_block(b, names) for b in cal.blocks] if blocks else None,
                )
            )
        return OverviewRead(region=region_id, start=lo, end=hi, teams=teams)

    return await work.run(job, seconds=settings.work_timeout_seconds, what="a region overview")


@router.get(
    "/teams/{team_id}/gaps",
    response_model=GapsRead,
    summary="Where fewer reachable people are on call than a rule needs; who cannot be reached",
    responses=NOT_FOUND,
)
async def team_gaps(
    team_id: TeamPath,
    snapshot: Snapshot,
    session: DbReader,
    clock: AppClock,
    settings: AppSettings,
    caller: RosterReader,
    start: StartQuery = None,
    end: EndQuery = None,
) -> GapsRead:
    """At most 56 days (default the coming 8 weeks from today)."""
    visible_team(caller, snapshot, team_id)
    lo, hi = _range(start, end, clock.now(), MAX_GAP_DAYS, default_days=MAX_GAP_DAYS)
    session.close()

    def job(deadline: work.Deadline) -> GapsRead:
        found = gaps.find_gaps(snapshot, team_id, lo, hi, check=deadline.check)
        names = _names(snapshot)
        missing = gaps.unreachable(snapshot, team_id, start=lo, end=hi)
        return GapsRead(
            team=team_id,
            team_name=snapshot.teams[team_id].name,
            start=lo,
            end=hi,
            gaps=[_gap(g) for g in found],
            unreachable=[
                UnreachableRead(
                    person=p, name=names.get(p, p), reason=code, text=UNREACHABLE_NL.get(code, code)
                )
                for p, code in missing
            ],
        )

    return await work.run(job, seconds=settings.work_timeout_seconds, what="coverage gaps")


@router.get(
    "/teams/{team_id}/gaps/candidates",
    response_model=list[CandidateRead],
    summary="Who could fill a gap: free, active, reachable, within the rest rules",
    responses=NOT_FOUND,
)
async def gap_candidates(
    team_id: TeamPath,
    snapshot: Snapshot,
    session: DbReader,
    clock: AppClock,
    settings: AppSettings,
    caller: Planner,
    start: Annotated[Instant, Query(description="Start of the gap (ISO; Amsterdam time)")],
    end: Annotated[Instant, Query(description="End of the gap, exclusive (at most 31 days)")],
) -> list[CandidateRead]:
    """Fewest on-call hours in the quarter of the gap first."""
    visible_team(caller, snapshot, team_id)
    now = clock.now()
    lo, hi = _range(start, end, now, MAX_CANDIDATE_DAYS)
    callouts = night_callouts(session, _team_people(snapshot, team_id), lo, hi)
    session.close()

    def job(deadline: work.Deadline) -> list[CandidateRead]:
        deadline.check()
        found = fairness.candidates(snapshot, team_id, lo, hi, callouts=callouts, now=now)
        return [
            CandidateRead(
                person=c.person,
                name=c.name,
                hours_this_quarter=c.hours_this_quarter,
                reasons=list(c.reasons),
            )
            for c in found
        ]

    return await work.run(job, seconds=settings.work_timeout_seconds, what="gap candidates")


@router.get(
    "/teams/{team_id}/fairness",
    response_model=FairnessRead,
    summary="Per person a quarter's hours, shifts, nights, weekends and holidays; rule breaches",
    responses=NOT_FOUND,
)
async def team_fairness(
    team_id: TeamPath,
    snapshot: Snapshot,
    session: DbReader,
    clock: AppClock,
    settings: AppSettings,
    caller: Planner,
    quarter: Annotated[
        str | None,
        Query(
            min_length=7,
            max_length=7,
            pattern=r"^(20[0-9]{2}|2100)-[Qq][1-4]$",
            description="e.g. 2026-Q4; default the current quarter",
        ),
    ] = None,
) -> FairnessRead:
    visible_team(caller, snapshot, team_id)
    local_now = clock.now().astimezone(AMS)
    label = (quarter or f"{local_now.year}-Q{(local_now.month - 1) // 3 + 1}").upper()
    try:
        lo, hi = fairness.parse_quarter(label)
    except ValueError as exc:
        raise InvalidInput("quarter", str(exc)) from exc
    callouts = night_callouts(session, _team_people(snapshot, team_id), lo, hi)
    session.close()

    def job(deadline: work.Deadline) -> FairnessRead:
        names = _names(snapshot)
        per_person = fairness.counts(snapshot, team_id, lo, hi)
        deadline.check()
        found = fairness.breaches(snapshot, team_id, lo, hi, callouts)
        return FairnessRead(
            team=team_id,
            quarter=label,
            start=lo,
            end=hi,
            counts=[
                CountsRead(
                    person=c.person,
                    name=names.get(c.person, c.person),
                    hours=c.hours,
                    shifts=c.shifts,
                    nights=c.nights,
                    weekends=c.weekends,
                    holidays=c.holidays,
                )
                for c in per_person.values()
            ],
            breaches=[
                BreachRead(
                    code=b.code,
                    person=b.person,
                    name=names.get(b.person, b.person),
                    rule=b.rule,
                    text=b.text,
                    start=b.start,
                )
                for b in found
            ],
        )

    return await work.run(job, seconds=settings.work_timeout_seconds, what="fairness counts")

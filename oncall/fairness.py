"""Rest and fairness: a team's planning rules checked against its calendar.

The rules are a team's ``planning`` settings (``oncall.schemas.Planning``); breaking one
is a warning with a Dutch reason, not a refusal (a planner may still save the change).

Definitions, so that a planner and this code mean the same thing:

* A *shift* (piketdienst) is a stretch in which a person is on call for the team without
  interruption, whatever made them so (rotation, shift, override, primary or backup):
  a Friday 17:00 - Monday 09:00 piket is one shift, however many windows it spans.
* *Any 4 weeks* is any 28-day stretch: the most shifts (starting in it) and the most
  hours (on call within it) over all such stretches are compared with the limits.
* *Night* is 00:00-07:00 Amsterdam time. A night call-out is an assignment the person
  accepted at night (the API reads them from the database; here they are given). After
  one, the next shift that starts later must start at least ``min_rest_hours_after_night``
  hours after the call-out.
* A *weekend shift* is being on call at some time on Saturday or Sunday (local); with
  ``no_consecutive_weekends`` nobody has two weekends in a row.

Everything is pure: the snapshot (or two, before and after a change) and the call-outs
in, breaches and counts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.texts import BREACH_NL, BREACH_RULE_NL, CANDIDATE_NL
from core.timeutil import AMS, ensure_utc, is_public_holiday
from oncall.calendar import Block, _walk, is_reachable
from oncall.schemas import Planning
from oncall.scope import date_nl, wall_to_utc
from oncall.snapshot import ConfigSnapshot

NIGHT_START_HOUR = 0  # local; a night is 00:00-07:00 Amsterdam time
NIGHT_END_HOUR = 7
FOUR_WEEKS = timedelta(days=28)
MAX_QUARTER_SPAN = timedelta(days=93)  # a quarter with the October hour is 92 days and 1 hour

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Breach:
    code: str  # max_shifts_4w | max_hours_4w | min_rest_after_night | consecutive_weekends
    team: str
    person: str
    rule: str  # the rule in Dutch, e.g. "meeste piketdiensten in 4 weken"
    text: str  # why, in Dutch, with the numbers
    start: datetime | None  # where it starts (the 4 weeks, the shift, the weekend)


@dataclass(frozen=True)
class Counts:
    person: str
    hours: float
    shifts: int
    nights: int
    weekends: int
    holidays: int


@dataclass(frozen=True)
class Candidate:
    person: str
    name: str
    hours_this_quarter: float
    reasons: tuple[str, ...]


# --- shared helpers ---------------------------------------------------------------


def _name(snapshot: ConfigSnapshot, person: str) -> str:
    found = snapshot.people.get(person)
    return found.name if found else person


def _local_text(at: datetime) -> str:
    local = ensure_utc(at).astimezone(AMS)
    return f"{date_nl(local.date())} {local:%H:%M}"


def shifts_of(blocks: Iterable[Block]) -> dict[str, list[Span]]:
    """Per person, the blocks merged into shifts (touching or overlapping ones joined)."""
    spans: dict[str, list[Span]] = {}
    for block in blocks:
        spans.setdefault(block.person, []).append((block.start, block.end))
    return {person: _merge(items) for person, items in spans.items()}


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _clipped_hours(spans: Sequence[Span], lo: datetime, hi: datetime) -> float:
    total = 0.0
    for a, b in spans:
        a, b = max(a, lo), min(b, hi)
        if b > a:
            total += (b - a).total_seconds()
    return total / 3600


def _hours_text(hours: float) -> str:
    return f"{hours:.1f}".rstrip("0").rstrip(".").replace(".", ",")


def _local_dates(lo: datetime, hi: datetime) -> list[date]:
    """Local dates touched by [lo, hi)."""
    first = lo.astimezone(AMS).date()
    last = (hi - timedelta(microseconds=1)).astimezone(AMS).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _midnight(day: date) -> datetime:
    return wall_to_utc(datetime.combine(day, time()))


def _night(day: date) -> Span:
    return _midnight(day), wall_to_utc(datetime.combine(day, time(NIGHT_END_HOUR)))


def is_night(at: datetime) -> bool:
    """00:00-07:00 Amsterdam time."""
    return NIGHT_START_HOUR <= ensure_utc(at).astimezone(AMS).hour < NIGHT_END_HOUR


def _weekends(spans: Sequence[Span]) -> list[date]:
    """The Saturdays of the weekends (Sat 00:00 - Mon 00:00 local) the spans touch."""
    found: set[date] = set()
    for lo, hi in spans:
        for day in _local_dates(lo, hi):
            if day.weekday() >= 5:
                found.add(day - timedelta(days=day.weekday() - 5))
    return sorted(found)


def _touches(spans: Sequence[Span], lo: datetime, hi: datetime) -> bool:
    return any(a < hi and b > lo for a, b in spans)


# --- rule checks over one person's shifts -------------------------------------------


def _person_breaches(
    snapshot: ConfigSnapshot,
    team: str,
    person: str,
    planning: Planning,
    spans: Sequence[Span],
    lo: datetime,
    hi: datetime,
    callouts: Sequence[datetime],
) -> list[Breach]:
    """Breaches of ``person`` whose period touches [lo, hi)."""
    name = _name(snapshot, person)
    out: list[Breach] = []

    def breach(code: str, start: datetime | None, **params: object) -> None:
        text = BREACH_NL[code].format(name=name, **params)
        out.append(Breach(code, team, person, BREACH_RULE_NL[code], text, start))

    starts = [a for a, _ in spans]
    if planning.max_shifts_4w is not None:
        best, best_at = 0, None
        for i, first in enumerate(starts):
            if first + FOUR_WEEKS <= lo or first >= hi:
                continue
            count = sum(1 for s in starts[i:] if s < first + FOUR_WEEKS)
            if count > best:
                best, best_at = count, first
        if best > planning.max_shifts_4w and best_at is not None:
            breach(
                "max_shifts_4w",
                best_at,
                count=best,
                limit=planning.max_shifts_4w,
                since=_local_text(best_at),
            )
    if planning.max_hours_4w is not None:
        best_h, best_from = 0.0, None
        froms = sorted({a for a, _ in spans} | {b - FOUR_WEEKS for _, b in spans})
        for first in froms:
            if first + FOUR_WEEKS <= lo or first >= hi:
                continue
            hours = _clipped_hours(spans, first, first + FOUR_WEEKS)
            if hours > best_h + 1e-9:
                best_h, best_from = hours, first
        if best_h > planning.max_hours_4w + 1e-9 and best_from is not None:
            breach(
                "max_hours_4w",
                best_from,
                hours=_hours_text(best_h),
                limit=planning.max_hours_4w,
                since=_local_text(best_from),
            )
    if planning.min_rest_hours_after_night is not None:
        rest = timedelta(hours=planning.min_rest_hours_after_night)
        for when in sorted(set(callouts)):
            if not is_night(when):
                continue
            following = [a for a in starts if a > when]
            if not following:
                continue
            nxt = following[0]
            if nxt - when < rest and lo <= nxt < hi:
                breach(
                    "min_rest_after_night",
                    nxt,
                    callout=_local_text(when),
                    next=_local_text(nxt),
                    rest=_hours_text((nxt - when).total_seconds() / 3600),
                    limit=planning.min_rest_hours_after_night,
                )
    if planning.no_consecutive_weekends:
        saturdays = _weekends(spans)
        for saturday in saturdays:
            previous = saturday - timedelta(days=7)
            if previous not in saturdays:
                continue
            begins = _midnight(saturday)
            if not (_midnight(previous) < hi and begins + timedelta(days=2) > lo):
                continue
            breach(
                "consecutive_weekends",
                begins,
                first=f"weekend van {date_nl(previous)}",
                second=f"weekend van {date_nl(saturday)}",
            )
    return out


def _planning(snapshot: ConfigSnapshot, team: str) -> Planning | None:
    found = snapshot.teams.get(team)
    return found.planning if found else None


def _by_person(callouts: Iterable[tuple[str, datetime]]) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = {}
    for person, when in callouts:
        out.setdefault(person, []).append(ensure_utc(when))
    return out


def _team_shifts(
    snapshot: ConfigSnapshot, team: str, lo: datetime, hi: datetime
) -> dict[str, list[Span]]:
    return shifts_of(_walk(snapshot, team, lo, hi, coverage=False).blocks)


# --- public ---------------------------------------------------------------------


def breaches(
    snapshot: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    callouts: Sequence[tuple[str, datetime]] = (),
) -> list[Breach]:
    """Every breach of ``team``'s planning rules whose period touches [start, end)."""
    planning = _planning(snapshot, team)
    if planning is None:
        return []
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        raise ValueError("'to' must be after 'from'")
    if end - start > MAX_QUARTER_SPAN:
        raise ValueError(f"look at most {MAX_QUARTER_SPAN.days} days at once")
    # Four weeks either side: a window that touches the range may start or end outside it.
    shifts = _team_shifts(snapshot, team, start - FOUR_WEEKS, end + FOUR_WEEKS)
    calls = _by_person(callouts)
    out: list[Breach] = []
    for person in sorted(shifts):
        out.extend(
            _person_breaches(
                snapshot, team, person, planning, shifts[person], start, end, calls.get(person, [])
            )
        )
    return out


def _breach_key(b: Breach) -> tuple[str, str, str]:
    return (b.code, b.person, b.text)


def check(
    before: ConfigSnapshot,
    after: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    callouts: Sequence[tuple[str, datetime]] = (),
) -> list[Breach]:
    """The breaches a change from ``before`` to ``after`` introduces around [start, end).

    A breach already there is not repeated; one the change makes worse (other numbers)
    is, since its text changed."""
    old = {_breach_key(b) for b in breaches(before, team, start, end, callouts)}
    return [b for b in breaches(after, team, start, end, callouts) if _breach_key(b) not in old]


def counts(
    snapshot: ConfigSnapshot, team: str, start: datetime, end: datetime
) -> dict[str, Counts]:
    """Per person on ``team``'s calendar in [start, end) (a quarter on the page): hours on
    call, shifts begun, nights (00:00-07:00) on call, weekends and public holidays
    on call at some time."""
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        raise ValueError("'to' must be after 'from'")
    if end - start > MAX_QUARTER_SPAN:
        raise ValueError(f"look at most {MAX_QUARTER_SPAN.days} days at once")
    # A week before the range too: a shift that began before it is not counted again.
    shifts = _team_shifts(snapshot, team, start - timedelta(days=7), end)
    out: dict[str, Counts] = {}
    for person in sorted(shifts):
        whole = shifts[person]
        spans = [(max(a, start), b) for a, b in whole if b > start]
        if not spans:
            continue
        days = sorted({d for a, b in spans for d in _local_dates(a, b)})
        nights = sum(1 for d in days if _touches(spans, *_night(d)))
        holidays = sum(1 for d in days if is_public_holiday(d))
        saturdays = _weekends(spans)
        out[person] = Counts(
            person=person,
            hours=round(_clipped_hours(spans, start, end), 2),
            shifts=sum(1 for a, _ in whole if a >= start),
            nights=nights,
            weekends=len(saturdays),
            holidays=holidays,
        )
    return out


def quarter_span(day: date) -> Span:
    """UTC [start, end) of the calendar quarter (Amsterdam time) containing ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, first_month, 1)
    nxt = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    return _midnight(first), _midnight(nxt)


def parse_quarter(text: str) -> Span:
    """'2026-Q4' to its UTC [start, end); ValueError naming the form otherwise."""
    value = text.strip().upper()
    year, sep, q = value.partition("-Q")
    if not sep or not year.isdigit() or len(year) != 4 or q not in ("1", "2", "3", "4"):
        raise ValueError(f"'{text[:20]}' is not a quarter such as 2026-Q4")
    if not 2000 <= int(year) <= 2100:
        raise ValueError(f"year {year} is outside 2000..2100")
    return quarter_span(date(int(year), 3 * int(q) - 2, 1))


def candidates(
    snapshot: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    *,
    callouts: Sequence[tuple[str, datetime]] = (),
    now: datetime,
) -> list[Candidate]:
    """Who could fill [start, end) for ``team``: members who are active and reachable,
    not on call anywhere in that time, and for whom taking it breaks none of the team's
    rest and fairness rules; fewest on-call hours (all their teams) in the quarter of
    ``start`` first, then by name. Call-outs after ``now`` are ignored."""
    start, end, now = ensure_utc(start), ensure_utc(end), ensure_utc(now)
    if end <= start:
        raise ValueError("'to' must be after 'from'")
    if end - start > MAX_QUARTER_SPAN:
        raise ValueError(f"look at most {MAX_QUARTER_SPAN.days} days at once")
    members = [p for p in snapshot.members.get(team, {}) if is_reachable(snapshot, team, p)]
    q_lo, q_hi = quarter_span(start.astimezone(AMS).date())
    lo, hi = min(q_lo, start - FOUR_WEEKS), max(q_hi, end + FOUR_WEEKS)
    teams: dict[str, None] = {team: None}
    for person in members:
        for membership in snapshot.people[person].memberships:
            if membership.team in snapshot.teams:
                teams[membership.team] = None
    per_team = {t: _team_shifts(snapshot, t, lo, hi) for t in teams}
    planning = _planning(snapshot, team)
    calls = _by_person((p, w) for p, w in callouts if ensure_utc(w) <= now)
    out: list[Candidate] = []
    for person in members:
        everywhere = _merge(s for shifts in per_team.values() for s in shifts.get(person, []))
        if _touches(everywhere, start, end):
            continue
        if planning is not None:
            own = per_team[team].get(person, [])
            before = {
                _breach_key(b)
                for b in _person_breaches(
                    snapshot, team, person, planning, own, start, end, calls.get(person, [])
                )
            }
            after = _person_breaches(
                snapshot,
                team,
                person,
                planning,
                _merge([*own, (start, end)]),
                start,
                end,
                calls.get(person, []),
            )
            if any(_breach_key(b) not in before for b in after):
                continue
        hours = round(_clipped_hours(everywhere, q_lo, q_hi), 2)
        reasons = (
            CANDIDATE_NL["hours"].format(hours=_hours_text(hours)),
            CANDIDATE_NL["free"],
            CANDIDATE_NL["reachable"],
            CANDIDATE_NL["rules_ok"],
        )
        out.append(Candidate(person, _name(snapshot, person), hours, reasons))
    out.sort(key=lambda c: (c.hours_this_quarter, c.name, c.person))
    return out

"""Coverage gaps: when a rule says a team should answer but nobody reachable is on call.

Planners look ahead (the next week, the holidays) so a gap is fixed with an override
before an incident finds it at 3 a.m. Time is sampled on a fixed grid and every
roster boundary the grid crosses is found exactly by bisection, so a gap is
reported to the minute without generating roster rows (a gap shorter
than the grid step can slip between two samples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.timeutil import ensure_utc
from oncall.schemas import RuleRole
from oncall.scope import rule_in_hours
from oncall.snapshot import ConfigSnapshot

MAX_SPAN = timedelta(days=92)


@dataclass(frozen=True)
class Gap:
    team: str
    rules: tuple[str, ...]
    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def _reachable(snapshot: ConfigSnapshot, team: str, at: datetime) -> bool:
    members = snapshot.members.get(team, {})
    for entry in snapshot.on_call(team, at).entries:
        person = snapshot.people.get(entry.person)
        if person and person.active and person.phones and entry.person in members:
            return True
    return False


def _rules_needing(snapshot: ConfigSnapshot, team: str, at: datetime) -> tuple[str, ...]:
    hours = snapshot.office_hours(team)
    return tuple(
        r.id
        for r in snapshot.config.rules
        if r.team == team and r.role != RuleRole.PARTNER and rule_in_hours(r, at, hours)
    )


def _uncovered(snapshot: ConfigSnapshot, team: str, at: datetime) -> tuple[str, ...]:
    needing = _rules_needing(snapshot, team, at)
    if not needing or _reachable(snapshot, team, at):
        return ()
    return needing


def _edge(snapshot: ConfigSnapshot, team: str, lo: datetime, hi: datetime) -> datetime:
    """First minute in (lo, hi] whose state differs from lo's."""
    state = bool(_uncovered(snapshot, team, lo))
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(second=0, microsecond=0)
        if mid <= lo:
            break
        if bool(_uncovered(snapshot, team, mid)) == state:
            lo = mid
        else:
            hi = mid
    return hi


def find_gaps(
    snapshot: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    *,
    step: timedelta = timedelta(minutes=15),
    check: Callable[[], None] | None = None,
) -> list[Gap]:
    """Intervals in [start, end) where ``team`` should answer and nobody can be reached.

    ``check`` is called at every step of the grid (a time limit raises from it).
    """
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        raise ValueError("'to' must be after 'from'")
    if end - start > MAX_SPAN:
        raise ValueError(f"look at most {MAX_SPAN.days} days ahead at once")
    gaps: list[Gap] = []
    current = _uncovered(snapshot, team, start)
    opened = start if current else None
    rules: set[str] = set(current)
    t = start
    while t < end:
        if check is not None:
            check()
        nxt = min(t + step, end)
        state = _uncovered(snapshot, team, nxt) if nxt < end else ()
        if bool(state) != bool(current):
            edge = _edge(snapshot, team, t, nxt) if nxt < end else end
            if current and opened is not None:
                gaps.append(Gap(team, tuple(sorted(rules)), opened, edge))
                opened, rules = None, set()
            else:
                opened, rules = edge, set(state)
        rules |= set(state)
        current = state
        t = nxt
    if current and opened is not None:
        gaps.append(Gap(team, tuple(sorted(rules)), opened, end))
    return gaps

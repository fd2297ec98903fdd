"""Coverage gaps: when a rule says a team should answer but too few reachable people are on call.

Planners look ahead (the next eight weeks, the holidays) so a gap is fixed with an
override before an incident finds it at 3 a.m. A rule with ``staff: 2`` needs two
reachable people on call at once (primary and backup layers both count; a person
counts once); "reachable" means active, a member of the team, and with a phone
number. Partner rules (consulted by phone, national) need no roster coverage.

The intervals come from ``oncall.calendar``: exact instants from the roster's and the
rules' boundaries (handoffs, window edges, shift and override edges, DST), with no
sampling grid, so a gap of any length is found and eight weeks of every team of the
national configuration take well under two seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from oncall.calendar import MAX_SPAN, Gap, _check_range, _walk, is_reachable
from oncall.schemas import OverrideKind
from oncall.snapshot import ConfigSnapshot

__all__ = ["MAX_SPAN", "Gap", "find_gaps", "unreachable"]

# Why someone on a roster cannot be reached (codes; the Dutch words are in core.texts).
INACTIVE = "inactive"
NO_PHONE = "no_phone"
NOT_MEMBER = "not_member"
UNKNOWN = "unknown_person"


def find_gaps(
    snapshot: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    *,
    step: timedelta | None = None,
    check: Callable[[], None] | None = None,
) -> list[Gap]:
    """Intervals in [start, end) where ``team``'s rules need more reachable people than
    are on call; ``needed``/``available`` say how many.

    ``step`` is accepted for older callers and ignored (nothing is sampled any more).
    ``check`` is called now and then during the walk (a time limit raises from it).
    """
    del step
    start, end = _check_range(start, end)
    return _walk(snapshot, team, start, end, check=check).gaps


def _rostered(
    snapshot: ConfigSnapshot, team: str, start: datetime | None, end: datetime | None
) -> list[str]:
    """People a rotation, shift or override (add/replace) of ``team`` puts on call,
    within [start, end) when given, in order of first mention."""

    def overlaps(lo: datetime, hi: datetime | None) -> bool:
        return (end is None or lo < end) and (start is None or hi is None or hi > start)

    found: dict[str, None] = {}
    for r in snapshot.config.rotations:
        if r.team == team and overlaps(r.start, r.until):
            found.update(dict.fromkeys(r.participants))
    for s in snapshot.config.shifts:
        if s.team == team and overlaps(s.start, s.end):
            found[s.person] = None
    for o in snapshot.config.overrides:
        if o.team == team and o.kind is not OverrideKind.REMOVE and overlaps(o.start, o.end):
            found[o.person] = None
    return list(found)


def unreachable(
    snapshot: ConfigSnapshot,
    team: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[tuple[str, str]]:
    """(person, reason code) for everyone on ``team``'s roster who cannot be paged:
    unknown, inactive, without a phone number, or not a member of the team.
    ``start``/``end`` limit the roster to entries that touch that range."""
    out: list[tuple[str, str]] = []
    for person_id in _rostered(snapshot, team, start, end):
        if is_reachable(snapshot, team, person_id):
            continue
        person = snapshot.people.get(person_id)
        if person is None:
            code = UNKNOWN
        elif not person.active:
            code = INACTIVE
        elif not person.phones:
            code = NO_PHONE
        else:
            code = NOT_MEMBER
        out.append((person_id, code))
    return out

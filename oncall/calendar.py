"""A team's calendar: who is on call when, where the rules need an answer, and the gaps.

Everything here is computed from interval boundaries, never by sampling the clock.
Who is on call can only change at a rotation handoff, a rotation's start or end, an
edge of one of its windows, or a shift's or override's start or end; whether a rule
needs an answer only at an edge of its windows or of the office hours, or at a local
midnight (public holidays). Window edges are Amsterdam wall-clock times, so each one
is taken at every UTC instant it can fall on (both occurrences of a wall time in the
repeated October hour, the first instant after the gap in March). Between two such
boundaries the state is constant, so the state is evaluated once per interval.

The evaluation reproduces ``oncall.rotation.on_call`` (the same slot arithmetic, the
same override precedence: earlier start first, ties in configuration order) without
building its Dutch explanations, which is what makes eight weeks of the national
configuration cheap. ``tests/oncall/test_calendar.py`` compares it with
``ConfigSnapshot.on_call`` at many instants, across both DST changes and holidays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TypeVar

from core.timeutil import AMS, ensure_utc, is_public_holiday
from oncall.changes import key_of
from oncall.rotation import _schedule
from oncall.schemas import (
    CoverageRule,
    HolidayPolicy,
    Hours,
    Layer,
    Override,
    OverrideKind,
    Rotation,
    RuleRole,
    Shift,
    Window,
)
from oncall.scope import wall_to_utc, windows_contain
from oncall.snapshot import ConfigSnapshot

MAX_SPAN = timedelta(days=92)
_T = TypeVar("_T", Shift, Override)


@dataclass(frozen=True)
class Block:
    """One person on call for a team over [start, end) (aware UTC)."""

    team: str
    person: str
    layer: str  # "primary" | "backup"
    start: datetime
    end: datetime
    source: str  # "rotation" | "shift" | "override"
    source_id: str | None  # rotation id, override id, or the shift's key (oncall.changes.key_of)
    reachable: bool = True  # active, a member of the team and with a phone

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class Need:
    """A stretch where the team's coverage rules (``rules``) need ``staff`` people."""

    team: str
    rules: tuple[str, ...]
    staff: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Gap:
    """Fewer reachable people on call (``available``) than the rules need (``needed``)."""

    team: str
    rules: tuple[str, ...]
    start: datetime
    end: datetime
    needed: int = 1
    available: int = 0

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Tight:
    """Covered, but with no one to spare: exactly as many reachable people on call as
    the rules need (``needed``), so one of them falling out makes a gap."""

    team: str
    start: datetime
    end: datetime
    needed: int

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class TeamCalendar:
    team: str
    start: datetime
    end: datetime
    blocks: tuple[Block, ...]
    needs: tuple[Need, ...]
    gaps: tuple[Gap, ...]
    tight: tuple[Tight, ...] = ()


# --- boundaries -----------------------------------------------------------------


@lru_cache(maxsize=65536)
def _wall_instants(wall: datetime) -> tuple[datetime, ...]:
    """Every UTC instant at which the local wall clock reaches ``wall``."""
    first = wall_to_utc(wall)
    second = wall_to_utc(wall, later=True)
    return (first,) if first == second else (first, second)


def _local_days(start: datetime, end: datetime) -> list[date]:
    lo = start.astimezone(AMS).date() - timedelta(days=2)
    hi = end.astimezone(AMS).date() + timedelta(days=1)
    return [lo + timedelta(days=n) for n in range((hi - lo).days + 1)]


def _window_edges(windows: Iterable[Window], days: Sequence[date]) -> set[datetime]:
    out: set[datetime] = set()
    seen: set[tuple[object, ...]] = set()
    for window in windows:
        key = (window.days, window.start_min, window.end_min)
        if key in seen:
            continue
        seen.add(key)
        numbers = {d.number for d in window.days}
        end_min = window.end_min + (24 * 60 if window.crosses_midnight else 0)
        for day in days:
            if day.weekday() not in numbers:
                continue
            midnight = datetime.combine(day, time())
            out.update(_wall_instants(midnight + timedelta(minutes=window.start_min)))
            out.update(_wall_instants(midnight + timedelta(minutes=end_min)))
    return out


def _midnights(days: Sequence[date]) -> set[datetime]:
    """Local midnights (a holiday begins or ends) and the clock changes of these days.

    At the October change the wall clock jumps back from 03:00 to 02:00, so a wall-clock
    test ("before 02:30?") can change at that instant without any edge mapping to it."""
    out: set[datetime] = set()
    for day in days:
        out.update(_wall_instants(datetime.combine(day, time())))
        out.update(_clock_changes(day))
    return out


@lru_cache(maxsize=4096)
def _clock_changes(day: date) -> tuple[datetime, ...]:
    """UTC instants on ``day`` (local) where the offset changes (whole hours in Amsterdam)."""
    midnight = wall_to_utc(datetime.combine(day, time()))
    if (
        midnight.astimezone(AMS).utcoffset()
        == (midnight + timedelta(hours=26)).astimezone(AMS).utcoffset()
    ):
        return ()
    found = []
    for hour in range(1, 27):
        at = midnight + timedelta(hours=hour)
        if at.astimezone(AMS).utcoffset() != (at - timedelta(hours=1)).astimezone(AMS).utcoffset():
            found.append(at)
    return tuple(found)


class _RotationClock:
    """A rotation's handoffs, computed once each, walked forward in time."""

    def __init__(self, rotation: Rotation) -> None:
        self.rotation = rotation
        self.start = ensure_utc(rotation.start)
        self.until = ensure_utc(rotation.until) if rotation.until is not None else None
        self._boundary, self._estimate = _schedule(rotation)
        self._cache: dict[int, datetime] = {}
        self.k = 0

    def boundary(self, k: int) -> datetime:
        found = self._cache.get(k)
        if found is None:
            found = self._cache[k] = self._boundary(k)
        return found

    def seek(self, at: datetime) -> None:
        """Put ``k`` on the slot that contains ``at`` (``at`` after the rotation start)."""
        k = max(0, self._estimate(at.astimezone(AMS).replace(tzinfo=None)) - 1)
        while k > 0 and self.boundary(k) > at:
            k -= 1
        self.k = k
        self.advance(at)

    def advance(self, at: datetime) -> None:
        while self.boundary(self.k + 1) <= at:
            self.k += 1

    def handoffs(self, start: datetime, end: datetime) -> set[datetime]:
        out = {self.start}
        if self.until is not None:
            out.add(self.until)
        if end <= self.start or (self.until is not None and start >= self.until):
            return out
        self.seek(max(start, self.start))
        k = self.k
        while True:
            instant = self.boundary(k)
            if instant >= end:
                break
            out.add(instant)
            k += 1
        return out

    def person_at(self, at: datetime) -> str | None:
        rotation = self.rotation
        if at < self.start or (self.until is not None and at >= self.until):
            return None
        if (
            rotation.windows
            and windows_contain(rotation.windows, at, holidays=rotation.holidays) is None
        ):
            return None
        self.advance(at)
        return rotation.participants[self.k % len(rotation.participants)]


def _team_shifts(snapshot: ConfigSnapshot, team: str) -> list[Shift]:
    """The team's shifts from the snapshot's own index (by start, config order on ties)."""
    index = snapshot._shifts.get(team)
    return list(index.items) if index else []


def _team_overrides(snapshot: ConfigSnapshot, team: str) -> list[Override]:
    """The team's overrides from the snapshot's own index."""
    index = snapshot._overrides.get(team)
    return list(index.items) if index else []


def _overlapping(items: Iterable[_T], start: datetime, end: datetime) -> list[_T]:
    return [x for x in items if ensure_utc(x.start) < end and ensure_utc(x.end) > start]


def _needing_rules(snapshot: ConfigSnapshot, team: str) -> list[CoverageRule]:
    """The rules that need people on call: not a partner's, and not one where the police
    call the team's line themselves (nobody is paged then, so nobody need be on call)."""
    return [
        r
        for r in snapshot.config.rules
        if r.team == team and r.role != RuleRole.PARTNER and r.police_call is None
    ]


# --- state at an instant --------------------------------------------------------

Entry = tuple[str, str, str, str | None]  # person, layer, source, source id


def _on_call_at(
    at: datetime,
    rotating: Sequence[tuple[Layer, str, str] | None],
    shifts: Sequence[tuple[datetime, datetime, Shift, str]],
    overrides: Sequence[tuple[datetime, datetime, Override]],
) -> list[Entry]:
    """Who is on call at ``at``, as ``oncall.rotation.on_call`` decides it.

    ``rotating`` is each rotation's (layer, person, rotation id) at ``at`` (None: nobody),
    in configuration order; shifts and overrides come with their UTC start and end,
    shifts by start, overrides in precedence order (start, then configuration order)."""
    # A place: [origin, person or None, source, source id]
    layers: dict[Layer, list[list[str | None]]] = {Layer.PRIMARY: [], Layer.BACKUP: []}
    for slot in rotating:
        if slot is not None:
            layer, person, rotation_id = slot
            layers[layer].append([person, person, "rotation", rotation_id])
    for lo, hi, shift, key in shifts:
        if lo <= at < hi:
            layers[shift.layer].append([shift.person, shift.person, "shift", key])
    for lo, hi, override in overrides:
        if not lo <= at < hi:
            continue
        places = layers[override.layer]
        holding = [p for p in places if p[1] == override.person]
        if override.kind is OverrideKind.REMOVE:
            for place in holding:
                place[1] = None
            continue
        if override.kind is OverrideKind.ADD:
            if holding:
                continue
            empty = [p for p in places if p[0] == override.person and p[1] is None]
            if empty:
                empty[0][1], empty[0][2], empty[0][3] = override.person, "override", override.id
            else:
                places.append([override.person, override.person, "override", override.id])
            continue
        target = override.replaces
        spots = [p for p in places if p[1] == target] or [p for p in places if p[0] == target]
        for place in spots:
            place[1], place[2], place[3] = override.person, "override", override.id
    entries: list[Entry] = []
    seen: set[str] = set()
    for layer in (Layer.PRIMARY, Layer.BACKUP):
        for place in layers[layer]:
            holder = place[1]
            if holder is None or holder in seen:
                continue
            seen.add(holder)
            entries.append((holder, layer.value, str(place[2]), place[3]))
    return entries


def is_reachable(snapshot: ConfigSnapshot, team: str, person_id: str) -> bool:
    """Active, a member of the team, and with a (validated) phone number."""
    person = snapshot.people.get(person_id)
    return bool(
        person and person.active and person.phones and person_id in snapshot.members.get(team, {})
    )


def _rule_test(
    snapshot: ConfigSnapshot, team: str, rule: CoverageRule
) -> Callable[[datetime], bool]:
    """``oncall.scope.rule_in_hours`` for this rule, without building its explanation."""
    if rule.hours is Hours.ALWAYS:
        return lambda at: True
    if rule.hours is Hours.WINDOWS:
        windows, policy = rule.windows, rule.holidays
        return lambda at: windows_contain(windows, at, holidays=policy) is not None
    office = snapshot.office_hours(team)

    def in_office(at: datetime) -> bool:
        if is_public_holiday(at.astimezone(AMS).date()):
            return False
        return windows_contain(office, at, holidays=HolidayPolicy.CLOSED) is not None

    if rule.hours is Hours.OFFICE_HOURS:
        return in_office
    return lambda at: not in_office(at)


# --- the walk -------------------------------------------------------------------


@dataclass
class _Walk:
    blocks: list[Block]
    needs: list[Need]
    gaps: list[Gap]
    tight: list[Tight]


def _check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        raise ValueError("'to' must be after 'from'")
    if end - start > MAX_SPAN:
        raise ValueError(f"look at most {MAX_SPAN.days} days ahead at once")
    return start, end


def _walk(
    snapshot: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    *,
    coverage: bool = True,
    check: Callable[[], None] | None = None,
) -> _Walk:
    rotations = list(snapshot._rotations.get(team, ()))  # configuration order
    clocks = [_RotationClock(r) for r in rotations]
    shifts_all = _team_shifts(snapshot, team)  # sorted by start, config order among equals
    shifts = [
        (ensure_utc(s.start), ensure_utc(s.end), s, key_of("shifts", s))
        for s in _overlapping(shifts_all, start, end)
    ]
    order = snapshot._override_order
    overrides = sorted(
        (
            (ensure_utc(o.start), ensure_utc(o.end), o)
            for o in _overlapping(_team_overrides(snapshot, team), start, end)
        ),
        key=lambda item: (item[0], order.get(item[2].id, 0)),
    )
    rules = _needing_rules(snapshot, team) if coverage else []
    tests = [(r, _rule_test(snapshot, team, r)) for r in rules]

    # Every instant where something may change; per rotation and for the rules, the
    # instants where *they* may change (they are evaluated only there).
    days = _local_days(start, end)
    midnights = _midnights(days)
    edges: set[datetime] = {start}
    clock_edges: list[set[datetime]] = []
    for clock in clocks:
        own = clock.handoffs(start, end)
        if clock.rotation.windows:
            own |= _window_edges(clock.rotation.windows, days) | midnights
        own.add(start)
        clock_edges.append(own)
        edges |= own
    for lo, hi, _, _ in shifts:
        edges.update((lo, hi))
    for lo, hi, _ in overrides:
        edges.update((lo, hi))
    rule_edges: set[datetime] = {start}
    if rules:
        rule_edges |= _window_edges((w for r in rules for w in r.windows), days)
        if any(r.hours in (Hours.OFFICE_HOURS, Hours.AFTER_HOURS) for r in rules):
            rule_edges |= _window_edges(snapshot.office_hours(team), days)
        if any(r.hours is not Hours.ALWAYS for r in rules):
            rule_edges |= midnights
        edges |= rule_edges
    points = sorted(e for e in edges if start <= e < end)
    for clock in clocks:
        if end > clock.start and (clock.until is None or start < clock.until):
            clock.seek(max(start, clock.start))
    rotating: list[tuple[Layer, str, str] | None] = [None] * len(clocks)

    blocks: list[Block] = []
    needs: list[Need] = []
    gaps: list[Gap] = []
    open_blocks: dict[Entry, datetime] = {}
    need_state: tuple[tuple[str, ...], int] | None = None
    need_since = start
    gap_state: tuple[int, int] | None = None
    gap_since = start
    gap_rules: set[str] = set()
    tight: list[Tight] = []
    tight_state: int | None = None
    tight_since = start
    needing: tuple[CoverageRule, ...] = ()
    reach = {p: is_reachable(snapshot, team, p) for p in snapshot.members.get(team, {})}

    def reachable(person: str) -> bool:
        found = reach.get(person)
        if found is None:
            found = reach[person] = is_reachable(snapshot, team, person)
        return found

    def close(entry: Entry, since: datetime, until: datetime) -> None:
        person, layer, source, source_id = entry
        blocks.append(
            Block(team, person, layer, since, until, source, source_id, reachable(person))
        )

    for n, at in enumerate(points):
        if check is not None and n % 64 == 0:
            check()
        for i, clock in enumerate(clocks):
            if at in clock_edges[i]:
                person = clock.person_at(at)
                rotating[i] = (
                    None if person is None else (clock.rotation.layer, person, clock.rotation.id)
                )
        entries = _on_call_at(at, rotating, shifts, overrides)
        current = set(entries)
        for entry in [e for e in open_blocks if e not in current]:
            close(entry, open_blocks.pop(entry), at)
        for entry in entries:
            open_blocks.setdefault(entry, at)
        if not coverage:
            continue
        if at in rule_edges:
            needing = tuple(r for r, test in tests if test(at))
        state = (tuple(r.id for r in needing), max((r.staff for r in needing), default=0))
        if state != need_state:
            if need_state is not None and need_state[0]:
                needs.append(Need(team, need_state[0], need_state[1], need_since, at))
            need_state, need_since = state, at
        available = sum(1 for e in entries if reachable(e[0]))
        short = [r.id for r in needing if r.staff > available]
        gap = (max(r.staff for r in needing), available) if short else None
        if gap != gap_state:
            if gap_state is not None:
                gaps.append(Gap(team, tuple(sorted(gap_rules)), gap_since, at, *gap_state))
            gap_state, gap_since, gap_rules = gap, at, set()
        gap_rules.update(short)
        staff = need_state[1] if need_state is not None else 0
        spare = None if short or not staff or available != staff else staff
        if spare != tight_state:
            if tight_state is not None:
                tight.append(Tight(team, tight_since, at, tight_state))
            tight_state, tight_since = spare, at
    for entry, since in open_blocks.items():
        close(entry, since, end)
    if need_state is not None and need_state[0]:
        needs.append(Need(team, need_state[0], need_state[1], need_since, end))
    if gap_state is not None:
        gaps.append(Gap(team, tuple(sorted(gap_rules)), gap_since, end, *gap_state))
    if tight_state is not None:
        tight.append(Tight(team, tight_since, end, tight_state))
    blocks.sort(key=lambda b: (b.start, b.layer != "primary", b.person))
    return _Walk(blocks, needs, gaps, tight)


# --- public ---------------------------------------------------------------------


def team_calendar(
    snapshot: ConfigSnapshot,
    team: str,
    start: datetime,
    end: datetime,
    *,
    check: Callable[[], None] | None = None,
) -> TeamCalendar:
    """Blocks, needs and gaps of ``team`` over [start, end) (at most ``MAX_SPAN``)."""
    if team not in snapshot.teams:
        raise KeyError(team)
    start, end = _check_range(start, end)
    walk = _walk(snapshot, team, start, end, check=check)
    return TeamCalendar(
        team,
        start,
        end,
        tuple(walk.blocks),
        tuple(walk.needs),
        tuple(walk.gaps),
        tuple(walk.tight),
    )


def team_blocks(
    snapshot: ConfigSnapshot, team: str, start: datetime, end: datetime
) -> tuple[Block, ...]:
    """Only the blocks (no coverage rules looked at): cheaper than ``team_calendar``."""
    start, end = _check_range(start, end)
    return tuple(_walk(snapshot, team, start, end, coverage=False).blocks)


def region_overview(
    snapshot: ConfigSnapshot,
    region: str,
    start: datetime,
    end: datetime,
    *,
    check: Callable[[], None] | None = None,
) -> tuple[TeamCalendar, ...]:
    """The calendar of every team of ``region``, in configuration order."""
    if region not in snapshot.regions:
        raise KeyError(region)
    return tuple(
        team_calendar(snapshot, t.id, start, end, check=check)
        for t in snapshot.config.teams
        if t.region == region
    )


def teams_of_person(snapshot: ConfigSnapshot, person: str) -> list[str]:
    """Teams where ``person`` is a member or named by a rotation, shift or override."""
    found: dict[str, None] = {}
    known = snapshot.people.get(person)
    for membership in known.memberships if known else ():
        found[membership.team] = None
    for r in snapshot.config.rotations:
        if person in r.participants:
            found[r.team] = None
    for s in snapshot.config.shifts:
        if s.person == person:
            found[s.team] = None
    for o in snapshot.config.overrides:
        if o.person == person and o.kind is not OverrideKind.REMOVE:
            found[o.team] = None
    return [t for t in found if t in snapshot.teams]


def person_blocks(
    snapshot: ConfigSnapshot, person: str, start: datetime, end: datetime
) -> tuple[Block, ...]:
    """Every block of ``person`` in every team, by start."""
    start, end = _check_range(start, end)
    out: list[Block] = []
    for team in teams_of_person(snapshot, person):
        out.extend(
            b
            for b in _walk(snapshot, team, start, end, coverage=False).blocks
            if b.person == person
        )
    out.sort(key=lambda b: (b.start, b.team))
    return tuple(out)

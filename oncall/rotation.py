"""Who is on call for a team at an instant.

Rosters are Amsterdam wall-clock agreements ("handover at 09:00", "12-hour
shifts 08:00/20:00"), so handoffs are computed on the local wall clock and only
then turned into UTC: a 09:00 handoff stays at 09:00 across DST, which makes
the slot around a DST change 23 or 25 real hours long (11 or 13 for 12-hour
shifts). A handoff at a wall time skipped in March happens at the first
instant after the gap; a wall time that occurs twice in October is its first
occurrence. The slot is found by arithmetic (periods since the rotation start),
never by walking a generated roster, so a query in 2030 costs the same as one
today.

Overrides are applied on top of rotations and shifts, per layer, one by one in
precedence order: the override with the earlier ``start`` first, ties in config
order, so the later-starting (or, on a tie, later-listed) override wins where
two disagree:

* ``remove`` takes the person off (their place is kept, so a later ``replace``
  or ``add`` can fill it again);
* ``add`` puts the person on (back in their old place if an earlier override
  removed them, else after everyone else in the layer);
* ``replace`` puts ``person`` in the place of ``replaces``, but only when
  ``replaces`` is on call in that layer by the roster or an earlier override
  (also when an earlier override took them off: "sick, and this is who covers").
  If ``replaces`` is not on call at all, the replace has no effect: a replace
  is a swap, not a way to add someone.

A person appears once, in the first place they hold (primary before backup).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.texts import DAY_NL, Reason, reason
from core.timeutil import AMS, ensure_utc
from oncall.schemas import Day, Layer, Override, OverrideKind, Rotation, Shift, parse_clock
from oncall.scope import wall_to_utc, windows_contain, windows_span

_DAYS = tuple(Day)


@dataclass(frozen=True)
class OnCallEntry:
    person: str
    layer: Layer
    source: str  # "rotation:<id>", "shift", "override:<id>"
    since: datetime | None
    until: datetime | None  # None: open-ended
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class OnCall:
    team: str
    at: datetime
    entries: tuple[OnCallEntry, ...]
    removed: tuple[tuple[str, Reason], ...]

    def people(self, layer: Layer | None = None) -> tuple[str, ...]:
        return tuple(e.person for e in self.entries if layer is None or e.layer is layer)


# --- rotations ----------------------------------------------------------------


def _local_wall(at: datetime) -> datetime:
    return ensure_utc(at).astimezone(AMS).replace(tzinfo=None)


def _schedule(
    rotation: Rotation,
) -> tuple[Callable[[int], datetime], Callable[[datetime], int]]:
    """Handoff ``k`` as a UTC instant (0 is the rotation start) and a guess of
    the slot index for a wall-clock time, which the caller corrects by at most
    a step or two against real instants (DST makes wall time non-monotonic)."""
    start = ensure_utc(rotation.start)
    start_wall = _local_wall(start)
    handoff = rotation.handoff
    if handoff.every == "hours":
        assert handoff.hours is not None  # the schema insists
        step = timedelta(hours=handoff.hours)

        def hours_boundary(k: int) -> datetime:
            return start if k == 0 else wall_to_utc(start_wall + k * step)

        return hours_boundary, lambda wall: (wall - start_wall) // step

    minutes = parse_clock(handoff.at)
    clock = time(minutes // 60, minutes % 60)
    period = 1 if handoff.every == "daily" else 7
    first: date = start_wall.date()
    if handoff.every == "weekly":
        first += timedelta(days=(_DAYS.index(handoff.weekday) - first.weekday()) % 7)
    if wall_to_utc(datetime.combine(first, clock)) <= start:
        first += timedelta(days=period)

    def boundary(k: int) -> datetime:
        if k == 0:
            return start
        return wall_to_utc(datetime.combine(first + timedelta(days=(k - 1) * period), clock))

    return boundary, lambda wall: (wall.date() - first).days // period + 1


def rotation_slot(rotation: Rotation, at: datetime) -> tuple[str, datetime, datetime] | None:
    """Participant on call in ``rotation`` at ``at`` with the UTC [start, end) of
    that slot, clipped to the rotation's ``until`` and windows."""
    at = ensure_utc(at)
    start = ensure_utc(rotation.start)
    until = ensure_utc(rotation.until) if rotation.until is not None else None
    if at < start or (until is not None and at >= until):
        return None
    if (
        rotation.windows
        and windows_contain(rotation.windows, at, holidays=rotation.holidays) is None
    ):
        return None
    boundary, estimate = _schedule(rotation)
    k = max(0, estimate(_local_wall(at)))
    while k > 0 and boundary(k) > at:
        k -= 1
    while boundary(k + 1) <= at:
        k += 1
    since, end = boundary(k), boundary(k + 1)
    if until is not None:
        end = min(end, until)
    if rotation.windows:
        span = windows_span(rotation.windows, at, holidays=rotation.holidays, lo=since, hi=end)
        assert span is not None  # windows_contain said yes above
        since, end = span
    return rotation.participants[k % len(rotation.participants)], since, end


# --- on call ------------------------------------------------------------------


@dataclass
class _Place:
    """One place in a layer's order; overrides change who holds it."""

    origin: str  # who the roster (or the first add) put here
    person: str | None  # who holds it now; None when taken off
    source: str
    since: datetime | None
    until: datetime | None
    reasons: tuple[Reason, ...]
    base_since: datetime | None = None
    base_until: datetime | None = None


def until_nl(until: datetime | None, at: datetime) -> str:
    """'za 09:00', with the date when it is a week or more away."""
    if until is None:
        return "nader order"
    local = ensure_utc(until).astimezone(AMS)
    day = DAY_NL[_DAYS[local.weekday()].value]
    if until - at >= timedelta(days=6):
        return f"{day} {local:%d-%m-%Y %H:%M}"
    return f"{day} {local:%H:%M}"


def _place(person: str, source: str, since: datetime, until: datetime, why: Reason) -> _Place:
    return _Place(person, person, source, since, until, (why,), since, until)


def _apply(
    places: list[_Place],
    override: Override,
    removed: dict[str, Reason],
    at: datetime,
) -> None:
    source = f"override:{override.id}"
    start, end = ensure_utc(override.start), ensure_utc(override.end)
    holding = [p for p in places if p.person == override.person]
    if override.kind is OverrideKind.REMOVE:
        for place in holding:
            place.person = None
        if holding:
            removed[override.person] = reason("removed_by_override", override=override.id)
        return
    if override.kind is OverrideKind.ADD:
        removed.pop(override.person, None)
        if holding:
            return
        why = reason("oncall_override_add", override=override.id, until=until_nl(end, at))
        empty = [p for p in places if p.origin == override.person and p.person is None]
        if empty:
            empty[0].person, empty[0].source = override.person, source
            empty[0].since, empty[0].until, empty[0].reasons = start, end, (why,)
        else:
            places.append(_place(override.person, source, start, end, why))
        return
    target = override.replaces
    assert target is not None  # the schema insists
    spots = [p for p in places if p.person == target] or [p for p in places if p.origin == target]
    if not spots:
        return
    why = reason(
        "oncall_override_replace", replaced=target, override=override.id, until=until_nl(end, at)
    )
    for place in spots:
        place.person, place.source, place.reasons = override.person, source, (why,)
        place.since = max(start, place.base_since) if place.base_since else start
        place.until = min(end, place.base_until) if place.base_until else end
    removed[target] = reason("replaced_by_override", person=override.person, override=override.id)
    removed.pop(override.person, None)


def on_call(
    team: str,
    at: datetime,
    *,
    rotations: Sequence[Rotation],
    shifts: Sequence[Shift],
    overrides: Sequence[Override],
) -> OnCall:
    at = ensure_utc(at)
    layers: dict[Layer, list[_Place]] = {Layer.PRIMARY: [], Layer.BACKUP: []}
    for rotation in rotations:
        if rotation.team != team:
            continue
        slot = rotation_slot(rotation, at)
        if slot is not None:
            person, since, until = slot
            why = reason("oncall_rotation", rotation=rotation.id, until=until_nl(until, at))
            layers[rotation.layer].append(
                _place(person, f"rotation:{rotation.id}", since, until, why)
            )
    ours = sorted((s for s in shifts if s.team == team), key=lambda s: ensure_utc(s.start))
    for shift in ours:
        start, end = ensure_utc(shift.start), ensure_utc(shift.end)
        if start <= at < end:
            why = reason("oncall_shift", until=until_nl(end, at))
            layers[shift.layer].append(_place(shift.person, "shift", start, end, why))

    active = [
        (ensure_utc(o.start), index, o)
        for index, o in enumerate(overrides)
        if o.team == team and ensure_utc(o.start) <= at < ensure_utc(o.end)
    ]
    removed: dict[Layer, dict[str, Reason]] = {Layer.PRIMARY: {}, Layer.BACKUP: {}}
    for _, _, override in sorted(active, key=lambda item: (item[0], item[1])):
        _apply(layers[override.layer], override, removed[override.layer], at)

    entries: list[OnCallEntry] = []
    seen: set[str] = set()
    for layer in (Layer.PRIMARY, Layer.BACKUP):
        extra = (reason("backup_layer"),) if layer is Layer.BACKUP else ()
        for place in layers[layer]:
            if place.person is None or place.person in seen:
                continue
            seen.add(place.person)
            entries.append(
                OnCallEntry(
                    person=place.person,
                    layer=layer,
                    source=place.source,
                    since=place.since,
                    until=place.until,
                    reasons=place.reasons + extra,
                )
            )
    taken_off: dict[str, Reason] = {}
    for layer in (Layer.PRIMARY, Layer.BACKUP):
        for person, why in removed[layer].items():
            if person not in seen and person not in taken_off:
                taken_off[person] = why
    return OnCall(team=team, at=at, entries=tuple(entries), removed=tuple(taken_off.items()))

"""One person's own on-call periods (a worker looks up their shifts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.snapshot import ConfigSnapshot

STEP = timedelta(minutes=15)  # rosters change on the quarter hour or coarser


@dataclass(frozen=True)
class Period:
    team: str
    layer: str
    start: datetime
    end: datetime


def person_periods(
    snapshot: ConfigSnapshot, person: str, start: datetime, end: datetime
) -> list[Period]:
    """When ``person`` is on call in [start, end), per team and layer (primary, backup),
    with rotations, shifts and overrides applied; sampled every quarter hour."""
    person_row = snapshot.people.get(person)
    if person_row is None or end <= start:
        return []
    teams = sorted({m.team for m in person_row.memberships if m.team in snapshot.teams})
    out: list[Period] = []
    for team in teams:
        open_layer: str | None = None
        since = start
        at = start
        while at < end:
            oc = snapshot.on_call(team, at)
            layer = next((e.layer.value for e in oc.entries if e.person == person), None)
            if layer != open_layer:
                if open_layer is not None:
                    out.append(Period(team, open_layer, since, at))
                open_layer, since = layer, at
            at += STEP
        if open_layer is not None:
            out.append(Period(team, open_layer, since, end))
    return sorted(out, key=lambda p: (p.start, p.team))

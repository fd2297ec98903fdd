"""An immutable, indexed view of one configuration version, built once per version.

Pairing runs against this so that a national configuration (hundreds of rules,
thousands of people, a year of shifts and overrides) answers in microseconds:
rules are indexed by area, shifts and overrides by team and start time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from oncall.rotation import OnCall, on_call
from oncall.schemas import (
    DEFAULT_OFFICE_HOURS,
    ConfigSet,
    CoverageRule,
    Override,
    Person,
    Rotation,
    Shift,
    Team,
    TeamKind,
    Window,
)

T = TypeVar("T", Shift, Override)


@dataclass
class _Intervals(Generic[T]):
    """Items with [start, end), found by instant without scanning them all."""

    items: list[T] = field(default_factory=list)
    starts: list[datetime] = field(default_factory=list)
    max_len: timedelta = timedelta(0)

    @classmethod
    def build(cls, items: Sequence[T]) -> _Intervals[T]:
        ordered = sorted(items, key=lambda x: x.start)
        longest = max((x.end - x.start for x in ordered), default=timedelta(0))
        return cls(items=ordered, starts=[x.start for x in ordered], max_len=longest)

    def at(self, instant: datetime) -> list[T]:
        hi = bisect_right(self.starts, instant)
        lo = bisect_right(self.starts, instant - self.max_len - timedelta(microseconds=1))
        return [x for x in self.items[lo:hi] if x.start <= instant < x.end]


def _rebuilt(
    index: dict[str, _Intervals[T]], items: Sequence[T], teams: set[str]
) -> dict[str, _Intervals[T]]:
    """``index`` with the intervals of ``teams`` built again from ``items``."""
    out = {k: v for k, v in index.items() if k not in teams}
    by_team: dict[str, list[T]] = {}
    for item in items:
        if item.team in teams:
            by_team.setdefault(item.team, []).append(item)
    for team, found in by_team.items():
        out[team] = _Intervals.build(found)
    return out


class ConfigSnapshot:
    """Lookups the pairing engine needs, over one immutable ``ConfigSet``."""

    def __init__(self, config: ConfigSet, version: int = 0) -> None:
        self.config = config
        self.version = version
        self.teams: dict[str, Team] = {t.id: t for t in config.teams}
        self.people: dict[str, Person] = {p.id: p for p in config.people}
        self.regions = {r.id: r for r in config.regions}
        self.municipalities = {x.code: x for x in config.municipalities}
        self.basisteams = {b.id: b for b in config.basisteams}
        self.rule_position = {r.id: i for i, r in enumerate(config.rules)}
        # What the police feed may type: ids, CBS codes and names, any case.
        self.basisteam_by_name: dict[str, str] = {}
        for b in config.basisteams:
            self.basisteam_by_name.setdefault(b.name.casefold(), b.id)
            self.basisteam_by_name[b.id.casefold()] = b.id
        self.municipality_by_name: dict[str, str] = {}
        for x in config.municipalities:
            self.municipality_by_name.setdefault(x.name.casefold(), x.code)
            self.municipality_by_name[x.code.casefold()] = x.code
        self.basisteam_municipalities: dict[str, frozenset[str]] = {
            b.id: frozenset(b.municipalities) for b in config.basisteams
        }
        served: dict[str, set[str]] = {}
        for b in config.basisteams:
            for code in b.municipalities:
                served.setdefault(code, set()).add(b.id)
        self.municipality_basisteams: dict[str, frozenset[str]] = {
            k: frozenset(v) for k, v in served.items()
        }
        self._region_lines: dict[str, Team] = {}
        for t in config.teams:
            if t.region and t.phone and t.kind == TeamKind.VEILIG_THUIS:
                self._region_lines.setdefault(t.region, t)
        self.members: dict[str, dict[str, str]] = {}
        for p in config.people:
            for ms in p.memberships:
                self.members.setdefault(ms.team, {})[p.id] = ms.role

        self.national_rules: list[CoverageRule] = []
        self._by_basisteam: dict[str, list[CoverageRule]] = {}
        self._by_municipality: dict[str, list[CoverageRule]] = {}
        for rule in config.rules:
            if rule.area is None:
                self.national_rules.append(rule)
                continue
            for bt in rule.area.basisteams:
                self._by_basisteam.setdefault(bt, []).append(rule)
            for code in rule.area.municipalities:
                self._by_municipality.setdefault(code, []).append(rule)

        self._rotations: dict[str, list[Rotation]] = {}
        for rot in config.rotations:
            self._rotations.setdefault(rot.team, []).append(rot)
        shifts: dict[str, list[Shift]] = {}
        for sh in config.shifts:
            shifts.setdefault(sh.team, []).append(sh)
        self._shifts = {team: _Intervals.build(v) for team, v in shifts.items()}
        overrides: dict[str, list[Override]] = {}
        for ov in config.overrides:
            overrides.setdefault(ov.team, []).append(ov)
        # Overrides keep config order among equals (precedence depends on it).
        self._override_order = {o.id: i for i, o in enumerate(config.overrides)}
        self._overrides = {team: _Intervals.build(v) for team, v in overrides.items()}

    ROSTER_SECTIONS = frozenset({"people", "rotations", "shifts", "overrides"})

    def evolved(
        self, config: ConfigSet, version: int, changed: Mapping[str, Collection[str]]
    ) -> ConfigSnapshot:
        """The lookups for ``config``, which differs from this snapshot's only in the
        sections named in ``changed``, and in a roster section only for the teams named
        there (``people``: the section is rebuilt whole). Only those are built again;
        the rest is shared with this snapshot (neither is ever changed). A planner's
        save builds the national snapshot in well under a millisecond instead of ~10.
        Any other section changed: built afresh."""
        if not set(changed) <= self.ROSTER_SECTIONS:
            return ConfigSnapshot(config, version)
        new = object.__new__(ConfigSnapshot)
        new.__dict__.update(self.__dict__)
        new.config, new.version = config, version
        if "people" in changed:
            new.people = {p.id: p for p in config.people}
            members: dict[str, dict[str, str]] = {}
            for person in config.people:
                for ms in person.memberships:
                    members.setdefault(ms.team, {})[person.id] = ms.role
            new.members = members
        if "rotations" in changed:
            teams = set(changed["rotations"])
            rotations = {k: v for k, v in self._rotations.items() if k not in teams}
            for rot in config.rotations:
                if rot.team in teams:
                    rotations.setdefault(rot.team, []).append(rot)
            new._rotations = rotations
        if "shifts" in changed:
            new._shifts = _rebuilt(self._shifts, config.shifts, set(changed["shifts"]))
        if "overrides" in changed:
            new._override_order = {o.id: i for i, o in enumerate(config.overrides)}
            new._overrides = _rebuilt(self._overrides, config.overrides, set(changed["overrides"]))
        return new

    # --- areas ---------------------------------------------------------------
    def knows_area(self, basisteam: str | None, municipality: str | None) -> bool:
        return (basisteam in self.basisteams) or (municipality in self.municipalities)

    def region_of(self, basisteam: str | None, municipality: str | None) -> str | None:
        if basisteam in self.basisteams:
            return self.basisteams[basisteam].region
        for b in sorted(self.municipality_basisteams.get(municipality or "", ())):
            return self.basisteams[b].region
        return None

    def rules_near(self, basisteam: str | None, municipality: str | None) -> list[CoverageRule]:
        """Rules whose area could cover this place, plus national ones, in config order."""
        found: dict[str, CoverageRule] = {r.id: r for r in self.national_rules}
        bts: set[str] = set()
        if basisteam:
            bts.add(basisteam)
        if municipality:
            bts |= self.municipality_basisteams.get(municipality, frozenset())
            for rule in self._by_municipality.get(municipality, ()):
                found[rule.id] = rule
        for b in bts:
            for rule in self._by_basisteam.get(b, ()):
                found[rule.id] = rule
        if basisteam and not municipality:
            for code in self.basisteam_municipalities.get(basisteam, ()):
                for rule in self._by_municipality.get(code, ()):
                    found[rule.id] = rule
        return sorted(found.values(), key=lambda r: self.rule_position[r.id])

    def region_line(self, region: str | None) -> Team | None:
        """The region's Veilig Thuis team with a 24/7 line (first in config order)."""
        return self._region_lines.get(region or "")

    # --- time ----------------------------------------------------------------
    def office_hours(self, team_id: str) -> tuple[Window, ...]:
        team = self.teams.get(team_id)
        if team and team.office_hours:
            return team.office_hours
        if team and team.region and self.regions[team.region].office_hours:
            return self.regions[team.region].office_hours or DEFAULT_OFFICE_HOURS
        return DEFAULT_OFFICE_HOURS

    def on_call(self, team: str, at: datetime) -> OnCall:
        shifts = self._shifts.get(team)
        overrides = self._overrides.get(team)
        active_overrides = overrides.at(at) if overrides else []
        active_overrides.sort(key=lambda o: self._override_order[o.id])
        return on_call(
            team,
            at,
            rotations=self._rotations.get(team, []),
            shifts=shifts.at(at) if shifts else [],
            overrides=active_overrides,
        )

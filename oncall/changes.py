"""What a configuration write changes, and whose part of the configuration that is.

Pure functions over two ``ConfigSet`` values, so the API, the CLI and the tests agree
on them: the diff stored with every version (per section and object: added, removed,
changed fields), the region an object belongs to (a planner writes only their own
regions' part), a region's slice and how a new slice is merged back, and which
removals are dangerous enough to need an explicit confirmation.

Objects are named by their id (a municipality by its CBS code). Shifts have no id;
they are named ``team/person/start``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

from core.timeutil import AMS
from oncall.schemas import ConfigSet

SECTIONS = ConfigSet.SECTIONS
# Sections whose objects hang off a team: they belong to the team's region.
_TEAM_SECTIONS = ("rotations", "shifts", "overrides", "rules")

# The owner of objects outside every region (national partner teams, people on them,
# municipalities no basisteam lists): only an admin writes those.
NATIONAL = None
# The owner of an object naming a team that does not exist: not a slug, so
# never a region. Such an object is left to the reference check (a 422, not a 403).
UNKNOWN = "?"
Owner = str | None


def key_of(section: str, obj: BaseModel) -> str:
    """How an object is named in a diff and in errors."""
    if section == "municipalities":
        return str(obj.code)  # type: ignore[attr-defined]
    if section == "shifts":
        start = obj.start.astimezone(AMS).isoformat()  # type: ignore[attr-defined]
        return f"{obj.team}/{obj.person}/{start}"  # type: ignore[attr-defined]
    return str(obj.id)  # type: ignore[attr-defined]


def _keyed(section: str, objects: Iterable[BaseModel]) -> dict[str, BaseModel]:
    """Objects by key; a repeated key gets '#n' so nothing is lost from a diff."""
    out: dict[str, BaseModel] = {}
    for obj in objects:
        key = key_of(section, obj)
        n = 1
        while key in out:
            n += 1
            key = f"{key_of(section, obj)}#{n}"
        out[key] = obj
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(AMS).isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def document(config: ConfigSet) -> dict[str, Any]:
    """The configuration as JSON, times as Amsterdam wall clock with their offset (the
    same instant is always written the same way, whatever the input said)."""
    plain: dict[str, Any] = _plain(config.model_dump(mode="python", exclude_none=True))
    return plain


def from_document(data: Mapping[str, Any]) -> ConfigSet:
    return ConfigSet.model_validate({k: v for k, v in data.items() if k in SECTIONS})


def _changed_fields(before: BaseModel, after: BaseModel) -> list[str]:
    names = type(before).model_fields
    return [name for name in names if getattr(before, name) != getattr(after, name)]


def diff(old: ConfigSet, new: ConfigSet) -> dict[str, dict[str, Any]]:
    """Per section with changes: ``added`` and ``removed`` keys, and ``changed`` as
    ``{key: [field, ...]}``. Order within a section is not a change."""
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        before = _keyed(section, getattr(old, section))
        after = _keyed(section, getattr(new, section))
        added = [k for k in after if k not in before]
        removed = [k for k in before if k not in after]
        changed = {
            k: _changed_fields(before[k], after[k])
            for k in before
            if k in after and before[k] != after[k]
        }
        if added or removed or changed:
            entry: dict[str, Any] = {}
            if added:
                entry["added"] = added
            if removed:
                entry["removed"] = removed
            if changed:
                entry["changed"] = changed
            out[section] = entry
    return out


def summary(changes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts per section, for listings."""
    return {
        section: {
            kind: len(entry[kind]) for kind in ("added", "removed", "changed") if kind in entry
        }
        for section, entry in changes.items()
    }


class _Regions:
    """Which region each team and municipality is in, for one configuration."""

    def __init__(self, config: ConfigSet) -> None:
        self.team: dict[str, Owner] = {t.id: t.region for t in config.teams}
        self.municipality: dict[str, set[Owner]] = {}
        for b in config.basisteams:
            for code in b.municipalities:
                self.municipality.setdefault(code, set()).add(b.region)

    def owners(self, section: str, obj: Any) -> frozenset[Owner]:
        if section == "regions":
            return frozenset({obj.id})
        if section == "basisteams":
            return frozenset({obj.region})
        if section == "municipalities":
            return frozenset(self.municipality.get(obj.code) or {NATIONAL})
        if section == "teams":
            return frozenset({obj.region})
        if section == "people":
            found = {self.team.get(ms.team, UNKNOWN) for ms in obj.memberships}
            return frozenset(found or {NATIONAL})
        if section in _TEAM_SECTIONS:
            return frozenset({self.team.get(obj.team, UNKNOWN)})
        raise ValueError(f"unknown section '{section}'")


def owners(config: ConfigSet, section: str, obj: BaseModel) -> frozenset[Owner]:
    """The regions an object belongs to. ``None`` (NATIONAL) in the set: it is (also)
    outside every region. A person belongs to the regions of the teams they are a
    member of; a municipality to the regions of the basisteams that list it; rosters,
    overrides and rules to their team's region."""
    return _Regions(config).owners(section, obj)


def region_slice(config: ConfigSet, region_id: str) -> ConfigSet:
    """A region's part: everything that belongs to it, also what it shares with
    another region (which only someone who plans both may change)."""
    regions = _Regions(config)
    return ConfigSet.model_validate(
        {
            section: tuple(
                obj for obj in getattr(config, section) if region_id in regions.owners(section, obj)
            )
            for section in SECTIONS
        }
    )


class Outside(Exception):
    """A write touches an object of a region the writer does not plan (HTTP 403)."""

    def __init__(self, section: str, key: str, region: Owner, *, not_in: str | None = None) -> None:
        self.section = section
        self.key = key
        self.region = region
        where = f"region '{region}'" if region is not None else "no region (national)"
        if not_in is not None:
            text = f"{section} '{key}' belongs to {where}, not to region '{not_in}'"
        else:
            text = f"{section} '{key}' belongs to {where}"
        super().__init__(text)


class SliceRejected(ValueError):
    """A slice that cannot be merged as sent (HTTP 422); ``path`` names the object."""

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


def merge_region(
    current: ConfigSet, region_id: str, part: ConfigSet, may_plan: Callable[[str], bool]
) -> ConfigSet:
    """The configuration with ``region_id``'s slice replaced by ``part``.

    Objects of the slice that ``part`` leaves out are removed; objects it names are
    replaced in place (by key) or added at the end of their section. Every object
    that ends up added, removed or changed must belong, before and after, only to
    regions ``may_plan`` allows (else ``Outside`` naming the object), and everything
    in ``part`` must belong to ``region_id`` afterwards. The result still has to pass
    ``validate_references`` (a removed team may be named elsewhere).
    """
    regions = _Regions(current)
    sections: dict[str, list[BaseModel]] = {}
    for section in SECTIONS:
        sent: dict[str, BaseModel] = {}
        for index, obj in enumerate(getattr(part, section)):
            key = key_of(section, obj)
            if key in sent:
                raise SliceRejected(f"{section}[{index}]", f"'{key}' appears twice")
            sent[key] = obj
        merged: list[BaseModel] = []
        used: set[str] = set()
        for obj in getattr(current, section):
            key = key_of(section, obj)
            if key in sent and key not in used:
                merged.append(sent[key])
                used.add(key)
            elif region_id not in regions.owners(section, obj) or key in used:
                merged.append(obj)
            # else: in the slice and left out of ``part``: removed
        merged.extend(obj for key, obj in sent.items() if key not in used)
        sections[section] = merged
    result = ConfigSet.model_validate(sections)

    after = _Regions(result)
    for section, entry in diff(current, result).items():
        old = _keyed(section, getattr(current, section))
        new = _keyed(section, getattr(result, section))
        touched = [*entry.get("added", ()), *entry.get("removed", ()), *entry.get("changed", ())]
        for key in touched:
            found: set[Owner] = set()
            if key in old:
                found |= regions.owners(section, old[key])
            if key in new:
                found |= after.owners(section, new[key])
            for owner in sorted(found - {UNKNOWN}, key=lambda o: (o is None, o or "")):
                if owner is None or not may_plan(owner):
                    raise Outside(section, key, owner)
    for section in SECTIONS:
        for obj in getattr(part, section):
            belongs = after.owners(section, obj)
            if region_id not in belongs and UNKNOWN not in belongs:
                other = next(iter(sorted(belongs, key=lambda o: (o is None, o or ""))))
                raise Outside(section, key_of(section, obj), other, not_in=region_id)
    return result


@dataclass(frozen=True)
class Removal:
    """What a write would remove, and why it needs an explicit confirmation."""

    removed: dict[str, list[str]]  # section -> keys that go
    busy_teams: list[str]  # removed teams with incidents still open
    people_share: float  # removed people / people before
    people_share_limit: float
    reasons: list[str] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reasons": self.reasons,
            "objects": self.removed,
            "regions": self.removed.get("regions", []),
            "teams_with_open_incidents": self.busy_teams,
            "people": self.removed.get("people", []),
            "people_share": round(self.people_share, 4),
            "people_share_limit": self.people_share_limit,
        }


def removals(
    old: ConfigSet, new: ConfigSet, *, busy_teams: Iterable[str], people_share_limit: float
) -> Removal:
    """Removing a region, a team with open incidents, or more than ``people_share_limit``
    of the people needs a confirmation; everything a write removes is listed."""
    removed: dict[str, list[str]] = {}
    for section, entry in diff(old, new).items():
        if entry.get("removed"):
            removed[section] = list(entry["removed"])
    busy = set(busy_teams)
    gone_busy = [t for t in removed.get("teams", []) if t in busy]
    share = len(removed.get("people", [])) / len(old.people) if old.people else 0.0
    reasons = []
    if removed.get("regions"):
        reasons.append("regions")
    if gone_busy:
        reasons.append("teams_with_open_incidents")
    if share > people_share_limit:
        reasons.append("people_share")
    return Removal(removed, gone_busy, share, people_share_limit, reasons)


@dataclass(frozen=True)
class Guard:
    """The checks a write must pass: the busy teams come from dispatch (the caller),
    since on-call configuration knows nothing of incidents."""

    busy_teams: frozenset[str] = frozenset()
    people_share_limit: float = 0.2
    confirmed: bool = False

    def check(self, old: ConfigSet, new: ConfigSet) -> Removal:
        found = removals(
            old, new, busy_teams=self.busy_teams, people_share_limit=self.people_share_limit
        )
        if found.needs_confirmation and not self.confirmed:
            raise NeedsConfirmation(found)
        return found


class NeedsConfirmation(Exception):
    """A dangerous removal sent without confirmation (HTTP 409); nothing was written."""

    def __init__(self, removal: Removal) -> None:
        self.removal = removal
        super().__init__("this write removes " + ", ".join(removal.reasons))

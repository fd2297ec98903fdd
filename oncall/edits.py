"""One planner's edit applied to a configuration: pure, checked, and named by what it touches.

A planner changes one thing at a time (a person, a rotation, an explicit shift, an
override). Checking the whole configuration again for that (``validate_references``
walks every entry of the national set) costs more than the write may take, so the
checks here look only at what the edit can break: the object's own references, and
the references of others to it when it goes away or loses a membership. What the edit
touched (section and key, before and after) is returned so that the caller can check
whose regions those are, store only those rows, and later undo exactly this change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from oncall import changes
from oncall.schemas import ConfigSet, Override, Person, Rotation, Shift

EDITABLE = ("people", "rotations", "shifts", "overrides")
MODELS: dict[str, type[BaseModel]] = {
    "people": Person,
    "rotations": Rotation,
    "shifts": Shift,
    "overrides": Override,
}
# How far ahead a change without its own interval (a rotation, a person) is shown.
HORIZON = timedelta(weeks=8)


class Op(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class EditRejected(ValueError):
    """The edit breaks a rule; ``field`` names where, ``status`` is 422 (bad input) or
    404 (the object to change does not exist)."""

    def __init__(self, field: str, rule: str, *, status: int = 422) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule
        self.status = status


@dataclass(frozen=True)
class Edit:
    """Create ``value``, replace the object named ``key`` by ``value``, or delete ``key``."""

    section: str
    op: Op
    key: str | None = None
    value: BaseModel | None = None


@dataclass(frozen=True)
class Touched:
    """One object an edit changed: how it was (None: it did not exist) and how it is."""

    section: str
    key: str
    before: BaseModel | None
    after: BaseModel | None


@dataclass(frozen=True)
class Applied:
    config: ConfigSet
    touched: tuple[Touched, ...]
    teams: tuple[str, ...]  # the teams whose calendar can change
    start: datetime  # the affected period (for the calendar diff and the rest rules)
    end: datetime
    keys: dict[str, list[str]] = field(default_factory=dict)  # section -> keys touched


def changed_teams(touched: Iterable[Touched]) -> dict[str, set[str]]:
    """Per section touched, the teams of its objects before and after the change (for
    ``ConfigSnapshot.evolved``)."""
    out: dict[str, set[str]] = {}
    for t in touched:
        teams = out.setdefault(t.section, set())
        for obj in (t.before, t.after):
            team = getattr(obj, "team", None)
            if isinstance(team, str):
                teams.add(team)
    return out


def key_of(section: str, obj: BaseModel) -> str:
    return changes.key_of(section, obj)


def _index(config: ConfigSet, section: str) -> dict[str, int]:
    return {key_of(section, obj): i for i, obj in enumerate(getattr(config, section))}


def replace_objects(config: ConfigSet, touched: Iterable[Touched]) -> ConfigSet:
    """``config`` with each touched object put as it is ``after`` (None: removed).

    A changed object keeps its place (the order of overrides decides precedence); a new
    one goes to the end of its section. Objects are not validated again: they are.
    """
    by_section: dict[str, list[Touched]] = {}
    for t in touched:
        by_section.setdefault(t.section, []).append(t)
    update: dict[str, tuple[BaseModel, ...]] = {}
    for section, items in by_section.items():
        objects: list[BaseModel | None] = list(getattr(config, section))
        index = _index(config, section)
        for t in items:
            at = index.get(t.key)
            if at is not None:
                objects[at] = None
            if t.after is None:
                continue
            new_key = key_of(section, t.after)
            if at is not None and new_key == t.key:
                objects[at] = t.after
            else:
                other = index.get(new_key)
                if other is not None and objects[other] is not None:
                    objects[other] = t.after
                else:
                    objects.append(t.after)
        update[section] = tuple(o for o in objects if o is not None)
    return config.model_copy(update=update)


# --- checks ----------------------------------------------------------------------------


def _members(config: ConfigSet) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in config.people:
        for ms in p.memberships:
            out.setdefault(ms.team, set()).add(p.id)
    return out


def _check_person(config: ConfigSet, person: Person, old: Person | None) -> None:
    teams = {t.id for t in config.teams}
    seen: set[str] = set()
    for i, ms in enumerate(person.memberships):
        if ms.team not in teams:
            raise EditRejected(f"memberships[{i}].team", f"unknown team '{ms.team}'")
        if ms.team in seen:
            raise EditRejected(f"memberships[{i}].team", f"team '{ms.team}' appears twice")
        seen.add(ms.team)
    if old is None:
        return
    if old.id != person.id:
        raise EditRejected("id", "a person's id cannot change; remove and add instead")
    dropped = {ms.team for ms in old.memberships} - seen
    if dropped:
        _still_rostered(config, person.id, dropped, "memberships")


def _still_rostered(config: ConfigSet, person_id: str, teams: set[str] | None, field: str) -> None:
    """Refuse to drop a person (from ``teams``; None: everywhere) who is still named on
    a roster or override there: the roster would name someone who cannot be paged."""

    def hit(team: str) -> bool:
        return teams is None or team in teams

    for r in config.rotations:
        if hit(r.team) and person_id in r.participants:
            raise EditRejected(field, f"'{person_id}' is still on rotation '{r.id}'")
    for sh in config.shifts:
        if hit(sh.team) and sh.person == person_id:
            key = key_of("shifts", sh)
            raise EditRejected(field, f"'{person_id}' still has the shift '{key}'")
    for o in config.overrides:
        if hit(o.team) and person_id in (o.person, o.replaces):
            raise EditRejected(field, f"'{person_id}' is still named in override '{o.id}'")


def _check_team_member(
    config: ConfigSet, members: Mapping[str, set[str]], team: str, people: Iterable[tuple[str, str]]
) -> None:
    if all(t.id != team for t in config.teams):
        raise EditRejected("team", f"unknown team '{team}'")
    known = {p.id for p in config.people}
    for where, pid in people:
        if pid not in known:
            raise EditRejected(where, f"unknown person '{pid}'")
        if pid not in members.get(team, set()):
            raise EditRejected(where, f"'{pid}' is not a member of team '{team}'")


def _check(config: ConfigSet, section: str, obj: BaseModel, old: BaseModel | None) -> None:
    members = _members(config)
    if isinstance(obj, Person):
        assert old is None or isinstance(old, Person)
        _check_person(config, obj, old)
    elif isinstance(obj, Rotation):
        if len(set(obj.participants)) != len(obj.participants):
            raise EditRejected("participants", "a person appears twice")
        _check_team_member(
            config,
            members,
            obj.team,
            ((f"participants[{i}]", p) for i, p in enumerate(obj.participants)),
        )
    elif isinstance(obj, Shift):
        _check_team_member(config, members, obj.team, [("person", obj.person)])
    elif isinstance(obj, Override):
        named = [("person", obj.person)]
        if obj.replaces:
            named.append(("replaces", obj.replaces))
        _check_team_member(config, members, obj.team, named)
    if (
        old is not None
        and section != "people"
        and getattr(old, "team", None) != getattr(obj, "team", None)
    ):
        raise EditRejected("team", "an entry cannot move to another team; remove and add")


def _period(touched: Iterable[Touched], now: datetime) -> tuple[datetime, datetime]:
    starts: list[datetime] = []
    ends: list[datetime] = []
    for t in touched:
        for obj in (t.before, t.after):
            if isinstance(obj, Shift | Override):
                starts.append(obj.start)
                ends.append(obj.end)
            elif obj is not None:
                starts.append(now)
                ends.append(now + HORIZON)
    if not starts:
        return now, now + HORIZON
    return min(starts), max(ends)


def _teams(touched: Iterable[Touched]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for t in touched:
        for obj in (t.before, t.after):
            if isinstance(obj, Person):
                for ms in obj.memberships:
                    found[ms.team] = None
            elif obj is not None:
                found[str(obj.team)] = None  # type: ignore[attr-defined]
    return tuple(found)


def applied(config: ConfigSet, touched: tuple[Touched, ...], now: datetime) -> Applied:
    start, end = _period(touched, now)
    keys: dict[str, list[str]] = {}
    for t in touched:
        keys.setdefault(t.section, []).append(t.key)
        if t.after is not None and key_of(t.section, t.after) != t.key:
            keys[t.section].append(key_of(t.section, t.after))
    return Applied(
        config=replace_objects(config, touched),
        touched=touched,
        teams=_teams(touched),
        start=start,
        end=end,
        keys=keys,
    )


def apply(config: ConfigSet, edit: Edit, *, now: datetime) -> Applied:
    """The configuration after ``edit``, checked; ``EditRejected`` names what is wrong."""
    if edit.section not in EDITABLE:
        raise EditRejected("section", f"one of {', '.join(EDITABLE)}")
    index = _index(config, edit.section)
    objects = getattr(config, edit.section)
    old: BaseModel | None = None
    if edit.op in (Op.UPDATE, Op.DELETE):
        if edit.key is None or edit.key not in index:
            raise EditRejected("id", f"no {edit.section} entry '{edit.key}'", status=404)
        old = objects[index[edit.key]]
    if edit.op == Op.DELETE:
        assert old is not None and edit.key is not None
        if isinstance(old, Person):
            _still_rostered(config, old.id, None, "id")
        touched = (Touched(edit.section, edit.key, old, None),)
        return applied(config, touched, now)
    value = edit.value
    if value is None or not isinstance(value, MODELS[edit.section]):
        raise EditRejected("body", f"expected one entry of {edit.section}")
    new_key = key_of(edit.section, value)
    if edit.op == Op.CREATE and new_key in index:
        raise EditRejected("id", f"'{new_key}' already exists in {edit.section}")
    if edit.op == Op.UPDATE and new_key != edit.key and new_key in index:
        raise EditRejected("id", f"'{new_key}' already exists in {edit.section}")
    _check(config, edit.section, value, old)
    key = edit.key if edit.op == Op.UPDATE and edit.key is not None else new_key
    touched = (Touched(edit.section, key, old, value),)
    return applied(config, touched, now)


def parse(section: str, data: Mapping[str, Any]) -> BaseModel:
    """One entry from JSON, as the YAML files would give it (pydantic errors propagate)."""
    model = MODELS.get(section)
    if model is None:
        raise EditRejected("section", f"one of {', '.join(EDITABLE)}")
    return model.model_validate(dict(data))


def owners(before: ConfigSet, after: ConfigSet, touched: Iterable[Touched]) -> set[str | None]:
    """Every region the touched objects belong to, before or after the edit (None: an
    object outside every region, which only an admin changes)."""
    found: set[str | None] = set()
    for t in touched:
        if t.before is not None:
            found |= changes.owners(before, t.section, t.before)
        if t.after is not None:
            found |= changes.owners(after, t.section, t.after)
    found.discard(changes.UNKNOWN)
    return found


# --- undo ------------------------------------------------------------------------------


def diff_keys(diff: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """Section -> every key a stored version diff names (added, removed or changed)."""
    out: dict[str, set[str]] = {}
    for section, entry in diff.items():
        keys = {*entry.get("added", ()), *entry.get("removed", ()), *entry.get("changed", {})}
        if keys:
            out[section] = keys
    return out


def conflicts(
    undone: Mapping[str, set[str]], later: Iterable[tuple[int, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """The later versions that changed any of the same objects, each with what they share."""
    found = []
    for version, diff in later:
        shared = {
            section: sorted(keys & undone.get(section, set()))
            for section, keys in diff_keys(diff).items()
            if keys & undone.get(section, set())
        }
        if shared:
            found.append({"version": version, "objects": shared})
    return found


def _plain_key(section: str, item: Mapping[str, Any]) -> str:
    if section == "municipalities":
        return str(item.get("code"))
    if section == "shifts":
        return f"{item.get('team')}/{item.get('person')}/{item.get('start')}"
    return str(item.get("id"))


def revert(
    current: ConfigSet, undone: Mapping[str, set[str]], previous: Mapping[str, Any]
) -> tuple[Touched, ...]:
    """Put every object named in ``undone`` back as it was in ``previous`` (the stored
    document of the version before the change): present there, it is restored in
    place or added again; absent there, it is removed. Only those objects are parsed."""
    touched: list[Touched] = []
    for section in ConfigSet.SECTIONS:
        keys = undone.get(section)
        if not keys:
            continue
        now_by_key = {key_of(section, o): o for o in getattr(current, section)}
        was: dict[str, Mapping[str, Any]] = {}
        for item in previous.get(section, ()):
            if isinstance(item, Mapping):
                k = _plain_key(section, item)
                if k in keys and k not in was:
                    was[k] = item
        parsed = changes.from_document({section: list(was.values())})
        restored = {key_of(section, o): o for o in getattr(parsed, section)}
        for key in sorted(keys):
            before = now_by_key.get(key)
            after = restored.get(key)
            if before is None and after is None:
                continue
            if before is not None and after is not None and before == after:
                continue
            touched.append(Touched(section, key, before, after))
    return tuple(touched)


def diff_of(touched: Iterable[Touched]) -> dict[str, dict[str, Any]]:
    """The stored diff of an edit (the shape of ``changes.diff``), from what it touched
    alone: comparing two whole national configurations costs more than the edit."""
    out: dict[str, dict[str, Any]] = {}
    for t in touched:
        entry = out.setdefault(t.section, {})
        new_key = key_of(t.section, t.after) if t.after is not None else None
        if t.before is not None and t.after is not None and new_key == t.key:
            fields = [
                name
                for name in type(t.before).model_fields
                if getattr(t.before, name) != getattr(t.after, name)
            ]
            if fields:
                entry.setdefault("changed", {})[t.key] = fields
            continue
        if t.before is not None:
            entry.setdefault("removed", []).append(t.key)
        if new_key is not None:
            entry.setdefault("added", []).append(new_key)
    return {section: entry for section, entry in out.items() if entry}


def team_slice(config: ConfigSet, teams: Iterable[str]) -> ConfigSet:
    """Only what the calendars of ``teams`` need (their regions, the teams, their
    members, rosters, overrides and rules): a snapshot of it is built in a fraction of
    the national one's time."""
    wanted = set(teams)
    regions = {t.region for t in config.teams if t.id in wanted}
    return ConfigSet.model_construct(
        regions=tuple(r for r in config.regions if r.id in regions),
        municipalities=(),
        basisteams=(),
        teams=tuple(t for t in config.teams if t.id in wanted),
        people=tuple(p for p in config.people if any(ms.team in wanted for ms in p.memberships)),
        rotations=tuple(r for r in config.rotations if r.team in wanted),
        shifts=tuple(x for x in config.shifts if x.team in wanted),
        overrides=tuple(o for o in config.overrides if o.team in wanted),
        rules=tuple(r for r in config.rules if r.team in wanted),
    )

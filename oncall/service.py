"""Reading and writing the configuration in the database (the one source of truth).

A configuration write replaces the whole set in one transaction and bumps the
version, so a half-loaded configuration can never be seen and every API process
notices the change on its next request.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, cast, delete, insert, literal, select, text, type_coerce, update
from sqlalchemy.orm import Session

from core.timeutil import AMS
from oncall import changes, versions
from oncall import models as m
from oncall import schemas as s
from oncall.snapshot import ConfigSnapshot

_RULE_KEYS = {"id", "team", "role", "priority", "consult"}
_DELETE_ORDER = (
    m.CoverageRule,
    m.Override,
    m.Shift,
    m.RotationParticipant,
    m.Rotation,
    m.Membership,
    m.ContactPoint,
    m.Person,
    m.Team,
    m.BasisteamMunicipality,
    m.Basisteam,
    m.Municipality,
    m.Region,
)


def _windows(windows: tuple[s.Window, ...] | None) -> list[dict[str, Any]] | None:
    return None if windows is None else [w.model_dump(mode="json") for w in windows]


_VERSION = text("SELECT version FROM config_state WHERE id = 1")


def get_version(*, session: Session) -> int:
    """Read on every request, so a plain statement (no ORM machinery)."""
    version = session.execute(_VERSION).scalar()
    return int(version or 0)


def write_config(
    *,
    session: Session,
    config: s.ConfigSet,
    now: datetime,
    source: str,
    author: str | None = None,
    guard: changes.Guard | None = None,
    rollback_of: int | None = None,
) -> int:
    """Replace the stored configuration with ``config``; returns the new version.

    The caller owns the transaction: nothing is visible until it commits, and an
    error anywhere leaves the previous configuration untouched. Every write is kept as
    a version (``oncall.versions``) by ``author`` (the source when not given); with a
    ``guard``, a dangerous removal raises ``changes.NeedsConfirmation`` before anything
    is written.
    """
    state = session.get(m.ConfigState, 1, with_for_update=True)
    previous = read_config(session=session)
    if guard is not None:
        guard.check(previous, config)
    for model in _DELETE_ORDER:
        session.execute(delete(model))

    def bulk(model: type[Any], rows: list[dict[str, Any]]) -> None:
        if rows:
            session.execute(insert(model), rows)

    bulk(
        m.Region,
        [
            {
                "id": r.id,
                "name": r.name,
                "office_hours": _windows(r.office_hours),
                "no_accept_alarm_minutes": r.no_accept_alarm_minutes,
                "position": i,
            }
            for i, r in enumerate(config.regions)
        ],
    )
    bulk(
        m.Municipality,
        [
            {"code": x.code, "name": x.name, "position": i}
            for i, x in enumerate(config.municipalities)
        ],
    )
    bulk(
        m.Basisteam,
        [
            {"id": b.id, "name": b.name, "region_id": b.region, "position": i}
            for i, b in enumerate(config.basisteams)
        ],
    )
    bulk(
        m.BasisteamMunicipality,
        [
            {"basisteam_id": b.id, "municipality_code": code, "position": i}
            for b in config.basisteams
            for i, code in enumerate(b.municipalities)
        ],
    )
    bulk(
        m.Team,
        [
            {
                "id": t.id,
                "kind": t.kind.value,
                "name": t.name,
                "region_id": t.region,
                "phone": t.phone,
                "office_hours": _windows(t.office_hours),
                "escalation": t.escalation.model_dump(mode="json") if t.escalation else None,
                "providers": list(t.providers) if t.providers else None,
                "planning": t.planning.model_dump(mode="json") if t.planning else None,
                "mandate": t.mandate.model_dump(mode="json") if t.mandate else None,
                "position": i,
            }
            for i, t in enumerate(config.teams)
        ],
    )
    bulk(
        m.Person,
        [
            {"id": p.id, "name": p.name, "active": p.active, "position": i}
            for i, p in enumerate(config.people)
        ],
    )
    bulk(
        m.ContactPoint,
        [
            {"person_id": p.id, "position": i, "kind": "phone", "value": phone}
            for p in config.people
            for i, phone in enumerate(p.phones)
        ],
    )
    bulk(
        m.Membership,
        [
            {"person_id": p.id, "team_id": ms.team, "role": ms.role, "position": i}
            for p in config.people
            for i, ms in enumerate(p.memberships)
        ],
    )
    bulk(
        m.Rotation,
        [
            {
                "id": r.id,
                "team_id": r.team,
                "layer": r.layer.value,
                "start": r.start,
                "until": r.until,
                "handoff": r.handoff.model_dump(mode="json", exclude_none=True),
                "windows": _windows(r.windows),
                "holidays": r.holidays.value,
                "position": i,
            }
            for i, r in enumerate(config.rotations)
        ],
    )
    bulk(
        m.RotationParticipant,
        [
            {"rotation_id": r.id, "position": i, "person_id": pid}
            for r in config.rotations
            for i, pid in enumerate(r.participants)
        ],
    )
    bulk(
        m.Shift,
        [
            {
                "team_id": x.team,
                "person_id": x.person,
                "start": x.start,
                "end": x.end,
                "layer": x.layer.value,
                "position": i,
            }
            for i, x in enumerate(config.shifts)
        ],
    )
    bulk(
        m.Override,
        [
            {
                "id": o.id,
                "team_id": o.team,
                "kind": o.kind.value,
                "person_id": o.person,
                "replaces_id": o.replaces,
                "start": o.start,
                "end": o.end,
                "layer": o.layer.value,
                "reason": o.reason,
                "position": i,
            }
            for i, o in enumerate(config.overrides)
        ],
    )
    bulk(
        m.CoverageRule,
        [
            {
                "id": r.id,
                "team_id": r.team,
                "role": r.role.value,
                "priority": r.priority,
                "consult_team_id": r.consult.team if r.consult else None,
                "spec": {
                    **r.model_dump(mode="json", exclude=_RULE_KEYS, exclude_none=True),
                    "consult_note": r.consult.note if r.consult else None,
                },
                "position": i,
            }
            for i, r in enumerate(config.rules)
        ],
    )

    return _bump(
        session,
        state,
        now=now,
        source=source,
        author=author,
        previous=previous,
        current=config,
        rollback_of=rollback_of,
    )


def _bump(
    session: Session,
    state: m.ConfigState | None,
    *,
    now: datetime,
    source: str,
    author: str | None,
    previous: s.ConfigSet,
    current: s.ConfigSet,
    rollback_of: int | None = None,
) -> int:
    if state is None:
        state = m.ConfigState(id=1, version=0, updated_at=now)
        session.add(state)
    state.version = (state.version or 0) + 1
    state.updated_at = now
    state.source = source
    versions.record(
        session,
        version=state.version,
        now=now,
        author=author or source,
        source=source,
        previous=previous,
        current=current,
        rollback_of=rollback_of,
    )
    session.flush()
    return state.version


class ConfigRejected(ValueError):
    """A single change that breaks a rule; ``field`` names what is wrong."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def add_override(
    *,
    session: Session,
    override: s.Override,
    now: datetime,
    source: str,
    author: str | None = None,
) -> int:
    """Add one override (someone ill, a swap) without resending the whole configuration."""
    state = session.get(m.ConfigState, 1, with_for_update=True)
    previous = read_config(session=session)
    if session.get(m.Override, override.id) is not None:
        raise ConfigRejected("id", f"an override '{override.id}' already exists")
    if session.get(m.Team, override.team) is None:
        raise ConfigRejected("team", f"unknown team '{override.team}'")
    for field, person in (("person", override.person), ("replaces", override.replaces)):
        if person is None:
            continue
        if session.get(m.Person, person) is None:
            raise ConfigRejected(field, f"unknown person '{person}'")
        if session.get(m.Membership, (person, override.team)) is None:
            raise ConfigRejected(field, f"'{person}' is not a member of team '{override.team}'")
    last = session.scalar(select(m.Override.position).order_by(m.Override.position.desc()))
    session.add(
        m.Override(
            id=override.id,
            team_id=override.team,
            kind=override.kind.value,
            person_id=override.person,
            replaces_id=override.replaces,
            start=override.start,
            end=override.end,
            layer=override.layer.value,
            reason=override.reason,
            position=(last or 0) + 1,
        )
    )
    current = previous.model_copy(update={"overrides": (*previous.overrides, override)})
    return _bump(
        session,
        state,
        now=now,
        source=source,
        author=author,
        previous=previous,
        current=current,
    )


def remove_override(
    *,
    session: Session,
    override_id: str,
    now: datetime,
    source: str,
    author: str | None = None,
) -> int:
    state = session.get(m.ConfigState, 1, with_for_update=True)
    row = session.get(m.Override, override_id)
    if row is None:
        raise LookupError(override_id)
    previous = read_config(session=session)
    session.delete(row)
    kept = tuple(o for o in previous.overrides if o.id != override_id)
    return _bump(
        session,
        state,
        now=now,
        source=source,
        author=author,
        previous=previous,
        current=previous.model_copy(update={"overrides": kept}),
    )


# --- One planner's edit: only the rows it touched (oncall.edits) ------------------------
#
# ``write_config`` rewrites every table and keeps the whole document, which on the
# national configuration takes over a second: too slow for a planner filling a gap
# while incidents come in. An edit touches a handful of rows, so only those are written,
# and the version's document is the previous one with the touched objects replaced
# (the untouched entries are shared, not rebuilt). The version history is unchanged:
# every version still holds the whole configuration and its diff.

INCREMENTAL_SECTIONS = frozenset({"people", "rotations", "shifts", "overrides"})


class _Documents:
    """The stored document of the newest version this process wrote, kept with the very
    configuration value it describes, so the next edit builds its document from it
    instead of from the whole configuration. It is used only for that same value (the
    snapshot cache hands it out), never for another configuration that happens to
    carry the same version number (a database restored or rolled back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._config: s.ConfigSet | None = None
        self._document: dict[str, Any] | None = None
        self._sections: dict[str, tuple[Any, str]] = {}
        self._entries: dict[int, tuple[Any, str]] = {}

    def get(self, version: int, config: s.ConfigSet) -> dict[str, Any] | None:
        with self._lock:
            if self._version == version and self._config is config:
                return self._document
            return None

    def put(self, version: int, config: s.ConfigSet, document: dict[str, Any]) -> None:
        with self._lock:
            self._version, self._config, self._document = version, config, document

    def text_of(self, document: dict[str, Any]) -> str:
        """``document`` as JSON text. A section's text is kept with the section's list,
        which the next version's document shares when the edit did not touch it; in a
        touched section each entry's text is kept with the entry. So an edit encodes
        only what it changed instead of the whole national configuration."""
        with self._lock:
            known_sections, known_entries = self._sections, self._entries
        sections: dict[str, tuple[Any, str]] = {}
        entries: dict[int, tuple[Any, str]] = {}
        out = []
        for section, items in document.items():
            hit = known_sections.get(section)
            if hit is not None and hit[0] is items:
                text = hit[1]
            else:
                parts = []
                for entry in items:
                    found = known_entries.get(id(entry))
                    if found is not None and found[0] is entry:
                        parts.append(found[1])
                    else:
                        parts.append(json.dumps(entry))
                    entries[id(entry)] = (entry, parts[-1])
                text = f"[{', '.join(parts)}]"
            sections[section] = (items, text)
            out.append(f"{json.dumps(section)}: {text}")
        with self._lock:
            self._sections, self._entries = sections, entries
        return "{" + ", ".join(out) + "}"


DOCUMENTS = _Documents()


def _plain_entry(section: str, obj: Any) -> dict[str, Any]:
    one = s.ConfigSet.model_construct(**{section: (obj,)})  # type: ignore[arg-type]
    entry: dict[str, Any] = changes.document(one)[section][0]
    return entry


def _document_after(
    previous_doc: dict[str, Any], current: s.ConfigSet, touched: Any
) -> dict[str, Any]:
    """``previous_doc`` with the touched sections rebuilt from ``current``, reusing the
    plain entries of untouched objects."""
    from oncall.edits import _plain_key

    doc = dict(previous_doc)
    sections: dict[str, set[str]] = {}
    for t in touched:
        keys = sections.setdefault(t.section, set())
        keys.add(t.key)
        if t.after is not None:
            keys.add(changes.key_of(t.section, t.after))
    for section, keys in sections.items():
        old = {_plain_key(section, item): item for item in previous_doc.get(section, ())}
        entries = []
        for obj in getattr(current, section):
            key = changes.key_of(section, obj)
            entry = old.get(key) if key not in keys else None
            entries.append(entry if entry is not None else _plain_entry(section, obj))
        doc[section] = entries
    return doc


def _next_position(session: Session, model: Any) -> int:
    last = session.scalar(select(model.position).order_by(model.position.desc()).limit(1))
    return int(last or 0) + 1


def _write_person(session: Session, before: s.Person | None, after: s.Person | None) -> None:
    pid = (after or before).id  # type: ignore[union-attr]
    session.execute(delete(m.ContactPoint).where(m.ContactPoint.person_id == pid))
    session.execute(delete(m.Membership).where(m.Membership.person_id == pid))
    if after is None:
        session.execute(delete(m.Person).where(m.Person.id == pid))
        return
    if before is None:
        session.execute(
            insert(m.Person),
            [
                {
                    "id": pid,
                    "name": after.name,
                    "active": after.active,
                    "position": _next_position(session, m.Person),
                }
            ],
        )
    else:
        session.execute(
            update(m.Person).where(m.Person.id == pid).values(name=after.name, active=after.active)
        )
    if after.phones:
        session.execute(
            insert(m.ContactPoint),
            [
                {"person_id": pid, "position": i, "kind": "phone", "value": v}
                for i, v in enumerate(after.phones)
            ],
        )
    if after.memberships:
        session.execute(
            insert(m.Membership),
            [
                {"person_id": pid, "team_id": ms.team, "role": ms.role, "position": i}
                for i, ms in enumerate(after.memberships)
            ],
        )


def _write_rotation(session: Session, before: s.Rotation | None, after: s.Rotation | None) -> None:
    rid = (after or before).id  # type: ignore[union-attr]
    session.execute(delete(m.RotationParticipant).where(m.RotationParticipant.rotation_id == rid))
    if after is None:
        session.execute(delete(m.Rotation).where(m.Rotation.id == rid))
        return
    values = {
        "team_id": after.team,
        "layer": after.layer.value,
        "start": after.start,
        "until": after.until,
        "handoff": after.handoff.model_dump(mode="json", exclude_none=True),
        "windows": _windows(after.windows),
        "holidays": after.holidays.value,
    }
    if before is None:
        session.execute(
            insert(m.Rotation),
            [{"id": rid, **values, "position": _next_position(session, m.Rotation)}],
        )
    else:
        session.execute(update(m.Rotation).where(m.Rotation.id == rid).values(**values))
    session.execute(
        insert(m.RotationParticipant),
        [
            {"rotation_id": rid, "position": i, "person_id": p}
            for i, p in enumerate(after.participants)
        ],
    )


def _write_shift(session: Session, before: s.Shift | None, after: s.Shift | None) -> None:
    position: int | None = None
    if before is not None:
        where = (
            (m.Shift.team_id == before.team)
            & (m.Shift.person_id == before.person)
            & (m.Shift.start == before.start)
        )
        position = session.scalar(select(m.Shift.position).where(where).limit(1))
        session.execute(delete(m.Shift).where(where))
    if after is None:
        return
    if position is None or changes.key_of("shifts", after) != changes.key_of("shifts", before):  # type: ignore[arg-type]
        position = _next_position(session, m.Shift)
    session.execute(
        insert(m.Shift),
        [
            {
                "team_id": after.team,
                "person_id": after.person,
                "start": after.start,
                "end": after.end,
                "layer": after.layer.value,
                "position": position,
            }
        ],
    )


def _write_override(session: Session, before: s.Override | None, after: s.Override | None) -> None:
    oid = (after or before).id  # type: ignore[union-attr]
    if after is None:
        session.execute(delete(m.Override).where(m.Override.id == oid))
        return
    values = {
        "team_id": after.team,
        "kind": after.kind.value,
        "person_id": after.person,
        "replaces_id": after.replaces,
        "start": after.start,
        "end": after.end,
        "layer": after.layer.value,
        "reason": after.reason,
    }
    if before is None:
        session.execute(
            insert(m.Override),
            [{"id": oid, **values, "position": _next_position(session, m.Override)}],
        )
    else:
        session.execute(update(m.Override).where(m.Override.id == oid).values(**values))


_WRITERS: dict[str, Any] = {
    "people": _write_person,
    "rotations": _write_rotation,
    "shifts": _write_shift,
    "overrides": _write_override,
}


def lock_state(*, session: Session) -> int:
    """Take the configuration's write lock (until commit); the version it is at."""
    state = session.get(m.ConfigState, 1, with_for_update=True)
    return int(state.version or 0) if state is not None else 0


def write_touched(
    *,
    session: Session,
    previous: s.ConfigSet,
    previous_version: int,
    current: s.ConfigSet,
    touched: Any,
    diff: dict[str, Any],
    now: datetime,
    source: str,
    author: str,
    rollback_of: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """Store one edit (``oncall.edits.Touched`` items, all in ``INCREMENTAL_SECTIONS``)
    as the next version; returns it and its document (``remember`` it after commit).

    The caller holds the lock (``lock_state``) and ``previous`` is the configuration of
    ``previous_version``, checked by the caller; the caller commits."""
    state = session.get(m.ConfigState, 1, with_for_update=True)
    if state is None or int(state.version or 0) != previous_version:
        raise RuntimeError("the configuration moved while the edit was prepared")
    for t in touched:
        if t.section not in INCREMENTAL_SECTIONS:
            raise ValueError(f"section '{t.section}' is not written one object at a time")
        # changing a shift's start changes its key: the old row goes, the new one comes
        _WRITERS[t.section](session, t.before, t.after)
    previous_doc = DOCUMENTS.get(previous_version, previous)
    if previous_doc is None:  # another process wrote it, or this one just started
        previous_doc = _stored_document(session, previous_version, previous)
    document = _document_after(previous_doc, current, touched)
    state.version = previous_version + 1
    state.updated_at = now
    state.source = source
    text = DOCUMENTS.text_of(document)
    # The document goes in as JSON text built from the previous version's entries (only
    # the touched ones are encoded again); read back, it is the same JSON value.
    stored: Any = (
        type_coerce(literal(text, Text), Text)
        if session.get_bind().dialect.name == "sqlite"
        else cast(literal(text, Text), JSON)
    )
    session.execute(
        insert(m.ConfigVersion).values(
            version=state.version,
            at=now,
            author=author[:160],
            source=source,
            rollback_of=rollback_of,
            summary=changes.summary(diff),
            diff=diff,
            document=stored,
        )
    )
    session.flush()
    versions.RECENT.put((state.version, now), document)
    return state.version, document


def _stored_document(session: Session, version: int, config: s.ConfigSet) -> dict[str, Any]:
    """The document of ``version`` as stored (parsing JSON is far cheaper than building
    the document from the configuration); built when no version row holds it."""
    found = session.scalar(
        select(m.ConfigVersion.document).where(m.ConfigVersion.version == version)
    )
    if isinstance(found, dict) and all(section in found for section in s.ConfigSet.SECTIONS):
        return found
    return changes.document(config)


def _local(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(AMS)


def read_config(*, session: Session) -> s.ConfigSet:
    """The stored configuration as the same value the YAML loader produces."""
    links: dict[str, list[str]] = {}
    for row in session.scalars(
        select(m.BasisteamMunicipality).order_by(
            m.BasisteamMunicipality.basisteam_id, m.BasisteamMunicipality.position
        )
    ):
        links.setdefault(row.basisteam_id, []).append(row.municipality_code)
    memberships: dict[str, list[s.Membership]] = {}
    for ms in session.scalars(
        select(m.Membership).order_by(m.Membership.person_id, m.Membership.position)
    ):
        memberships.setdefault(ms.person_id, []).append(s.Membership(team=ms.team_id, role=ms.role))
    phones: dict[str, list[str]] = {}
    for cp in session.scalars(
        select(m.ContactPoint).order_by(m.ContactPoint.person_id, m.ContactPoint.position)
    ):
        phones.setdefault(cp.person_id, []).append(cp.value)
    participants: dict[str, list[str]] = {}
    for rp in session.scalars(
        select(m.RotationParticipant).order_by(
            m.RotationParticipant.rotation_id, m.RotationParticipant.position
        )
    ):
        participants.setdefault(rp.rotation_id, []).append(rp.person_id)

    return s.ConfigSet(
        regions=tuple(
            s.Region(
                id=r.id,
                name=r.name,
                office_hours=r.office_hours,
                no_accept_alarm_minutes=r.no_accept_alarm_minutes,
            )
            for r in session.scalars(select(m.Region).order_by(m.Region.position))
        ),
        municipalities=tuple(
            s.Municipality(code=x.code, name=x.name)
            for x in session.scalars(select(m.Municipality).order_by(m.Municipality.position))
        ),
        basisteams=tuple(
            s.Basisteam(
                id=b.id, name=b.name, region=b.region_id, municipalities=tuple(links.get(b.id, ()))
            )
            for b in session.scalars(select(m.Basisteam).order_by(m.Basisteam.position))
        ),
        teams=tuple(
            s.Team(
                id=t.id,
                kind=t.kind,
                name=t.name,
                region=t.region_id,
                phone=t.phone,
                office_hours=t.office_hours,
                escalation=t.escalation,
                providers=tuple(t.providers) if t.providers else None,
                planning=t.planning,
                mandate=t.mandate,
            )
            for t in session.scalars(select(m.Team).order_by(m.Team.position))
        ),
        people=tuple(
            s.Person(
                id=p.id,
                name=p.name,
                active=p.active,
                phones=tuple(phones.get(p.id, ())),
                memberships=tuple(memberships.get(p.id, ())),
            )
            for p in session.scalars(select(m.Person).order_by(m.Person.position))
        ),
        rotations=tuple(
            s.Rotation(
                id=r.id,
                team=r.team_id,
                layer=r.layer,
                participants=tuple(participants.get(r.id, ())),
                start=_local(r.start),
                until=_local(r.until),
                handoff=r.handoff,
                windows=r.windows,
                holidays=r.holidays,
            )
            for r in session.scalars(select(m.Rotation).order_by(m.Rotation.position))
        ),
        shifts=tuple(
            s.Shift(
                team=x.team_id,
                person=x.person_id,
                start=_local(x.start),
                end=_local(x.end),
                layer=x.layer,
            )
            for x in session.scalars(select(m.Shift).order_by(m.Shift.position))
        ),
        overrides=tuple(
            s.Override(
                id=o.id,
                team=o.team_id,
                kind=o.kind,
                person=o.person_id,
                replaces=o.replaces_id,
                start=_local(o.start),
                end=_local(o.end),
                layer=o.layer,
                reason=o.reason,
            )
            for o in session.scalars(select(m.Override).order_by(m.Override.position))
        ),
        rules=tuple(
            _rule(r)
            for r in session.scalars(select(m.CoverageRule).order_by(m.CoverageRule.position))
        ),
    )


def _rule(row: m.CoverageRule) -> s.CoverageRule:
    spec = dict(row.spec)
    note = spec.pop("consult_note", None)
    consult = {"team": row.consult_team_id, "note": note} if row.consult_team_id else None
    return s.CoverageRule.model_validate(
        {
            **spec,
            "id": row.id,
            "team": row.team_id,
            "role": row.role,
            "priority": row.priority,
            "consult": consult,
        }
    )


# Set by ``samenop serve`` (``api.server.tune_gc``): once a new snapshot is in place,
# what is alive is frozen out of the garbage collector. The national configuration is
# most of the heap (300,000 objects); a full collection walking it took 150-200 ms, in
# the middle of whichever request triggered it. A snapshot that is replaced is still
# freed (by reference counting: it holds no cycles).
FREEZE_SNAPSHOTS = False


def _settle() -> None:
    if FREEZE_SNAPSHOTS:
        gc.collect(1)  # the young garbage first, so that it is not frozen with it
        gc.freeze()


class SnapshotCache:
    """One pairing snapshot per configuration version, rebuilt when the version moves.

    Each call costs one primary-key read, so a planner's change is used by the very
    next incident in every process. A change this process commits is announced first
    (``committing``): a request that meets its version before the writer has put the new
    snapshot waits the moment for it, instead of reading the whole configuration back
    (hundreds of milliseconds of CPU on the national configuration, once per save).
    """

    # How long a request waits for a writer that announced its version.
    PENDING_WAIT_SECONDS = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: ConfigSnapshot | None = None
        self._pending: dict[int, threading.Event] = {}

    def get(self, *, session: Session) -> ConfigSnapshot:
        version = get_version(session=session)
        current = self._snapshot
        if current is not None and current.version == version:
            return current
        announced = self._pending.get(version)
        if announced is not None and announced.wait(self.PENDING_WAIT_SECONDS):
            current = self._snapshot
            if current is not None and current.version == version:
                return current
        with self._lock:
            current = self._snapshot
            if current is not None and current.version == version:
                return current
            current = ConfigSnapshot(read_config(session=session), version)
            self._snapshot = current
        _settle()
        return current

    def put(self, snapshot: ConfigSnapshot) -> None:
        """A configuration this process just committed: the next request need not read
        it back (a newer one already cached is kept)."""
        with self._lock:
            if self._snapshot is not None and self._snapshot.version >= snapshot.version:
                return
            self._snapshot = snapshot
        _settle()

    @contextmanager
    def committing(self, version: int, build: Callable[[], ConfigSnapshot]) -> Iterator[None]:
        """Around the commit that makes ``version`` current: requests that see it
        meanwhile wait until ``build()`` (after the block, so the database's write lock
        is not held for it) is put. When the block raises, nothing is put and those
        requests read the configuration themselves (whatever then holds the version)."""
        done = threading.Event()
        with self._lock:
            self._pending[version] = done
        try:
            yield
            self.put(build())
        finally:
            with self._lock:
                if self._pending.get(version) is done:
                    del self._pending[version]
            done.set()

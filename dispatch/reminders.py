"""Reminders before a piket starts, notices when a change moves someone's shifts, and the
roster work the sweep finds due (``run_due``).

Both kinds of message are planned from the database by the sweep, never by the request
that made a change, so a crash between a change and its notice loses nothing:

- **reminders** (teams that set ``planning.reminder_hours``): about once an hour, or
  at once when the configuration version moved, the blocks that start within the next
  reminder period (plus some slack) become ``RosterMessage`` rows due ``reminder_hours``
  before their start. The key (person, shift start, kind) makes each exactly once,
  however often it is planned; a reminder whose shift moved meanwhile is cancelled when
  it comes due (``check``), not sent.
- **change notices**: for every configuration version after the last one told (the
  cursor ``changes``), the blocks of the next 14 days of every person on a touched team
  are compared before and after; each person whose blocks differ gets one SMS (key:
  person and version) listing their blocks as they are now. Versions written by a swap
  are skipped: the swap told its people itself.

The due question is one arm of the sweep's single statement (``plan_due_query``): the
cursors compared with ``config_state`` and the clock, so nothing runs when nothing
changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Select, and_, exists, literal, or_, select
from sqlalchemy.orm import Session

from core import texts
from core.logs import FaultLog
from core.lru import Lru
from core.timeutil import ensure_utc
from dispatch import flows, roster_sms, swaps
from dispatch.delivery import PagingContext
from dispatch.roster_models import RosterCursor, RosterMessage
from dispatch.roster_sms import MessageKind
from oncall import calendar, changes, versions
from oncall.models import ConfigState
from oncall.models import Team as TeamRow
from oncall.schemas import ConfigSet, Person
from oncall.service import SnapshotCache, get_version
from oncall.snapshot import ConfigSnapshot

log = logging.getLogger("samenop.reminders")

STEP = timedelta(minutes=15)
PLAN_EVERY = timedelta(hours=1)  # reminders are planned this often (and on every change)
PLAN_SLACK = timedelta(hours=2)  # ... for blocks starting this much beyond the next plan
BLOCK_SEEN = timedelta(days=8)  # how far a reminded block is followed to its end
NOTICE_DAYS = timedelta(days=14)  # a change notice is about the next 14 days
MAX_VERSIONS = 50  # versions told per sweep (a backlog is caught up over several)
LISTED = 3  # blocks named in a change notice (then "en nog N")
CHANGES, REMINDERS = "changes", "reminders"

# The sweep's snapshots, one cache per database (sessions factory) of this process.
_CACHES: WeakKeyDictionary[Any, SnapshotCache] = WeakKeyDictionary()


def share_snapshots(sessions: Any, cache: SnapshotCache) -> None:
    """Use the API process's snapshot cache for this database (embedded mode: the sweep
    runs in the API process, which already holds the current configuration)."""
    _CACHES[sessions] = cache


def snapshots(ctx: PagingContext) -> SnapshotCache:
    cache = _CACHES.get(ctx.sessions)
    if cache is None:
        cache = _CACHES[ctx.sessions] = SnapshotCache()
    return cache


@dataclass(frozen=True)
class Block:
    team: str
    person: str
    layer: str
    start: datetime
    end: datetime
    began_before: bool  # already on call at the window's start


def _floor(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def team_blocks(snapshot: ConfigSnapshot, team: str, start: datetime, end: datetime) -> list[Block]:
    """Who is on call in ``team`` during [start, end), as unbroken blocks per person and
    layer, cut at ``start``; ``began_before`` marks those already running then. (From
    ``oncall.calendar``, which walks the roster's own boundaries in UTC.)"""
    start = ensure_utc(start)
    if team not in snapshot.teams or end <= start:
        return []
    found = calendar.team_blocks(snapshot, team, start - STEP, ensure_utc(end))
    out = [
        Block(b.team, b.person, b.layer, max(b.start, start), b.end, b.start < start)
        for b in found
        if b.end > start
    ]
    return sorted(out, key=lambda b: (b.start, b.person, b.layer))


def _phone(person: Person | None) -> str | None:
    if person is None or not person.active or not person.phones:
        return None
    return person.phones[0]


# --- reminders -----------------------------------------------------------------------------


def any_reminders(session: Session) -> bool:
    """Whether any team sets ``planning.reminder_hours`` (one small read)."""
    stated = session.scalars(select(TeamRow.planning).where(TeamRow.planning.is_not(None)))
    return any(isinstance(p, dict) and p.get("reminder_hours") for p in stated)


def plan_reminders(session: Session, snapshot: ConfigSnapshot, now: datetime) -> int:
    """Reminder rows for blocks starting before the next plan (and some slack); how many
    new ones. Idempotent: the key holds each (person, shift start) once."""
    made = 0
    for team in snapshot.config.teams:
        hours = swaps.planning_of(snapshot, team.id).reminder_hours
        if not hours:
            continue
        lead = timedelta(hours=hours)
        until = now + lead + PLAN_EVERY + PLAN_SLACK
        # Looked at beyond ``until`` so the SMS names where a block ends (a week at most).
        for block in team_blocks(snapshot, team.id, now, until + BLOCK_SEEN):
            if block.began_before or block.start <= now or block.start >= until:
                continue
            phone = _phone(snapshot.people.get(block.person))
            if phone is None:
                continue
            made += roster_sms.enqueue(
                session,
                key=f"reminder:{block.person}:{block.start.isoformat()}",
                kind=MessageKind.REMINDER,
                phone=phone,
                body=texts.REMINDER_SMS_NL.format(
                    layer=texts.LAYER_NL.get(block.layer, block.layer),
                    team=team.name,
                    when=texts.roster_period(block.start, block.end),
                ),
                due_at=max(now, block.start - lead),
                now=now,
                person_id=block.person,
                team_id=team.id,
                shift_start=block.start,
            )
    cursor = _cursor(session, REMINDERS, now)
    cursor.version = snapshot.version
    cursor.until = now + PLAN_EVERY
    return made


def checker(ctx: PagingContext) -> roster_sms.Check:
    """``check`` against this database's current configuration."""
    cache = snapshots(ctx)

    def wanted(session: Session, message: RosterMessage, now: datetime) -> str | None:
        if message.kind == MessageKind.SWAP:
            return swaps.still_open(session, message.swap_id, message.key)
        if message.kind != MessageKind.REMINDER:
            return None
        return check(cache.get(session=session), message)

    return wanted


def check(snapshot: ConfigSnapshot, message: RosterMessage) -> str | None:
    """Why a reminder due now is no longer true (its shift moved or went), or None."""
    if message.kind != MessageKind.REMINDER or message.shift_start is None:
        return None
    team, person, start = message.team_id or "", message.person_id, message.shift_start
    if team not in snapshot.teams or person not in snapshot.on_call(team, start).people():
        return "shift moved: not on call at its start any more"
    if person in snapshot.on_call(team, start - STEP).people():
        return "shift moved: starts earlier now"
    return None


# --- change notices ------------------------------------------------------------------------


def _by_team(items: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(item.team, []).append(item)
    # shifts have no id: any stable order will do, the lists are only compared
    return {team: sorted(rows, key=repr) for team, rows in out.items()}


def touched_teams(old: ConfigSet, new: ConfigSet) -> set[str]:
    """Teams whose roster may differ: their rotations, shifts or overrides changed, or a
    person on them changed (membership, active)."""
    teams: set[str] = set()
    for section in ("rotations", "shifts", "overrides"):
        before, after = _by_team(getattr(old, section)), _by_team(getattr(new, section))
        teams |= {t for t in before.keys() | after.keys() if before.get(t) != after.get(t)}
    people_before = {p.id: p for p in old.people}
    for person in new.people:
        if people_before.get(person.id) != person:
            teams |= {m.team for m in person.memberships}
            was = people_before.get(person.id)
            if was is not None:
                teams |= {m.team for m in was.memberships}
    return teams


def moved(
    old: ConfigSnapshot, new: ConfigSnapshot, teams: Iterable[str], start: datetime, end: datetime
) -> dict[str, list[Block]]:
    """People whose blocks in [start, end) differ between the two versions, with their
    blocks in the new one (pure)."""
    before: dict[str, set[tuple[str, str, datetime, datetime]]] = {}
    after: dict[str, list[Block]] = {}
    for team in sorted(teams):
        if team in old.teams:
            for b in team_blocks(old, team, start, end):
                before.setdefault(b.person, set()).add((b.team, b.layer, b.start, b.end))
        if team in new.teams:
            for b in team_blocks(new, team, start, end):
                after.setdefault(b.person, []).append(b)
    out: dict[str, list[Block]] = {}
    for person in before.keys() | after.keys():
        blocks = after.get(person, [])
        if {(b.team, b.layer, b.start, b.end) for b in blocks} != before.get(person, set()):
            out[person] = sorted(blocks, key=lambda b: b.start)
    return out


def notice_text(snapshot: ConfigSnapshot, blocks: Sequence[Block]) -> str:
    named = [
        f"{texts.roster_period(b.start, b.end)} ({snapshot.teams[b.team].name})"
        for b in blocks[:LISTED]
    ]
    listed = "; ".join(named) if named else texts.CHANGE_NONE_NL
    if len(blocks) > LISTED:
        listed += texts.CHANGE_MORE_NL.format(count=len(blocks) - LISTED)
    return texts.CHANGE_SMS_NL.format(blocks=listed)


def tell_changes(session: Session, now: datetime) -> int:
    """Change notices for the versions written since the last told; how many SMS."""
    current = get_version(session=session)
    cursor = session.get(RosterCursor, CHANGES, with_for_update=True)
    if cursor is None:  # first run: what happened before is nobody's news now
        _cursor(session, CHANGES, now).version = current
        return 0
    made = 0
    start, end = _floor(ensure_utc(now)), now + NOTICE_DAYS
    last = min(current, cursor.version + MAX_VERSIONS)
    for version in range(cursor.version + 1, last + 1):
        made += _tell_version(session, version, start, end, now)
    cursor.version = max(cursor.version, last)
    cursor.updated_at = now
    return made


def _tell_version(
    session: Session, version: int, start: datetime, end: datetime, now: datetime
) -> int:
    new_row = versions.stored(session, version)
    if new_row is None or new_row.author.startswith("swap:"):
        return 0
    old_row = versions.stored(session, version - 1) if version > 1 else None
    if old_row is None:
        return 0
    old_doc, new_doc = old_row.document, new_row.document
    teams = touched_in(new_row.diff, old_doc, new_doc)
    if not teams:
        return 0
    # Only the touched teams' part of each version is parsed: the whole national
    # configuration is thousands of people and overrides, and this runs in the sweep.
    old, new = _part(old_row, teams), _part(new_row, teams)
    made = 0
    for person, blocks in sorted(moved(old, new, teams, start, end).items()):
        phone = _phone(new.people.get(person))
        if phone is None:
            continue
        made += roster_sms.enqueue(
            session,
            key=f"change:{person}:{version}",
            kind=MessageKind.CHANGE,
            phone=phone,
            body=notice_text(new, blocks),
            due_at=now,
            now=now,
            person_id=person,
            team_id=blocks[0].team if blocks else None,
        )
    return made


# The last roster parts built, by version, time and teams: a planner working on one team
# makes each version's part the "before" of the next one's notices. A part is kept with
# the very document it came from: the same version number and time can come back with
# another document (a rolled-back write).
_PARTS: Lru[tuple[int, datetime, frozenset[str]], tuple[dict[str, Any], ConfigSnapshot]] = Lru(4)


def _part(stored: versions.Stored, teams: set[str]) -> ConfigSnapshot:
    key = (stored.version, stored.at, frozenset(teams))
    found = _PARTS.get(key)
    if found is not None and found[0] is stored.document:
        return found[1]
    part = ConfigSnapshot(roster_part(stored.document, teams), stored.version)
    _PARTS.put(key, (stored.document, part))
    return part


_ROSTERS = ("rotations", "shifts", "overrides")


def _bare(key: str) -> str:
    """A diff key without the '#n' a repeated key gets (``oncall.changes``)."""
    return key.split("#", 1)[0]


def touched_in(diff: dict[str, Any], old_doc: dict[str, Any], new_doc: dict[str, Any]) -> set[str]:
    """Teams whose roster may differ between two stored versions, read from the newer
    one's diff (pure): as ``touched_teams``, without parsing either configuration."""
    teams: set[str] = set()
    for section in _ROSTERS:
        entry = diff.get(section) or {}
        keys = {
            _bare(k)
            for k in (*entry.get("added", ()), *entry.get("removed", ()), *entry.get("changed", {}))
        }
        if not keys:
            continue
        if section == "shifts":  # team/person/start
            teams |= {k.split("/", 1)[0] for k in keys}
            continue
        for doc in (old_doc, new_doc):
            teams |= {e["team"] for e in doc.get(section, ()) if e.get("id") in keys}
    people = diff.get("people") or {}
    ids = {
        _bare(k)
        for k in (*people.get("added", ()), *people.get("removed", ()), *people.get("changed", {}))
    }
    if ids:
        for doc in (old_doc, new_doc):
            for p in doc.get("people", ()):
                if p.get("id") in ids:
                    teams |= {m["team"] for m in p.get("memberships", ())}
    return teams


def roster_part(doc: dict[str, Any], teams: set[str]) -> ConfigSet:
    """The part of a stored configuration that decides who is on call in ``teams``: the
    regions, those teams with their rotations, shifts and overrides, and the people on
    them (members, and anyone those name) with their memberships of those teams."""
    part: dict[str, Any] = {
        "regions": doc.get("regions", []),
        "teams": [t for t in doc.get("teams", ()) if t.get("id") in teams],
    }
    named: set[str] = set()
    for section in _ROSTERS:
        rows = [e for e in doc.get(section, ()) if e.get("team") in teams]
        part[section] = rows
        for e in rows:
            named.update(e.get("participants", ()))
            named.update(str(e[k]) for k in ("person", "replaces") if e.get(k))
    part["people"] = [
        {**p, "memberships": [m for m in p.get("memberships", ()) if m.get("team") in teams]}
        for p in doc.get("people", ())
        if p.get("id") in named or any(m.get("team") in teams for m in p.get("memberships", ()))
    ]
    return changes.from_document(part)


def _cursor(session: Session, name: str, now: datetime) -> RosterCursor:
    row = session.get(RosterCursor, name)
    if row is None:
        row = RosterCursor(name=name, version=0, until=None, updated_at=now)
        session.add(row)
    row.updated_at = now
    return row


# --- the sweep -----------------------------------------------------------------------------


def plan_due_query(now: Any) -> Select[Any]:
    """One row ('plan') when a version was not told yet or reminders need planning."""
    told = exists().where(RosterCursor.name == CHANGES, RosterCursor.version >= ConfigState.version)
    planned = exists().where(
        RosterCursor.name == REMINDERS,
        RosterCursor.version == ConfigState.version,
        RosterCursor.until > now,
    )
    return select(literal("plan").label("id")).where(
        and_(ConfigState.id == 1, or_(~told, ~planned))
    )


_PLAN_FAULTS = FaultLog(log, "planning roster messages")
_EXPIRE_FAULTS = FaultLog(log, "expiring swap offers")
_SEND_FAULTS = FaultLog(log, "sending roster messages (their leases let them be retried)")


def plan(ctx: PagingContext) -> int:
    """Change notices, then reminders; each in a transaction of its own."""
    told = flows.run(ctx, lambda s: tell_changes(s, ctx.clock.now()))

    def remind(session: Session) -> int:
        if not any_reminders(session):  # no team asks: nothing to read or plan
            now = ctx.clock.now()
            cursor = _cursor(session, REMINDERS, now)
            cursor.version = get_version(session=session)
            cursor.until = now + PLAN_EVERY
            return 0
        snapshot = snapshots(ctx).get(session=session)
        return plan_reminders(session, snapshot, ctx.clock.now())

    return told + flows.run(ctx, remind)


def expire(ctx: PagingContext, swap_id: int) -> bool:
    def work(session: Session) -> bool:
        snapshot = snapshots(ctx).get(session=session)
        return swaps.expire(session, snapshot, swap_id, ctx.clock.now())

    return flows.run(ctx, work)


def run_due(
    ctx: PagingContext, *, planning: bool, expiring: Sequence[str], sending: Sequence[str]
) -> int:
    """The roster's part of a sweep: plan, expire offers, send; how much it did."""
    did = 0
    if planning:
        try:
            made = plan(ctx)
        except Exception as exc:
            _PLAN_FAULTS.failed(exc)
        else:
            _PLAN_FAULTS.ok()  # (planning is not counted: it makes no work of its own
            if made:  # beyond the messages, which are sent here)
                with ctx.sessions() as session:
                    sending = [*sending, *roster_sms.due_ids(session, ctx.clock.now())]
    for swap_id in expiring:
        try:
            did += expire(ctx, int(swap_id))
        except Exception as exc:
            _EXPIRE_FAULTS.failed(exc, swap=swap_id)
        else:
            _EXPIRE_FAULTS.ok()
    if expiring:  # an expiry tells the offerer
        with ctx.sessions() as session:
            sending = [*sending, *roster_sms.due_ids(session, ctx.clock.now())]
    wanted = checker(ctx)
    for message_id in dict.fromkeys(sending):
        try:
            status = roster_sms.deliver(ctx, message_id, wanted)
        except Exception as exc:
            _SEND_FAULTS.failed(exc, message=message_id)
        else:
            _SEND_FAULTS.ok()
            did += status is not None
    return did

"""Calendar feeds (iCalendar, RFC 5545) of one person's or one team's on-call blocks.

Pure: a configuration snapshot and an instant in, the bytes of a VCALENDAR out. The
feed covers four weeks back to twelve weeks ahead, counted in whole Amsterdam days, so
it is the same all day long for one configuration version (and can be cached on that).
Times are written in UTC (``...Z``): no time zone has to be agreed with the calendar
app, and an instant in the repeated October hour cannot be read twice.

Every block keeps its UID while it exists: the UID is made of the team, the person, the
layer and the block's start. To keep the start of a block that began before the window
from moving with the window, blocks are looked up a week further back than shown.
No incident data is ever in a feed: only who is on call when.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from icalendar import Calendar, Event
from icalendar.prop import vDuration

from core.texts import ICAL_NL, LAYER_NL
from core.timeutil import AMS, ensure_utc
from oncall.calendar import MAX_SPAN, Block, team_blocks, teams_of_person
from oncall.scope import wall_to_utc
from oncall.snapshot import ConfigSnapshot

BACK = timedelta(days=28)
AHEAD = timedelta(days=84)
LOOKBACK = timedelta(days=7)  # looked up, not shown: keeps early starts (and UIDs) still
CHUNK = timedelta(days=60)  # within oncall.calendar's MAX_SPAN: the window in two walks
PRODID = "-//Samen op in acuut//Piketrooster//NL"
REFRESH = timedelta(minutes=15)
assert CHUNK <= MAX_SPAN

Fetch = Callable[[datetime, datetime], Sequence[Block]]
# A team's blocks over [start, end): ``oncall.calendar.team_blocks``, or a cache of it
# (a person's feed is their team's blocks, so the walk of a team serves all its people).
TeamBlocks = Callable[[ConfigSnapshot, str, datetime, datetime], Sequence[Block]]


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """[local midnight 28 days ago, local midnight 84 days ahead), as UTC instants."""
    today = ensure_utc(now).astimezone(AMS).date()
    start = wall_to_utc(datetime.combine(today - BACK, time()))
    end = wall_to_utc(datetime.combine(today + AHEAD, time()))
    return start, end


def _stamp(now: datetime) -> datetime:
    """DTSTAMP: the local day the feed was built (the same all day, so a feed's bytes
    change only when the roster does)."""
    return wall_to_utc(datetime.combine(ensure_utc(now).astimezone(AMS).date(), time()))


def _key(block: Block) -> tuple[str, str, str, str, str | None]:
    return block.team, block.person, block.layer, block.source, block.source_id


def blocks_between(fetch: Fetch, start: datetime, end: datetime) -> list[Block]:
    """``fetch`` over a range longer than one call may take: chunked, and a block cut in
    two at a chunk's edge joined again."""
    out: list[Block] = []
    open_at: dict[tuple[str, str, str, str, str | None, datetime], int] = {}
    lo = start
    while lo < end:
        hi = min(lo + CHUNK, end)
        for block in fetch(lo, hi):
            index = open_at.pop((*_key(block), block.start), None) if block.start == lo else None
            if index is not None:
                prev = out[index]
                block = Block(
                    prev.team,
                    prev.person,
                    prev.layer,
                    prev.start,
                    block.end,
                    prev.source,
                    prev.source_id,
                    prev.reachable,
                )
                out[index] = block
            else:
                index = len(out)
                out.append(block)
            if block.end == hi:
                open_at[(*_key(block), hi)] = index
        lo = hi
    out.sort(key=lambda b: (b.start, b.team, b.layer != "primary", b.person))
    return out


def uid(block: Block) -> str:
    text = f"{block.team}|{block.person}|{block.layer}|{ensure_utc(block.start):%Y%m%dT%H%M%SZ}"
    return hashlib.sha256(text.encode()).hexdigest()[:32] + "@samenop"


def _source(block: Block) -> str:
    if block.source == "rotation":
        return ICAL_NL["source_rotation"].format(id=block.source_id or "")
    if block.source == "override":
        return ICAL_NL["source_override"].format(id=block.source_id or "")
    return ICAL_NL["source_shift"]


def _layer(block: Block) -> str:
    return LAYER_NL.get(block.layer, block.layer)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-caldesc", ICAL_NL["description"])
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    return cal


def _event(block: Block, summary: str, team_name: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid(block))
    event.add("dtstamp", stamp)
    event.add("dtstart", ensure_utc(block.start))
    event.add("dtend", ensure_utc(block.end))
    event.add("summary", summary)
    lines = [
        ICAL_NL["team"].format(team=team_name),
        ICAL_NL["layer"].format(layer=_layer(block)),
        _source(block),
    ]
    if not block.reachable:
        lines.append(ICAL_NL["unreachable"])
    event.add("description", "\n".join(lines))
    event.add("categories", ["Piket"])
    event.add("transp", "OPAQUE")
    # Machine-readable for those who import the feed elsewhere.
    event.add("x-samenop-team", block.team)
    event.add("x-samenop-person", block.person)
    event.add("x-samenop-layer", block.layer)
    event.add("x-samenop-source", block.source)
    return event


def _shown(fetch: Fetch, now: datetime) -> list[Block]:
    start, end = feed_window(now)
    return [b for b in blocks_between(fetch, start - LOOKBACK, end) if b.end > start]


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


def person_blocks(
    snapshot: ConfigSnapshot,
    person: str,
    start: datetime,
    end: datetime,
    blocks: TeamBlocks = team_blocks,
) -> list[Block]:
    """``oncall.calendar.person_blocks``, from the blocks of the person's teams."""
    out = [
        b
        for team in teams_of_person(snapshot, person)
        for b in blocks(snapshot, team, start, end)
        if b.person == person
    ]
    out.sort(key=lambda b: (b.start, b.team))
    return out


def person_feed(
    snapshot: ConfigSnapshot, person: str, now: datetime, blocks: TeamBlocks = team_blocks
) -> bytes:
    """One person's blocks in every team (KeyError for an unknown person)."""
    found = snapshot.people.get(person)
    if found is None:
        raise KeyError(person)
    stamp = _stamp(now)
    cal = _calendar(ICAL_NL["person_calendar"].format(name=found.name))
    for block in _shown(lambda lo, hi: person_blocks(snapshot, person, lo, hi, blocks), now):
        team = snapshot.teams.get(block.team)
        team_name = team.name if team else block.team
        summary = ICAL_NL["person_event"].format(layer=_title(_layer(block)), team=team_name)
        cal.add_component(_event(block, summary, team_name, stamp))
    return cal.to_ical()


def team_feed(
    snapshot: ConfigSnapshot, team: str, now: datetime, blocks: TeamBlocks = team_blocks
) -> bytes:
    """Everyone's blocks in one team (KeyError for an unknown team)."""
    found = snapshot.teams.get(team)
    if found is None:
        raise KeyError(team)
    stamp = _stamp(now)
    cal = _calendar(ICAL_NL["team_calendar"].format(team=found.name))
    for block in _shown(lambda lo, hi: blocks(snapshot, team, lo, hi), now):
        person = snapshot.people.get(block.person)
        name = person.name if person else block.person
        summary = ICAL_NL["team_event"].format(layer=_title(_layer(block)), person=name)
        cal.add_component(_event(block, summary, found.name, stamp))
    return cal.to_ical()

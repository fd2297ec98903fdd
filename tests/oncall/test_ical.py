"""iCal feeds parsed back with ``icalendar`` and compared with the calendar, across both
DST changes, with overrides, and with UIDs that stay put while the window moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from core.timeutil import AMS
from oncall import ical
from oncall.calendar import Block, person_blocks, team_blocks
from oncall.schemas import ConfigSet
from oncall.snapshot import ConfigSnapshot


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[arg-type,misc]


def config(overrides: list[dict[str, Any]] | None = None) -> ConfigSet:
    return ConfigSet.model_validate(
        {
            "regions": [{"id": "r1", "name": "Regio Een"}],
            "municipalities": [{"code": "GM0001", "name": "Eendorp"}],
            "basisteams": [
                {"id": "bt1", "name": "Basisteam Een", "region": "r1", "municipalities": ["GM0001"]}
            ],
            "teams": [{"id": "vt-x", "kind": "veilig_thuis", "name": "VT Een", "region": "r1"}],
            "people": [
                {
                    "id": "anna",
                    "name": "Anna de Vries",
                    "phones": ["+31612345678"],
                    "memberships": [{"team": "vt-x"}],
                },
                {"id": "bram", "name": "Bram Bos", "memberships": [{"team": "vt-x"}]},
                {
                    "id": "cor",
                    "name": "Cor Smit",
                    "phones": ["+31612345679"],
                    "memberships": [{"team": "vt-x"}],
                },
            ],
            "rotations": [
                {
                    "id": "rot-dag",
                    "team": "vt-x",
                    "participants": ["anna", "bram"],
                    "start": "2026-01-05T09:00",
                    "handoff": {"every": "daily", "at": "09:00"},
                },
                {
                    "id": "rot-achter",
                    "team": "vt-x",
                    "layer": "backup",
                    "participants": ["cor"],
                    "start": "2026-01-05T09:00",
                    "handoff": {"every": "weekly", "at": "09:00", "weekday": "mon"},
                },
            ],
            "overrides": overrides or [],
            "rules": [
                {"id": "x-always", "team": "vt-x", "area": {"basisteams": ["bt1"]}, "staff": 1}
            ],
        }
    )


SICK = {
    "id": "anna-ziek",
    "team": "vt-x",
    "kind": "replace",
    "person": "cor",
    "replaces": "anna",
    "start": "2026-03-28T09:00",
    "end": "2026-03-29T09:00",
}


def parse(body: bytes) -> list[dict[str, Any]]:
    cal = Calendar.from_ical(body)
    out = []
    for event in cal.walk("VEVENT"):
        out.append(
            {
                "uid": str(event["UID"]),
                "start": event.decoded("DTSTART"),
                "end": event.decoded("DTEND"),
                "summary": str(event["SUMMARY"]),
                "description": str(event["DESCRIPTION"]),
                "layer": str(event["X-SAMENOP-LAYER"]),
                "source": str(event["X-SAMENOP-SOURCE"]),
                "team": str(event["X-SAMENOP-TEAM"]),
                "person": str(event["X-SAMENOP-PERSON"]),
            }
        )
    return out


def expected(blocks: list[Block], now: datetime) -> list[tuple[datetime, datetime, str, str]]:
    start, end = ical.feed_window(now)
    return sorted(
        (b.start, min(b.end, end), b.person, b.layer)
        for b in blocks
        if b.end > start and b.start < end
    )


NOW = local(2026, 3, 20, 12, 0)


def test_person_feed_is_the_calendar_across_the_spring_dst_change() -> None:
    snap = ConfigSnapshot(config([SICK]), 3)
    events = parse(ical.person_feed(snap, "anna", NOW))
    start, end = ical.feed_window(NOW)
    # The window: local midnight four weeks back to twelve weeks ahead.
    assert start == local(2026, 2, 20)
    assert end == local(2026, 6, 12)
    assert [(e["start"], e["end"], e["person"], e["layer"]) for e in events] == expected(
        ical.blocks_between(
            lambda lo, hi: person_blocks(snap, "anna", lo, hi), start - ical.LOOKBACK, end
        ),
        NOW,
    )
    assert len(events) > 50
    for e in events:
        assert e["start"].tzinfo is not None and e["start"].utcoffset() == timedelta(0)
    by_start = {e["start"]: e for e in events}
    # Anna's day before the change: Thursday 26 March 09:00 CET (08:00Z) for 24 h.
    thu = by_start[datetime(2026, 3, 26, 8, 0, tzinfo=UTC)]
    assert thu["end"] == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    # Her Saturday 28 March is covered by cor (the override): not in her feed.
    assert datetime(2026, 3, 28, 8, 0, tzinfo=UTC) not in by_start
    # Monday 30 March starts at 09:00 CEST = 07:00Z: the handover stays at 09:00 local.
    mon = by_start[datetime(2026, 3, 30, 7, 0, tzinfo=UTC)]
    assert mon["end"] == datetime(2026, 3, 31, 7, 0, tzinfo=UTC)
    assert mon["summary"] == "Piket VT Een"
    assert "Bron: rooster (rot-dag)" in mon["description"]


def test_the_override_and_the_23_hour_day_in_the_replacements_feed() -> None:
    snap = ConfigSnapshot(config([SICK]), 3)
    events = parse(ical.person_feed(snap, "cor", NOW))
    primary = [e for e in events if e["layer"] == "primary"]
    assert [(e["start"], e["end"], e["source"]) for e in primary] == [
        # 28 March 09:00 CET to 29 March 09:00 CEST: 23 real hours.
        (
            datetime(2026, 3, 28, 8, 0, tzinfo=UTC),
            datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
            "override",
        )
    ]
    assert primary[0]["end"] - primary[0]["start"] == timedelta(hours=23)
    assert "Bron: wijziging (anna-ziek)" in primary[0]["description"]
    # Cor's backup weeks are there too, with their layer.
    backup = [e for e in events if e["layer"] == "backup"]
    assert backup and all(e["summary"] == "Achterwacht VT Een" for e in backup)


def test_autumn_dst_day_is_25_hours() -> None:
    snap = ConfigSnapshot(config(), 1)
    now = local(2026, 10, 20, 12)
    events = parse(ical.team_feed(snap, "vt-x", now))
    primary = {e["start"]: e for e in events if e["layer"] == "primary"}
    # Saturday 24 October 09:00 CEST (07:00Z) to Sunday 25 October 09:00 CET (08:00Z).
    sat = primary[datetime(2026, 10, 24, 7, 0, tzinfo=UTC)]
    assert sat["end"] == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert sat["end"] - sat["start"] == timedelta(hours=25)
    start, end = ical.feed_window(now)
    fetched = ical.blocks_between(
        lambda lo, hi: team_blocks(snap, "vt-x", lo, hi), start - ical.LOOKBACK, end
    )
    assert sorted((e["start"], e["end"], e["person"], e["layer"]) for e in events) == expected(
        fetched, now
    )


def test_team_feed_names_everyone_and_marks_who_cannot_be_paged() -> None:
    snap = ConfigSnapshot(config([SICK]), 3)
    events = parse(ical.team_feed(snap, "vt-x", NOW))
    assert {e["person"] for e in events} == {"anna", "bram", "cor"}
    bram = [e for e in events if e["person"] == "bram"]
    assert bram[0]["summary"] == "Piket: Bram Bos"
    assert all("niet bereikbaar" in str(e["description"]) for e in bram)
    assert not any(
        "niet bereikbaar" in str(e["description"]) for e in events if e["person"] == "anna"
    )
    cal = Calendar.from_ical(ical.team_feed(snap, "vt-x", NOW))
    assert str(cal["X-WR-CALNAME"]) == "Piket VT Een"
    assert str(cal["METHOD"]) == "PUBLISH"


def test_uids_are_unique_and_stay_while_the_window_moves() -> None:
    snap = ConfigSnapshot(config([SICK]), 3)
    today = parse(ical.person_feed(snap, "anna", NOW))
    later = parse(ical.person_feed(snap, "anna", NOW + timedelta(days=9)))
    assert len({e["uid"] for e in today}) == len(today)
    first = {e["start"]: e["uid"] for e in today}
    second = {e["start"]: e["uid"] for e in later}
    common = set(first) & set(second)
    assert len(common) > 40
    assert all(first[s] == second[s] for s in common)
    # The same day, another hour: byte for byte the same feed (DTSTAMP is the day).
    assert ical.person_feed(snap, "anna", NOW) == ical.person_feed(
        snap, "anna", NOW + timedelta(hours=5)
    )


def test_an_override_changes_the_feed_and_only_its_days() -> None:
    before = parse(ical.person_feed(ConfigSnapshot(config(), 1), "anna", NOW))
    after = parse(ical.person_feed(ConfigSnapshot(config([SICK]), 2), "anna", NOW))
    gone = {e["uid"] for e in before} - {e["uid"] for e in after}
    assert len(gone) == 1
    [removed] = [e for e in before if e["uid"] in gone]
    assert removed["start"] == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert {e["uid"] for e in after} <= {e["uid"] for e in before}


def test_a_block_cut_at_a_chunk_edge_is_one_event() -> None:
    lo = datetime(2026, 1, 1, tzinfo=UTC)
    edge = lo + ical.CHUNK

    def fetch(a: datetime, b: datetime) -> list[Block]:
        block_start, block_end = edge - timedelta(hours=5), edge + timedelta(hours=7)
        if block_end <= a or block_start >= b:
            return []
        return [
            Block("t", "p", "primary", max(a, block_start), min(b, block_end), "override", "o1")
        ]

    [block] = ical.blocks_between(fetch, lo, lo + 2 * ical.CHUNK)
    assert (block.start, block.end) == (edge - timedelta(hours=5), edge + timedelta(hours=7))


def test_no_incident_data_and_unknown_targets() -> None:
    snap = ConfigSnapshot(config([SICK]), 3)
    cal = Calendar.from_ical(ical.person_feed(snap, "anna", NOW))
    allowed = {
        "UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "CATEGORIES",
        "TRANSP", "X-SAMENOP-TEAM", "X-SAMENOP-PERSON", "X-SAMENOP-LAYER", "X-SAMENOP-SOURCE",
    }  # fmt: skip
    for event in cal.walk("VEVENT"):
        assert set(event.keys()) <= allowed
    with pytest.raises(KeyError):
        ical.person_feed(snap, "nobody", NOW)
    with pytest.raises(KeyError):
        ical.team_feed(snap, "no-team", NOW)

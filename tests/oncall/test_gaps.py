"""Coverage gaps on the hand-built configuration, to the minute."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.timeutil import AMS
from oncall.gaps import find_gaps, unreachable
from oncall.schemas import Mode, PoliceCall
from oncall.snapshot import ConfigSnapshot
from tests.dispatch.test_pairing import SNAP


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[arg-type,misc]


def test_inactive_persons_week_is_a_gap_to_the_minute() -> None:
    # vt-gv rotates weekly (Mon 09:00) between fleur and hanna; hanna is inactive, so her
    # week 2026-01-12 09:00 - 01-19 09:00 nobody can be asked, office hours or after.
    [gap] = find_gaps(SNAP, "vt-gv", local(2026, 1, 10), local(2026, 1, 25))
    assert gap.start == local(2026, 1, 12, 9, 0)
    assert gap.end == local(2026, 1, 19, 9, 0)
    assert gap.rules == ("gv-kantoor", "gv-piket")
    assert gap.minutes == 7 * 24 * 60


def test_gap_running_to_the_end_of_the_range_is_cut_there() -> None:
    [gap] = find_gaps(SNAP, "vt-gv", local(2026, 1, 13, 8, 7), local(2026, 1, 14))
    assert (gap.start, gap.end) == (local(2026, 1, 13, 8, 7), local(2026, 1, 14))


def test_backup_covers_a_removed_primary_but_not_a_staff_of_two() -> None:
    # anna is off 2026-06-01..06-08 but cor is backup all week: the staff-1 rules are
    # covered. The staff-2 rule (weekdays 13:00-22:00) needs two reachable people and has
    # one on anna's days (the rotation alternates anna and bram at 13:00): a gap on
    # Tuesday and Thursday 13:00-22:00, needed 2, available 1. On bram's days two are on.
    gaps = find_gaps(SNAP, "vt-zl", local(2026, 5, 30), local(2026, 6, 10))
    assert [(g.start, g.end) for g in gaps] == [
        (local(2026, 6, day, 13), local(2026, 6, day, 22)) for day in (2, 4)
    ]
    assert {(g.rules, g.needed, g.available) for g in gaps} == {(("zl-samen-op",), 2, 1)}
    # The week before, anna and cor are both on: no gap.
    assert find_gaps(SNAP, "vt-zl", local(2026, 5, 25), local(2026, 5, 30)) == []


def test_consult_team_gap_sunday_night() -> None:
    # The gedragswetenschapper rotation runs weekdays 17:00-08:30 and weekends 00:00-24:00;
    # the consult rule applies after hours. Sunday night into Monday 08:30 is after hours
    # but in no rotation window (the weekend window ends Monday 00:00): a real gap.
    gaps = find_gaps(SNAP, "gw-gv", local(2026, 3, 2), local(2026, 3, 16))
    assert [(g.start, g.end) for g in gaps] == [
        (local(2026, 3, 2, 0, 0), local(2026, 3, 2, 8, 30)),
        (local(2026, 3, 9, 0, 0), local(2026, 3, 9, 8, 30)),
    ]
    assert {g.rules for g in gaps} == {("gv-gw",)}
    # Office hours on weekdays need no consult: no gap on Tuesday afternoon.
    assert find_gaps(SNAP, "gw-gv", local(2026, 3, 3, 9), local(2026, 3, 3, 17)) == []


def test_range_is_checked() -> None:
    with pytest.raises(ValueError, match="after"):
        find_gaps(SNAP, "vt-gv", local(2026, 1, 2), local(2026, 1, 1))
    with pytest.raises(ValueError, match="92 days"):
        find_gaps(SNAP, "vt-gv", local(2026, 1, 1), local(2026, 6, 1))


def test_gaps_say_how_many_are_needed_and_available() -> None:
    [gap] = find_gaps(SNAP, "vt-gv", local(2026, 1, 10), local(2026, 1, 25))
    assert (gap.needed, gap.available) == (1, 0)


def test_unreachable_people_on_a_roster() -> None:
    # hanna is on vt-gv's rotation but inactive.
    assert ("hanna", "inactive") in unreachable(SNAP, "vt-gv")
    assert all(
        code in {"inactive", "no_phone", "not_member", "unknown_person"}
        for _, code in unreachable(SNAP, "vt-gv")
    )
    assert unreachable(SNAP, "vt-zl") == []


def test_a_short_gap_between_samples_is_found() -> None:
    # The old grid sampled every 15 minutes; a 5-minute hole is found to the minute now
    # (bram's night, cor is backup: both off for five minutes).
    from oncall.schemas import ConfigSet
    from oncall.snapshot import ConfigSnapshot

    config = SNAP.config.model_copy(
        update={
            "overrides": (
                *SNAP.config.overrides,
                *ConfigSet.model_validate(
                    {
                        "overrides": [
                            {
                                "id": "kort-weg",
                                "team": "vt-zl",
                                "kind": "remove",
                                "person": "bram",
                                "start": "2026-03-10T03:01",
                                "end": "2026-03-10T03:06",
                            },
                            {
                                "id": "kort-weg-cor",
                                "team": "vt-zl",
                                "kind": "remove",
                                "person": "cor",
                                "layer": "backup",
                                "start": "2026-03-10T03:01",
                                "end": "2026-03-10T03:06",
                            },
                        ]
                    }
                ).overrides,
            )
        }
    )
    snap = ConfigSnapshot(config)
    gaps = find_gaps(snap, "vt-zl", local(2026, 3, 10), local(2026, 3, 11))
    assert (local(2026, 3, 10, 3, 1), local(2026, 3, 10, 3, 6)) in [(g.start, g.end) for g in gaps]


def test_a_rule_where_the_police_call_the_line_needs_nobody_on_call() -> None:
    """Gooi's after-hours piket rule turned into "the police call the line": the team
    then needs nobody on call after hours, so Hanna's inactive week leaves gaps only in
    office hours (without the change it is one gap of the whole week)."""
    config = SNAP.config
    rules = tuple(
        r.model_copy(update={"police_call": PoliceCall(), "mode": Mode.PHONE})
        if r.id == "gv-piket"
        else r
        for r in config.rules
    )
    teams = tuple(
        t.model_copy(update={"phone": t.phone or "+31882000000"}) if t.id == "vt-gv" else t
        for t in config.teams
    )
    snapshot = ConfigSnapshot(config.model_copy(update={"rules": rules, "teams": teams}))
    gaps = find_gaps(snapshot, "vt-gv", local(2026, 1, 12), local(2026, 1, 19))
    assert gaps, "office hours still need someone"
    assert {g.rules for g in gaps} == {("gv-kantoor",)}
    # office hours only (08:30-17:00 on weekdays), nothing in the evenings or at night
    assert len(gaps) == 5
    assert all(g.start.astimezone(AMS).hour >= 8 for g in gaps)
    assert all(g.end.astimezone(AMS).hour == 17 for g in gaps)

"""Coverage gaps on the hand-built configuration, to the minute."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.timeutil import AMS
from oncall.gaps import find_gaps
from tests.dispatch.test_pairing import SNAP


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


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


def test_backup_covers_a_removed_primary() -> None:
    # anna is off 2026-06-01..06-08 but cor is backup all week: no gap.
    assert find_gaps(SNAP, "vt-zl", local(2026, 5, 30), local(2026, 6, 10)) == []


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

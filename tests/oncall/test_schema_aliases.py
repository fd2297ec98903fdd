"""Planners may write days and times as they say them: Dutch day names, 8:30."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall.loader import ConfigError, load_file
from oncall.schemas import Day, Handoff, Window


def test_dutch_days_and_short_times() -> None:
    w = Window(days=["ma", "Woensdag", "za-zo"], start="8:30", end="17:00")
    assert w.days == (Day.MON, Day.WED, Day.SAT, Day.SUN)
    assert w.start == "08:30" and w.start_min == 510
    assert Window(days=["ma-vr"]).days == (Day.MON, Day.TUE, Day.WED, Day.THU, Day.FRI)
    assert Handoff(every="weekly", weekday="vrijdag", at="9:00").weekday is Day.FRI


def test_unquoted_short_time_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "regions:\n  - id: r\n    name: R\n    office_hours:\n"
        "      - {days: [ma-vr], start: 8:30, end: 17:00}\n"
    )
    config, _ = load_file(path)
    assert config.regions[0].office_hours is not None
    assert config.regions[0].office_hours[0].start == "08:30"


def test_unknown_day_still_named(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "regions:\n  - id: r\n    name: R\n    office_hours:\n"
        "      - {days: [maan], start: '08:30', end: '17:00'}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_file(path)
    [issue] = err.value.issues
    assert issue.path == "regions[0].office_hours[0].days[0]"

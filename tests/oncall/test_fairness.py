"""Rest and fairness rules, quarter counts and who could fill a gap, on small hand-built
rosters whose every number is known."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from core.timeutil import AMS
from oncall.fairness import (
    breaches,
    candidates,
    check,
    counts,
    is_night,
    parse_quarter,
    quarter_span,
)
from oncall.schemas import ConfigSet
from oncall.snapshot import ConfigSnapshot


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[arg-type,misc]


PEOPLE = [
    {"id": "anna", "name": "Anna", "phones": ["0612345671"], "memberships": [{"team": "vt"}]},
    {"id": "bas", "name": "Bas", "phones": ["0612345672"], "memberships": [{"team": "vt"}]},
    {
        "id": "cor",
        "name": "Cor",
        "phones": ["0612345673"],
        "memberships": [{"team": "vt"}, {"team": "cit"}],
    },
    {"id": "dirk", "name": "Dirk", "phones": [], "memberships": [{"team": "vt"}]},
    {
        "id": "eva",
        "name": "Eva",
        "phones": ["0612345675"],
        "active": False,
        "memberships": [{"team": "vt"}],
    },
    {"id": "fien", "name": "Fien", "phones": ["0612345676"], "memberships": [{"team": "vt"}]},
]
PLANNING = {
    "max_shifts_4w": 8,
    "max_hours_4w": 100,
    "min_rest_hours_after_night": 11,
    "no_consecutive_weekends": True,
}


def shift(person: str, start: str, end: str, team: str = "vt") -> dict[str, str]:
    return {"team": team, "person": person, "start": start, "end": end}


def snap(
    shifts: list[dict[str, str]],
    overrides: list[dict[str, Any]] | None = None,
    planning: dict[str, Any] | None = None,
) -> ConfigSnapshot:
    return ConfigSnapshot(
        ConfigSet.model_validate(
            {
                "regions": [{"id": "r1", "name": "Regio"}],
                "teams": [
                    {
                        "id": "vt",
                        "kind": "veilig_thuis",
                        "name": "VT",
                        "region": "r1",
                        "planning": PLANNING if planning is None else planning,
                    },
                    {"id": "cit", "kind": "cit", "name": "CIT", "region": "r1"},
                ],
                "people": PEOPLE,
                "shifts": shifts,
                "overrides": overrides or [],
            }
        )
    )


def nine_evenings(person: str, first_day: int = 2) -> list[dict[str, str]]:
    """Nine 17:00-23:00 shifts on consecutive weekdays from November ``first_day``."""
    days = [d for d in range(first_day, first_day + 14) if local(2026, 11, d).weekday() < 5]
    return [shift(person, f"2026-11-{d:02d}T17:00", f"2026-11-{d:02d}T23:00") for d in days[:9]]


def test_most_shifts_in_four_weeks() -> None:
    s = snap(nine_evenings("anna"))
    found = breaches(s, "vt", local(2026, 11, 1), local(2026, 12, 1))
    assert [(b.code, b.person) for b in found] == [("max_shifts_4w", "anna")]
    assert found[0].text.startswith("Anna heeft 9 piketdiensten in 4 weken (max 8)")
    assert found[0].start == local(2026, 11, 2, 17)
    # Eight is allowed; touching shifts are one shift.
    eight = nine_evenings("anna")[:8]
    assert breaches(snap(eight), "vt", local(2026, 11, 1), local(2026, 12, 1)) == []
    joined = [*eight, shift("anna", "2026-11-11T23:00", "2026-11-12T02:00")]
    assert breaches(snap(joined), "vt", local(2026, 11, 1), local(2026, 12, 1)) == []


def test_most_hours_in_four_weeks_and_no_limit_without_planning() -> None:
    long = [shift("bas", f"2026-11-{d:02d}T08:00", f"2026-11-{d:02d}T20:00") for d in (2, 9, 16)]
    long.append(shift("bas", "2026-11-20T08:00", "2026-11-21T18:00"))  # 34 h; 70 h in all
    planning = {"max_hours_4w": 60}
    found = breaches(snap(long, planning=planning), "vt", local(2026, 11, 1), local(2026, 12, 1))
    assert [(b.code, b.person) for b in found] == [("max_hours_4w", "bas")]
    assert "Bas heeft 70 uur piket in 4 weken (max 60)" in found[0].text
    assert breaches(snap(long, planning={}), "vt", local(2026, 11, 1), local(2026, 12, 1)) == []


def test_rest_after_a_night_call_out() -> None:
    s = snap(
        [
            shift("cor", "2026-11-02T22:00", "2026-11-03T07:00"),
            shift("cor", "2026-11-03T12:00", "2026-11-03T20:00"),  # 9 h after a 03:00 call-out
            shift("bas", "2026-11-02T22:00", "2026-11-03T07:00"),
            shift("bas", "2026-11-03T15:00", "2026-11-03T20:00"),  # 12 h after: enough
        ]
    )
    calls = [
        ("cor", local(2026, 11, 3, 3, 0)),
        ("bas", local(2026, 11, 3, 3, 0)),
        ("anna", local(2026, 11, 3, 3, 0)),  # not on any roster: nothing to check
    ]
    found = breaches(s, "vt", local(2026, 11, 1), local(2026, 11, 30), calls)
    assert [(b.code, b.person) for b in found] == [("min_rest_after_night", "cor")]
    assert "9 uur rust" in found[0].text and "minimaal 11 uur" in found[0].text
    assert found[0].start == local(2026, 11, 3, 12)
    # An evening call-out (22:30) is not at night (00:00-07:00): no rest rule.
    evening = [("cor", local(2026, 11, 2, 22, 30))]
    assert breaches(s, "vt", local(2026, 11, 1), local(2026, 11, 30), evening) == []
    assert is_night(local(2026, 11, 3, 6, 59)) and not is_night(local(2026, 11, 3, 7, 0))


def test_no_two_weekends_in_a_row() -> None:
    s = snap(
        [
            shift("fien", "2026-11-06T17:00", "2026-11-07T09:00"),  # Fri night into Saturday
            shift("fien", "2026-11-15T10:00", "2026-11-15T18:00"),  # Sunday the week after
            shift("anna", "2026-11-07T10:00", "2026-11-07T18:00"),
            shift("anna", "2026-11-21T10:00", "2026-11-21T18:00"),  # a weekend apart: fine
        ]
    )
    found = breaches(s, "vt", local(2026, 11, 1), local(2026, 12, 1))
    assert [(b.code, b.person) for b in found] == [("consecutive_weekends", "fien")]
    assert "za 07-11-2026" in found[0].text and "za 14-11-2026" in found[0].text
    assert found[0].start == local(2026, 11, 14)


def test_check_reports_only_what_a_change_introduces() -> None:
    before = snap([*nine_evenings("anna"), shift("bas", "2026-11-03T17:00", "2026-11-03T23:00")])
    # bas takes a weekend after one he already has: new breach; anna's stays as it was.
    extra = [
        shift("bas", "2026-11-07T10:00", "2026-11-07T18:00"),
        shift("bas", "2026-11-14T10:00", "2026-11-14T18:00"),
    ]
    after = snap(
        [*nine_evenings("anna"), shift("bas", "2026-11-03T17:00", "2026-11-03T23:00"), *extra]
    )
    new = check(before, after, "vt", local(2026, 11, 1), local(2026, 12, 1))
    assert [(b.code, b.person) for b in new] == [("consecutive_weekends", "bas")]
    # An override adding a tenth evening to anna makes her breach worse: it is reported.
    worse = snap(
        [*nine_evenings("anna"), shift("bas", "2026-11-03T17:00", "2026-11-03T23:00")],
        overrides=[
            {
                "id": "anna-extra",
                "team": "vt",
                "kind": "add",
                "person": "anna",
                "start": "2026-11-15T10:00",
                "end": "2026-11-15T12:00",
            }
        ],
    )
    worse_found = check(before, worse, "vt", local(2026, 11, 1), local(2026, 12, 1))
    assert [(b.code, b.person) for b in worse_found] == [("max_shifts_4w", "anna")]
    assert "10 piketdiensten" in worse_found[0].text
    assert check(before, before, "vt", local(2026, 11, 1), local(2026, 12, 1)) == []


def test_counts_nights_weekends_holidays_across_dst_and_holidays() -> None:
    s = snap(
        [
            # Koningsdag 2026 is Monday 27 April; the spring-forward night is 28-29 March.
            shift("anna", "2026-03-28T20:00", "2026-03-29T08:00"),  # 11 real hours, 1 night
            shift("anna", "2026-04-27T09:00", "2026-04-27T17:00"),  # Koningsdag, daytime
            shift("bas", "2026-04-05T00:00", "2026-04-07T00:00"),  # Easter Sunday and Monday
        ],
        planning={},
    )
    q = quarter_span(local(2026, 4, 1).date())
    assert q == parse_quarter("2026-Q2")
    c1 = counts(s, "vt", *parse_quarter("2026-Q1"))
    assert c1["anna"].hours == 11 and c1["anna"].nights == 1 and c1["anna"].weekends == 1
    assert c1["anna"].shifts == 1 and c1["anna"].holidays == 0
    c2 = counts(s, "vt", *q)
    assert c2["anna"].hours == 8 and c2["anna"].nights == 0 and c2["anna"].holidays == 1
    assert c2["bas"].hours == 48 and c2["bas"].nights == 2 and c2["bas"].holidays == 2
    assert c2["bas"].weekends == 1
    with pytest.raises(ValueError, match="quarter"):
        parse_quarter("2026-Q5")


def test_candidates_free_reachable_rested_fewest_hours_first() -> None:
    s = snap(
        [
            shift("anna", "2026-10-05T09:00", "2026-10-05T21:00"),  # 12 h this quarter
            shift("fien", "2026-10-06T09:00", "2026-10-06T13:00"),  # 4 h
            shift("bas", "2026-11-10T12:00", "2026-11-10T20:00"),  # on call during the gap
            shift("cor", "2026-11-09T22:00", "2026-11-10T07:00", team="cit"),  # 9 h, other team
        ]
    )
    gap = (local(2026, 11, 10, 13), local(2026, 11, 10, 17))
    now = local(2026, 11, 10, 9)
    found = candidates(s, "vt", *gap, now=now)
    # dirk: no phone; eva: inactive; bas: on call then.
    assert [c.person for c in found] == ["fien", "cor", "anna"]
    assert [c.hours_this_quarter for c in found] == [4, 9, 12]
    assert found[0].name == "Fien" and "4 uur piket dit kwartaal" in found[0].reasons
    # cor was called out at 04:00 on the night before: 9 h later is too soon (11).
    rested = candidates(s, "vt", *gap, callouts=[("cor", local(2026, 11, 10, 4))], now=now)
    assert [c.person for c in rested] == ["fien", "anna"]
    # A call-out after "now" is not known yet and does not count.
    later = candidates(
        s, "vt", *gap, callouts=[("cor", local(2026, 11, 10, 4))], now=local(2026, 11, 10, 3)
    )
    assert "cor" in [c.person for c in later]


def test_candidates_respect_consecutive_weekends_and_maxima() -> None:
    s = snap(
        [
            shift("fien", "2026-11-07T10:00", "2026-11-07T18:00"),  # last weekend
            *nine_evenings("anna")[:8],  # eight already: a ninth is too many
        ]
    )
    weekend_gap = (local(2026, 11, 14, 10), local(2026, 11, 14, 18))
    people = [c.person for c in candidates(s, "vt", *weekend_gap, now=local(2026, 11, 1))]
    assert "fien" not in people and "anna" not in people
    assert people == ["bas", "cor"]
    # A gap two weeks later is fine for fien.
    later = (local(2026, 11, 28, 10), local(2026, 11, 28, 18))
    assert "fien" in [c.person for c in candidates(s, "vt", *later, now=local(2026, 11, 1))]


def test_ranges_are_checked() -> None:
    s = snap([])
    with pytest.raises(ValueError, match="after"):
        breaches(s, "vt", local(2026, 11, 2), local(2026, 11, 1))
    with pytest.raises(ValueError, match="days at once"):
        counts(s, "vt", local(2026, 1, 1), local(2026, 6, 1))
    with pytest.raises(ValueError, match="after"):
        candidates(s, "vt", local(2026, 11, 2), local(2026, 11, 2), now=local(2026, 11, 1))


def test_a_shift_across_the_quarter_start_counts_once() -> None:
    s = snap([shift("anna", "2026-03-31T20:00", "2026-04-01T08:00")], planning={})
    q1, q2 = counts(s, "vt", *parse_quarter("2026-Q1")), counts(s, "vt", *parse_quarter("2026-Q2"))
    assert (q1["anna"].shifts, q2["anna"].shifts) == (1, 0)
    assert (q1["anna"].hours, q2["anna"].hours) == (4, 8)
    assert (q1["anna"].nights, q2["anna"].nights) == (0, 1)

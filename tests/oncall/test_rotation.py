"""Rotations, shifts and overrides: who is on call for a team at an instant.

Expected instants are written out in UTC by hand (CET = UTC+1, CEST = UTC+2;
2026-03-29 01:00 UTC clocks go 02:00 -> 03:00, 2026-10-25 01:00 UTC they go
03:00 -> 02:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.timeutil import AMS
from oncall.rotation import OnCall, on_call, rotation_slot, until_nl
from oncall.schemas import HolidayPolicy, Layer, Override, Rotation, Shift, Window
from oncall.scope import windows_contain


def U(text: str) -> datetime:
    """A UTC instant written as 'YYYY-MM-DDTHH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


H = timedelta(hours=1)


def rot(
    start: str,
    participants: tuple[str, ...] = ("a", "b", "c"),
    *,
    every: str = "daily",
    at: str = "09:00",
    weekday: str = "mon",
    hours: int | None = None,
    id: str = "r",
    team: str = "vt",
    layer: str = "primary",
    until: str | None = None,
    windows: list[dict[str, object]] | None = None,
    holidays: str = "open",
) -> Rotation:
    handoff: dict[str, object] = {"every": every}
    if every == "hours":
        handoff["hours"] = hours
    else:
        handoff["at"] = at
        if every == "weekly":
            handoff["weekday"] = weekday
    return Rotation.model_validate(
        {
            "id": id,
            "team": team,
            "layer": layer,
            "participants": participants,
            "start": start,  # no offset: Amsterdam wall clock
            "until": until,
            "handoff": handoff,
            "windows": windows,
            "holidays": holidays,
        }
    )


# --- daily --------------------------------------------------------------------

DAILY = rot("2026-01-10T15:00")  # Sat 15:00 CET, not on a handoff


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-01-10T13:59:59", None),  # before start
        ("2026-01-10T14:00", ("a", "2026-01-10T14:00", "2026-01-11T08:00")),  # start inclusive
        ("2026-01-11T07:59:59", ("a", "2026-01-10T14:00", "2026-01-11T08:00")),
        ("2026-01-11T08:00", ("b", "2026-01-11T08:00", "2026-01-12T08:00")),  # handoff
        ("2026-01-12T08:00", ("c", "2026-01-12T08:00", "2026-01-13T08:00")),
        ("2026-01-13T08:00", ("a", "2026-01-13T08:00", "2026-01-14T08:00")),
        # 364 days after the first handoff (Jan 11 2026): slot 365, 365 % 3 = 2.
        ("2027-01-10T12:00", ("c", "2027-01-10T08:00", "2027-01-11T08:00")),
    ],
)
def test_daily_from_start_off_boundary(at: str, expected: tuple[str, str, str] | None) -> None:
    want = None if expected is None else (expected[0], U(expected[1]), U(expected[2]))
    assert rotation_slot(DAILY, U(at)) == want


def test_daily_start_on_handoff_is_a_full_first_slot() -> None:
    r = rot("2026-01-10T09:00")
    assert rotation_slot(r, U("2026-01-10T08:00")) == (
        "a",
        U("2026-01-10T08:00"),
        U("2026-01-11T08:00"),
    )


def test_daily_handoff_at_09_across_spring_forward() -> None:
    r = rot("2026-03-27T09:00")  # Fri: a; Sat: b; Sun: c; Mon: a
    assert rotation_slot(r, U("2026-03-27T07:59")) is None
    assert rotation_slot(r, U("2026-03-27T08:00")) == (
        "a",
        U("2026-03-27T08:00"),
        U("2026-03-28T08:00"),
    )
    b = rotation_slot(r, U("2026-03-28T08:00"))
    assert b == ("b", U("2026-03-28T08:00"), U("2026-03-29T07:00"))
    assert b[2] - b[1] == 23 * H
    assert rotation_slot(r, U("2026-03-29T06:59:59"))[0] == "b"
    c = rotation_slot(r, U("2026-03-29T07:00"))
    assert c == ("c", U("2026-03-29T07:00"), U("2026-03-30T07:00"))
    assert c[2] - c[1] == 24 * H
    for slot in (b, c):
        assert slot[1].astimezone(AMS).strftime("%H:%M") == "09:00"
        assert slot[2].astimezone(AMS).strftime("%H:%M") == "09:00"


def test_daily_handoff_at_09_across_fall_back() -> None:
    r = rot("2026-10-23T09:00")  # Fri: a; Sat: b; Sun: c
    b = rotation_slot(r, U("2026-10-24T07:00"))
    assert b == ("b", U("2026-10-24T07:00"), U("2026-10-25T08:00"))
    assert b[2] - b[1] == 25 * H
    assert rotation_slot(r, U("2026-10-25T07:59:59"))[0] == "b"
    assert rotation_slot(r, U("2026-10-25T08:00")) == (
        "c",
        U("2026-10-25T08:00"),
        U("2026-10-26T08:00"),
    )


# --- hours --------------------------------------------------------------------


def test_twelve_hour_shifts_across_spring_forward() -> None:
    r = rot("2026-03-28T08:00", ("day", "night"), every="hours", hours=12)
    assert rotation_slot(r, U("2026-03-28T07:00")) == (
        "day",
        U("2026-03-28T07:00"),
        U("2026-03-28T19:00"),
    )
    night = rotation_slot(r, U("2026-03-28T19:00"))
    assert night == (
        "night",
        U("2026-03-28T19:00"),
        U("2026-03-29T06:00"),
    )  # 20:00 CET - 08:00 CEST
    assert night[2] - night[1] == 11 * H
    assert rotation_slot(r, U("2026-03-29T06:00")) == (
        "day",
        U("2026-03-29T06:00"),
        U("2026-03-29T18:00"),
    )
    assert rotation_slot(r, U("2026-03-29T18:00")) == (
        "night",
        U("2026-03-29T18:00"),
        U("2026-03-30T06:00"),
    )


def test_twelve_hour_shifts_across_fall_back() -> None:
    r = rot("2026-10-24T08:00", ("day", "night"), every="hours", hours=12)
    assert rotation_slot(r, U("2026-10-24T06:00")) == (
        "day",
        U("2026-10-24T06:00"),
        U("2026-10-24T18:00"),
    )
    night = rotation_slot(r, U("2026-10-25T01:30"))  # in the repeated hour
    assert night == (
        "night",
        U("2026-10-24T18:00"),
        U("2026-10-25T07:00"),
    )  # 20:00 CEST - 08:00 CET
    assert night[2] - night[1] == 13 * H
    assert rotation_slot(r, U("2026-10-25T07:00")) == (
        "day",
        U("2026-10-25T07:00"),
        U("2026-10-25T19:00"),
    )


def test_twelve_hour_shifts_stay_at_08_and_20_all_year() -> None:
    r = rot("2026-01-01T08:00", ("day", "night"), every="hours", hours=12)
    # Jan 1 -> Jul 1 is 181 days = 362 periods: a day shift, 08:00-20:00 CEST.
    assert rotation_slot(r, U("2026-07-01T10:00")) == (
        "day",
        U("2026-07-01T06:00"),
        U("2026-07-01T18:00"),
    )
    # Jan 1 2026 -> Jan 15 2027 is 379 days = 758 periods; 21:00 CET is period 759.
    assert rotation_slot(r, U("2027-01-15T20:00")) == (
        "night",
        U("2027-01-15T19:00"),
        U("2027-01-16T07:00"),
    )


def test_one_hour_slots_lose_the_missing_hour() -> None:
    r = rot("2026-03-29T00:00", every="hours", hours=1)  # 23:00 UTC the day before
    assert rotation_slot(r, U("2026-03-28T23:30")) == (
        "a",
        U("2026-03-28T23:00"),
        U("2026-03-29T00:00"),
    )
    assert rotation_slot(r, U("2026-03-29T00:30")) == (
        "b",
        U("2026-03-29T00:00"),
        U("2026-03-29T01:00"),
    )
    # 02:00-03:00 does not exist: c's slot is empty; 03:00 CEST is slot 3 -> a.
    assert rotation_slot(r, U("2026-03-29T01:00")) == (
        "a",
        U("2026-03-29T01:00"),
        U("2026-03-29T02:00"),
    )


# --- weekly -------------------------------------------------------------------


def test_weekly_monday_handoff() -> None:
    r = rot("2026-01-07T12:00", ("a", "b"), every="weekly", weekday="mon")  # a Wednesday
    assert rotation_slot(r, U("2026-01-07T11:00")) == (
        "a",
        U("2026-01-07T11:00"),
        U("2026-01-12T08:00"),
    )
    assert rotation_slot(r, U("2026-01-12T07:59")) == (
        "a",
        U("2026-01-07T11:00"),
        U("2026-01-12T08:00"),
    )
    assert rotation_slot(r, U("2026-01-12T08:00")) == (
        "b",
        U("2026-01-12T08:00"),
        U("2026-01-19T08:00"),
    )
    assert rotation_slot(r, U("2026-01-19T08:00")) == (
        "a",
        U("2026-01-19T08:00"),
        U("2026-01-26T08:00"),
    )


def test_weekly_friday_17_handoff() -> None:
    r = rot("2026-01-05T09:00", ("a", "b"), every="weekly", weekday="fri", at="17:00")
    assert rotation_slot(r, U("2026-01-09T15:59")) == (
        "a",
        U("2026-01-05T08:00"),
        U("2026-01-09T16:00"),
    )
    assert rotation_slot(r, U("2026-01-09T16:00")) == (
        "b",
        U("2026-01-09T16:00"),
        U("2026-01-16T16:00"),
    )


def test_weekly_across_dst_is_167_and_169_hours() -> None:
    spring = rot("2026-03-23T09:00", ("a", "b"), every="weekly")
    a = rotation_slot(spring, U("2026-03-29T12:00"))
    assert a == ("a", U("2026-03-23T08:00"), U("2026-03-30T07:00"))
    assert a[2] - a[1] == 167 * H
    assert rotation_slot(spring, U("2026-03-30T07:00")) == (
        "b",
        U("2026-03-30T07:00"),
        U("2026-04-06T07:00"),
    )
    autumn = rot("2026-10-19T09:00", ("a", "b"), every="weekly")
    a = rotation_slot(autumn, U("2026-10-25T12:00"))
    assert a == ("a", U("2026-10-19T07:00"), U("2026-10-26T08:00"))
    assert a[2] - a[1] == 169 * H


# --- handoff at a wall time that is missing or repeated ------------------------


def test_handoff_at_missing_local_time_happens_at_03_00() -> None:
    r = rot("2026-03-27T02:30", at="02:30")  # Fri a, Sat b, Sun c
    b = rotation_slot(r, U("2026-03-28T01:30"))
    assert b == ("b", U("2026-03-28T01:30"), U("2026-03-29T01:00"))  # until 03:00 CEST
    assert b[2] - b[1] == timedelta(hours=23, minutes=30)
    assert rotation_slot(r, U("2026-03-29T00:59:59"))[0] == "b"
    assert rotation_slot(r, U("2026-03-29T01:00")) == (
        "c",
        U("2026-03-29T01:00"),
        U("2026-03-30T00:30"),
    )


def test_handoff_in_repeated_hour_uses_first_occurrence_consistently() -> None:
    r = rot("2026-10-23T02:30", at="02:30")  # Fri a, Sat b, Sun c
    assert rotation_slot(r, U("2026-10-25T00:15"))[0] == "b"  # 02:15 CEST
    c = ("c", U("2026-10-25T00:30"), U("2026-10-26T01:30"))  # 02:30 CEST .. 02:30 CET next day
    assert rotation_slot(r, U("2026-10-25T00:30")) == c  # first 02:30
    assert rotation_slot(r, U("2026-10-25T01:15")) == c  # second 02:15
    assert rotation_slot(r, U("2026-10-25T01:30")) == c  # second 02:30
    assert c[2] - c[1] == 25 * H


# --- until and windows --------------------------------------------------------


def test_rotation_until_is_exclusive_and_clips_the_slot() -> None:
    r = rot("2026-01-05T09:00", ("a", "b"), until="2026-01-07T12:00")  # Mon a, Tue b, Wed a
    assert rotation_slot(r, U("2026-01-07T10:59:59")) == (
        "a",
        U("2026-01-07T08:00"),
        U("2026-01-07T11:00"),
    )
    assert rotation_slot(r, U("2026-01-07T11:00")) is None


PIKET_WINDOWS = [
    {"days": "weekdays", "start": "17:00", "end": "09:00"},
    {"days": "weekend"},
    {"days": "sun", "start": "17:00", "end": "09:00"},
]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-01-06T12:00", None),  # Tue 13:00: office hours, no piket
        ("2026-01-06T16:00", ("a", "2026-01-06T16:00", "2026-01-07T08:00")),  # Tue 17:00
        ("2026-01-07T07:59", ("a", "2026-01-06T16:00", "2026-01-07T08:00")),
        ("2026-01-07T08:00", None),  # Wed 09:00
        ("2026-01-10T12:00", ("a", "2026-01-09T16:00", "2026-01-12T08:00")),  # weekend, merged
        ("2026-01-12T16:00", ("b", "2026-01-12T16:00", "2026-01-13T08:00")),  # next week
    ],
)
def test_rotation_windows_limit_and_clip(at: str, expected: tuple[str, str, str] | None) -> None:
    r = rot("2026-01-05T09:00", ("a", "b"), every="weekly", windows=PIKET_WINDOWS)
    want = None if expected is None else (expected[0], U(expected[1]), U(expected[2]))
    assert rotation_slot(r, U(at)) == want


def test_rotation_windows_clipped_by_handoff() -> None:
    r = rot("2026-01-05T09:00", ("a", "b"), windows=[{"days": "all"}])
    assert rotation_slot(r, U("2026-01-06T12:00")) == (
        "b",
        U("2026-01-06T08:00"),
        U("2026-01-07T08:00"),
    )


def test_rotation_window_holiday_policy() -> None:
    office = [{"days": "weekdays", "start": "09:00", "end": "17:00"}]
    closed = rot("2026-04-20T09:00", ("a", "b"), windows=office, holidays="closed")
    opened = rot("2026-04-20T09:00", ("a", "b"), windows=office, holidays="open")
    koningsdag_noon = U("2026-04-27T10:00")  # Mon Apr 20 a ... Mon Apr 27 is slot 7: b
    assert rotation_slot(closed, koningsdag_noon) is None
    assert rotation_slot(opened, koningsdag_noon) == (
        "b",
        U("2026-04-27T07:00"),
        U("2026-04-27T15:00"),
    )
    assert rotation_slot(closed, U("2026-04-28T10:00")) == (
        "a",
        U("2026-04-28T07:00"),
        U("2026-04-28T15:00"),
    )


# --- on_call ------------------------------------------------------------------

AT = U("2026-01-09T11:00")  # Fri 12:00 CET
DAG = rot("2026-01-05T09:00", ("anna", "bram"), id="dag")  # Fri Jan 9 is slot 4: anna
ACHTER = rot("2026-01-05T09:00", ("carla", "dirk"), id="achter", every="weekly", layer="backup")
CIT = rot("2026-01-05T09:00", ("eva",), id="cit-rooster", team="cit")
ROTATIONS = (DAG, ACHTER, CIT)
SHIFTS = (
    Shift(team="vt", person="frank", start="2026-01-09T10:00", end="2026-01-09T14:00"),
    Shift(team="vt", person="gijs", start="2026-01-09T08:00", end="2026-01-09T20:00"),
    Shift(team="cit", person="eva2", start="2026-01-09T08:00", end="2026-01-09T20:00"),
)


def ov(id: str, kind: str, person: str, start: str, end: str, **extra: object) -> Override:
    data: dict[str, object] = {
        "id": id,
        "team": "vt",
        "kind": kind,
        "person": person,
        "start": start,
        "end": end,
    }
    data.update(extra)
    return Override.model_validate(data)


def team_now(at: datetime = AT, overrides: tuple[Override, ...] = (), **kw: object) -> OnCall:
    return on_call(
        "vt",
        at,
        rotations=kw.get("rotations", ROTATIONS),  # type: ignore[arg-type]
        shifts=kw.get("shifts", SHIFTS),  # type: ignore[arg-type]
        overrides=overrides,
    )


def test_on_call_order_sources_and_layers() -> None:
    now = team_now()
    assert now.team == "vt" and now.at == AT
    assert now.people() == ("anna", "gijs", "frank", "carla")
    assert [e.source for e in now.entries] == ["rotation:dag", "shift", "shift", "rotation:achter"]
    assert now.people(Layer.BACKUP) == ("carla",)
    assert now.removed == ()
    anna, gijs, _, carla = now.entries
    assert (anna.since, anna.until) == (U("2026-01-09T08:00"), U("2026-01-10T08:00"))
    assert anna.reasons[0].text == "heeft piket volgens rooster dag tot za 09:00"
    assert (gijs.since, gijs.until) == (U("2026-01-09T07:00"), U("2026-01-09T19:00"))
    assert gijs.reasons[0].text == "heeft een losse dienst tot vr 20:00"
    assert [r.code for r in carla.reasons] == ["oncall_rotation", "backup_layer"]
    assert carla.reasons[0].params["until"] == "ma 09:00"


def test_on_call_accepts_local_offset_and_refuses_naive() -> None:
    assert team_now(datetime(2026, 1, 9, 12, 0, tzinfo=AMS)).at == AT
    with pytest.raises(ValueError):
        team_now(datetime(2026, 1, 9, 12, 0))


def test_shift_boundaries() -> None:
    shifts = SHIFTS[:1]  # frank, 09:00-13:00 UTC
    assert "frank" not in team_now(U("2026-01-09T08:59:59"), shifts=shifts).people()
    assert "frank" in team_now(U("2026-01-09T09:00"), shifts=shifts).people()
    assert "frank" in team_now(U("2026-01-09T12:59:59"), shifts=shifts).people()
    assert "frank" not in team_now(U("2026-01-09T13:00"), shifts=shifts).people()


def test_person_in_both_layers_appears_once_as_primary() -> None:
    backup_anna = rot("2026-01-05T09:00", ("anna",), id="anna-achter", layer="backup")
    now = team_now(rotations=(backup_anna, DAG), shifts=())
    assert [(e.person, e.layer) for e in now.entries] == [("anna", Layer.PRIMARY)]


def test_roster_gap_is_empty() -> None:
    now = team_now(U("2026-01-01T12:00"), shifts=())
    assert now.entries == () and now.removed == ()
    night_only = rot(
        "2026-01-05T09:00",
        ("nina",),
        id="nacht",
        windows=[{"days": "all", "start": "22:00", "end": "07:00"}],
    )
    assert team_now(rotations=(night_only,), shifts=()).entries == ()
    assert team_now(U("2026-01-09T22:00"), rotations=(night_only,), shifts=()).people() == ("nina",)


# --- overrides ----------------------------------------------------------------


def test_remove_boundaries_and_reason() -> None:
    remove = (ov("ziek", "remove", "anna", "2026-01-09T10:00", "2026-01-09T14:00"),)
    assert team_now(U("2026-01-09T08:59:59"), remove).people()[0] == "anna"
    now = team_now(U("2026-01-09T09:00"), remove)
    assert now.people() == ("gijs", "frank", "carla")
    assert [(p, r.code) for p, r in now.removed] == [("anna", "removed_by_override")]
    assert now.removed[0][1].text == "afgemeld volgens wijziging ziek"
    assert team_now(U("2026-01-09T13:00"), remove).people()[0] == "anna"


def test_add_goes_after_rotations_and_shifts() -> None:
    add = (ov("extra", "add", "henk", "2026-01-09T11:00", "2026-01-09T13:00"),)
    now = team_now(overrides=add)
    assert now.people() == ("anna", "gijs", "frank", "henk", "carla")
    henk = now.entries[3]
    assert henk.source == "override:extra" and henk.layer is Layer.PRIMARY
    assert (henk.since, henk.until) == (U("2026-01-09T10:00"), U("2026-01-09T12:00"))
    assert henk.reasons[0].text == "toegevoegd door wijziging extra"
    assert team_now(U("2026-01-09T12:00"), add).people() == ("anna", "gijs", "frank", "carla")


def test_add_on_backup_layer() -> None:
    add = (ov("extra", "add", "henk", "2026-01-09T11:00", "2026-01-09T13:00", layer="backup"),)
    now = team_now(overrides=add)
    assert now.people(Layer.BACKUP) == ("carla", "henk")
    assert [r.code for r in now.entries[-1].reasons] == ["oncall_override_add", "backup_layer"]


def test_replace_takes_the_same_place() -> None:
    swap = (ov("ruil", "replace", "ilse", "2026-01-09T00:00", "2026-01-12T00:00", replaces="anna"),)
    now = team_now(overrides=swap)
    assert now.people() == ("ilse", "gijs", "frank", "carla")
    ilse = now.entries[0]
    assert ilse.source == "override:ruil"
    # Only as long as anna's slot and the override both run.
    assert (ilse.since, ilse.until) == (U("2026-01-09T08:00"), U("2026-01-10T08:00"))
    assert ilse.reasons[0].text == "vervangt anna volgens wijziging ruil"
    assert [(p, r.code) for p, r in now.removed] == [("anna", "replaced_by_override")]
    assert now.removed[0][1].text == "vervangen door ilse volgens wijziging ruil"


def test_replace_of_someone_not_on_call_has_no_effect() -> None:
    base = team_now()
    bram = (ov("ruil", "replace", "ilse", "2026-01-09T00:00", "2026-01-10T00:00", replaces="bram"),)
    assert team_now(overrides=bram) == base
    # carla is on the backup layer, not the primary one.
    carla = (
        ov("ruil", "replace", "ilse", "2026-01-09T00:00", "2026-01-10T00:00", replaces="carla"),
    )
    assert team_now(overrides=carla) == base
    backup = (
        ov(
            "ruil",
            "replace",
            "ilse",
            "2026-01-09T00:00",
            "2026-01-10T00:00",
            replaces="carla",
            layer="backup",
        ),
    )
    assert team_now(overrides=backup).people() == ("anna", "gijs", "frank", "ilse")


def test_replace_someone_already_on_call_keeps_them_once() -> None:
    swap = (ov("ruil", "replace", "gijs", "2026-01-09T00:00", "2026-01-10T00:00", replaces="anna"),)
    now = team_now(overrides=swap)
    assert now.people() == ("gijs", "frank", "carla")
    assert now.entries[0].source == "override:ruil"


def test_later_start_wins_add_over_remove() -> None:
    overrides = (
        ov("terug", "add", "anna", "2026-01-09T11:00", "2026-01-09T14:00"),
        ov("ziek", "remove", "anna", "2026-01-09T10:00", "2026-01-09T14:00"),
    )
    off = team_now(U("2026-01-09T09:30"), overrides)  # only the remove runs
    assert "anna" not in off.people()
    on = team_now(U("2026-01-09T10:30"), overrides)  # both run; the add started later
    assert on.people()[0] == "anna"  # back in her own place
    assert on.entries[0].source == "override:terug"
    assert on.removed == ()


def test_later_start_wins_remove_over_add() -> None:
    overrides = (
        ov("weg", "remove", "henk", "2026-01-09T11:00", "2026-01-09T14:00"),
        ov("extra", "add", "henk", "2026-01-09T10:00", "2026-01-09T14:00"),
    )
    assert "henk" in team_now(U("2026-01-09T09:30"), overrides).people()
    now = team_now(U("2026-01-09T10:30"), overrides)
    assert "henk" not in now.people()
    assert [(p, r.code) for p, r in now.removed] == [("henk", "removed_by_override")]


def test_equal_start_later_in_config_wins() -> None:
    add = ov("extra", "add", "henk", "2026-01-09T10:00", "2026-01-09T14:00")
    remove = ov("weg", "remove", "henk", "2026-01-09T10:00", "2026-01-09T14:00")
    assert "henk" not in team_now(overrides=(add, remove)).people()
    assert "henk" in team_now(overrides=(remove, add)).people()


def test_replace_after_remove_fills_the_place() -> None:
    overrides = (
        ov("ruil", "replace", "ilse", "2026-01-09T10:00", "2026-01-09T14:00", replaces="anna"),
        ov("ziek", "remove", "anna", "2026-01-09T08:00", "2026-01-09T14:00"),
    )
    now = team_now(overrides=overrides)
    assert now.people() == ("ilse", "gijs", "frank", "carla")
    assert [(p, r.code) for p, r in now.removed] == [("anna", "replaced_by_override")]


def test_remove_of_the_replacement_after_replace() -> None:
    overrides = (
        ov("ruil", "replace", "ilse", "2026-01-09T08:00", "2026-01-09T14:00", replaces="anna"),
        ov("ilse-ziek", "remove", "ilse", "2026-01-09T10:00", "2026-01-09T14:00"),
    )
    now = team_now(overrides=overrides)
    assert now.people() == ("gijs", "frank", "carla")
    assert [(p, r.code) for p, r in now.removed] == [
        ("anna", "replaced_by_override"),
        ("ilse", "removed_by_override"),
    ]


def test_two_replaces_of_the_same_person_later_wins() -> None:
    ilse = ov("ruil-1", "replace", "ilse", "2026-01-09T08:00", "2026-01-09T14:00", replaces="anna")
    jan = ov("ruil-2", "replace", "jan", "2026-01-09T10:00", "2026-01-09T14:00", replaces="anna")
    assert team_now(overrides=(ilse, jan)).people()[0] == "jan"
    assert team_now(overrides=(jan, ilse)).people()[0] == "jan"
    early_jan = ov(
        "ruil-2", "replace", "jan", "2026-01-09T07:00", "2026-01-09T14:00", replaces="anna"
    )
    assert team_now(overrides=(ilse, early_jan)).people()[0] == "ilse"


def test_overrides_of_other_teams_and_outside_their_time_are_ignored() -> None:
    base = team_now()
    other = ov("x", "remove", "anna", "2026-01-09T00:00", "2026-01-10T00:00").model_copy(
        update={"team": "cit"}
    )
    later = ov("y", "remove", "anna", "2026-01-09T13:00", "2026-01-10T00:00")
    assert team_now(overrides=(other, later)) == base


def test_remove_whole_backup_layer() -> None:
    remove = (ov("weg", "remove", "carla", "2026-01-09T00:00", "2026-01-10T00:00", layer="backup"),)
    now = team_now(overrides=remove)
    assert now.people(Layer.BACKUP) == ()
    # A remove on the other layer does nothing to carla.
    wrong_layer = (ov("weg", "remove", "carla", "2026-01-09T00:00", "2026-01-10T00:00"),)
    assert team_now(overrides=wrong_layer) == team_now()


def test_until_nl_mentions_the_date_when_far_away() -> None:
    assert until_nl(U("2026-01-10T08:00"), AT) == "za 09:00"
    assert until_nl(U("2026-01-19T08:00"), AT) == "ma 19-01-2026 09:00"
    assert until_nl(None, AT) == "nader order"


# --- properties ---------------------------------------------------------------

NAMES = ("p0", "p1", "p2", "p3", "p4")

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(tzinfo=UTC))
DST_INSTANTS = [
    U("2026-03-29T00:59:59"),
    U("2026-03-29T01:00"),
    U("2026-10-25T00:30"),
    U("2026-10-25T01:30"),
    U("2027-03-28T01:00"),
    U("2027-10-31T00:45"),
    U("2027-10-31T01:45"),
]
dst_instants = st.sampled_from(DST_INSTANTS)
any_instant = dst_instants | instants


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    every = draw(st.sampled_from(["daily", "weekly", "hours"]))
    start = draw(st.datetimes(min_value=datetime(2025, 10, 1), max_value=datetime(2026, 12, 31)))
    count = draw(st.integers(1, 5))
    return rot(
        start.isoformat(timespec="minutes"),
        NAMES[:count],
        every=every,
        at=clock(draw(st.integers(0, 24 * 60 - 1))),
        weekday=draw(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])),
        hours=draw(st.integers(1, 48)) if every == "hours" else None,
    )


@settings(max_examples=400, deadline=None)
@given(rotation=rotations(), at=any_instant)
def test_slot_holds_the_instant_and_hands_over_to_the_next(
    rotation: Rotation, at: datetime
) -> None:
    slot = rotation_slot(rotation, at)
    if at < rotation.start:
        assert slot is None
        return
    assert slot is not None
    person, since, until = slot
    assert person in rotation.participants
    assert since <= at < until
    following = rotation_slot(rotation, until)
    assert following is not None and following[1] == until
    short = rotation.handoff.every == "hours" and (rotation.handoff.hours or 0) < 2
    if not short:  # one-hour slots can vanish in the missing hour
        index = rotation.participants.index(person)
        assert following[0] == rotation.participants[(index + 1) % len(rotation.participants)]


@settings(max_examples=300, deadline=None)
@given(
    hour=st.sampled_from([h for h in range(24) if h != 2]),
    minute=st.integers(0, 59),
    at=any_instant,
)
def test_daily_handoff_stays_at_its_local_hour(hour: int, minute: int, at: datetime) -> None:
    r = rot("2025-12-01T00:00", NAMES[:3], at=f"{hour:02d}:{minute:02d}")
    slot = rotation_slot(r, at)
    assert slot is not None
    _, since, until = slot
    assume(since != r.start)
    for edge in (since, until):
        local = edge.astimezone(AMS)
        assert (local.hour, local.minute) == (hour, minute)
    assert until - since in (23 * H, 24 * H, 25 * H)


@settings(max_examples=300, deadline=None)
@given(at=any_instant)
def test_twelve_hour_edges_are_08_and_20_local(at: datetime) -> None:
    r = rot("2025-12-01T08:00", ("day", "night"), every="hours", hours=12)
    person, since, until = rotation_slot(r, at)  # type: ignore[misc]
    start_local, end_local = since.astimezone(AMS), until.astimezone(AMS)
    assert (start_local.hour, start_local.minute) == ((8, 0) if person == "day" else (20, 0))
    assert (end_local.hour, end_local.minute) == ((20, 0) if person == "day" else (8, 0))
    assert until - since in (11 * H, 12 * H, 13 * H)


WINDOW_CHOICES = [
    [{"days": "weekdays", "start": "17:00", "end": "09:00"}, {"days": "weekend"}],
    [{"days": "all", "start": "02:00", "end": "03:00"}],
    [{"days": "weekdays", "start": "09:00", "end": "17:00"}],
    [
        {"days": "fri", "start": "17:00", "end": "08:30"},
        {"days": "sun", "start": "22:00", "end": "02:30"},
    ],
]


@settings(max_examples=300, deadline=None)
@given(
    rotation=rotations(),
    windows=st.sampled_from(WINDOW_CHOICES),
    policy=st.sampled_from(["open", "closed"]),
    at=any_instant,
)
def test_windowed_slot_holds_the_instant(
    rotation: Rotation, windows: list[dict[str, object]], policy: str, at: datetime
) -> None:
    r = rotation.model_copy(
        update={
            "windows": tuple(Window.model_validate(w) for w in windows),
            "holidays": HolidayPolicy(policy),
        }
    )
    slot = rotation_slot(r, at)
    inside = windows_contain(r.windows or (), at, holidays=r.holidays) is not None
    if at < r.start or not inside:
        assert slot is None
        return
    assert slot is not None
    person, since, until = slot
    assert person in r.participants
    assert since <= at < until

"""Scope: windows on the Amsterdam wall clock, holidays, and rule evaluation.

Expected instants are written out in UTC by hand (CET = UTC+1, CEST = UTC+2;
2026-03-29 01:00 UTC clocks go 02:00 -> 03:00, 2026-10-25 01:00 UTC they go
03:00 -> 02:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.timeutil import AMS, holiday_name, is_public_holiday
from oncall.facts import IncidentFacts, PersonFacts
from oncall.schemas import (
    ALL_DAYS,
    DEFAULT_OFFICE_HOURS,
    CaseType,
    CoverageRule,
    Day,
    Flag,
    HolidayPolicy,
    Hours,
    PersonRole,
    Window,
)
from oncall.scope import (
    describe_windows,
    evaluate_rule,
    is_office_hours,
    wall_to_utc,
    window_contains,
    window_occurrence,
    windows_contain,
    windows_span,
)

CLOSED, OPEN = HolidayPolicy.CLOSED, HolidayPolicy.OPEN


def U(text: str) -> datetime:
    """A UTC instant written as 'YYYY-MM-DDTHH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def W(days: object = "all", start: str = "00:00", end: str = "24:00") -> Window:
    return Window.model_validate({"days": days, "start": start, "end": end})


# --- wall clock --------------------------------------------------------------


def test_wall_to_utc_plain_winter_and_summer() -> None:
    assert wall_to_utc(datetime(2026, 1, 5, 9, 0)) == U("2026-01-05T08:00")
    assert wall_to_utc(datetime(2026, 7, 6, 9, 0)) == U("2026-07-06T07:00")


def test_wall_to_utc_gap_goes_to_first_instant_after() -> None:
    assert wall_to_utc(datetime(2026, 3, 29, 2, 0)) == U("2026-03-29T01:00")
    assert wall_to_utc(datetime(2026, 3, 29, 2, 30)) == U("2026-03-29T01:00")
    assert wall_to_utc(datetime(2026, 3, 29, 3, 0)) == U("2026-03-29T01:00")
    assert wall_to_utc(datetime(2026, 3, 29, 1, 59)) == U("2026-03-29T00:59")


def test_wall_to_utc_repeated_hour_first_or_later() -> None:
    assert wall_to_utc(datetime(2026, 10, 25, 2, 30)) == U("2026-10-25T00:30")
    assert wall_to_utc(datetime(2026, 10, 25, 2, 30), later=True) == U("2026-10-25T01:30")
    assert wall_to_utc(datetime(2026, 10, 25, 3, 0), later=True) == U("2026-10-25T02:00")


# --- window_contains: ordinary, boundaries, midnight -------------------------

OFFICE = W("weekdays", "09:00", "17:00")


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2026-01-05T07:59:59", False),  # Mon 08:59:59 CET
        ("2026-01-05T08:00", True),  # Mon 09:00: start inclusive
        ("2026-01-05T15:59:59", True),  # Mon 16:59:59
        ("2026-01-05T16:00", False),  # Mon 17:00: end exclusive
        ("2026-01-09T12:00", True),  # Fri 13:00
        ("2026-01-10T12:00", False),  # Sat 13:00
        ("2026-07-06T07:00", True),  # Mon 09:00 CEST
        ("2026-07-06T06:59", False),  # Mon 08:59 CEST
        ("2026-07-06T15:00", False),  # Mon 17:00 CEST
    ],
)
def test_office_window_boundaries(at: str, inside: bool) -> None:
    assert window_contains(OFFICE, U(at), holidays=CLOSED) is inside


def test_window_ending_at_24_00() -> None:
    evening = W("mon", "20:00", "24:00")
    assert window_contains(evening, U("2026-01-05T22:59:59"), holidays=CLOSED)  # Mon 23:59:59
    assert not window_contains(evening, U("2026-01-05T23:00"), holidays=CLOSED)  # Tue 00:00


FRIDAY_NIGHT = W("fri", "17:00", "08:30")


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2026-01-09T15:59", False),  # Fri 16:59
        ("2026-01-09T16:00", True),  # Fri 17:00
        ("2026-01-09T22:59", True),  # Fri 23:59
        ("2026-01-10T02:00", True),  # Sat 03:00: belongs to Friday
        ("2026-01-10T07:29:59", True),  # Sat 08:29:59
        ("2026-01-10T07:30", False),  # Sat 08:30: end exclusive
        ("2026-01-10T16:00", False),  # Sat 17:00: Saturday is not a start day
        ("2026-01-09T02:00", False),  # Fri 03:00: Thursday is not a start day
    ],
)
def test_window_across_midnight_friday_to_saturday(at: str, inside: bool) -> None:
    assert window_contains(FRIDAY_NIGHT, U(at), holidays=CLOSED) is inside


def test_window_ending_at_midnight_crosses_nothing() -> None:
    window = W("mon", "17:00", "00:00")  # end <= start: runs to midnight
    assert window_contains(window, U("2026-01-05T22:59"), holidays=CLOSED)
    assert not window_contains(window, U("2026-01-05T23:00"), holidays=CLOSED)


# --- holidays ----------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 27),
        date(2026, 4, 6),
        date(2026, 12, 25),
    ],  # Koningsdag, 2e paasdag, 1e kerstdag
)
def test_holiday_closes_weekday_window_unless_open(day: date) -> None:
    noon = datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)  # 12:00 or 13:00 local
    assert is_public_holiday(day)
    assert not window_contains(OFFICE, noon, holidays=CLOSED)
    assert window_contains(OFFICE, noon, holidays=OPEN)
    assert not is_office_hours(DEFAULT_OFFICE_HOURS, noon)


def test_second_christmas_day_saturday_closed_even_for_all_day_window() -> None:
    all_day = W("all")
    at = U("2026-12-26T11:00")
    assert not window_contains(all_day, at, holidays=CLOSED)
    assert window_contains(all_day, at, holidays=OPEN)


def test_night_window_into_holiday_and_out_of_holiday() -> None:
    nightly = W("all", "17:00", "08:30")
    # Sun 26 Apr 22:00 CEST: a normal Sunday night.
    assert window_contains(nightly, U("2026-04-26T20:00"), holidays=CLOSED)
    # Mon 27 Apr (Koningsdag) 03:00: started Sunday, still counts.
    assert window_contains(nightly, U("2026-04-27T01:00"), holidays=CLOSED)
    # Koningsdag 18:00: the window does not open on the holiday...
    assert not window_contains(nightly, U("2026-04-27T16:00"), holidays=CLOSED)
    # ...so Tue 28 Apr 03:00 is outside too.
    assert not window_contains(nightly, U("2026-04-28T01:00"), holidays=CLOSED)
    # Tue 28 Apr 18:00: back to normal.
    assert window_contains(nightly, U("2026-04-28T16:00"), holidays=CLOSED)
    # With OPEN the holiday is an ordinary Monday.
    assert window_contains(nightly, U("2026-04-27T16:00"), holidays=OPEN)
    assert window_contains(nightly, U("2026-04-28T01:00"), holidays=OPEN)


def test_office_hours_never_on_a_holiday_even_from_a_window_started_before() -> None:
    late = (W("sun", "22:00", "12:00"),)
    assert is_office_hours(late, U("2026-04-26T21:00"))  # Sun 23:00 CEST
    assert not is_office_hours(late, U("2026-04-27T08:00"))  # Koningsdag 10:00


# --- DST ---------------------------------------------------------------------


def test_spring_forward_window_in_missing_hour_is_empty() -> None:
    gap = W("all", "02:00", "03:00")
    instant = U("2026-03-28T23:00")
    while instant < U("2026-03-29T23:00"):
        assert not window_contains(gap, instant, holidays=OPEN), instant
        instant += timedelta(minutes=1)
    # A normal night has the hour.
    assert window_contains(gap, U("2026-03-28T01:30"), holidays=OPEN)


def test_autumn_repeated_hour_both_instants_inside() -> None:
    repeated = W("all", "02:00", "03:00")
    assert not window_contains(repeated, U("2026-10-24T23:59"), holidays=OPEN)  # 01:59 CEST
    assert window_contains(repeated, U("2026-10-25T00:00"), holidays=OPEN)  # 02:00 CEST
    assert window_contains(repeated, U("2026-10-25T00:15"), holidays=OPEN)  # 02:15 CEST
    assert window_contains(repeated, U("2026-10-25T01:15"), holidays=OPEN)  # 02:15 CET
    assert window_contains(repeated, U("2026-10-25T01:59"), holidays=OPEN)  # 02:59 CET
    assert not window_contains(repeated, U("2026-10-25T02:00"), holidays=OPEN)  # 03:00 CET


def test_office_hours_local_across_dst() -> None:
    # Fri 27 Mar 09:00 CET = 08:00 UTC; Mon 30 Mar 09:00 CEST = 07:00 UTC.
    assert is_office_hours(DEFAULT_OFFICE_HOURS, U("2026-03-27T08:00"))
    assert not is_office_hours(DEFAULT_OFFICE_HOURS, U("2026-03-30T06:59"))
    assert is_office_hours(DEFAULT_OFFICE_HOURS, U("2026-03-30T07:00"))
    assert not is_office_hours(DEFAULT_OFFICE_HOURS, U("2026-03-30T15:00"))  # 17:00 CEST


# --- windows_contain, occurrences, describe ----------------------------------


def test_windows_contain_returns_first_containing_window() -> None:
    a, b = W("weekdays", "09:00", "17:00"), W("all", "12:00", "13:00")
    assert windows_contain((a, b), U("2026-01-05T11:30"), holidays=CLOSED) is a
    assert windows_contain((a, b), U("2026-01-10T11:30"), holidays=CLOSED) is b
    assert windows_contain((a, b), U("2026-01-10T13:30"), holidays=CLOSED) is None
    assert windows_contain((), U("2026-01-10T13:30"), holidays=CLOSED) is None


def test_window_occurrence_across_midnight_and_dst() -> None:
    assert window_occurrence(FRIDAY_NIGHT, U("2026-01-10T02:00"), holidays=CLOSED) == (
        U("2026-01-09T16:00"),
        U("2026-01-10T07:30"),
    )
    # Sat 24 Oct 17:00 CEST -> Sun 25 Oct 08:30 CET: 16.5 real hours.
    night = W("sat", "17:00", "08:30")
    assert window_occurrence(night, U("2026-10-25T03:00"), holidays=CLOSED) == (
        U("2026-10-24T15:00"),
        U("2026-10-25T07:30"),
    )
    assert window_occurrence(night, U("2026-10-25T08:00"), holidays=CLOSED) is None


def test_windows_span_merges_touching_windows() -> None:
    piket = (W("weekdays", "17:00", "09:00"), W("weekend"), W("sun", "17:00", "09:00"))
    # Sat 10 Jan 13:00: Fri 17:00 CET .. Mon 09:00 CET.
    assert windows_span(piket, U("2026-01-10T12:00"), holidays=OPEN) == (
        U("2026-01-09T16:00"),
        U("2026-01-12T08:00"),
    )
    clipped = windows_span(
        piket,
        U("2026-01-10T12:00"),
        holidays=OPEN,
        lo=U("2026-01-10T00:00"),
        hi=U("2026-01-11T00:00"),
    )
    assert clipped == (U("2026-01-10T00:00"), U("2026-01-11T00:00"))
    assert windows_span(piket, U("2026-01-07T12:00"), holidays=OPEN) is None


@pytest.mark.parametrize(
    ("windows", "text"),
    [
        ((W("weekdays", "09:00", "17:00"),), "ma-vr 09:00-17:00"),
        ((W("fri", "17:00", "08:30"),), "vr 17:00-08:30"),
        ((W(["mon", "wed"], "13:00", "22:00"),), "ma,wo 13:00-22:00"),
        (
            (W("all", "11:00", "20:00"), W("weekend", "20:00", "22:00")),
            "ma-zo 11:00-20:00; za,zo 20:00-22:00",
        ),
        ((), "geen"),
    ],
)
def test_describe_windows(windows: tuple[Window, ...], text: str) -> None:
    assert describe_windows(windows) == text


# --- property: window_contains agrees with a brute-force reference -----------


def _reference_contains(window: Window, at: datetime, policy: HolidayPolicy) -> bool:
    """Wall-clock intervals built as naive datetimes, one per candidate start day."""
    wall = at.astimezone(AMS).replace(tzinfo=None)
    for back in (0, 1):
        day = wall.date() - timedelta(days=back)
        if ALL_DAYS[day.weekday()] not in window.days:
            continue
        if policy is CLOSED and holiday_name(day) is not None:
            continue
        begin = datetime(day.year, day.month, day.day) + timedelta(minutes=window.start_min)
        end = datetime(day.year, day.month, day.day) + timedelta(minutes=window.end_min)
        if end <= begin:
            end += timedelta(days=1)
        if begin <= wall < end:
            return True
    return False


@st.composite
def windows(draw: st.DrawFn) -> Window:
    days = draw(st.sets(st.sampled_from(list(Day)), min_size=1))
    edges = st.sampled_from([0, 60, 120, 150, 180, 510, 540, 1020, 1439])  # DST and office edges
    start = draw(st.integers(0, 24 * 60 - 1) | edges)
    end = draw((st.integers(0, 24 * 60) | edges | st.just(1440)).filter(lambda e: e != start))
    clock = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    return Window(days=tuple(sorted(days, key=list(Day).index)), start=clock(start), end=clock(end))


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(tzinfo=UTC))

# Instants that stress DST and holidays more than uniform sampling would.
SPECIAL = [
    U("2026-03-29T00:30"),  # 01:30 CET, before the missing hour
    U("2026-03-29T01:00"),  # 03:00 CEST, right after it
    U("2026-10-25T00:30"),  # 02:30 CEST, first time
    U("2026-10-25T01:30"),  # 02:30 CET, second time
    U("2026-04-26T22:00"),  # Koningsdag 00:00
    U("2026-04-27T22:30"),  # the night after Koningsdag
    U("2026-12-25T23:00"),  # 2e kerstdag 00:00
    U("2027-03-28T01:00"),  # 2027 spring forward
]
special = st.sampled_from(SPECIAL) | instants


@settings(max_examples=400, deadline=None)
@given(window=windows(), at=special, policy=st.sampled_from(list(HolidayPolicy)))
def test_window_contains_matches_reference(
    window: Window, at: datetime, policy: HolidayPolicy
) -> None:
    assert window_contains(window, at, holidays=policy) is _reference_contains(window, at, policy)


@settings(max_examples=200, deadline=None)
@given(window=windows(), at=special, policy=st.sampled_from(list(HolidayPolicy)))
def test_window_occurrence_contains_instant(
    window: Window, at: datetime, policy: HolidayPolicy
) -> None:
    span = window_occurrence(window, at, holidays=policy)
    if window_contains(window, at, holidays=policy):
        assert span is not None and span[0] <= at < span[1]
    else:
        assert span is None


# --- rule evaluation ---------------------------------------------------------

IJMOND = frozenset({"GM0375", "GM0396", "GM0453"})  # Beverwijk, Heemskerk, Velsen
BASISTEAM_MUNIS: dict[str, frozenset[str]] = {
    "ijmond": IJMOND,
    "haarlem": frozenset({"GM0392"}),
    "westelijke-mijnstreek": frozenset({"GM1883", "GM1903", "GM0888"}),
    "laak": frozenset({"GM0518"}),
    "beresteinlaan": frozenset({"GM0518"}),
    "leeg": frozenset(),
}
MUNI_BASISTEAMS: dict[str, frozenset[str]] = {}
for _team, _munis in BASISTEAM_MUNIS.items():
    for _code in _munis:
        MUNI_BASISTEAMS[_code] = MUNI_BASISTEAMS.get(_code, frozenset()) | {_team}

MON_NOON = U("2026-01-05T11:00")  # Mon 12:00 CET, office hours
MON_EVENING = U("2026-01-05T19:00")  # Mon 20:00 CET
KONINGSDAG_NOON = U("2026-04-27T10:00")  # Mon 12:00 CEST


def rule(**fields: object) -> CoverageRule:
    data: dict[str, object] = {"id": "r1", "team": "vt"}
    data.update(fields)
    return CoverageRule.model_validate(data)


def incident(
    case_type: CaseType = CaseType.HG,
    basisteam: str | None = "ijmond",
    municipality: str | None = None,
    persons: tuple[PersonFacts, ...] = (),
    flags: tuple[Flag, ...] = (),
) -> IncidentFacts:
    return IncidentFacts(
        case_type=case_type,
        basisteam=basisteam,
        municipality=municipality,
        persons=persons,
        flags=frozenset(flags),
    )


def evaluate(
    r: CoverageRule, inc: IncidentFacts, at: datetime = MON_NOON, office=DEFAULT_OFFICE_HOURS
):
    return evaluate_rule(
        r,
        inc,
        at,
        office_hours=office,
        basisteam_municipalities=BASISTEAM_MUNIS,
        municipality_basisteams=MUNI_BASISTEAMS,
    )


def codes(evaluation) -> list[str]:
    return [r.code for r in evaluation.reasons]


# --- area --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "basisteam", "municipality", "matched", "code"),
    [
        (None, "ijmond", None, True, "area_national"),
        (None, None, None, True, "area_national"),
        ({"basisteams": ["ijmond"]}, "ijmond", None, True, "area_basisteam"),
        ({"basisteams": ["ijmond"]}, "ijmond", "GM0453", True, "area_basisteam"),
        (
            {"municipalities": ["GM1883", "GM1903", "GM0888"]},
            None,
            "GM1903",
            True,
            "area_municipality",
        ),
        ({"basisteams": ["ijmond"]}, None, "GM0453", True, "area_basisteam_of_municipality"),
        ({"basisteams": ["laak"]}, None, "GM0518", True, "area_basisteam_of_municipality"),
        ({"municipalities": sorted(IJMOND)}, "ijmond", None, True, "area_whole_basisteam"),
        ({"municipalities": ["GM0453"]}, "ijmond", None, False, "area_partial_basisteam"),
        ({"municipalities": sorted(IJMOND)}, "ijmond", "GM0392", False, "area_outside"),
        ({"basisteams": ["ijmond"]}, None, None, False, "area_missing"),
        ({"basisteams": ["ijmond"]}, "haarlem", None, False, "area_outside"),
        ({"basisteams": ["ijmond"]}, None, "GM0392", False, "area_outside"),
        ({"municipalities": ["GM0392"]}, "leeg", None, False, "area_outside"),
        ({"basisteams": ["ijmond"]}, "nergens", None, False, "area_unknown"),
        ({"basisteams": ["ijmond"]}, None, "GM9999", False, "area_unknown"),
    ],
)
def test_area(area, basisteam, municipality, matched, code) -> None:
    ev = evaluate(rule(area=area), incident(basisteam=basisteam, municipality=municipality))
    assert ev.matched is matched
    assert ev.reasons[0].code == code
    if not matched:
        assert len(ev.reasons) == 1


def test_area_reason_texts() -> None:
    ev = evaluate(
        rule(area={"basisteams": ["ijmond"]}), incident(basisteam=None, municipality="GM0453")
    )
    assert (
        ev.reasons[0].text
        == "gemeente GM0453 hoort bij basisteam ijmond, dat in het werkgebied valt"
    )
    ev = evaluate(
        rule(area={"basisteams": ["ijmond"]}), incident(basisteam="haarlem", municipality="GM0392")
    )
    assert ev.reasons[0].text == (
        "basisteam haarlem, gemeente GM0392 valt buiten het werkgebied van deze regel"
    )


# --- case type ---------------------------------------------------------------


def test_case_type() -> None:
    km_only = rule(case_types=["KM"])
    ev = evaluate(km_only, incident(case_type=CaseType.HG))
    assert not ev.matched
    assert codes(ev) == ["area_national", "case_type_excluded"]
    assert ev.reasons[-1].text == (
        "soort melding huiselijk geweld valt niet onder de regel (alleen kindermishandeling)"
    )
    ev = evaluate(km_only, incident(case_type=CaseType.KM))
    assert ev.matched
    assert codes(ev) == ["area_national", "case_type_ok", "hours_always"]


# --- hours -------------------------------------------------------------------


def test_hours_always() -> None:
    ev = evaluate(rule(), incident(), at=U("2026-12-25T02:00"))
    assert ev.matched and codes(ev)[-1] == "hours_always"


@pytest.mark.parametrize(
    ("at", "matched", "code"),
    [
        (MON_NOON, True, "office_hours"),
        (U("2026-01-05T08:00"), True, "office_hours"),  # 09:00 inclusive
        (U("2026-01-05T16:00"), False, "outside_office_hours"),  # 17:00 exclusive
        (MON_EVENING, False, "outside_office_hours"),
        (U("2026-01-10T11:00"), False, "outside_office_hours"),  # Saturday
        (KONINGSDAG_NOON, False, "holiday_closed"),
        (U("2026-04-06T10:00"), False, "holiday_closed"),  # Easter Monday
        (U("2026-12-25T11:00"), False, "holiday_closed"),  # Christmas, Friday
        (U("2026-04-27T18:00"), False, "outside_office_hours"),  # Koningsdag 20:00
    ],
)
def test_office_hours_rule(at: datetime, matched: bool, code: str) -> None:
    ev = evaluate(rule(hours="office_hours"), incident(), at=at)
    assert ev.matched is matched
    assert ev.reasons[-1].code == code


def test_holiday_reason_names_the_holiday() -> None:
    ev = evaluate(rule(hours="office_hours"), incident(), at=KONINGSDAG_NOON)
    why = ev.reasons[-1]
    assert why.params["date"] == "ma 27-04-2026"
    assert why.params["holiday"] == holiday_name(date(2026, 4, 27))
    assert why.text.startswith("ma 27-04-2026 is een feestdag (")


@pytest.mark.parametrize(
    ("at", "matched", "code"),
    [
        (MON_NOON, False, "not_after_hours"),
        (MON_EVENING, True, "after_hours"),
        (U("2026-01-05T07:59"), True, "after_hours"),  # 08:59
        (U("2026-01-05T16:00"), True, "after_hours"),  # 17:00
        (U("2026-01-10T11:00"), True, "after_hours"),  # Saturday
        (KONINGSDAG_NOON, True, "holiday_closed"),
        (U("2026-04-06T10:00"), True, "holiday_closed"),  # Easter Monday
    ],
)
def test_after_hours_rule(at: datetime, matched: bool, code: str) -> None:
    ev = evaluate(rule(hours="after_hours"), incident(), at=at)
    assert ev.matched is matched
    assert ev.reasons[-1].code == code


@pytest.mark.parametrize(
    "day", [date(2026, 4, 27), date(2026, 4, 6), date(2026, 12, 25), date(2026, 12, 26)]
)
def test_after_hours_rule_matches_all_day_on_holidays(day: date) -> None:
    after = rule(hours="after_hours")
    office = rule(id="r2", hours="office_hours")
    for hour in range(24):
        at = datetime(day.year, day.month, day.day, hour, 30, tzinfo=AMS).astimezone(UTC)
        assert evaluate(after, incident(), at=at).matched, at
        assert not evaluate(office, incident(), at=at).matched, at


def test_team_office_hours_are_used() -> None:
    early = (W("weekdays", "08:30", "16:30"),)
    at = U("2026-01-05T07:45")  # Mon 08:45 CET
    assert evaluate(rule(hours="office_hours"), incident(), at=at, office=early).matched
    assert not evaluate(rule(hours="office_hours"), incident(), at=at).matched
    ev = evaluate(rule(hours="after_hours"), incident(), at=U("2026-01-05T16:00"), office=early)
    assert ev.reasons[-1].text == "buiten kantooruren (ma-vr 08:30-16:30)"


ZUID_LIMBURG = {"windows": [{"days": "weekdays", "start": "13:00", "end": "22:00"}]}


@pytest.mark.parametrize(
    ("at", "policy", "matched", "code"),
    [
        (U("2026-01-06T12:00"), "closed", True, "in_window"),  # Tue 13:00
        (U("2026-01-06T11:59"), "closed", False, "outside_windows"),  # Tue 12:59
        (U("2026-01-06T21:00"), "closed", False, "outside_windows"),  # Tue 22:00
        (U("2026-01-10T14:00"), "closed", False, "outside_windows"),  # Sat 15:00
        (U("2026-04-27T12:00"), "closed", False, "holiday_closed"),  # Koningsdag 14:00
        (U("2026-04-27T12:00"), "open", True, "holiday_open"),
        (U("2026-04-06T12:00"), "open", True, "holiday_open"),  # Easter Monday
        (U("2026-12-25T13:00"), "closed", False, "holiday_closed"),  # Christmas Fri 14:00
        (U("2026-12-25T13:00"), "open", True, "holiday_open"),
    ],
)
def test_windows_rule(at: datetime, policy: str, matched: bool, code: str) -> None:
    r = rule(**ZUID_LIMBURG, holidays=policy)
    assert r.hours is Hours.WINDOWS
    ev = evaluate(r, incident(), at=at)
    assert ev.matched is matched
    assert ev.reasons[-1].code == code


def test_windows_rule_texts() -> None:
    r = rule(**ZUID_LIMBURG)
    assert evaluate(r, incident(), at=U("2026-01-06T12:00")).reasons[-1].text == (
        "binnen venster ma-vr 13:00-22:00"
    )
    assert evaluate(r, incident(), at=U("2026-01-06T22:00")).reasons[-1].text == (
        "buiten de tijden van de regel (ma-vr 13:00-22:00)"
    )


# --- age ---------------------------------------------------------------------

KENNEMERLAND = {
    "area": {"basisteams": ["ijmond"]},
    "team": "crisisdienst-kennemerland",
    "age": {"min": 0, "max": 23},
    "exceptions": [{"when": {"flags": ["huisverbod_considered"]}, "effect": "waive_age"}],
}


def victim(age: int | None) -> PersonFacts:
    return PersonFacts(role=PersonRole.VICTIM, age=age)


@pytest.mark.parametrize(
    ("age", "matched", "code"),
    [(0, True, "age_ok"), (23, True, "age_ok"), (24, False, "age_out"), (34, False, "age_out")],
)
def test_age_limits_inclusive(age: int, matched: bool, code: str) -> None:
    ev = evaluate(rule(age={"min": 0, "max": 23}), incident(persons=(victim(age),)))
    assert ev.matched is matched
    assert ev.reasons[-1].code == code


def test_age_out_text_and_below_minimum() -> None:
    ev = evaluate(rule(age={"min": 0, "max": 23}), incident(persons=(victim(34), victim(41))))
    assert ev.reasons[-1].text == (
        "geen slachtoffer/kind binnen leeftijd 0-23 (leeftijden: 34 > 23, 41 > 23)"
    )
    ev = evaluate(rule(age={"min": 12, "max": 17}), incident(persons=(victim(11),)))
    assert not ev.matched
    assert ev.reasons[-1].params["ages"] == "11 < 12"
    assert evaluate(rule(age={"min": 12, "max": 17}), incident(persons=(victim(12),))).matched


def test_age_any_person_in_role_within_limits() -> None:
    persons = (victim(34), PersonFacts(PersonRole.CHILD, 6), PersonFacts(PersonRole.SUSPECT, 19))
    ev = evaluate(rule(age={"max": 17}), incident(persons=persons))
    assert ev.matched
    assert ev.reasons[-1].text == "leeftijd 6 (kind) valt binnen 0-17"


def test_age_ignores_other_roles() -> None:
    persons = (victim(34), PersonFacts(PersonRole.SUSPECT, 17))
    ev = evaluate(rule(age={"max": 17}), incident(persons=persons))
    assert not ev.matched and ev.reasons[-1].code == "age_out"
    suspects = rule(age={"max": 17, "applies_to": ["suspect"]})
    assert evaluate(suspects, incident(persons=persons)).matched


def test_age_unknown_and_no_persons_never_drop_the_incident() -> None:
    ev = evaluate(rule(age={"max": 23}), incident(persons=(victim(None),)))
    assert ev.matched and ev.reasons[-1].code == "age_unknown"
    ev = evaluate(rule(age={"max": 23}), incident(persons=(PersonFacts(PersonRole.SUSPECT, 40),)))
    assert ev.matched and ev.reasons[-1].code == "age_no_persons"
    ev = evaluate(rule(age={"max": 23}), incident(persons=()))
    assert ev.matched and ev.reasons[-1].code == "age_no_persons"
    # A known adult and a child of unknown age: the child may well be in scope.
    persons = (victim(34), PersonFacts(PersonRole.CHILD, None))
    ev = evaluate(rule(age={"max": 23}), incident(persons=persons))
    assert ev.matched and ev.reasons[-1].code == "age_partly_unknown"


def test_kennemerland_crisisdienst_adults_only_with_huisverbod() -> None:
    r = rule(**KENNEMERLAND)
    young = evaluate(r, incident(persons=(victim(19),)))
    assert young.matched and codes(young) == [
        "area_basisteam",
        "case_type_ok",
        "hours_always",
        "age_ok",
    ]

    adult = evaluate(r, incident(persons=(victim(34),)))
    assert not adult.matched and adult.reasons[-1].code == "age_out"
    assert "34 > 23" in adult.reasons[-1].text

    huisverbod = evaluate(r, incident(persons=(victim(34),), flags=(Flag.HUISVERBOD_CONSIDERED,)))
    assert huisverbod.matched
    assert codes(huisverbod)[-1] == "exception_waive_age"
    assert huisverbod.reasons[-1].text == (
        "uitzondering: leeftijdsgrens vervalt omdat huisverbod overwogen"
    )
    # The exception is only mentioned when it mattered.
    young_hv = evaluate(r, incident(persons=(victim(19),), flags=(Flag.HUISVERBOD_CONSIDERED,)))
    assert codes(young_hv)[-1] == "age_ok"
    # Outside the area the exception does not help.
    elsewhere = evaluate(
        r, incident(basisteam="haarlem", persons=(victim(34),), flags=(Flag.HUISVERBOD_CONSIDERED,))
    )
    assert not elsewhere.matched and codes(elsewhere) == ["area_outside"]


# --- exceptions --------------------------------------------------------------


def test_exclude_exception() -> None:
    r = rule(exceptions=[{"when": {"flags": ["weapons"]}, "effect": "exclude", "note": "politie"}])
    ev = evaluate(r, incident(flags=(Flag.WEAPONS,)))
    assert not ev.matched
    assert codes(ev) == ["area_national", "case_type_ok", "exception_exclude"]
    assert ev.reasons[-1].text == "uitzondering: regel vervalt omdat wapens"
    assert evaluate(r, incident(flags=(Flag.INJURIES,))).matched


def test_exclude_before_hours_and_age() -> None:
    r = rule(
        hours="office_hours",
        age={"max": 17},
        exceptions=[{"when": {"flags": ["weapons"]}, "effect": "exclude"}],
    )
    ev = evaluate(r, incident(flags=(Flag.WEAPONS,), persons=(victim(40),)), at=MON_EVENING)
    assert codes(ev)[-1] == "exception_exclude"


def test_exception_condition_with_case_type_and_several_flags() -> None:
    r = rule(
        exceptions=[
            {
                "when": {"flags": ["injuries", "children_present"], "case_types": ["KM"]},
                "effect": "exclude",
            }
        ]
    )
    both = (Flag.INJURIES, Flag.CHILDREN_PRESENT)
    assert evaluate(r, incident(case_type=CaseType.HG, flags=both)).matched
    assert evaluate(r, incident(case_type=CaseType.KM, flags=(Flag.INJURIES,))).matched
    ev = evaluate(r, incident(case_type=CaseType.KM, flags=both))
    assert not ev.matched
    assert ev.reasons[-1].text == (
        "uitzondering: regel vervalt omdat letsel en kinderen aanwezig"
        " en soort melding kindermishandeling"
    )


def test_waive_hours_exception() -> None:
    r = rule(
        hours="office_hours",
        exceptions=[{"when": {"flags": ["injuries"]}, "effect": "waive_hours"}],
    )
    ev = evaluate(r, incident(flags=(Flag.INJURIES,)), at=MON_EVENING)
    assert ev.matched
    assert codes(ev) == ["area_national", "case_type_ok", "exception_waive_hours"]
    assert ev.reasons[-1].text == "uitzondering: tijden vervallen omdat letsel"
    assert not evaluate(r, incident(), at=MON_EVENING).matched
    assert codes(evaluate(r, incident(flags=(Flag.INJURIES,)), at=MON_NOON))[-1] == "office_hours"
    # Also on a holiday.
    assert evaluate(r, incident(flags=(Flag.INJURIES,)), at=KONINGSDAG_NOON).matched


def test_waive_age_does_not_waive_hours() -> None:
    r = rule(**KENNEMERLAND, hours="after_hours")
    flags = (Flag.HUISVERBOD_CONSIDERED,)
    ev = evaluate(r, incident(persons=(victim(34),), flags=flags), at=MON_NOON)
    assert not ev.matched and codes(ev)[-1] == "not_after_hours"


def test_reason_order_full_match() -> None:
    r = rule(
        area={"basisteams": ["ijmond"]},
        case_types=["HG"],
        hours="after_hours",
        age={"max": 23},
        exceptions=[{"when": {"flags": ["weapons"]}, "effect": "exclude"}],
    )
    ev = evaluate(r, incident(persons=(victim(20),)), at=MON_EVENING)
    assert ev.matched
    assert ev.rule == "r1"
    assert codes(ev) == ["area_basisteam", "case_type_ok", "after_hours", "age_ok"]
    assert all(reason.text for reason in ev.reasons)


def test_evaluation_accepts_any_offset_and_refuses_naive() -> None:
    r = rule(hours="office_hours")
    local_noon = datetime(2026, 1, 5, 12, 0, tzinfo=AMS)
    assert evaluate(r, incident(), at=local_noon).matched
    with pytest.raises(ValueError):
        evaluate(r, incident(), at=datetime(2026, 1, 5, 12, 0))

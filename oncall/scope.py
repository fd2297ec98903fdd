"""Does a coverage rule cover this incident at this instant?

Regions write their agreements in Amsterdam wall-clock time ("ma-vr
09:00-17:00", "vanaf 17:00 piket"), so windows are compared on the local wall
clock, not on UTC offsets: a rule then means the same thing in winter and in
summer. One consequence is deliberate: on the spring-forward day a window
02:00-03:00 is empty, and in the repeated October hour both instants of 02:15
are inside a window covering 02:xx.

The evaluation explains itself: every check made leaves one Dutch reason, in a
fixed order, and the first failing check ends the evaluation, so the last
reason of an unmatched rule is always why it did not match. Missing data never
drops an incident (unknown ages pass the age check): the police must not be
left without help because a field was empty.

Rosters and the rule's role are not looked at here; the pairing engine
combines scope with who is on call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from core.texts import CASE_TYPE_NL, DAY_NL, FLAG_NL, ROLE_NL, Reason, days_nl, reason
from core.timeutil import AMS, ensure_utc, holiday_name, is_public_holiday
from oncall.facts import IncidentFacts
from oncall.schemas import (
    Area,
    Condition,
    CoverageRule,
    Day,
    ExceptionEffect,
    HolidayPolicy,
    Hours,
    Window,
)

_DAYS = tuple(Day)  # index == date.weekday()
_MAX_MERGE = 64  # adjacent window occurrences merged into one span, at most


# --- wall clock ---------------------------------------------------------------


def wall_to_utc(wall: datetime, *, later: bool = False) -> datetime:
    """Amsterdam wall-clock time (naive) to a UTC instant.

    A wall time skipped in March maps to the first instant after the gap
    (02:30 -> 03:00 CEST): an edge falls as soon as the clock allows it. A wall
    time that occurs twice in October maps to its first occurrence, or with
    ``later`` to its second, which is what a window end needs so that a window
    covering 02:xx covers both 02:xx hours.
    """
    naive = wall.replace(tzinfo=None, fold=0)
    first = naive.replace(tzinfo=AMS, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=AMS, fold=1).astimezone(UTC)
    if first.astimezone(AMS).replace(tzinfo=None) == naive:
        return second if later else first
    # In a gap, fold=1 (offset after the change) lands before the change and
    # fold=0 after it; the change itself is the first instant past the gap.
    lo, hi = second, first
    after = hi.astimezone(AMS).utcoffset()
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(AMS).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def _local(at: datetime) -> datetime:
    return ensure_utc(at).astimezone(AMS)


def _minute(local: datetime) -> int:
    return local.hour * 60 + local.minute


def date_nl(day: date) -> str:
    return f"{DAY_NL[_DAYS[day.weekday()].value]} {day:%d-%m-%Y}"


# --- windows ------------------------------------------------------------------


def _opens_on(window: Window, day: date, holidays: HolidayPolicy) -> bool:
    if _DAYS[day.weekday()] not in window.days:
        return False
    return holidays is HolidayPolicy.OPEN or not is_public_holiday(day)


def _start_day(window: Window, local: datetime, holidays: HolidayPolicy) -> date | None:
    """The day whose occurrence of ``window`` contains the local wall-clock time."""
    today, minute = local.date(), _minute(local)
    if not window.crosses_midnight:
        inside = window.start_min <= minute < window.end_min
        return today if inside and _opens_on(window, today, holidays) else None
    if minute >= window.start_min and _opens_on(window, today, holidays):
        return today
    yesterday = today - timedelta(days=1)
    if minute < window.end_min and _opens_on(window, yesterday, holidays):
        return yesterday
    return None


def window_contains(window: Window, at: datetime, *, holidays: HolidayPolicy) -> bool:
    return _start_day(window, _local(at), holidays) is not None


def windows_contain(
    windows: Sequence[Window], at: datetime, *, holidays: HolidayPolicy
) -> Window | None:
    local = _local(at)
    for window in windows:
        if _start_day(window, local, holidays) is not None:
            return window
    return None


def window_occurrence(
    window: Window, at: datetime, *, holidays: HolidayPolicy
) -> tuple[datetime, datetime] | None:
    """UTC [start, end) of the occurrence of ``window`` that contains ``at``."""
    day = _start_day(window, _local(at), holidays)
    if day is None:
        return None
    midnight = datetime.combine(day, time())
    end_min = window.end_min + (24 * 60 if window.crosses_midnight else 0)
    start = wall_to_utc(midnight + timedelta(minutes=window.start_min))
    end = wall_to_utc(midnight + timedelta(minutes=end_min), later=True)
    return start, end


def windows_span(
    windows: Sequence[Window],
    at: datetime,
    *,
    holidays: HolidayPolicy,
    lo: datetime | None = None,
    hi: datetime | None = None,
) -> tuple[datetime, datetime] | None:
    """UTC span of the window occurrences around ``at``, touching ones merged.

    Merging matters for "on call until": with "ma-vr 17:00-09:00" and a
    weekend window the Friday evening piket runs until Monday 09:00, not
    Saturday 09:00. ``lo``/``hi`` clip the span and stop the search early.
    """

    def occurrences(instant: datetime) -> list[tuple[datetime, datetime]]:
        found = (window_occurrence(w, instant, holidays=holidays) for w in windows)
        return [span for span in found if span is not None]

    spans = occurrences(at)
    if not spans:
        return None
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    for _ in range(_MAX_MERGE):
        if hi is not None and end >= hi:
            break
        ends = [e for _, e in occurrences(end)]
        if not ends or max(ends) <= end:
            break
        end = max(ends)
    for _ in range(_MAX_MERGE):
        if lo is not None and start <= lo:
            break
        starts = [s for s, _ in occurrences(start - timedelta(microseconds=1))]
        if not starts or min(starts) >= start:
            break
        start = min(starts)
    if lo is not None:
        start = max(start, lo)
    if hi is not None:
        end = min(end, hi)
    return start, end


def describe_window(window: Window) -> str:
    return f"{days_nl(window.days)} {window.start}-{window.end}"


def describe_windows(windows: Sequence[Window]) -> str:
    return "; ".join(describe_window(w) for w in windows) if windows else "geen"


def is_office_hours(office_hours: Sequence[Window], at: datetime) -> bool:
    if is_public_holiday(_local(at).date()):
        return False
    return windows_contain(office_hours, at, holidays=HolidayPolicy.CLOSED) is not None


def _holiday_cause(windows: Sequence[Window], at: datetime) -> Reason | None:
    """The holiday that closes ``windows`` at ``at`` (they would be open otherwise)."""
    local = _local(at)
    for window in windows:
        start_day = _start_day(window, local, HolidayPolicy.OPEN)
        if start_day is None:
            continue
        for day in (start_day, local.date()):
            name = holiday_name(day)
            if name:
                return reason("holiday_closed", date=date_nl(day), holiday=name)
    return None


# --- rule evaluation ----------------------------------------------------------


@dataclass(frozen=True)
class RuleEvaluation:
    rule: str
    matched: bool
    reasons: tuple[Reason, ...]


def _check_area(
    area: Area | None,
    incident: IncidentFacts,
    basisteam_municipalities: Mapping[str, frozenset[str]],
    municipality_basisteams: Mapping[str, frozenset[str]],
) -> tuple[bool, Reason]:
    if area is None:
        return True, reason("area_national")
    team, muni = incident.basisteam, incident.municipality
    if team is None and muni is None:
        return False, reason("area_missing")
    if team is not None and team in area.basisteams:
        return True, reason("area_basisteam", basisteam=team)
    if muni is not None and muni in area.municipalities:
        return True, reason("area_municipality", municipality=muni)
    if muni is not None:
        shared = sorted(municipality_basisteams.get(muni, frozenset()) & set(area.basisteams))
        if shared:
            return True, reason(
                "area_basisteam_of_municipality", municipality=muni, basisteam=shared[0]
            )
    if team is not None and muni is None:
        served = basisteam_municipalities.get(team, frozenset())
        covered = served & set(area.municipalities)
        if served and covered == served:
            return True, reason("area_whole_basisteam", basisteam=team)
        if covered:
            return False, reason("area_partial_basisteam", basisteam=team)
    described = ", ".join(
        part
        for part in (
            f"basisteam {team}" if team else "",
            f"gemeente {muni}" if muni else "",
        )
        if part
    )
    known = (team is not None and team in basisteam_municipalities) or (
        muni is not None and muni in municipality_basisteams
    )
    return False, reason("area_outside" if known else "area_unknown", area=described)


def _holds(condition: Condition, incident: IncidentFacts) -> bool:
    if not all(flag in incident.flags for flag in condition.flags):
        return False
    return not condition.case_types or incident.case_type in condition.case_types


def describe_condition(condition: Condition) -> str:
    parts = [FLAG_NL[flag.value] for flag in condition.flags]
    if condition.case_types:
        kinds = " of ".join(CASE_TYPE_NL[c.value] for c in condition.case_types)
        parts.append(f"soort melding {kinds}")
    return " en ".join(parts)


def _exception(
    rule: CoverageRule, incident: IncidentFacts, effect: ExceptionEffect
) -> Reason | None:
    for exc in rule.exceptions:
        if exc.effect is effect and _holds(exc.when, incident):
            code = {
                ExceptionEffect.EXCLUDE: "exception_exclude",
                ExceptionEffect.WAIVE_HOURS: "exception_waive_hours",
                ExceptionEffect.WAIVE_AGE: "exception_waive_age",
            }[effect]
            return reason(code, condition=describe_condition(exc.when), note=exc.note)
    return None


def _check_hours(
    rule: CoverageRule, at: datetime, office_hours: Sequence[Window]
) -> tuple[bool, Reason]:
    if rule.hours is Hours.ALWAYS:
        return True, reason("hours_always")
    if rule.hours is Hours.WINDOWS:
        window = windows_contain(rule.windows, at, holidays=rule.holidays)
        if window is None:
            cause = (
                _holiday_cause(rule.windows, at) if rule.holidays is HolidayPolicy.CLOSED else None
            )
            return False, cause or reason("outside_windows", windows=describe_windows(rule.windows))
        start_day = _start_day(window, _local(at), rule.holidays)
        name = holiday_name(start_day) if start_day else None
        if name and start_day:
            return True, reason("holiday_open", date=date_nl(start_day), holiday=name)
        return True, reason("in_window", window=describe_window(window))
    described = describe_windows(office_hours)
    office = is_office_hours(office_hours, at)
    cause = None if office else _holiday_cause(office_hours, at)
    if rule.hours is Hours.OFFICE_HOURS:
        if office:
            return True, reason("office_hours", windows=described)
        return False, cause or reason("outside_office_hours", windows=described)
    if office:
        return False, reason("not_after_hours")
    return True, cause or reason("after_hours", windows=described)


def rule_in_hours(rule: CoverageRule, at: datetime, office_hours: Sequence[Window]) -> bool:
    """Whether the rule's time condition (not area, age or case type) holds at ``at``."""
    return _check_hours(rule, at, office_hours)[0]


def _check_age(rule: CoverageRule, incident: IncidentFacts) -> tuple[bool, Reason] | None:
    limit = rule.age
    if limit is None:
        return None
    roles = "/".join(ROLE_NL[r.value] for r in limit.applies_to)
    bounds = {"roles": roles, "min": limit.min, "max": limit.max}
    concerned = [p for p in incident.persons if p.role in limit.applies_to]
    if not concerned:
        return True, reason("age_no_persons", roles=roles)
    for person in concerned:
        if person.age is not None and limit.min <= person.age <= limit.max:
            return True, reason("age_ok", age=person.age, role=ROLE_NL[person.role.value], **bounds)
    known = [p.age for p in concerned if p.age is not None]
    if not known:
        return True, reason("age_unknown", roles=roles)
    ages = ", ".join(
        f"{age} > {limit.max}" if age > limit.max else f"{age} < {limit.min}" for age in known
    )
    if len(known) < len(concerned):
        # Someone without a known age may well be within the limits.
        return True, reason("age_partly_unknown", ages=ages, **bounds)
    return False, reason("age_out", ages=ages, **bounds)


def evaluate_rule(
    rule: CoverageRule,
    incident: IncidentFacts,
    at: datetime,
    *,
    office_hours: Sequence[Window],
    basisteam_municipalities: Mapping[str, frozenset[str]],
    municipality_basisteams: Mapping[str, frozenset[str]],
) -> RuleEvaluation:
    reasons: list[Reason] = []

    def done(matched: bool) -> RuleEvaluation:
        return RuleEvaluation(rule=rule.id, matched=matched, reasons=tuple(reasons))

    ok, why = _check_area(rule.area, incident, basisteam_municipalities, municipality_basisteams)
    reasons.append(why)
    if not ok:
        return done(False)

    case_nl = CASE_TYPE_NL[incident.case_type.value]
    if incident.case_type not in rule.case_types:
        allowed = ", ".join(CASE_TYPE_NL[c.value] for c in rule.case_types)
        reasons.append(reason("case_type_excluded", case_type=case_nl, allowed=allowed))
        return done(False)
    reasons.append(reason("case_type_ok", case_type=case_nl))

    excluded = _exception(rule, incident, ExceptionEffect.EXCLUDE)
    if excluded is not None:
        reasons.append(excluded)
        return done(False)

    ok, why = _check_hours(rule, at, office_hours)
    if not ok:
        waived = _exception(rule, incident, ExceptionEffect.WAIVE_HOURS)
        ok, why = (True, waived) if waived is not None else (False, why)
    reasons.append(why)
    if not ok:
        return done(False)

    age = _check_age(rule, incident)
    if age is not None:
        ok, why = age
        if not ok:
            waived = _exception(rule, incident, ExceptionEffect.WAIVE_AGE)
            ok, why = (True, waived) if waived is not None else (False, why)
        reasons.append(why)
        if not ok:
            return done(False)
    return done(True)

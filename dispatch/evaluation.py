"""The evaluation the toolkit asks of every region, computed from recorded events only.

Two pure halves:

- ``fold`` turns events of one dispatch into a ``Delta`` of its facts (region, team,
  when the report came in, first acceptance, first arrival, outcome, declines). Every
  field combines with an earlier delta in a way that does not depend on order: set
  once (only one event ever carries it), earliest time, or a sum. So facts projected
  transaction by transaction (``dispatch.evaluation_store``) equal facts folded from
  the whole log at once (the rebuild), whatever order the transactions committed in.
- ``report`` turns the facts of a region's period into the table the pilots reported
  ("106 politiemeldingen, 48 keer Samen op toegepast: 21 samen ter plaatse, 27
  consultaties; bij 58 is VT niet geconsulteerd"), with the times to first acceptance
  and to arrival, by hour of day and day of week (Amsterdam wall clock, so a 23- or
  25-hour day is counted as it was lived) and per team.

Definitions (as the toolkit's pilots counted):

- *Samen op toegepast* (joint approach applied): closed as joint on scene, phone
  consult or video consult. *Consults* are phone plus video.
- *Politie belde zelf*: the plan told the police to call the line themselves (nobody
  was paged); counted on its own, whatever the control room closed it with, unless
  it was cancelled.
- *Zonder VT-consult* (VT not consulted): closed as no consult, cancelled or no
  responder. Incidents not closed yet are *niet afgesloten*. So incidents = applied +
  police called + without VT + not closed.
- Times run from the police's report (``reported_at`` as the feed sent it, carried in
  the ``incident.received`` event; the arrival when it is missing or later) to
  the first responder's acceptance (a consult agreeing is not one) and to the first
  worker reporting "ter plaatse". Median of the values (the mean of the middle two
  for an even count) and the 90th percentile by nearest rank.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.timeutil import AMS

# The events the evaluation reads; every other type leaves the facts alone.
RELEVANT = frozenset(
    {
        "incident.received",
        "dispatch.planned",
        "assignment.accepted",
        "assignment.declined",
        "lifecycle.ter_plaatse",
        "lifecycle.close",
        "lifecycle.cancel",
        "dispatch.no_responder",
        "dispatch.police_call",
    }
)
# Where an outcome goes in the table, in the order the table shows them.
BUCKETS = (
    "joint_on_scene",
    "phone_consult",
    "video_consult",
    "police_call",
    "no_consult",
    "cancelled",
    "no_responder",
    "open",
)
APPLIED = frozenset({"joint_on_scene", "phone_consult", "video_consult"})
WITHOUT_VT = frozenset({"no_consult", "cancelled", "no_responder"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 372  # a year and a week: a report's period is bounded


@dataclass(frozen=True)
class Delta:
    """What some events of one dispatch say about it (None/0: nothing)."""

    # set once: the intake's events carry them
    region_id: str | None = None
    team_id: str | None = None
    basisteam_id: str | None = None
    case_type: str | None = None
    plan_status: str | None = None
    mode: str | None = None
    received_at: datetime | None = None
    # earliest
    first_accept_at: datetime | None = None
    arrived_at: datetime | None = None
    # set once: a dispatch closes once
    closed_at: datetime | None = None
    outcome: str | None = None
    # sums (and "any")
    declines: int = 0
    unanswered: int = 0
    police_call: bool = False

    def as_row(self) -> dict[str, Any]:
        return {
            "region_id": self.region_id,
            "team_id": self.team_id,
            "basisteam_id": self.basisteam_id,
            "case_type": self.case_type,
            "plan_status": self.plan_status,
            "mode": self.mode,
            "police_call": self.police_call,
            "received_at": self.received_at,
            "first_accept_at": self.first_accept_at,
            "arrived_at": self.arrived_at,
            "closed_at": self.closed_at,
            "outcome": self.outcome,
            "declines": self.declines,
            "unanswered": self.unanswered,
        }


SET_ONCE = (
    "region_id",
    "team_id",
    "basisteam_id",
    "case_type",
    "plan_status",
    "mode",
    "received_at",
    "closed_at",
    "outcome",
)
EARLIEST = ("first_accept_at", "arrived_at")
SUMS = ("declines", "unanswered")


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def combine(old: Delta, new: Delta) -> Delta:
    """``old`` then ``new``; the same in either order (see the module's docstring)."""
    values: dict[str, Any] = {}
    for name in SET_ONCE:
        mine = getattr(old, name)
        values[name] = mine if mine is not None else getattr(new, name)
    for name in EARLIEST:
        values[name] = _earliest(getattr(old, name), getattr(new, name))
    for name in SUMS:
        values[name] = getattr(old, name) + getattr(new, name)
    values["police_call"] = old.police_call or new.police_call
    return Delta(**values)


def police_called(payload: Mapping[str, Any]) -> bool:
    """Whether a plan's summary says the police call the line themselves (nobody paged)."""
    return bool(payload.get("police_call")) or payload.get("status") == "police_call"


def fold(events: Iterable[tuple[str, Mapping[str, Any], datetime]]) -> Delta:
    """Fold ``(type, payload, created_at)`` events of one dispatch, in any order: the
    same as ``combine`` over each event's ``fold_one`` (tested), without a ``Delta``
    per event (a rebuild folds millions)."""
    v: dict[str, Any] = dict.fromkeys(SET_ONCE + EARLIEST)
    declines = unanswered = 0
    police = False

    def once(name: str, value: Any) -> None:
        if v[name] is None:
            v[name] = value

    def earliest(name: str, at: datetime) -> None:
        if v[name] is None or at < v[name]:
            v[name] = at

    for kind, payload, at in events:
        if kind == "incident.received":
            once("basisteam_id", _text(payload.get("basisteam")))
            once("case_type", _text(payload.get("case_type")))
            once("received_at", report_time(payload, at))
        elif kind == "dispatch.planned":
            once("region_id", _text(payload.get("region")))
            once("team_id", _text(payload.get("team")))
            once("plan_status", _text(payload.get("status")))
            once("mode", _text(payload.get("mode")))
            police = police or police_called(payload)
        elif kind == "assignment.accepted":
            if payload.get("purpose") != "consult":  # a consult agreeing is no acceptance
                earliest("first_accept_at", at)
        elif kind == "assignment.declined":
            declines += 1
        elif kind == "lifecycle.ter_plaatse":
            earliest("arrived_at", at)
        elif kind in ("lifecycle.close", "lifecycle.cancel"):
            outcome = _text(payload.get("outcome"))
            if outcome is None and kind == "lifecycle.cancel":
                outcome = "cancelled"
            once("closed_at", at)
            once("outcome", outcome)
        elif kind == "dispatch.no_responder":
            unanswered += 1
        elif kind == "dispatch.police_call":  # said again where nobody is paged
            police = True
    return Delta(**v, declines=declines, unanswered=unanswered, police_call=police)


def fold_one(kind: str, payload: Mapping[str, Any], at: datetime) -> Delta:
    """What one event says (an empty ``Delta`` for the events the evaluation ignores)."""
    return fold([(kind, payload, at)])


def report_time(payload: Mapping[str, Any], received: datetime) -> datetime:
    """When the police reported the incident (the feed's ``reported_at``, carried in the
    ``incident.received`` event), else when it reached the service. A report time after
    its arrival (a feed's clock running ahead) is not believed: the arrival counts."""
    text = payload.get("reported_at")
    if not isinstance(text, str):
        return received
    try:
        reported = datetime.fromisoformat(text)
    except ValueError:
        return received
    if reported.tzinfo is None:
        return received
    reported = reported.astimezone(UTC)
    return reported if reported <= received else received


def _text(value: Any) -> str | None:
    return str(value)[:64] if value not in (None, "") else None


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One incident as the report reads it (a row of the projection)."""

    dispatch_id: str
    received_at: datetime
    team_id: str | None = None
    outcome: str | None = None
    police_call: bool = False
    first_accept_at: datetime | None = None
    arrived_at: datetime | None = None
    declines: int = 0
    unanswered: int = 0


def bucket(fact: Fact) -> str:
    """Where an incident goes in the table (one of ``BUCKETS``)."""
    if fact.police_call and fact.outcome != "cancelled":
        return "police_call"
    if fact.outcome in BUCKETS:
        return fact.outcome
    return "open"


@dataclass(frozen=True)
class Durations:
    """Seconds from the report to something, over the incidents where it happened."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def durations(values: Sequence[float]) -> Durations:
    if not values:
        return Durations()
    return Durations(len(values), float(statistics.median(values)), percentile(values, 0.9))


@dataclass(frozen=True)
class Figures:
    """The pilots' table for a set of incidents."""

    incidents: int = 0
    outcomes: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    declines: int = 0
    unanswered: int = 0  # paging ended with nobody accepting (may still have been closed)
    accept: Durations = Durations()
    arrival: Durations = Durations()

    @property
    def applied(self) -> int:
        return sum(self.outcomes[b] for b in APPLIED)

    @property
    def consults(self) -> int:
        return self.outcomes["phone_consult"] + self.outcomes["video_consult"]

    @property
    def without_vt(self) -> int:
        return sum(self.outcomes[b] for b in WITHOUT_VT)

    def as_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "joint_approach": self.applied,
            "consults": self.consults,
            "without_vt": self.without_vt,
            "outcomes": dict(self.outcomes),
            "declines": self.declines,
            "paging_unanswered": self.unanswered,
            "to_accept": _durations_dict(self.accept),
            "to_arrival": _durations_dict(self.arrival),
        }


def _durations_dict(d: Durations) -> dict[str, Any]:
    return {"count": d.count, "median_seconds": d.median, "p90_seconds": d.p90}


def _seconds(since: datetime, until: datetime | None) -> float | None:
    if until is None:
        return None
    return max(0.0, (until - since).total_seconds())


def figures(facts: Iterable[Fact]) -> Figures:
    outcomes = dict.fromkeys(BUCKETS, 0)
    accept: list[float] = []
    arrival: list[float] = []
    incidents = declines = unanswered = 0
    for fact in facts:
        incidents += 1
        outcomes[bucket(fact)] += 1
        declines += fact.declines
        unanswered += 1 if fact.unanswered else 0
        for values, until in ((accept, fact.first_accept_at), (arrival, fact.arrived_at)):
            seconds = _seconds(fact.received_at, until)
            if seconds is not None:
                values.append(seconds)
    return Figures(incidents, outcomes, declines, unanswered, durations(accept), durations(arrival))


@dataclass(frozen=True)
class Slot:
    """Incidents and how many of them had the joint approach, in one hour/day."""

    incidents: int = 0
    applied: int = 0


@dataclass(frozen=True)
class Report:
    region_id: str
    start: date
    end: date
    total: Figures
    by_hour: tuple[Slot, ...]  # 24, local hour of the report
    by_weekday: tuple[Slot, ...]  # 7, Monday first
    by_day: tuple[tuple[date, Slot], ...]  # every local day of the period
    teams: tuple[tuple[str | None, Figures], ...]  # by incidents, most first

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": "Europe/Amsterdam",
            "totals": self.total.as_dict(),
            "by_hour": [
                {"hour": h, "incidents": s.incidents, "joint_approach": s.applied}
                for h, s in enumerate(self.by_hour)
            ],
            "by_weekday": [
                {"weekday": WEEKDAYS[d], "incidents": s.incidents, "joint_approach": s.applied}
                for d, s in enumerate(self.by_weekday)
            ],
            "by_day": [
                {"date": day.isoformat(), "incidents": s.incidents, "joint_approach": s.applied}
                for day, s in self.by_day
            ],
            "teams": [{"team": team, **f.as_dict()} for team, f in self.teams],
        }


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight at ``start`` and after ``end`` (inclusive days)."""
    first = datetime.combine(start, time(0), AMS).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time(0), AMS).astimezone(UTC)
    return first, after


def check_period(start: date, end: date) -> str | None:
    """Why a period cannot be reported (None: it can)."""
    if end < start:
        return "end must not be before start"
    if (end - start).days + 1 > MAX_DAYS:
        return f"at most {MAX_DAYS} days"
    return None


def report(region_id: str, start: date, end: date, facts: Iterable[Fact]) -> Report:
    """The region's table for the local days ``start``..``end`` (facts outside are left out)."""
    first, after = period_bounds(start, end)
    rows = [f for f in facts if first <= f.received_at < after]
    hours = [[0, 0] for _ in range(24)]
    weekdays = [[0, 0] for _ in range(7)]
    days: dict[date, list[int]] = {}
    by_team: dict[str | None, list[Fact]] = {}
    for fact in rows:
        when = fact.received_at.astimezone(AMS)
        applied = 1 if bucket(fact) in APPLIED else 0
        for slot in (hours[when.hour], weekdays[when.weekday()]):
            slot[0] += 1
            slot[1] += applied
        day = days.setdefault(when.date(), [0, 0])
        day[0] += 1
        day[1] += applied
        by_team.setdefault(fact.team_id, []).append(fact)
    span = (end - start).days + 1
    every_day = tuple(
        (d, Slot(*days.get(d, (0, 0)))) for d in (start + timedelta(days=i) for i in range(span))
    )
    teams = sorted(
        ((team, figures(team_rows)) for team, team_rows in by_team.items()),
        key=lambda item: (-item[1].incidents, item[0] or "\uffff"),
    )
    return Report(
        region_id=region_id,
        start=start,
        end=end,
        total=figures(rows),
        by_hour=tuple(Slot(*h) for h in hours),
        by_weekday=tuple(Slot(*w) for w in weekdays),
        by_day=every_day,
        teams=tuple(teams),
    )

"""The evaluation from recorded events: a generated history with known answers, built
through the real intake, answers and lifecycle (the clock moved by hand), on both
backends; DST days (23 and 25 hours) in the hour-of-day buckets; incidents purged by
retention still counted; the live projection equal to a rebuild from the events, in
any order of the events; and the pure figures (buckets, median and percentile)."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api import cli
from core import migrate
from core.db import make_engine, make_session_factory
from core.settings import get_settings
from core.timeutil import AMS
from dispatch import evaluation, evaluation_store, paging, progress, service
from dispatch.evaluation import Delta, Fact, bucket, combine, fold, percentile
from dispatch.models import Dispatch, EvaluationFact, Event
from dispatch.retention import purge
from dispatch.schemas import IncidentCreate
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from oncall.snapshot import ConfigSnapshot

NATIONAL = ("Veilig Thuis (landelijk)", "0800-2000")
REGION = "gooi-en-vechtstreek"
GV_NOORD = "gooi-en-vechtstreek-noord"
GV_ZUID = "gooi-en-vechtstreek-zuid"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- driving the real service ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One incident of a generated history and what happens to it (seconds after the
    report reached the service)."""

    at: datetime
    outcome: str  # a close outcome, or "open"
    accept_after: int | None = None
    arrive_after: int | None = None
    declines: int = 0
    basisteam: str = GV_NOORD


@dataclass
class Driven:
    dispatch_id: str
    team: str | None
    declines: int  # how many declines the driver answered


def _dispatch(sessions: sessionmaker[Session], dispatch_id: str) -> tuple[str, list[Any]]:
    with sessions() as s:
        d = s.get(Dispatch, dispatch_id)
        assert d is not None
        rows = [(a.id, a.purpose, a.status) for a in d.assignments]
        return d.paging_state, rows


def _answer(sessions: sessionmaker[Session], assignment: int, accept: bool, now: datetime) -> None:
    with sessions() as s:
        result = paging.answer(s, assignment_id=assignment, accept=accept, via="web", now=now)
        s.commit()
    assert result.result in ("accepted", "declined"), result.result


def _act(
    sessions: sessionmaker[Session],
    dispatch_id: str,
    action: str,
    now: datetime,
    *,
    role: str = "control_room",
    assignment: int | None = None,
    **data: Any,
) -> None:
    with sessions() as s:
        progress.act(
            s,
            dispatch_id=dispatch_id,
            action=action,
            role=role,
            assignment_id=assignment,
            data=data,
            now=now,
        )
        s.commit()


def drive(sessions: sessionmaker[Session], snapshot: ConfigSnapshot, case: Case) -> Driven:
    """Intake, answers and the lifecycle of one case, each in its own transaction."""
    data = IncidentCreate.model_validate(
        {
            "source": "evaluation-test",
            "external_id": uuid.uuid4().hex,
            "reported_at": case.at.isoformat(),
            "basisteam": case.basisteam,
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 34}],
            "police_unit": "EV-1",
            "police_callback": "06 12345678",
        }
    )
    t = case.at
    with sessions() as s:
        result = service.intake(session=s, data=data, snapshot=snapshot, now=t, national=NATIONAL)
        s.commit()
    did = result.dispatch_id
    state, rows = _dispatch(sessions, did)
    if state == "consult":  # a consult must agree first: it does, at once
        consult = next(a for a, purpose, _st in rows if purpose == "consult")
        _answer(sessions, consult, True, t)
        state, rows = _dispatch(sessions, did)
    respond = [a for a, purpose, _st in rows if purpose != "consult"]
    declined = 0
    for i, assignment in enumerate(respond[: case.declines]):
        _answer(sessions, assignment, False, t + timedelta(seconds=i + 1))
        declined += 1
    end = t + timedelta(hours=1)
    if case.outcome == "no_responder":
        for i, assignment in enumerate(respond[case.declines :]):
            _answer(sessions, assignment, False, t + timedelta(seconds=30 + i))
            declined += 1
        assert _dispatch(sessions, did)[0] == "no_responder"
    if case.accept_after is not None:
        worker = respond[case.declines]
        accepted = t + timedelta(seconds=case.accept_after)
        _answer(sessions, worker, True, accepted)
        if case.arrive_after is not None:
            _act(sessions, did, "onderweg", accepted, role="worker", assignment=worker,
                 eta_minutes=15)  # fmt: skip
            arrived = t + timedelta(seconds=case.arrive_after)
            _act(sessions, did, "ter_plaatse", arrived, role="worker", assignment=worker)
    if case.outcome in ("phone_consult", "video_consult"):
        kind = case.outcome.removesuffix("_consult")
        _act(sessions, did, "consult", t + timedelta(minutes=10), kind=kind)
    if case.outcome == "cancelled":
        _act(sessions, did, "cancel", end)
    elif case.outcome != "open":
        _act(sessions, did, "close", end, outcome=case.outcome)
    with sessions() as s:
        team = s.get(Dispatch, did).team_id  # type: ignore[union-attr]
    return Driven(did, team, declined)


def pilot_cases() -> list[Case]:
    """The Westelijke Mijnstreek pilot's table, in March 2026 in Gooi en Vechtstreek:
    106 incidents, 48 with the joint approach (21 joint on scene, 20 phone and 7 video
    consults), 58 without VT consulted (40 no consult, 10 cancelled, 8 nobody reached).
    Reports spread over the month, day and night (so both teams), DST day included."""
    plan = (
        ["joint_on_scene"] * 21
        + ["phone_consult"] * 20
        + ["video_consult"] * 7
        + ["no_consult"] * 40
        + ["cancelled"] * 10
        + ["no_responder"] * 8
    )
    rng = random.Random(12)
    rng.shuffle(plan)
    start = utc("2026-03-01T06:10Z")
    cases = []
    joint = 0
    for i, outcome in enumerate(plan):
        at = start + timedelta(minutes=397 * i)  # every 6 h 37 min: all hours, all days
        basisteam = GV_NOORD if i % 2 else GV_ZUID
        if outcome == "joint_on_scene":
            joint += 1
            accept = 60 * joint  # 60 .. 1260 s
            cases.append(
                Case(
                    at,
                    outcome,
                    accept,
                    accept + 900,
                    declines=int(joint % 3 == 0),
                    basisteam=basisteam,
                )
            )
        else:
            cases.append(Case(at, outcome, basisteam=basisteam))
    return cases


# --- the pure part -----------------------------------------------------------------------


def test_percentile_is_nearest_rank_and_median_the_middle() -> None:
    values = [60.0 * k for k in range(1, 22)]
    assert percentile(values, 0.9) == 1140.0  # rank ceil(18.9) = 19
    assert percentile([5.0], 0.9) == 5.0 and percentile([], 0.9) is None
    d = evaluation.durations([4.0, 1.0, 3.0, 2.0])
    assert (d.count, d.median, d.p90) == (4, 2.5, 4.0)


def test_buckets_follow_the_pilots_definitions() -> None:
    at = utc("2026-03-10T12:00Z")
    assert bucket(Fact("a", at, outcome="joint_on_scene")) == "joint_on_scene"
    assert bucket(Fact("a", at, outcome=None)) == "open"
    # the police called the line themselves: counted on its own, unless cancelled
    assert bucket(Fact("a", at, outcome="phone_consult", police_call=True)) == "police_call"
    assert bucket(Fact("a", at, outcome=None, police_call=True)) == "police_call"
    assert bucket(Fact("a", at, outcome="cancelled", police_call=True)) == "cancelled"
    f = evaluation.figures(
        [Fact("1", at, outcome=o) for o in ("joint_on_scene", "phone_consult", "video_consult")]
        + [Fact("2", at, outcome=o) for o in ("no_consult", "cancelled", "no_responder", None)]
    )
    assert (f.incidents, f.applied, f.consults, f.without_vt) == (7, 3, 2, 3)
    assert f.outcomes["open"] == 1


def test_fold_ignores_a_consult_agreeing_and_combines_in_any_order() -> None:
    t = utc("2026-03-10T12:00Z")
    events: list[tuple[str, dict[str, Any], datetime]] = [
        ("incident.received", {"basisteam": GV_NOORD, "case_type": "HG"}, t),
        ("dispatch.planned", {"region": REGION, "team": "vt-gv", "status": "paired"}, t),
        ("assignment.accepted", {"purpose": "consult"}, t + timedelta(seconds=5)),
        ("assignment.declined", {"purpose": "respond"}, t + timedelta(seconds=9)),
        ("assignment.accepted", {"purpose": "respond"}, t + timedelta(seconds=70)),
        ("assignment.accepted", {"purpose": "respond"}, t + timedelta(seconds=40)),
        ("lifecycle.ter_plaatse", {"first": True}, t + timedelta(seconds=900)),
        ("page.sent", {"phone": "+31600000000"}, t),
        ("lifecycle.close", {"outcome": "joint_on_scene"}, t + timedelta(hours=1)),
    ]
    whole = fold(events)
    assert whole.first_accept_at == t + timedelta(seconds=40)
    assert (whole.declines, whole.outcome, whole.region_id) == (1, "joint_on_scene", REGION)
    rng = random.Random(3)
    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        cut = rng.randrange(len(shuffled) + 1)
        assert combine(fold(shuffled[:cut]), fold(shuffled[cut:])) == whole
        assert combine(fold(shuffled[cut:]), fold(shuffled[:cut])) == whole
    one_by_one = Delta()
    for event in events:
        one_by_one = combine(one_by_one, evaluation.fold_one(*event))
    assert one_by_one == whole
    assert fold([]) == Delta()
    assert fold([("lifecycle.cancel", {}, t)]).outcome == "cancelled"


def test_local_days_are_23_and_25_hours_long_on_the_dst_days() -> None:
    first, after = evaluation.period_bounds(date(2026, 3, 29), date(2026, 3, 29))
    assert (first, after - first) == (utc("2026-03-28T23:00Z"), timedelta(hours=23))
    first, after = evaluation.period_bounds(date(2026, 10, 25), date(2026, 10, 25))
    assert (first, after - first) == (utc("2026-10-24T22:00Z"), timedelta(hours=25))
    assert evaluation.check_period(date(2026, 1, 2), date(2026, 1, 1)) is not None
    assert evaluation.check_period(date(2026, 1, 1), date(2027, 1, 7)) is None  # 372 days
    assert evaluation.check_period(date(2026, 1, 1), date(2027, 1, 8)) is not None


# --- a generated history in the database --------------------------------------------------


def test_the_pilot_table_comes_out_of_the_events(
    sessions: sessionmaker[Session], loaded: int, example_snapshot: ConfigSnapshot
) -> None:
    cases = pilot_cases()
    driven = [drive(sessions, example_snapshot, c) for c in cases]
    with sessions() as s:
        facts = evaluation_store.facts(s, REGION, *evaluation.period_bounds(
            date(2026, 3, 1), date(2026, 3, 31)))  # fmt: skip
    report = evaluation.report(REGION, date(2026, 3, 1), date(2026, 3, 31), facts)
    t = report.total
    assert (t.incidents, t.applied, t.outcomes["joint_on_scene"], t.consults) == (106, 48, 21, 27)
    assert t.without_vt == 58
    assert {k: v for k, v in t.outcomes.items() if v} == {
        "joint_on_scene": 21,
        "phone_consult": 20,
        "video_consult": 7,
        "no_consult": 40,
        "cancelled": 10,
        "no_responder": 8,
    }
    assert t.declines == sum(d.declines for d in driven) >= 7 + 8 * 2
    assert t.unanswered == 8
    # only the joint ones had a responder accept: 60 .. 1260 s; arrival 900 s later
    assert (t.accept.count, t.accept.median, t.accept.p90) == (21, 660.0, 1140.0)
    assert (t.arrival.count, t.arrival.median, t.arrival.p90) == (21, 1560.0, 2040.0)
    hours = Counter(c.at.astimezone(AMS).hour for c in cases)
    assert [s.incidents for s in report.by_hour] == [hours[h] for h in range(24)]
    weekdays = Counter(c.at.astimezone(AMS).weekday() for c in cases)
    assert [s.incidents for s in report.by_weekday] == [weekdays[d] for d in range(7)]
    assert sum(s.applied for s in report.by_hour) == 48
    assert len(report.by_day) == 31 and sum(s.incidents for _d, s in report.by_day) == 106
    teams = Counter(d.team for d in driven)
    assert {team: f.incidents for team, f in report.teams} == dict(teams)
    assert set(teams) == {"vt-gv", "vt-gv-piket"}
    # another region, or a period after it, sees none of it
    with sessions() as s:
        assert evaluation_store.facts(s, "den-haag", *evaluation.period_bounds(
            date(2026, 3, 1), date(2026, 3, 31))) == []  # fmt: skip
        assert evaluation_store.facts(s, REGION, *evaluation.period_bounds(
            date(2026, 4, 1), date(2026, 4, 30))) == []  # fmt: skip

    # the projection is what a fold of the whole log gives, in any order of the events
    with sessions() as s:
        live = evaluation_store.all_rows(s)
        assert len(live) == 106
        by_dispatch: dict[str, list[Any]] = {}
        for did, kind, payload, at in s.execute(
            select(Event.dispatch_id, Event.type, Event.payload, Event.created_at)
        ):
            by_dispatch.setdefault(did, []).append((kind, payload, at))
        rng = random.Random(5)
        for row in live:
            events = by_dispatch[row["dispatch_id"]]
            rng.shuffle(events)
            assert {"dispatch_id": row["dispatch_id"], **fold(events).as_row()} == row
        assert evaluation_store.rebuild(s) == 106
        assert evaluation_store.all_rows(s) == live
        s.rollback()

    # retention purges every incident's personal data: the figures stay the same
    with sessions() as s:
        assert purge(session=s, before=utc("2027-06-01T00:00Z")) == 106
        s.commit()
        assert all(d.incident.anonymized_at for d in s.scalars(select(Dispatch)))
        assert evaluation_store.all_rows(s) == live
        assert evaluation_store.rebuild(s) == 106  # from the scrubbed events
        assert evaluation_store.all_rows(s) == live
        after = evaluation_store.facts(s, REGION, *evaluation.period_bounds(
            date(2026, 3, 1), date(2026, 3, 31)))  # fmt: skip
    assert evaluation.report(REGION, date(2026, 3, 1), date(2026, 3, 31), after) == report


def test_hours_of_the_dst_days_are_counted_as_lived(
    sessions: sessionmaker[Session], loaded: int, example_snapshot: ConfigSnapshot
) -> None:
    spring = [
        "2026-03-28T22:59Z",  # 23:59 on the 28th: not in the 29th
        "2026-03-28T23:30Z",  # 00:30
        "2026-03-29T00:30Z",  # 01:30 (CET); 02:00-03:00 does not exist
        "2026-03-29T01:30Z",  # 03:30 (CEST)
        "2026-03-29T21:59Z",  # 23:59
        "2026-03-29T22:00Z",  # 00:00 on the 30th: not in the 29th
    ]
    autumn = [
        "2026-10-24T21:59Z",  # 23:59 on the 24th: not in the 25th
        "2026-10-24T22:00Z",  # 00:00
        "2026-10-25T00:30Z",  # 02:30 CEST, the first time
        "2026-10-25T01:30Z",  # 02:30 CET, the second time
        "2026-10-25T22:59Z",  # 23:59
        "2026-10-25T23:00Z",  # 00:00 on the 26th: not in the 25th
    ]
    outcomes = ["no_consult", "open", "joint_on_scene", "no_consult", "open", "cancelled"]
    for times in (spring, autumn):
        for when, outcome in zip(times, outcomes, strict=True):
            accept = 120 if outcome == "joint_on_scene" else None
            drive(sessions, example_snapshot, Case(utc(when), outcome, accept,
                                                   accept and 1500))  # fmt: skip

    def day(d: date) -> evaluation.Report:
        with sessions() as s:
            facts = evaluation_store.facts(s, REGION, *evaluation.period_bounds(d, d))
        return evaluation.report(REGION, d, d, facts)

    march = day(date(2026, 3, 29))
    assert march.total.incidents == 4
    assert {h: s.incidents for h, s in enumerate(march.by_hour) if s.incidents} == {
        0: 1, 1: 1, 3: 1, 23: 1}  # fmt: skip
    assert march.by_hour[2].incidents == 0
    assert march.by_hour[1].applied == 1 and march.total.applied == 1
    assert [s.incidents for s in march.by_weekday] == [0, 0, 0, 0, 0, 0, 4]  # a Sunday
    assert march.total.outcomes["open"] == 2 and march.total.outcomes["no_consult"] == 1
    october = day(date(2026, 10, 25))
    assert october.total.incidents == 4
    assert {h: s.incidents for h, s in enumerate(october.by_hour) if s.incidents} == {
        0: 1, 2: 2, 23: 1}  # fmt: skip
    assert october.by_hour[2].applied == 1
    assert october.total.accept.median == 120.0 and october.total.arrival.median == 1500.0
    # the neighbouring days hold the edges
    assert day(date(2026, 3, 28)).total.incidents == 1
    assert day(date(2026, 3, 30)).total.incidents == 1
    assert day(date(2026, 10, 26)).total.incidents == 1


def test_a_rolled_back_transaction_leaves_no_facts(
    sessions: sessionmaker[Session], loaded: int, example_snapshot: ConfigSnapshot
) -> None:
    data = IncidentCreate.model_validate(
        {
            "source": "evaluation-test",
            "external_id": "rolled-back",
            "reported_at": "2026-03-10T14:00",
            "basisteam": GV_NOORD,
            "case_type": "HG",
            "persons": [],
            "police_unit": "EV-1",
            "police_callback": "06 12345678",
        }
    )
    with sessions() as s:
        result = service.intake(
            session=s, data=data, snapshot=example_snapshot, now=utc("2026-03-10T13:00Z"),
            national=NATIONAL)  # fmt: skip
        from dispatch import events

        events.write_pending(s)  # projected and inserted, then the transaction fails
        assert s.get(EvaluationFact, result.dispatch_id) is not None
        s.rollback()
        assert s.get(EvaluationFact, result.dispatch_id) is None
        assert s.scalars(select(EvaluationFact)).all() == []


def test_facts_hold_nothing_retention_would_remove() -> None:
    from dispatch.retention import PERSONAL_KEYS

    read = {"basisteam", "case_type", "region", "team", "status", "mode", "police_call",
            "purpose", "outcome"}  # fmt: skip
    assert not read & PERSONAL_KEYS
    assert json.dumps(Delta().as_row(), default=str)


def test_the_command_line_rebuild_and_the_migration_fill_the_facts_from_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_config: ConfigSet
) -> None:
    """On a database of its own (SQLite): ``samenop evaluation rebuild --check`` finds a
    fact row changed by hand, ``rebuild`` puts it back; migration 0012, run again on an
    existing log, fills the table with the same rows."""
    url = f"sqlite:///{tmp_path / 'evaluation.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        oncall_service.write_config(
            session=s, config=example_config, now=utc("2026-01-01T00:00Z"), source="tests"
        )
        s.commit()
    snapshot = ConfigSnapshot(example_config, 1)
    for case in pilot_cases()[:12]:
        drive(factory, snapshot, case)
    with factory() as s:
        live = evaluation_store.all_rows(s)
    assert len(live) == 12
    monkeypatch.setenv("SAMENOP_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        checked = runner.invoke(cli.app, ["evaluation", "rebuild", "--check"])
        assert checked.exit_code == 0, checked.output
        assert "12 dispatch(es) folded; 0 fact row(s) differ" in checked.output
        with factory() as s:
            s.execute(update(EvaluationFact).values(declines=99))
            s.commit()
        checked = runner.invoke(cli.app, ["evaluation", "rebuild", "--check"])
        assert checked.exit_code == 1 and "12 fact row(s) differ" in checked.output
        rebuilt = runner.invoke(cli.app, ["evaluation", "rebuild"])
        assert rebuilt.exit_code == 0, rebuilt.output
        with factory() as s:
            assert evaluation_store.all_rows(s) == live
    finally:
        get_settings.cache_clear()
    migrate.downgrade(url, "0011")
    migrate.upgrade(url)
    with factory() as s:
        assert evaluation_store.all_rows(s) == live
    engine.dispose()


def test_police_calling_the_line_is_an_outcome_of_its_own(
    sessions: sessionmaker[Session], loaded: int, example_snapshot: ConfigSnapshot
) -> None:
    """Meierij after hours: the police call VT's line themselves and nobody is paged.
    Counted as "politie belde zelf" whether or not it was closed (with the consult the
    control room recorded), unless it was cancelled; never as the joint approach."""
    night = [utc("2026-03-10T21:00Z"), utc("2026-03-11T21:00Z"), utc("2026-03-12T21:00Z")]
    driven = [
        drive(sessions, example_snapshot, Case(at, outcome, basisteam="meierij"))
        for at, outcome in zip(night, ("phone_consult", "open", "cancelled"), strict=True)
    ]
    with sessions() as s:
        plans = [s.get(Dispatch, d.dispatch_id).status for d in driven]  # type: ignore[union-attr]
        facts = evaluation_store.facts(
            s, "meierij", *evaluation.period_bounds(date(2026, 3, 1), date(2026, 3, 31))
        )
    assert plans == ["police_call"] * 3
    report = evaluation.report("meierij", date(2026, 3, 1), date(2026, 3, 31), facts)
    outcomes = {k: v for k, v in report.total.outcomes.items() if v}
    assert outcomes == {"police_call": 2, "cancelled": 1}
    assert report.total.applied == 0 and report.total.declines == 0
    assert report.total.unanswered == 0  # nobody was paged, so nobody failed to answer


def test_an_incident_counts_from_the_police_report_not_its_arrival(
    sessions: sessionmaker[Session], loaded: int, example_snapshot: ConfigSnapshot
) -> None:
    """Reported at 23:50 and reaching the service at 00:05 the next day (a feed held it
    back): it is the previous day's incident, in its 23:00 hour, and the time to the
    first acceptance runs from the report."""
    reported = utc("2026-06-11T21:50Z")  # 23:50 local
    arrived = reported + timedelta(minutes=15)
    data = IncidentCreate.model_validate(
        {
            "source": "evaluation-test",
            "external_id": uuid.uuid4().hex,
            "reported_at": reported.isoformat(),
            "basisteam": GV_NOORD,
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 34}],
            "police_unit": "EV-1",
            "police_callback": "06 12345678",
        }
    )
    with sessions() as s:
        result = service.intake(
            session=s, data=data, snapshot=example_snapshot, now=arrived, national=NATIONAL
        )
        s.commit()
    state, rows = _dispatch(sessions, result.dispatch_id)
    if state == "consult":  # after hours a consult agrees first (at once)
        consult = next(a for a, purpose, _st in rows if purpose == "consult")
        _answer(sessions, consult, True, arrived)
        state, rows = _dispatch(sessions, result.dispatch_id)
    respond = [a for a, purpose, _st in rows if purpose != "consult"]
    _answer(sessions, respond[0], True, arrived + timedelta(seconds=60))

    def day(d: date) -> evaluation.Report:
        with sessions() as s:
            facts = evaluation_store.facts(s, REGION, *evaluation.period_bounds(d, d))
        return evaluation.report(REGION, d, d, facts)

    june11 = day(date(2026, 6, 11))
    assert june11.total.incidents == 1
    assert june11.by_hour[23].incidents == 1
    assert june11.total.accept.median == 16 * 60.0  # 15 minutes' delay + 1 minute
    assert day(date(2026, 6, 12)).total.incidents == 0


def test_a_report_time_ahead_of_the_arrival_is_not_believed() -> None:
    arrived = utc("2026-06-11T21:50Z")
    ahead = (arrived + timedelta(minutes=5)).isoformat()
    assert evaluation.report_time({"reported_at": ahead}, arrived) == arrived
    behind = arrived - timedelta(minutes=5)
    assert evaluation.report_time({"reported_at": behind.isoformat()}, arrived) == behind
    assert evaluation.report_time({}, arrived) == arrived
    assert evaluation.report_time({"reported_at": "gisteren"}, arrived) == arrived

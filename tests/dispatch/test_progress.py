"""The joint response in the database, on SQLite and PostgreSQL: stages, the events they
write, repeats that write nothing, the rules of the first hour, and close stopping paging.

Incidents come in through the API (the real intake); answers and steps are recorded
with the real paging and progress code in the test transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from dispatch import live, paging, progress
from dispatch.lifecycle import TransitionError
from dispatch.models import Assignment, Dispatch, Event, Page
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import BRAM, at, event_types, post, run

CALLBACK = "+31612345678"  # "06 12345678" as the feed sent it


def events_of(session: Session, dispatch_id: str, prefix: str = "") -> list[Event]:
    rows = session.scalars(
        select(Event).where(Event.dispatch_id == dispatch_id).order_by(Event.id)
    ).all()
    return [e for e in rows if e.type.startswith(prefix)]


def assignment_id(session: Session, dispatch_id: str, position: int) -> int:
    found = session.scalar(
        select(Assignment.id).where(
            Assignment.dispatch_id == dispatch_id, Assignment.position == position
        )
    )
    assert found is not None
    return found


def accept(sessions: sessionmaker[Session], clock: ManualClock, a_id: int) -> paging.Answer:
    with sessions() as s:
        result = paging.answer(s, assignment_id=a_id, accept=True, via="api", now=clock.now())
        s.commit()
    return result


def act(
    sessions: sessionmaker[Session],
    clock: ManualClock,
    dispatch_id: str,
    action: str,
    role: str = "control_room",
    a_id: int | None = None,
    **data: Any,
) -> progress.ActResult:
    with sessions() as s:
        try:
            result = progress.act(
                s,
                dispatch_id=dispatch_id,
                action=action,
                role=role,
                assignment_id=a_id,
                data=data,
                now=clock.now(),
            )
        except BaseException:
            s.rollback()
            raise
        s.commit()
    return result


def stored(session: Session, dispatch_id: str) -> Dispatch:
    found = session.scalars(
        select(Dispatch).where(Dispatch.id == dispatch_id).execution_options(populate_existing=True)
    ).one()
    return found


@pytest.fixture
def accepted(
    client: TestClient, clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> tuple[str, int]:
    """A dispatch whose first worker (Bram, position 1) accepted; (dispatch id, his id)."""
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    a_id = assignment_id(session, d["id"], 1)
    assert accept(sessions, clock, a_id).result == "accepted"
    return d["id"], a_id


def test_intake_starts_in_paging_with_an_event(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    dispatch = stored(session, d["id"])
    assert (dispatch.stage, dispatch.stage_at) == ("paging", clock.now())
    [event] = events_of(session, d["id"], "lifecycle.")
    assert event.type == "lifecycle.paging"
    assert event.payload == {"stage": "paging", "actor": "system", "assignment": None}
    types = event_types(session, d["id"])
    assert types.index("dispatch.planned") < types.index("lifecycle.paging")


def test_nobody_to_page_stays_melding_and_may_close_as_no_responder(
    client: TestClient, clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    at(clock, "2026-03-10T23:40")
    d = post(client, basisteam=None, municipality=None, reported_at="2026-03-10T23:40")
    assert d["assignments"] == []
    assert stored(session, d["id"]).stage == "melding"
    assert events_of(session, d["id"], "lifecycle.") == []
    result = act(sessions, clock, d["id"], "close", outcome="no_responder")
    assert result.changed and stored(session, d["id"]).outcome == "no_responder"


def test_first_acceptance_moves_to_accepted_and_exchanges_contacts(
    accepted: tuple[str, int], session: Session, clock: ManualClock
) -> None:
    dispatch_id, _ = accepted
    dispatch = stored(session, dispatch_id)
    assert (dispatch.stage, dispatch.stage_at) == ("accepted", clock.now())
    types = event_types(session, dispatch_id)
    i = types.index("assignment.accepted")
    assert types[i + 1 : i + 3] == ["lifecycle.accepted", "contact.exchanged"]
    [exchanged] = events_of(session, dispatch_id, "contact.")
    assert exchanged.payload == {
        "assignment": 1,
        "worker_phone": BRAM,
        "police_unit": "ACC-01",
        "police_callback": CALLBACK,
    }
    [lifecycle] = events_of(session, dispatch_id, "lifecycle.accepted")
    assert lifecycle.payload == {"stage": "accepted", "actor": "system", "assignment": 1}


def test_a_second_acceptance_exchanges_contacts_without_a_stage_change(
    client: TestClient, clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    at(clock, "2026-11-21T12:00")  # CIT Den Haag needs two
    d = post(client, basisteam="laak", reported_at="2026-11-21T12:00")
    run(client)
    accept(sessions, clock, assignment_id(session, d["id"], 1))
    clock.advance(timedelta(seconds=30))
    accept(sessions, clock, assignment_id(session, d["id"], 2))
    assert [e.payload["assignment"] for e in events_of(session, d["id"], "contact.")] == [1, 2]
    assert len(events_of(session, d["id"], "lifecycle.accepted")) == 1
    assert stored(session, d["id"]).stage_at == clock.now() - timedelta(seconds=30)


def test_the_whole_joint_response(
    accepted: tuple[str, int], clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    dispatch_id, bram = accepted
    start = clock.now()
    act(sessions, clock, dispatch_id, "safe_to_enter")
    act(sessions, clock, dispatch_id, "onderweg", "worker", bram, eta_minutes=20)
    clock.advance(timedelta(minutes=5))
    act(sessions, clock, dispatch_id, "eta", "worker", bram, eta_minutes=10)
    clock.advance(timedelta(minutes=10))
    act(sessions, clock, dispatch_id, "ter_plaatse", "worker", bram)
    act(sessions, clock, dispatch_id, "police_left")
    act(sessions, clock, dispatch_id, "motorkapoverleg", "worker", bram)
    act(sessions, clock, dispatch_id, "onderzoek")
    agreements = {
        "first_contact": "Veilig Thuis",
        "informs": [{"who": "politie", "whom": "school"}],
        "measures": [
            {
                "measure": "huisverbod",
                "by": "burgemeester",
                "until": "2026-03-20T17:00:00Z",
                "note": None,
            }
        ],
        "reassess_at": "2026-03-11T09:00:00Z",
    }
    act(sessions, clock, dispatch_id, "veiligheidsmaatregelen", agreements=agreements)
    handover = {"target": "zorg_en_veiligheidshuis", "note": "MDA++ overwegen"}
    act(sessions, clock, dispatch_id, "overgedragen", "worker", bram, handover=handover)
    act(sessions, clock, dispatch_id, "close", "worker", bram, outcome="joint_on_scene")

    d = stored(session, dispatch_id)
    assert (d.stage, d.outcome, d.closed_by) == ("closed", "joint_on_scene", "worker")
    assert d.safe_at == start and d.arrived_at == start + timedelta(minutes=15)
    assert d.police_left_at == d.arrived_at and d.closed_at == clock.now()
    assert d.agreements == agreements and d.handover == handover
    a = session.scalars(
        select(Assignment).where(Assignment.id == bram).execution_options(populate_existing=True)
    ).one()
    assert a.enroute_at == start and a.eta_at == start + timedelta(minutes=15)
    assert a.arrived_at == start + timedelta(minutes=15)

    steps = [(e.type, e.payload["stage"], e.payload["actor"], e.payload["assignment"])
             for e in events_of(session, dispatch_id, "lifecycle.")]  # fmt: skip
    assert steps == [
        ("lifecycle.paging", "paging", "system", None),
        ("lifecycle.accepted", "accepted", "system", 1),
        ("lifecycle.safe_to_enter", "accepted", "control_room", None),
        ("lifecycle.onderweg", "onderweg", "worker", 1),
        ("lifecycle.eta", "onderweg", "worker", 1),
        ("lifecycle.ter_plaatse", "ter_plaatse", "worker", 1),
        ("lifecycle.police_left", "ter_plaatse", "control_room", None),
        ("lifecycle.motorkapoverleg", "motorkapoverleg", "worker", 1),
        ("lifecycle.onderzoek", "onderzoek", "control_room", None),
        ("lifecycle.veiligheidsmaatregelen", "veiligheidsmaatregelen", "control_room", None),
        ("lifecycle.overgedragen", "overgedragen", "worker", 1),
        ("lifecycle.close", "closed", "worker", 1),
    ]
    by_type = {e.type: e.payload for e in events_of(session, dispatch_id, "lifecycle.")}
    assert by_type["lifecycle.onderweg"]["eta_minutes"] == 20
    assert by_type["lifecycle.veiligheidsmaatregelen"]["agreements"] == agreements
    assert by_type["lifecycle.overgedragen"]["handover"] == handover
    assert by_type["lifecycle.close"]["outcome"] == "joint_on_scene"
    ids = [e.id for e in events_of(session, dispatch_id)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_repeats_write_nothing(
    accepted: tuple[str, int], clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    dispatch_id, bram = accepted
    steps: list[tuple[str, str, int | None, dict[str, Any]]] = [
        ("safe_to_enter", "control_room", None, {}),
        ("onderweg", "worker", bram, {"eta_minutes": 15}),
        ("ter_plaatse", "worker", bram, {}),
        ("consult", "control_room", None, {"kind": "phone"}),
        ("motorkapoverleg", "worker", bram, {}),
        ("close", "control_room", None, {"outcome": "phone_consult"}),
    ]
    for action, role, a_id, data in steps:
        assert act(sessions, clock, dispatch_id, action, role, a_id, **data).changed
        before = len(events_of(session, dispatch_id))
        clock.advance(timedelta(seconds=5))
        again = act(sessions, clock, dispatch_id, action, role, a_id, **data)
        assert not again.changed and not again.wake
        assert len(events_of(session, dispatch_id)) == before, action


def test_forbidden_actions_change_nothing(
    accepted: tuple[str, int], clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    dispatch_id, bram = accepted
    before = len(events_of(session, dispatch_id))
    with pytest.raises(TransitionError) as info:
        act(sessions, clock, dispatch_id, "police_left")
    assert info.value.code == "invalid_transition"
    assert "police cannot leave before the worker arrives" in info.value.message
    with pytest.raises(TransitionError) as info:
        act(sessions, clock, dispatch_id, "onderweg", "control_room", eta_minutes=5)
    assert info.value.code == "forbidden_role"
    with pytest.raises(TransitionError) as info:
        act(sessions, clock, dispatch_id, "ter_plaatse", "worker", bram)
    assert "onderweg first" in info.value.message
    d = stored(session, dispatch_id)
    assert (d.stage, d.police_left_at) == ("accepted", None)
    assert len(events_of(session, dispatch_id)) == before
    # After a phone consult the police may leave before anyone arrived.
    act(sessions, clock, dispatch_id, "consult", kind="phone")
    assert act(sessions, clock, dispatch_id, "police_left").changed


def test_a_worker_not_accepted_may_not_act(
    accepted: tuple[str, int], clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    dispatch_id, _ = accepted
    other = assignment_id(session, dispatch_id, 2)  # cancelled once Bram accepted
    with pytest.raises(TransitionError) as info:
        act(sessions, clock, dispatch_id, "onderweg", "worker", other, eta_minutes=5)
    assert info.value.code == "forbidden_role" and "cancelled" in info.value.message
    with pytest.raises(LookupError):
        act(sessions, clock, dispatch_id, "onderweg", "worker", 10**9, eta_minutes=5)
    with pytest.raises(LookupError):
        act(sessions, clock, "no-such-dispatch", "cancel")


def test_a_failure_half_way_leaves_nothing_behind(
    accepted: tuple[str, int], clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    dispatch_id, bram = accepted
    before = len(events_of(session, dispatch_id))
    with sessions() as s:
        result = progress.act(
            s,
            dispatch_id=dispatch_id,
            action="onderweg",
            role="worker",
            assignment_id=bram,
            data={"eta_minutes": 12},
            now=clock.now(),
        )
        assert result.changed
        s.flush()
        with pytest.raises(SQLAlchemyError):
            s.execute(text("SELECT * FROM no_such_table"))  # the transaction fails here
        s.rollback()
    d = stored(session, dispatch_id)
    assert d.stage == "accepted"
    a = session.scalars(
        select(Assignment).where(Assignment.id == bram).execution_options(populate_existing=True)
    ).one()
    assert (a.eta_at, a.enroute_at) == (None, None)
    assert len(events_of(session, dispatch_id)) == before
    # and the retry goes through, once
    assert act(sessions, clock, dispatch_id, "onderweg", "worker", bram, eta_minutes=12).changed
    assert len(events_of(session, dispatch_id, "lifecycle.onderweg")) == 1


def test_cancel_while_paging_stops_every_page(
    client: TestClient, clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)  # the call to Bram goes out
    result = act(sessions, clock, d["id"], "cancel")
    assert result.changed
    voice = session.scalars(
        select(Page).where(Page.dispatch_id == d["id"], Page.channel == "voice")
    ).one()
    assert result.wake.hangups == [("console", voice.provider_id)]
    statuses = session.scalars(
        select(Page.status)
        .where(Page.dispatch_id == d["id"])
        .execution_options(populate_existing=True)
    ).all()
    assert set(statuses) == {"cancelled"}
    people = session.scalars(
        select(Assignment.status)
        .where(Assignment.dispatch_id == d["id"])
        .execution_options(populate_existing=True)
    ).all()
    assert set(people) == {"cancelled"}
    dispatch = stored(session, d["id"])
    assert (dispatch.stage, dispatch.outcome, dispatch.closed_by) == (
        "closed",
        "cancelled",
        "control_room",
    )
    # Nothing more goes out, and a late answer finds the incident closed.
    clock.advance(timedelta(minutes=5))
    run(client)
    assert accept(sessions, clock, assignment_id(session, d["id"], 1)).result == "closed"
    assert "lifecycle.accepted" not in event_types(session, d["id"])


def test_a_late_answer_after_close_as_no_responder_is_refused(
    client: TestClient, clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    for a in d["assignments"]:
        run(client)
        with sessions() as s:
            paging.answer(
                s,
                assignment_id=assignment_id(session, d["id"], a["position"]),
                accept=False,
                via="api",
                now=clock.now(),
            )
            s.commit()
    assert stored(session, d["id"]).paging_state == "no_responder"
    with pytest.raises(TransitionError):
        act(sessions, clock, d["id"], "close", outcome="joint_on_scene")
    act(sessions, clock, d["id"], "close", outcome="no_responder")
    # Unreached pages could normally still be answered late; not once closed.
    with sessions() as s:
        late = s.scalars(select(Assignment).where(Assignment.dispatch_id == d["id"])).all()
        for a in late:
            r = paging.answer(s, assignment_id=a.id, accept=True, via="api", now=clock.now())
            assert r.result in ("closed", "already"), r
        s.commit()
    assert stored(session, d["id"]).paging_state == "no_responder"


def test_live_summary(
    accepted: tuple[str, int], clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    dispatch_id, bram = accepted
    act(sessions, clock, dispatch_id, "onderweg", "worker", bram, eta_minutes=20)
    act(sessions, clock, dispatch_id, "safe_to_enter")
    summary = live.summaries(session, [dispatch_id], clock.now())[dispatch_id]
    assert summary["stage"] == "onderweg" and summary["paging_state"] == "accepted"
    assert summary["safe_at"] == clock.now().isoformat()
    assert summary["police_unit"] == "ACC-01" and summary["police_callback"] == CALLBACK
    first = summary["assignments"][0]
    assert (first["position"], first["phone"], first["status"]) == (1, BRAM, "accepted")
    assert first["eta_at"] == (clock.now() + timedelta(minutes=20)).isoformat()
    assert first["person_name"] and first["team_name"]
    assert summary["alarms"] == []
    worker = live.for_role(summary, "worker", 2)
    assert worker["assignments"][0]["phone"] is None
    assert live.for_role(summary, "worker", 1)["assignments"][0]["phone"] == BRAM
    assert summary["assignments"][0]["phone"] == BRAM  # the original is untouched
    assert live.summaries(session, [], clock.now()) == {}
    assert live.summaries(session, ["nope"], clock.now()) == {}


def test_alarms_and_open_summaries(
    client: TestClient, clock: ManualClock, sessions: sessionmaker[Session], session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    run(client)
    before = live.summaries(session, [d["id"]], clock.now())[d["id"]]
    assert before["alarms"] == []
    # The page's start is there for the dashboard to raise the alarm by itself in time.
    assert before["assignments"][0]["waiting_since"] == clock.now().isoformat()
    assert before["unanswered_after_seconds"] == 180
    clock.advance(timedelta(minutes=3))
    [alarm] = live.summaries(session, [d["id"]], clock.now())[d["id"]]["alarms"]
    assert alarm["kind"] == "unanswered" and alarm["assignment"] == 1
    assert "3 min niet beantwoord" in alarm["message"]
    # everybody declines: the no-responder alarm with what the police can expect
    for a in d["assignments"]:
        run(client)
        with sessions() as s:
            paging.answer(
                s,
                assignment_id=assignment_id(session, d["id"], a["position"]),
                accept=False,
                via="api",
                now=clock.now(),
            )
            s.commit()
    [alarm] = live.summaries(session, [d["id"]], clock.now())[d["id"]]["alarms"]
    assert alarm["kind"] == "no_responder" and alarm["since"] == clock.now().isoformat()
    assert d["plan"]["expectation"]["text"] in alarm["message"]

    other = post(client, basisteam="laak", reported_at="2026-03-10T16:59")
    both = live.open_summaries(session, region_ids=None, basisteam_ids=None, now=clock.now())
    assert {s["id"] for s in both} >= {d["id"], other["id"]}
    order = [s["id"] for s in both]
    assert order.index(other["id"]) < order.index(d["id"])  # newest first
    mine = live.open_summaries(session, region_ids=None, basisteam_ids={GV_NOORD}, now=clock.now())
    assert d["id"] in {s["id"] for s in mine} and other["id"] not in {s["id"] for s in mine}
    region = live.open_summaries(
        session, region_ids={other["region"]}, basisteam_ids=None, now=clock.now()
    )
    assert other["id"] in {s["id"] for s in region} and d["id"] not in {s["id"] for s in region}

    act(sessions, clock, d["id"], "close", outcome="no_responder")
    closed = live.summaries(session, [d["id"]], clock.now())[d["id"]]
    assert closed["alarms"] == [] and closed["stage"] == "closed"
    clock.advance(timedelta(hours=1, minutes=59))
    ids = {
        s["id"]
        for s in live.open_summaries(session, region_ids=None, basisteam_ids=None, now=clock.now())
    }
    assert d["id"] in ids  # closed, but recently
    clock.advance(timedelta(minutes=2))
    ids = {
        s["id"]
        for s in live.open_summaries(session, region_ids=None, basisteam_ids=None, now=clock.now())
    }
    assert d["id"] not in ids and other["id"] in ids


def test_summaries_take_the_same_number_of_queries_for_one_or_many(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    ids = [post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")["id"] for _ in range(4)]
    run(client)
    clock.advance(timedelta(minutes=4))  # every first page now raises an alarm
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", count)
    try:
        one = live.summaries(session, ids[:1], clock.now())
        n_one = len(statements)
        statements.clear()
        many = live.summaries(session, ids, clock.now())
        n_many = len(statements)
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert len(one) == 1 and len(many) == 4
    assert all(s["alarms"] for s in many.values())
    assert n_one == n_many <= 7  # dispatches, assignments, pages, gave up, alarms, names

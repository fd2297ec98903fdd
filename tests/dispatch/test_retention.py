"""Retention: the personal data of old incidents goes, the anonymous facts the evaluation
needs stay (proved field by field on a fully worked incident), on both backends; SMS
replies and webhook receipts go; the hourly job runs through real Redis and RQ."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.db import make_session_factory
from core.queue import redis_queue
from core.settings import get_settings
from dispatch import jobs, service
from dispatch.models import (
    Alarm,
    Assignment,
    Dispatch,
    Event,
    InboundSms,
    Incident,
    Page,
    WebhookReceipt,
)
from dispatch.retention import purge
from dispatch.schemas import IncidentCreate
from oncall import service as oncall_service
from oncall.snapshot import ConfigSnapshot
from tests.api.test_lifecycle_api import actions, as_worker, worker_token
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import BRAM, INCIDENTS, at, post, run
from tests.dispatch.test_pairing import CONFIG, WM

REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NATIONAL = ("Veilig Thuis (landelijk)", "0800-2000")


def _intake(session: Session, received: datetime) -> str:
    data = IncidentCreate.model_validate(
        {
            "source": "retention-test",
            "external_id": uuid.uuid4().hex,
            "reported_at": "2026-03-10T14:00",
            "basisteam": WM,
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 30}],
            "police_unit": "X",
            "police_callback": "06 12345678",
        }
    )
    result = service.intake(
        session=session,
        data=data,
        snapshot=ConfigSnapshot(CONFIG, 1),
        now=received,
        national=NATIONAL,
    )
    return result.dispatch_id


def _count(session: Session, model: type, dispatch_id: str) -> int:
    column = model.id if model is Dispatch else model.dispatch_id  # type: ignore[attr-defined]
    return int(
        session.scalar(select(func.count()).select_from(model).where(column == dispatch_id)) or 0
    )


def test_purge_anonymises_old_incidents_and_deletes_replies_and_receipts(
    sessions: sessionmaker[Session],
) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    with sessions() as s:
        old = _intake(s, now - timedelta(days=91))
        new = _intake(s, now - timedelta(days=89))
        s.commit()
        assert _count(s, Assignment, old) > 0 and _count(s, Event, old) >= 2
        assert _count(s, Page, old) > 0
        for age, sid in ((91, "SMold"), (1, "SMnew")):
            at = now - timedelta(days=age)
            s.add(
                InboundSms(
                    provider_id=sid,
                    phone="+31600000000",
                    received_at=at,
                    body="ja",
                    result="accepted",
                )
            )
            s.add(WebhookReceipt(key=sid, received_at=at, response=""))
        s.add(WebhookReceipt(key="three-days", received_at=now - timedelta(days=3), response=""))
        s.commit()
        removed = purge(
            session=s, before=now - timedelta(days=90), receipts_before=now - timedelta(days=2)
        )
        s.commit()
        assert removed == 1
        for model in (Dispatch, Assignment, Event, Page):  # the rows stay, anonymous
            assert _count(s, model, old) > 0
            assert _count(s, model, new) > 0
        old_incident = s.get(Dispatch, old).incident  # type: ignore[union-attr]
        new_incident = s.get(Dispatch, new).incident  # type: ignore[union-attr]
        assert old_incident.anonymized_at is not None and old_incident.persons == []
        assert new_incident.anonymized_at is None and new_incident.persons != []
        assert [r.provider_id for r in s.scalars(select(InboundSms))] == ["SMnew"]
        assert [r.key for r in s.scalars(select(WebhookReceipt))] == ["SMnew"]


class _BurstWorker(SimpleWorker):
    """A worker for one burst, without RQ's command channel: stopping that channel's
    thread waits out its 60 s poll now and then, and a burst takes no commands."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


def test_hourly_job_runs_through_redis_and_books_the_next(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMENOP_DATABASE_URL", db_url)
    monkeypatch.setenv("SAMENOP_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("SAMENOP_RETENTION_DAYS", "30")
    queue_name = f"test-{uuid.uuid4().hex[:8]}"  # runs in parallel with other test workers
    monkeypatch.setenv("SAMENOP_QUEUE_NAME", queue_name)
    get_settings.cache_clear()
    factory = make_session_factory(engine)
    with factory() as s:
        oncall_service.write_config(session=s, config=CONFIG, now=datetime.now(UTC), source="tests")
        old = _intake(s, datetime.now(UTC) - timedelta(days=31))
        new = _intake(s, datetime.now(UTC) - timedelta(days=1))
        s.commit()
    queue = redis_queue(REDIS_URL, name=queue_name)
    registry = ScheduledJobRegistry(queue=queue)
    try:
        job_id = jobs.schedule_purge(REDIS_URL, queue_name)
        assert queue.fetch_job(job_id) is not None
        _BurstWorker([queue], connection=redis.Redis.from_url(REDIS_URL)).work(burst=True)
        assert queue.fetch_job(job_id).get_status() == "finished"  # type: ignore[union-attr]
        with factory() as s:
            assert s.get(Dispatch, old).incident.anonymized_at is not None  # type: ignore[union-attr]
            assert s.get(Dispatch, new).incident.anonymized_at is None  # type: ignore[union-attr]
        booked = registry.get_job_ids()
        next_hour = f"{queue_name}-" + (datetime.now(UTC) + jobs.PURGE_EVERY).strftime(
            "purge-%Y%m%d%H"
        )
        assert next_hour in booked
    finally:
        for jid in registry.get_job_ids():
            registry.remove(jid, delete_job=True)
        queue.empty()
        get_settings.cache_clear()
        with factory() as s:
            s.query(Event).delete()
            s.query(Dispatch).delete()
            s.query(Incident).delete()
            s.commit()


# --- what is left: a fully worked incident, field by field ----------------------------------

PERSONAL_TEXT = (
    "+31612345678",  # the police unit's callback number
    "ACC-RET-7",  # the police unit
    BRAM,  # the worker's phone
    "huisarts",
    "burgemeester",
    "extra surveillance",
    "Veilig Thuis piket",
    "moeder belt terug",
    "melding van de buren hielp",  # the evaluation notes
    "schoolgegevens ontbraken",
)


def _worked_incident(client: TestClient, clock: ManualClock, session: Session) -> dict[str, Any]:
    """Declined once, accepted, every step, agreements and a handover with notes, closed."""
    at(clock, "2026-03-10T16:59")
    d = post(
        client,
        basisteam=GV_NOORD,
        reported_at="2026-03-10T16:55",
        persons=[{"role": "victim", "age": 34}, {"role": "child", "age": 6}],
        flags=["children_present", "injuries"],
        police_unit="ACC-RET-7",
    )
    ref = d["reference"]
    run(client)
    assert client.post(f"{INCIDENTS}/{ref}/assignments/1/decline").status_code == 200
    run(client)
    assert client.post(f"{INCIDENTS}/{ref}/assignments/2/accept").status_code == 200
    run(client)  # the confirmation SMS with the callback number
    token = worker_token(client, session, d["id"], 2)
    steps: list[dict[str, Any]] = [
        {"action": "onderweg", "eta_minutes": 20},
        {"action": "ter_plaatse"},
        {"action": "motorkapoverleg"},
        {
            "action": "veiligheidsmaatregelen",
            "agreements": {
                "first_contact": "Veilig Thuis piket",
                "informs": [{"who": "Veilig Thuis", "whom": "huisarts"}],
                "measures": [
                    {"measure": "huisverbod", "by": "burgemeester", "until": "2026-03-20T17:00"},
                    {"measure": "other", "by": "politie", "note": "extra surveillance"},
                ],
                "reassess_at": "2026-03-11T09:00",
            },
        },
    ]
    for step in steps:
        clock.advance(timedelta(minutes=7))
        r = as_worker(client, token, **step)
        assert r.status_code == 200, r.text
    handover = {"target": "zsm", "note": "moeder belt terug"}
    assert actions(client, ref, action="overgedragen", handover=handover).status_code == 200
    note = {"helped": "melding van de buren hielp", "missing": "schoolgegevens ontbraken"}
    r = actions(client, ref, action="close", outcome="joint_on_scene", evaluation_note=note)
    assert r.status_code == 200, r.text
    return d


def _rows(session: Session, dispatch_id: str) -> dict[str, Any]:
    session.expire_all()
    dispatch = session.get(Dispatch, dispatch_id)
    assert dispatch is not None
    where = {"dispatch_id": dispatch_id}
    return {
        "incident": dispatch.incident,
        "dispatch": dispatch,
        "assignments": list(session.scalars(select(Assignment).filter_by(**where))),
        "pages": list(
            session.scalars(select(Page).filter_by(**where).order_by(Page.created_at, Page.id))
        ),
        "events": list(session.scalars(select(Event).filter_by(**where).order_by(Event.id))),
        "alarms": list(session.scalars(select(Alarm).filter_by(**where))),
    }


def _dumped(rows: dict[str, Any]) -> str:
    """Every column of every row, as text: what an attacker with the database would see."""

    def columns(row: Any) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns}

    flat = {
        key: [columns(r) for r in value] if isinstance(value, list) else columns(value)
        for key, value in rows.items()
    }
    return json.dumps(flat, default=str, ensure_ascii=False)


def _facts(rows: dict[str, Any]) -> dict[str, Any]:
    """What the evaluation needs: times, outcomes, places, teams, stages, answers."""
    incident, dispatch = rows["incident"], rows["dispatch"]
    return {
        "incident": {
            k: getattr(incident, k)
            for k in ("id", "source", "reported_at", "received_at", "basisteam_id", "case_type")
        },
        "dispatch": {
            k: getattr(dispatch, k)
            for k in (
                "reference",
                "status",
                "region_id",
                "team_id",
                "mode",
                "staff_needed",
                "config_version",
                "planned_at",
                "outcome",
                "paging_state",
                "created_at",
                "stage",
                "stage_at",
                "safe_at",
                "consult_kind",
                "consult_at",
                "arrived_at",
                "police_left_at",
                "closed_at",
                "closed_by",
                "half_staffed_decision",
            )
        },
        "measures": [
            (m["measure"], m.get("until")) for m in (dispatch.agreements or {})["measures"]
        ],
        "reassess_at": (dispatch.agreements or {})["reassess_at"],
        "handover": (dispatch.handover or {})["target"],
        "plan": (
            dispatch.plan["status"],
            dispatch.plan["region"],
            dispatch.plan["response"]["team"],
        ),
        "plan_reasons": [r["code"] for r in dispatch.plan["reasons"]],
        "assignments": sorted(
            (
                a.position,
                a.purpose,
                a.team_id,
                a.person_id,
                a.mode,
                a.layer,
                a.status,
                a.answered_at,
                a.answered_via,
                a.eta_at,
                a.enroute_at,
                a.arrived_at,
                tuple(r["code"] for r in a.reasons),
            )
            for a in rows["assignments"]
        ),
        "pages": [
            (
                p.id,
                p.assignment_id,
                p.round,
                p.channel,
                p.kind,
                p.status,
                p.sent_at,
                p.closed_at,
                p.provider,
                p.tries,
            )
            for p in rows["pages"]
        ],
        "events": [(e.id, e.type, e.created_at) for e in rows["events"]],
        "event_facts": [
            {k: v for k, v in _payload(e).items() if k in EVENT_FACTS} for e in rows["events"]
        ],
        "alarms": [(a.kind, a.raised_at, a.cleared_at) for a in rows["alarms"]],
    }


EVENT_FACTS = {
    "stage",
    "actor",
    "assignment",
    "outcome",
    "status",
    "region",
    "team",
    "mode",
    "case_type",
    "basisteam",
    "eta_minutes",
    "eta_at",
    "arrived_at",
    "police_left_at",
    "safe_at",
    "via",
    "purpose",
    "person",
    "channel",
    "round",
    "phase",
    "reason",
    "kind",
    "by",
    "late",
    "source",
    "incident_id",
    "reference",
    "decision",
    "consult_kind",
    "page",
    "provider",
}


def _payload(event: Event) -> dict[str, Any]:
    payload = event.payload
    return dict(json.loads(payload) if isinstance(payload, str) else payload)


def test_retention_leaves_the_evaluation_facts_and_no_personal_data(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = _worked_incident(client, clock, session)
    kept = _worked_incident(client, clock, session)
    later = session.get(Dispatch, kept["id"])
    assert later is not None and later.closed_at is not None
    later.closed_at += timedelta(days=1)  # closed a day later: not yet due
    session.commit()
    before = _rows(session, d["id"])
    facts = _facts(before)
    text = _dumped(before)
    names = [p.name for p in oncall_service.read_config(session=session).people]
    worker = next(a for a in before["assignments"] if a.status == "accepted")
    assert worker.person_id and worker.phone
    assert [t for t in PERSONAL_TEXT if t not in text] == []  # the record did hold all of it
    assert facts["assignments"][0][6] == "declined" and facts["measures"]
    external = before["incident"].external_id
    assert any(n in text for n in names) and external in text

    closed = before["dispatch"].closed_at
    now = closed + timedelta(days=91)
    assert purge(session=session, before=closed + timedelta(minutes=1), now=now) == 1
    session.commit()

    after = _rows(session, d["id"])
    assert _facts(after) == facts  # every evaluation fact, unchanged
    text = _dumped(after)
    for personal in PERSONAL_TEXT:
        assert personal not in text, personal
    assert not any(n in text for n in names)
    assert external not in text and after["incident"].external_id == f"anon:{d['incident_id']}"
    incident = after["incident"]
    assert (incident.persons, incident.flags) == ([], [])
    assert (incident.police_unit, incident.police_callback, incident.request_hash) == ("", "", "")
    assert incident.municipality_code is None and incident.anonymized_at == now
    assert after["dispatch"].agreements == {
        "measures": [
            {"measure": "huisverbod", "until": "2026-03-20T16:00:00Z"},
            {"measure": "other", "until": None},
        ],
        "reassess_at": "2026-03-11T08:00:00Z",
    }
    assert after["dispatch"].handover == {"target": "zsm"}
    assert after["dispatch"].evaluation_note is None  # the note was in the record (above)
    assert '"text"' not in text and "leeftijd" not in text  # reason texts named ages
    assert all(a.phone is None for a in after["assignments"])
    assert all(p.phone == "" and p.provider_id is None for p in after["pages"])

    untouched = _rows(session, kept["id"])
    assert untouched["incident"].anonymized_at is None
    assert untouched["incident"].police_callback == "+31612345678"
    # Done once: a second run finds nothing to do.
    assert purge(session=session, before=closed + timedelta(minutes=1), now=now) == 0


def test_the_period_runs_from_closing_or_from_receipt_when_never_closed(
    sessions: sessionmaker[Session],
) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    cutoff = now - timedelta(days=90)
    with sessions() as s:
        open_old = _intake(s, now - timedelta(days=100))
        closed_recently = _intake(s, now - timedelta(days=100))
        s.commit()
        dispatch = s.get(Dispatch, closed_recently)
        assert dispatch is not None
        dispatch.closed_at = now - timedelta(days=10)
        s.commit()
        assert purge(session=s, before=cutoff, now=now) == 1
        s.commit()
        assert s.get(Dispatch, open_old).incident.anonymized_at == now  # type: ignore[union-attr]
        assert s.get(Dispatch, closed_recently).incident.anonymized_at is None  # type: ignore[union-attr]

"""Retention: old incidents go with everything hanging off them, on both backends, and the
hourly job runs through real Redis and RQ."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_session_factory
from core.queue import redis_queue
from core.settings import get_settings
from dispatch import jobs, service
from dispatch.models import Assignment, Dispatch, Event, InboundSms, Incident, Page, WebhookReceipt
from dispatch.retention import purge
from dispatch.schemas import IncidentCreate
from oncall import service as oncall_service
from oncall.snapshot import ConfigSnapshot
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


def test_purge_removes_old_incidents_with_dispatch_and_events(
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
        for model in (Dispatch, Assignment, Event, Page):
            assert _count(s, model, old) == 0
            assert _count(s, model, new) > 0
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
            assert s.get(Dispatch, old) is None
            assert s.get(Dispatch, new) is not None
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

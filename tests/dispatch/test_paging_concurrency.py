"""Many hands on one dispatch at once: senders, status callbacks, answers and deadlines
race in threads over real connections. Nothing may deadlock or fail, and the end state
must be consistent (never more acceptances than needed, no page left half-sent)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.clock import ManualClock
from core.db import make_engine, make_session_factory
from dispatch import answers, paging
from dispatch.delivery import PagingContext, deliver
from dispatch.models import Assignment, Dispatch, Page
from dispatch.paging import Wake
from dispatch.schemas import IncidentCreate
from dispatch.service import intake
from notifications.console import ConsoleProvider
from notifications.webhooks import AmdResult, CallStatus, SmsStatus
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from oncall.snapshot import ConfigSnapshot
from tests.conftest import BACKENDS, _make_database

START = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)  # CIT Den Haag: two people needed


class Collect:
    def __init__(self) -> None:
        self.wakes: list[Wake] = []

    def arm(self, wake: Wake) -> None:
        self.wakes.append(wake)


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, example_config: ConfigSet
) -> Iterator[Engine]:
    url, handle = _make_database(request.param, tmp_path)
    migrate.upgrade(url)
    eng = make_engine(url)
    with make_session_factory(eng)() as s:
        oncall_service.write_config(session=s, config=example_config, now=START, source="tests")
        s.commit()
    yield eng
    eng.dispose()
    if handle is not None:
        admin, name = handle  # type: ignore[misc]
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _dispatches(sessions: sessionmaker[Session], n: int) -> list[str]:
    ids = []
    with sessions() as s:
        snapshot = ConfigSnapshot(oncall_service.read_config(session=s), 1)
        for i in range(n):
            data = IncidentCreate.model_validate(
                {
                    "source": "race",
                    "external_id": f"R-{i}",
                    "reported_at": START.isoformat(),
                    "basisteam": "laak",
                    "case_type": "HG",
                    "persons": [],
                    "police_unit": "u",
                    "police_callback": "0612345678",
                }
            )
            result = intake(
                session=s, data=data, snapshot=snapshot, now=START, national=("VT", "0800-2000")
            )
            ids.append(result.dispatch_id)
        s.commit()
    return ids


def test_senders_callbacks_answers_and_deadlines_race_without_deadlock(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    clock = ManualClock(START)
    provider = ConsoleProvider(clock)
    ctx = PagingContext(
        sessions=sessions,
        provider=provider,
        clock=clock,
        public_base_url="http://test",
        link_secret="secret",
        link_ttl=timedelta(hours=2),
        waker=Collect(),
    )
    dispatch_ids = _dispatches(sessions, 4)
    errors: list[BaseException] = []
    stop = threading.Event()

    def page_ids() -> list[str]:
        with sessions() as s:
            return list(s.scalars(select(Page.id).where(Page.dispatch_id.in_(dispatch_ids))))

    human = AmdResult(provider_id="CA1", answered_by="human", is_machine=False)
    busy = CallStatus("CA1", "busy", "not_reached", None, None)
    delivered = SmsStatus("SM1", "delivered", "delivered", None, None)

    def act(s: Session, action: int, pid: str, accept: bool) -> object:
        now = clock.now()
        if action == 1:
            return answers.amd(s, pid, human, now)
        if action == 2:
            return answers.call_status(s, pid, busy, now)
        if action == 3:
            return paging.answer(s, page_id=pid, accept=accept, via="t", now=now)
        if action == 4:
            return [
                paging.expire_dispatch(s, d, now) for d in paging.overdue_dispatches(s, now)[:1]
            ]
        return answers.sms_status(s, pid, delivered, now)

    def actor(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            while not stop.is_set():
                pid, action = rnd.choice(page_ids()), rnd.randrange(6)
                if action == 0:
                    deliver(ctx, pid)
                    continue
                with sessions() as s, s.begin():
                    act(s, action, pid, rnd.random() < 0.5)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=actor, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for _ in range(40):
        if stop.wait(0.1):
            break
        clock.advance(timedelta(seconds=20))
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    # Claims left by the race are finished by the next sender once their lease ran out.
    clock.advance(timedelta(minutes=1))
    with sessions() as s:
        stale = list(s.scalars(select(Page.id).where(Page.status == "sending")))
    for pid in stale:
        deliver(ctx, pid)
    with sessions() as s:
        assert s.scalar(select(func.count()).where(Page.status == "sending")) == 0
        for dispatch in s.scalars(select(Dispatch).where(Dispatch.id.in_(dispatch_ids))):
            accepted = s.scalar(
                select(func.count()).where(
                    Assignment.dispatch_id == dispatch.id, Assignment.status == "accepted"
                )
            )
            assert (accepted or 0) <= dispatch.staff_needed
            if dispatch.paging_state == "accepted":
                assert accepted == dispatch.staff_needed


def test_a_receipt_that_lands_while_the_send_is_recorded_is_kept(engine: Engine) -> None:
    """Twilio can report "delivered" before the sender has recorded the send. Status
    callbacks update the page row without the dispatch lock, so the receipt may commit
    between the sender's read of the page and its update: the update must keep it."""
    sessions = make_session_factory(engine)
    clock = ManualClock(START)
    ctx = PagingContext(
        sessions=sessions,
        provider=ConsoleProvider(clock),
        clock=clock,
        public_base_url="http://test",
        link_secret="secret",
        link_ttl=timedelta(hours=2),
        waker=Collect(),
    )
    [dispatch_id] = _dispatches(sessions, 1)
    with sessions() as s:
        page_id = s.scalars(
            select(Page.id).where(Page.dispatch_id == dispatch_id, Page.channel == "sms")
        ).first()
    assert page_id is not None
    clock.advance(timedelta(minutes=5))  # the SMS is due
    receipt_done = threading.Event()

    def receipt() -> None:
        with sessions() as s, s.begin():
            provider_id = s.scalar(select(Page.provider_id).where(Page.id == page_id))
            status = SmsStatus(provider_id or "SM?", "delivered", "delivered", None, None)
            answers.sms_status(s, page_id, status, clock.now())
        receipt_done.set()

    fired: list[threading.Thread] = []

    def before_update(conn: object, cursor: object, statement: str, *args: object) -> None:
        # The sender's "record the send" UPDATE: let the receipt commit just before it.
        if not fired and statement.startswith("UPDATE pages SET") and "sent_at" in statement:
            thread = threading.Thread(target=receipt)
            fired.append(thread)
            thread.start()
            receipt_done.wait(0.5)  # SQLite: the receipt waits for this writer instead

    event.listen(engine, "before_cursor_execute", before_update)
    try:
        deliver(ctx, page_id)
    finally:
        event.remove(engine, "before_cursor_execute", before_update)
    assert fired, "the send was never recorded"
    fired[0].join(10)
    with sessions() as s:
        page = s.get(Page, page_id)
        assert page is not None
        assert (page.status, page.provider_status) == ("delivered", "delivered")
        assert page.provider_id is not None and page.sent_at is not None

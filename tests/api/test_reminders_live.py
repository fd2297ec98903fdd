"""A reminder reaches the phone exactly once when the process sending it is killed with
``kill -9`` inside the Twilio request: the embedded API (its delivery loop sends it) and
an RQ worker (its job or its sweeper). Real processes (``samenop serve``, ``samenop
worker``, ``samenop fake-twilio``) over PostgreSQL and Redis, real time.

Twilio takes the SMS and holds its answer (``delay_creates``); the sender dies before it
recorded anything. The row is left ``sending`` (marked uncertain before the call); when
its lease runs out the next sender asks Twilio (``find_sent``, by the link token in the
body) and records what went out instead of sending again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import make_session_factory
from dispatch.roster_models import RosterMessage
from oncall.schemas import ConfigSet, Planning, Shift
from tests.dispatch.test_swaps import PHONES, config
from tests.faults.procs import Databases, Proc, RedisDb, Stack, require_services, wait_for

ANNA = PHONES["anna"]
REDRIVE_WITHIN = 15.0  # seconds after the lease (8 s) ran out


def reminder_config() -> ConfigSet:
    """Only Anna's shift, starting within the team's reminder time: due at once."""
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=45 - now.minute % 15)
    base = config()
    teams = tuple(
        t.model_copy(update={"planning": Planning(reminder_hours=2)}) if t.id == "vt-x" else t
        for t in base.teams
    )
    shift = Shift(team="vt-x", person="anna", start=start, end=start + timedelta(hours=4))
    return base.model_copy(update={"teams": teams, "rotations": (), "shifts": (shift,)})


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    require_services()
    failed_before = request.session.testsfailed
    with contextlib.ExitStack() as cleanup:
        dbs = Databases(reminder_config())
        cleanup.callback(dbs.close)
        url = dbs.copy()
        redis_db = RedisDb()
        cleanup.callback(redis_db.release)
        s = Stack(tmp_path, url, redis_db)
        cleanup.callback(lambda: s.close(failed=request.session.testsfailed > failed_before))
        yield s


def message(stack: Stack) -> RosterMessage | None:
    with make_session_factory(stack.engine)() as session:
        return session.scalars(
            select(RosterMessage).where(RosterMessage.kind == "reminder")
        ).first()


def held_then_recorded(stack: Stack, kill: list[Proc]) -> None:
    """Twilio holds the reminder's answer; the senders in ``kill`` die; the next one
    records it from Twilio's side. One SMS on the phone."""
    wait_for("Twilio to take the reminder", lambda: stack.sms(ANNA), 30)
    wait_for("its answer to be held", lambda: stack.fake_state()["held"] == 1, 5)
    for proc in kill:
        proc.kill()
    row = message(stack)
    assert row is not None and row.status == "sending" and row.provider_id is None
    assert row.uncertain_since is not None and row.lease_until is not None
    [taken] = stack.sms(ANNA)
    assert taken["body"].startswith("Herinnering: je hebt piket bij VT Een")
    assert "/s/" in taken["body"]


def wait_recorded(stack: Stack, lease_until: datetime) -> RosterMessage:
    budget = (lease_until - datetime.now(UTC)).total_seconds() + REDRIVE_WITHIN

    def sent() -> RosterMessage | None:
        row = message(stack)
        return row if row is not None and row.status == "sent" else None

    found = wait_for("the reminder to be recorded as sent", sent, max(budget, 1.0))
    assert found is not None
    return found


@pytest.mark.postgres
def test_embedded_api_killed_inside_the_reminder_request(stack: Stack) -> None:
    fake = stack.start_fake()
    stack.wait_fake(fake, timeout=60)
    stack.delay_creates(60)  # Twilio takes the next SMS at once; its answer is late
    api = stack.start_api("inline")
    stack.wait_api(api, timeout=90)
    held_then_recorded(stack, [api])
    row = message(stack)
    assert row is not None and row.lease_until is not None
    api = stack.start_api("inline")
    stack.wait_api(api, timeout=90)
    recorded = wait_recorded(stack, row.lease_until)
    [taken] = stack.sms(ANNA)
    assert recorded.provider_id == taken["sid"] and recorded.tries == 2
    time.sleep(2.0)  # room for a duplicate (and another planning round) to show up
    assert [m["sid"] for m in stack.sms(ANNA)] == [taken["sid"]]
    assert stack.received() == {ANNA: (0, 1)}


@pytest.mark.postgres
def test_rq_worker_killed_inside_the_reminder_request(stack: Stack) -> None:
    fake = stack.start_fake()
    stack.wait_fake(fake, timeout=60)
    stack.delay_creates(60)
    api = stack.start_api("rq")
    worker = stack.start_worker()
    stack.wait_api(api, timeout=90)
    stack.wait_workers(worker, timeout=90)
    held_then_recorded(stack, [worker])
    row = message(stack)
    assert row is not None and row.lease_until is not None
    stack.wait_workers(stack.start_worker(), timeout=90)
    recorded = wait_recorded(stack, row.lease_until)
    [taken] = stack.sms(ANNA)
    assert recorded.provider_id == taken["sid"]
    time.sleep(2.0)
    assert [m["sid"] for m in stack.sms(ANNA)] == [taken["sid"]]
    assert stack.received() == {ANNA: (0, 1)}

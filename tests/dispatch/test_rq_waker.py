"""The RQ waker arms jobs through real Redis, never before their work is due."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import redis
from rq.registry import ScheduledJobRegistry

from core.clock import ManualClock
from core.queue import redis_queue
from dispatch.jobs import RQWaker, not_before
from dispatch.paging import Wake

REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_not_before_rounds_up_to_the_second() -> None:
    whole = datetime(2026, 3, 10, 16, 0, 5, tzinfo=UTC)
    assert not_before(whole) == whole
    assert not_before(whole + timedelta(microseconds=1)) == whole + timedelta(seconds=1)
    assert not_before(whole + timedelta(milliseconds=900)) == whole + timedelta(seconds=1)


def test_scheduled_sends_are_never_early_and_deadlines_are_the_sweepers() -> None:
    """RQ scores scheduled jobs in whole seconds; a truncated score would run the job
    before the page is due, where it does nothing and the sweeper sends it late.
    Deadlines are closed by the sweeper (more precise than RQ's scheduler): no job."""
    now = datetime.now(UTC).replace(microsecond=100_000)
    name = f"test-{uuid.uuid4().hex[:8]}"
    waker = RQWaker(REDIS_URL, name, ManualClock(now))
    due, deadline = now + timedelta(seconds=2.8), now + timedelta(seconds=17.8)
    try:
        waker.arm(Wake(due=[("p1", due)], deadlines=[("p1", deadline)]))
        registry = ScheduledJobRegistry(queue=redis_queue(REDIS_URL, name=name))
        times = {
            job_id.split("-")[2]: registry.get_scheduled_time(job_id)
            for job_id in registry.get_job_ids()
        }
        assert times == {"page": not_before(due)}
        assert all(t >= due for t in times.values())
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"rq:*{name}*"))
        if keys:
            client.delete(*keys)
        client.close()

"""RQ jobs: module-level functions that take plain values, open their own session and
fail loudly. The queue wakes work up; the database says what there is to do."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from rq import Retry

from core.db import make_engine, make_session_factory, session_scope
from core.queue import redis_queue
from core.settings import get_settings
from dispatch.retention import purge

log = logging.getLogger(__name__)
PURGE_EVERY = timedelta(hours=1)


def purge_expired() -> int:
    """Delete incidents past the retention period, then book the next run."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            now = datetime.now(UTC)
            removed = purge(session=session, before=now - timedelta(days=settings.retention_days))
        log.info("retention: removed %d incident(s)", removed)
    finally:
        engine.dispose()
    if settings.redis_url:
        schedule_purge(settings.redis_url, settings.queue_name, at=now + PURGE_EVERY)
    return removed


def schedule_purge(redis_url: str, queue_name: str, *, at: datetime | None = None) -> str:
    """Book the purge job; one id per hour, so many processes booking it make one job."""
    when = (at or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    job_id = f"{queue_name}-purge-{when:%Y%m%d%H}"
    queue = redis_queue(redis_url, name=queue_name)
    if at is None:
        queue.enqueue_call(purge_expired, job_id=job_id, retry=Retry(max=3, interval=60))
    else:
        queue.enqueue_at(when, purge_expired, job_id=job_id, retry=Retry(max=3, interval=60))
    return job_id

"""RQ jobs: module-level functions that take plain values, open their own session and
fail loudly. The queue wakes work up; the database says what there is to do."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.worker import SimpleWorker
from sqlalchemy.orm import Session, sessionmaker

from core import metrics
from core.bus import RedisBus
from core.clock import Clock, SystemClock
from core.db import make_engine, make_session_factory, session_scope
from core.logs import FaultLog
from core.queue import redis_queue
from core.settings import Settings, get_settings
from dispatch import reminders, roster_sms
from dispatch.delivery import PagingContext, deliver
from dispatch.digest import digest_schedule
from dispatch.driver import Driver
from dispatch.flows import Waker
from dispatch.metrics import scrape_registry, serve_port
from dispatch.paging import Wake
from dispatch.retention import RECEIPTS_KEPT, purge
from notifications.factory import make_providers

log = logging.getLogger(__name__)
PURGE_EVERY = timedelta(hours=1)


class ConfigurationError(RuntimeError):
    """The settings cannot run what was asked (e.g. RQ without Redis)."""


def _clock() -> Clock:
    """The process's clock: the paging runtime's when it runs here (so tests that inject
    one move the purge too), the system's otherwise."""
    ctx = _RUNTIME.get(os.getpid())
    return ctx.clock if ctx is not None else SystemClock()


def purge_expired() -> int:
    """Anonymise incidents past the retention period, then book the next run."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            now = _clock().now()
            removed = purge(
                session=session,
                before=now - timedelta(days=settings.retention_days),
                receipts_before=now - RECEIPTS_KEPT,
                now=now,
            )
        log.info("retention: anonymised %d incident(s)", removed)
    finally:
        engine.dispose()
    if settings.redis_url:
        schedule_purge(settings.redis_url, settings.queue_name, at=now + PURGE_EVERY)
    return removed


def schedule_purge(redis_url: str, queue_name: str, *, at: datetime | None = None) -> str:
    """Book the purge job; one id per hour, so many processes booking it make one job."""
    when = (at or _clock().now()).replace(minute=0, second=0, microsecond=0)
    job_id = f"{queue_name}-purge-{when:%Y%m%d%H}"
    queue = redis_queue(redis_url, name=queue_name)
    if at is None:
        queue.enqueue_call(purge_expired, job_id=job_id, retry=Retry(max=3, interval=60))
    else:
        queue.enqueue_at(when, purge_expired, job_id=job_id, retry=Retry(max=3, interval=60))
    return job_id


# --- paging ---------------------------------------------------------------------------
#
# Jobs take ids and build their context once per process (per PID: a forked work horse
# must not reuse its parent's database connections or HTTP sessions).

_RUNTIME: dict[int, PagingContext] = {}


class RQWaker:
    """Arms work on RQ: sends now, or at their time with ``enqueue_at``; hang-ups now.

    Deadlines are not booked here: every worker's sweeper closes attempts whose
    deadline passed within its grace (0.3 s) from the database, while RQ's scheduler
    keeps whole seconds and looks once a second, so a deadline job would only ever run
    late, for nothing, once for every attempt. Redis being down must not fail the
    transaction that already committed: the database holds the work and the sweeper
    picks it up.
    """

    def __init__(self, redis_url: str, queue_name: str, clock: Clock) -> None:
        self.queue = redis_queue(redis_url, name=queue_name)
        self.clock = clock
        self.faults = FaultLog(
            log, "arming work on Redis (the sweeper picks it up)", level=logging.WARNING
        )

    def arm(self, wake: Wake) -> None:
        try:
            self._arm(wake)
        except RedisError as exc:
            self.faults.failed(exc)
        else:
            self.faults.ok()

    def _arm(self, wake: Wake) -> None:
        now = self.clock.now()
        q = self.queue
        for page_id, due_at in wake.due:
            job_id = f"{q.name}-page-{page_id}-{int(due_at.timestamp() * 1000)}"
            if due_at <= now + timedelta(milliseconds=20):
                q.enqueue_call(deliver_page, args=(page_id,), job_id=job_id, result_ttl=0)
            else:
                q.enqueue_at(not_before(due_at), deliver_page, page_id, job_id=job_id, result_ttl=0)
        for provider, sid in wake.hangups:
            q.enqueue_call(
                hang_up_call, args=(sid, provider), result_ttl=0, retry=Retry(max=2, interval=1)
            )

    def arm_roster(self, message_ids: list[str]) -> None:
        """Roster SMS were committed (``dispatch.roster_sms``): a job each, now. Lost
        jobs are the sweeper's, as for pages."""
        try:
            for message_id in message_ids:
                self.queue.enqueue_call(
                    deliver_roster_message,
                    args=(message_id,),
                    job_id=f"{self.queue.name}-roster-{message_id}",
                    result_ttl=0,
                )
        except RedisError as exc:
            self.faults.failed(exc)
        else:
            self.faults.ok()


def not_before(moment: datetime) -> datetime:
    """``moment`` rounded up to the second. RQ keeps scheduled times in whole seconds and
    drops the fraction, so a job armed for 12:00:05.9 could run at 12:00:05, find nothing
    due yet and leave the work to the sweeper's grace period; rounded up, it never runs
    before its work is due."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def build_context(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock, waker: Waker
) -> PagingContext:
    provider, providers = make_providers(settings, clock)
    return PagingContext(
        sessions=sessions,
        provider=provider,
        clock=clock,
        public_base_url=settings.public_base_url,
        link_secret=settings.link_secret,
        link_ttl=timedelta(minutes=settings.link_ttl_minutes),
        waker=waker,
        worker_link_ttl=timedelta(hours=settings.worker_link_hours),
        providers=providers,
        uncertain_grace=timedelta(seconds=settings.uncertain_send_seconds),
        send_failing_after=timedelta(seconds=settings.send_failing_alarm_seconds),
    )


def runtime() -> PagingContext:
    pid = os.getpid()
    ctx = _RUNTIME.get(pid)
    if ctx is None:
        settings = get_settings()
        clock = SystemClock()
        if not settings.redis_url:
            raise ConfigurationError("RQ jobs need SAMENOP_REDIS_URL")
        # No pre-ping: every transaction here goes through ``dispatch.flows``, which runs
        # one again when it met a dropped connection (one round trip less per use).
        engine = make_engine(settings.database_url, pre_ping=False)
        waker = RQWaker(settings.redis_url, settings.queue_name, clock)
        # Events committed here (answers, deadlines) wake the API processes' streams.
        sessions = make_session_factory(engine, RedisBus(settings.redis_url, settings.queue_name))
        ctx = _RUNTIME[pid] = build_context(settings, sessions, clock, waker)
    return ctx


def deliver_page(page_id: str) -> None:
    """Send one page (a no-op when it is not due or somebody else has it)."""
    deliver(runtime(), page_id)


def deliver_roster_message(message_id: str) -> None:
    """Send one roster SMS (a no-op when it is not due or somebody else has it)."""
    ctx = runtime()
    roster_sms.deliver(ctx, message_id, reminders.checker(ctx))


def hang_up_call(provider_id: str, provider: str | None = None) -> None:
    """End a call that is no longer needed, at the provider that carries it."""
    runtime().provider_named(provider).hang_up(provider_id)


def _queue_empty(queue: Queue) -> bool:
    """Nothing waiting on the queue (True when Redis cannot be asked: sweep then)."""
    try:
        return int(queue.count) == 0
    except RedisError:
        return True


# A job that fails because the database or Redis is away fails the same way for every
# page until the outage ends (and the sweeper re-drives those pages): logged once.
_JOB_FAULTS = FaultLog(log, "RQ jobs")


class DispatchWorker(SimpleWorker):
    """Runs jobs in the worker process itself: no fork per job, so the database pool
    and the provider's HTTP connections are reused (a page goes out in milliseconds).

    A failed job is logged through a ``FaultLog`` (the first failure of each kind with
    its traceback, then a count; "recovered" at the next success) instead of RQ's full
    traceback per job.
    """

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        exc = exc_info[1] if len(exc_info) > 1 else None
        _JOB_FAULTS.failed(exc, job=_job_name(job))
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def handle_job_success(self, *args: Any, **kwargs: Any) -> None:
        super().handle_job_success(*args, **kwargs)
        _JOB_FAULTS.ok()


def _job_name(job: Job) -> str:
    try:
        return str(job.func_name)
    except Exception:  # an undeserialisable job
        return "?"


def run_worker(settings: Settings, *, burst: bool = False, name: str | None = None) -> None:
    """An RQ worker with the scheduler, plus the sweeper that re-drives lost work."""
    if not settings.redis_url:
        raise ConfigurationError("the worker needs SAMENOP_REDIS_URL")
    if settings.metrics_dir:
        metrics.use_directory(settings.metrics_dir)
    ctx = runtime()
    queue = redis_queue(settings.redis_url, name=settings.queue_name)
    if settings.metrics_port is not None:
        registry = scrape_registry(
            lambda: ctx.sessions(), redis_url=settings.redis_url, queue_name=settings.queue_name
        )
        serve_port(settings.metrics_port, registry)
    sweeper = Driver(
        ctx,
        due_grace=timedelta(seconds=2),
        deadline_grace=timedelta(milliseconds=300),
        interval=min(settings.sweep_seconds, 0.25),
        parallel=2,
        queue_empty=lambda: _queue_empty(queue),
        digest=digest_schedule(settings, ctx.sessions, ctx.clock),
    )
    sweeper.start(name="samenop-sweeper")
    worker = DispatchWorker([queue], connection=queue.connection, name=name)
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
    finally:
        sweeper.stop()

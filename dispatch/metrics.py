"""Figures read at scrape time: the database's pages and alarms, the queue's length.

The database is the source of truth, so counts of what it holds are asked of it when
Prometheus asks (two grouped queries per scrape): every API process and every worker
gives the same answer, and nothing is counted on the paging path. When the database
or Redis does not answer, the scrape still succeeds with the process's own figures and
``samenop_scrape_source_up{source=...}`` 0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

import redis
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import metrics
from core.logs import FaultLog
from dispatch.models import Alarm, Page
from dispatch.states import AlarmKind

log = logging.getLogger("samenop.metrics")


class StoreCollector(Collector):
    """Pages by provider, kind and status and open alarms by kind (the database), and
    the RQ queue's length (Redis, when configured)."""

    def __init__(
        self, sessions: Callable[[], Session], redis_url: str | None, queue_name: str
    ) -> None:
        self.sessions = sessions
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.db_faults = FaultLog(log, "metrics: database read", level=logging.WARNING)
        self.redis_faults = FaultLog(log, "metrics: queue read", level=logging.WARNING)
        self._queue: Queue | None = None
        self._redis_url = redis_url or ""
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "samenop_scrape_source_up",
            "Whether a source of scrape-time figures answered (database, redis)",
            labels=["source"],
        )
        found: list[Metric] = []
        try:
            found.extend(self._database())
        except Exception as exc:  # a scrape must not fail with the database
            self.db_faults.failed(exc)
            up.add_metric(["database"], 0)
        else:
            self.db_faults.ok()
            up.add_metric(["database"], 1)
        if self.redis_url:
            try:
                found.append(self._queue_depth())
            except Exception as exc:
                self.redis_faults.failed(exc)
                up.add_metric(["redis"], 0)
            else:
                self.redis_faults.ok()
                up.add_metric(["redis"], 1)
        yield up
        yield from found

    def _database(self) -> list[Metric]:
        with self.sessions() as session:
            rows = session.execute(
                select(Page.provider, Page.kind, Page.status, func.count()).group_by(
                    Page.provider, Page.kind, Page.status
                )
            ).all()
            open_alarms = session.execute(
                select(Alarm.kind, func.count())
                .where(Alarm.cleared_at.is_(None))
                .group_by(Alarm.kind)
            ).all()
        pages = GaugeMetricFamily(
            "samenop_pages",
            "Pages stored (within the retention period) by the provider that carried "
            "them (none: not sent), kind (page, confirmation) and status",
            labels=["provider", "kind", "status"],
        )
        for provider, kind, status, count in rows:
            pages.add_metric([provider or "none", str(kind), str(status)], count)
        alarms = GaugeMetricFamily(
            "samenop_open_alarms", "Alarms raised and not cleared, by kind", labels=["kind"]
        )
        counts = {str(kind): count for kind, count in open_alarms}
        # every kind, 0 included, so an alert rule has a series to compare
        for kind_name in sorted({*(k.value for k in AlarmKind), *counts}):
            alarms.add_metric([kind_name], counts.get(kind_name, 0))
        return [pages, alarms]

    def _queue_depth(self) -> Metric:
        with self._lock:
            if self._queue is None:
                client = redis.Redis.from_url(
                    self._redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
                )
                self._queue = Queue(self.queue_name, connection=client)
            queue = self._queue
        depth = GaugeMetricFamily(
            "samenop_queue_depth",
            "Jobs on the RQ queue (queued: to run now; scheduled: booked for later)",
            labels=["queue", "state"],
        )
        depth.add_metric([self.queue_name, "queued"], int(queue.count))
        depth.add_metric([self.queue_name, "scheduled"], int(queue.scheduled_job_registry.count))
        return depth


def scrape_registry(
    sessions: Callable[[], Session], *, redis_url: str | None, queue_name: str
) -> CollectorRegistry:
    """Everything ``/metrics`` (or the metrics port) reports for this deployment."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.ProcessMetrics())
    if metrics.directory() is None:
        # CPU and memory of this process; in multiprocess mode they would be one
        # process's among several, so they are left to each process's own port.
        registry.register(ProcessCollector(registry=None))
    registry.register(StoreCollector(sessions, redis_url, queue_name))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def serve_port(port: int | None, registry: CollectorRegistry) -> bool:
    """Serve ``registry`` on ``port`` at 127.0.0.1 from a thread that sleeps in the
    kernel until a scrape comes (no polling: nothing runs while nobody scrapes). False
    when unset or taken: on a host whose processes share a metrics directory, one of
    them serving it is enough."""
    if port is None:
        return False
    try:
        httpd = make_server(
            "127.0.0.1", port, make_wsgi_app(registry), ThreadingWSGIServer, _QuietHandler
        )
    except OSError as exc:
        log.warning("metrics port %d not served by this process: %s", port, exc)
        return False
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": None}, name="metrics-port"
    )
    thread.daemon = True
    thread.start()
    log.info("metrics on http://127.0.0.1:%d/metrics", port)
    return True


class _QuietHandler(WSGIRequestHandler):
    """No line per scrape on stderr (the scraper keeps its own record)."""

    def log_message(self, format: str, *args: object) -> None:
        return

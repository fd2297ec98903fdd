"""Prometheus metrics observed where things happen (intake, sends, the sweeper, sockets).

Two kinds of figures, so they are right however many processes serve the API:

* Counts of what the database holds (pages by provider and status, open alarms) and
  the queue's length are read at scrape time (``dispatch.metrics``): the same answer
  from any process, and no cost at all while nobody scrapes.
* Timings and events (intake latency, time to first call, deadline lateness, sweeper
  re-drives, websocket clients) are observed in the process where they happen. With
  ``SAMENOP_METRICS_DIR`` set, every process writes them to files in that directory
  (prometheus_client's multiprocess mode) and any of them reports the sum of all:
  ``samenop serve --workers N`` sets one up for its own processes, and API processes
  and workers that share the directory (a volume in docker-compose) report together.
  Without it, a process reports its own (the embedded mode is one process).

Observing is a histogram bucket increment (a memory write, or an mmap write in
multiprocess mode); nothing runs in the background.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

NAMESPACE = "samenop"
# Seconds; intake is milliseconds, a first call seconds, a deadline's lateness sub-second.
INTAKE_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FIRST_CALL_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The metrics this service observes in process."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.intake_seconds = Histogram(
            "intake_seconds",
            "Time to take in an incident (store, pair, first pages), by result "
            "(created, replayed, conflict, error)",
            ["result"],
            namespace=NAMESPACE,
            buckets=INTAKE_BUCKETS,
            registry=registry,
        )
        self.time_to_first_call_seconds = Histogram(
            "time_to_first_call_seconds",
            "From intake to a provider accepting the dispatch's first page",
            ["provider", "channel"],
            namespace=NAMESPACE,
            buckets=FIRST_CALL_BUCKETS,
            registry=registry,
        )
        self.deadline_lateness_seconds = Histogram(
            "deadline_lateness_seconds",
            "How long after its deadline an unanswered attempt was closed",
            namespace=NAMESPACE,
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.sweeper_redrives = Counter(
            "sweeper_redrives",
            "Pages the sweeper sent because the queue had not (Redis flushed, a worker "
            "killed, a claim's lease run out)",
            namespace=NAMESPACE,
            registry=registry,
        )
        self.websocket_clients = Gauge(
            "websocket_clients",
            "Websocket clients connected to /ws",
            namespace=NAMESPACE,
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.faults = Counter(
            "faults",
            "Faults started (an outage met by a retry loop, logged once)",
            ["fault"],
            namespace=NAMESPACE,
            registry=registry,
        )


_lock = threading.Lock()
_registry = CollectorRegistry(auto_describe=True)
_current = Metrics(_registry)
_directory: str | None = None


def current() -> Metrics:
    """The metrics to observe (module-level accessor: multiprocess mode replaces them)."""
    return _current


def directory() -> str | None:
    """The multiprocess directory this process writes to, if any."""
    return _directory


_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:48] or "host"


def _identity() -> str:
    """This process among all that share the directory: containers sharing a volume
    may have the same pids, never the same host name and pid. No "_" in it (the
    collector splits file names on it)."""
    return f"{_HOST}-{os.getpid()}"


def use_directory(path: str) -> None:
    """Write this process's metrics to files in ``path`` (multiprocess mode).

    Called at start-up, before anything is observed (``api.app.create_app`` and the
    worker do). The directory is shared, so nothing in it is wiped; only live-gauge
    files of processes of this host that no longer run are removed.
    """
    global _current, _directory
    with _lock:
        if _directory == path:
            return
        Path(path).mkdir(parents=True, exist_ok=True)
        # prometheus_client reads the directory from the environment when it opens a
        # file; this is where the setting reaches it.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        values.ValueClass = values.MultiProcessValue(_identity)
        _remove_dead_gauges(path)
        _directory = path
        _current = Metrics(None)
        atexit.register(mark_dead, path, _identity())


def _remove_dead_gauges(path: str) -> None:
    for name in glob.glob(os.path.join(path, f"gauge_live*_{_HOST}-*.db")):
        pid_text = name.rsplit("-", 1)[-1].removesuffix(".db")
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.remove(name)
        except PermissionError:
            pass  # alive, someone else's


def mark_dead(path: str, identity: str) -> None:
    """A process that ends takes its live gauges (websocket clients) with it."""
    for name in glob.glob(os.path.join(path, f"gauge_live*_{identity}.db")):
        with contextlib.suppress(OSError):
            os.remove(name)


class ProcessMetrics(Collector):
    """What this process (or, in multiprocess mode, every process sharing the
    directory) observed; read at scrape time."""

    def collect(self) -> Iterable[Metric]:
        if _directory is not None:
            return MultiProcessCollector(None, path=_directory).collect()
        return _registry.collect()


def observe_intake(started: float, result: str) -> None:
    """An intake that began at ``started`` (``time.perf_counter()``) ended with ``result``."""
    _current.intake_seconds.labels(result=result).observe(time.perf_counter() - started)

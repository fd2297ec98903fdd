"""What ``bench_paging.py`` reads back from the services, and how it prints figures:
pages and events from the database, the fake's records, CPU and disk use per phase."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from bench.bench_intake import cpu_seconds, pg_delta, postgres_cpu
from bench.machine import cpu_times, percentile
from bench.paging_stack import Stack
from core.db import make_engine, make_session_factory
from dispatch.models import Event, Page

BUSY_CORES = 0.25  # other processes above this during a phase: the figures are noisy
# What the CPU-per-incident target counts: the service's own processes. The bench process
# (load generator and fakes) stands in for the police feed and the providers; it is
# printed apart and not counted.
SERVICE_PARTS = ("api", "workers", "postgres", "redis")
BENCH_PART = "bench (client+fakes)"

# perf_counter -> wall clock, to compare with instants the services store
_OFFSET = time.time() - time.perf_counter()


def perf_of(moment: datetime) -> float:
    return moment.timestamp() - _OFFSET


@dataclass
class Sent:
    external_id: str
    basisteam: str
    kind: str  # lat | dl | burst | warm | kill
    t_send: float
    t_done: float = 0.0
    status: int = 0
    dispatch_id: str | None = None


# --- what the services recorded ------------------------------------------------------------


@dataclass
class PageRow:
    id: str
    dispatch_id: str
    round: int
    seq: int
    status: str
    created_at: datetime
    claimed_at: datetime | None
    deadline_at: datetime
    tries: int
    sent_at: datetime | None
    provider: str | None  # the provider that carried it, as the service recorded


class Records:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        if stack.db_url.startswith("sqlite"):
            # Plain deferred transactions: read-only, they never take SQLite's write lock
            # (the service's engine begins every transaction IMMEDIATE).
            self.engine = create_engine(stack.db_url, connect_args={"check_same_thread": False})
        else:
            self.engine = make_engine(stack.db_url)
        self.sessions = make_session_factory(self.engine)

    def pages(self) -> dict[str, list[PageRow]]:
        by_dispatch: dict[str, list[PageRow]] = {}
        with self.sessions() as s:
            rows = s.execute(
                select(
                    Page.id,
                    Page.dispatch_id,
                    Page.round,
                    Page.seq,
                    Page.status,
                    Page.created_at,
                    Page.claimed_at,
                    Page.deadline_at,
                    Page.tries,
                    Page.sent_at,
                    Page.provider,
                )
            ).all()
        for row in rows:
            by_dispatch.setdefault(row[1], []).append(PageRow(**row._asdict()))
        for pages in by_dispatch.values():
            pages.sort(key=lambda p: (p.round, p.seq))
        return by_dispatch

    def page(self, page_id: str) -> Page | None:
        with self.sessions() as s:
            return s.get(Page, page_id)

    def events(self, kind: str) -> list[tuple[str, dict[str, Any], datetime]]:
        with self.sessions() as s:
            rows = s.execute(
                select(Event.dispatch_id, Event.payload, Event.created_at).where(Event.type == kind)
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


def first_pages(
    records: Records, sent: list[Sent], timeout: float, before: int = 0
) -> tuple[dict[str, PageRow], dict[str, tuple[float, datetime]]]:
    """Wait (bounded) until the fake has the first page of every incident in ``sent``
    (``before``: how many calls and messages the fake had before they were sent)."""
    wanted = {s.dispatch_id for s in sent if s.dispatch_id}
    deadline = time.monotonic() + timeout
    fake = records.stack.fake
    # Cheap wait first (no database reads while the services are still busy sending).
    while fake.count() < before + len(wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    while True:
        pages = records.pages()
        firsts = {d: pages[d][0] for d in wanted if d in pages}
        seen = records.stack.fake.first_seen()
        if all(d in firsts and firsts[d].id in seen for d in wanted):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return firsts, seen


# --- figures -------------------------------------------------------------------------------


def pct(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    v = sorted(x * scale for x in values)
    if not v:
        return "no samples"
    return (
        f"p50 {percentile(v, 50):.1f} {unit}  p95 {percentile(v, 95):.1f} {unit}  "
        f"p99 {percentile(v, 99):.1f} {unit}  max {v[-1]:.1f} {unit}  (n={len(v)})"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class Cpu:
    """CPU seconds of the services, PostgreSQL, Redis and this process over a phase."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.redis = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if stack.redis_db is not None and p.name.isdigit() and _comm(p) == "redis-server"
        ]
        self.t0, self.snap0 = time.perf_counter(), self._snap()

    def _snap(self) -> dict[str, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        workers = self.stack.worker_pids()
        kids = [k for w in workers for k in _children(w)]
        snap = {
            "api": cpu_seconds(self.stack.api_pids()),
            "workers": cpu_seconds(workers + kids),
            "postgres": 0.0,
            "redis": cpu_seconds(self.redis),
            BENCH_PART: me.ru_utime + me.ru_stime,
            "machine": cpu_times()[0],
        }
        self._disk = _disk_busy_ms()
        self._pg = postgres_cpu(self.stack.dbname) if self.stack.dbname else {}
        return snap

    def report(self, incidents: int = 0) -> CpuReport:
        """The cores each part used on average (and CPU ms per incident when given), and
        the cores other processes used."""
        pg0, disk0 = self._pg, self._disk
        snap1 = self._snap()
        secs = time.perf_counter() - self.t0
        used = {k: snap1[k] - self.snap0[k] for k in snap1}
        used["postgres"] = pg_delta(pg0, self._pg) if self.stack.dbname else 0.0
        ours = sum(v for k, v in used.items() if k != "machine")
        used["other processes"] = max(0.0, used.pop("machine") - ours)
        line = ", ".join(f"{k} {v / secs:.2f}" for k, v in used.items() if v > 0 or k == "api")
        others = used["other processes"] / secs
        line += f" (cores); disk busy {(self._disk - disk0) / 10 / secs:.0f}% of the time"
        service_ms = bench_ms = float("nan")
        if incidents:
            ms = {k: 1000 * v / incidents for k, v in used.items() if k != "other processes"}
            service_ms = sum(ms.get(k, 0.0) for k in SERVICE_PARTS)
            bench_ms = ms[BENCH_PART]
            line += "\n       cpu per incident: " + ", ".join(
                f"{k} {v:.1f} ms" for k, v in ms.items() if v > 0 or k == "api"
            )
            line += f" = {sum(ms.values()):.1f} ms in all (service {service_ms:.1f} ms)"
        if others > BUSY_CORES:
            line += "  << machine BUSY: these figures are not representative"
        return CpuReport(line, others, service_ms, bench_ms)


@dataclass(frozen=True)
class CpuReport:
    line: str
    others: float  # cores other processes used meanwhile
    service_ms: float  # CPU ms per incident of api + workers + postgres + redis (nan: none)
    bench_ms: float  # CPU ms per incident of this process (client and fakes), apart


def _disk_busy_ms() -> int:
    """Milliseconds the machine's disks spent doing I/O since boot (/proc/diskstats).

    Other work's fsyncs (a shared PostgreSQL, other test runs) do not show as CPU but
    can stall every commit; this shows them."""
    disks = {d.name for d in Path("/sys/block").iterdir()} if Path("/sys/block").exists() else set()
    disks = {d for d in disks if not d.startswith(("loop", "ram", "zram"))}
    total = 0
    try:
        for line in Path("/proc/diskstats").read_text().splitlines():
            parts = line.split()
            if len(parts) > 12 and parts[2] in disks:
                total += int(parts[12])
    except OSError:
        return 0
    return total


def _comm(p: Path) -> str:
    try:
        return (p / "comm").read_text().strip()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    try:
        return [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []

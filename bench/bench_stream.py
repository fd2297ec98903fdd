"""The live stream under load: commit -> websocket latency, memory per connection, resume.

    .venv/bin/python bench/bench_stream.py [--repeat 2] [--clients 1000,2000] [--workers 1,2]
                                           [--rate 5] [--seconds 20] [--reconnects 500]
    .venv/bin/python bench/bench_stream.py --quick      # a smaller run, about a minute

Every scenario starts its own ``samenop serve`` (a subprocess in its own process group,
stopped by PID) on one fresh PostgreSQL database per run, with Redis (an empty database
number of its own, flushed at the end, and a queue name of its own: the bus channel),
``SAMENOP_ENVIRONMENT=test``, console paging, ``SAMENOP_DELIVERY=inline``. A handful of
dispatches are posted through ``POST /api/v1/incidents`` first. The load runs in other
processes (``bench/stream_load.py``): 1-2 client processes holding the websockets, and
one writer committing events through ``dispatch.events.append`` + commit with a
``RedisBus``, the way every writer does. Instants are CLOCK_MONOTONIC in every process.

1. **Latency**, for each ``--workers`` (1, then 2 with the Redis bus) and each
   ``--clients`` count (1,000 and 2,000): the clients connect (snapshot, caught_up) and
   sit idle; then the writer commits ``--rate`` events/s for ``--seconds`` to the seeded
   dispatches, one per transaction. Latency = a client's receive instant - the instant
   the writer's COMMIT returned, over every (client, event) pair. Targets p99 <= 100 ms
   (1,000) and <= 200 ms (2,000) on one process; on two processes p99 within 50 ms of
   the one-process figure of the same run.
2. **Memory per connection**: the server processes' VmRSS after a warm-up (20
   connections opened and closed), and again with the clients connected and idle:
   the difference / clients. Target <= 50 KiB. The RSS after the event stream is printed
   too.
3. **Resume**: ``--reconnect-clients`` dashboards on ``--reconnect-workers`` processes
   while the writer commits ``--reconnect-rate`` events/s for ``--reconnect-seconds``;
   the clients cut ``--reconnects`` connections abruptly at random instants (reset, no
   close frame) and reconnect with ``after=<last id seen>``; halfway through, the server
   is restarted (SIGTERM: every connection is closed by the server; the clients retry
   until it is back). At the end every client's received id sequence must equal the
   ids in the database after its first snapshot: zero lost, zero duplicated, in order.

The clients offer permessage-deflate, as browsers and ``websockets.connect`` do
(``--no-deflate``: they do not). Each latency scenario prints the CPU each part used,
including the kernel's (soft) interrupt time, where loopback TCP is processed.

Both runs are printed; exit code 0 either way: read the PASS/MISS lines and the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402

from bench.bench_intake import (  # noqa: E402
    API_KEY,
    api_keys_env,
    cpu_seconds,
    create_database,
    drop_database,
    free_port,
    pg_delta,
    postgres_cpu,
    stop_server,
    wait_ready,
    worker_pids,
)
from bench.machine import (  # noqa: E402
    cpu_times,
    machine_lines,
    percentile,
    wait_quiet,
)
from bench.paging_stack import REDIS_BASE, bench_config, free_redis_db, store_config  # noqa: E402
from bench.stream_load import BENCH_EVENT, raise_fd_limit  # noqa: E402

PYTHON = str(ROOT / ".venv/bin/python")
SAMENOP = str(ROOT / ".venv/bin/samenop")
LOAD = str(ROOT / "bench/stream_load.py")
# The server command (a profiling wrapper or a modified tree can stand in for it).
SERVE = [SAMENOP]

TARGET_P99_MS = {1000: 100.0, 2000: 200.0}
TARGET_MORE_MS = 50.0  # two processes: at most this much over one process
TARGET_KIB = 50.0
WARMUP_CONNECTIONS = 20


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def target_for(clients: int) -> float:
    """The issue's targets: 100 ms at 1,000 clients, 200 ms at 2,000 (pro rata between)."""
    if clients in TARGET_P99_MS:
        return TARGET_P99_MS[clients]
    return 100.0 * max(1.0, clients / 1000)


# --- processes ---------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def sockets(pid: int) -> int:
    """Open sockets of a process (its websockets, plus database/Redis connections)."""
    n = 0
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).startswith("socket:"):
                    n += 1
    return n


def redis_pids() -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if (p / "comm").read_text().strip() == "redis-server":
                    pids.append(int(p.name))
    return pids


def softirq_seconds() -> float:
    """CPU seconds the machine spent in (soft) interrupts: loopback TCP is processed
    there, and it is charged to no process."""
    try:
        with open("/proc/stat") as fh:
            parts = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    return (parts[5] + parts[6]) / os.sysconf("SC_CLK_TCK")


class Lines:
    """A subprocess' stdout lines, read by a thread, waited for with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.q.put(line.strip())
        self.q.put("")

    def next(self, timeout: float) -> str:
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return ""

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()


@dataclass
class Env:
    """One run's database, Redis database and queue name, and the settings of its servers."""

    dbname: str
    db_url: str
    redis_db: int
    queue: str
    tmp: Path
    port: int
    env: dict[str, str]
    dispatches: list[str] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"{REDIS_BASE}/{self.redis_db}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"  # each client buys a ticket with API_KEY


def make_env(tmp: Path) -> Env:
    dbname = create_database()
    try:
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
        store_config(db_url, bench_config(n_latency=10, n_deadline=1).config)
        redis_db = free_redis_db()
    except BaseException:
        drop_database(dbname)
        raise
    queue_name = f"bench-stream-{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "SAMENOP_ENVIRONMENT": "test",
        "SAMENOP_DATABASE_URL": db_url,
        "SAMENOP_API_KEYS": api_keys_env(),
        "SAMENOP_REDIS_URL": f"{REDIS_BASE}/{redis_db}",
        "SAMENOP_QUEUE_NAME": queue_name,
        "SAMENOP_PAGING_PROVIDER": "console",
        "SAMENOP_DELIVERY": "inline",
    }
    return Env(dbname, db_url, redis_db, queue_name, tmp, free_port(), env)


def close_env(e: Env) -> None:
    drop_database(e.dbname)
    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(e.redis_url).flushdb()


class Server:
    def __init__(self, e: Env, workers: int) -> None:
        self.e = e
        self.workers = workers
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        cmd = [*SERVE, "serve", "--host", "127.0.0.1", "--port", str(self.e.port)]
        cmd += ["--workers", str(self.workers), "--log-level", "warning"]
        with (self.e.tmp / "api.log").open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.e.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_ready(self.e.base, proc)
        if self.workers > 1:  # until every worker is up (each binds its own socket)
            deadline = time.monotonic() + 30
            while len(worker_pids(proc)) < self.workers and time.monotonic() < deadline:
                time.sleep(0.1)
        return proc

    def pids(self) -> list[int]:
        """The processes that hold connections (the workers, or the one process)."""
        return worker_pids(self.proc) if self.workers > 1 else [self.proc.pid]

    def all_pids(self) -> list[int]:
        return [self.proc.pid, *worker_pids(self.proc)]

    def rss(self) -> list[int]:
        return [rss_kib(p) for p in self.pids()]

    def restart(self) -> tuple[float, float]:
        """Stop (SIGTERM, as a deployment would) and start again; (stop s, start s)."""
        t0 = time.monotonic()
        stop_server(self.proc)
        t1 = time.monotonic()
        self.proc = self._start()
        return t1 - t0, time.monotonic() - t1

    def stop(self) -> None:
        stop_server(self.proc)


# --- the load ------------------------------------------------------------------------------


def seed(e: Env, n: int) -> list[str]:
    """``n`` dispatches through the API (paging runs once for each, by the console)."""
    bts = [f"bt-lat-{i:02d}" for i in range(10)]
    ids = []
    with httpx.Client(base_url=e.base, headers={"X-API-Key": API_KEY}, timeout=30) as http:
        for i in range(n):
            body = {
                "source": "bench",
                "external_id": f"{e.queue}-{i}",
                "reported_at": datetime.now(UTC).isoformat(),
                "case_type": "HG",
                "basisteam": bts[i % len(bts)],
                "persons": [],
                "police_unit": "u",
                "police_callback": "0612345678",
            }
            r = http.post("/api/v1/incidents", json=body)
            if r.status_code not in (200, 201):
                raise SystemExit(f"seeding failed: HTTP {r.status_code} {r.text[:300]}")
            ids.append(r.json()["id"])
    return ids


class Clients:
    """1-2 client processes holding ``n`` websockets between them."""

    def __init__(
        self, e: Env, n: int, procs: int, *, reconnect: bool = False, deflate: bool = True
    ) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.lines: list[Lines] = []
        share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        for count in share:
            if not count:
                continue
            cmd = [PYTHON, LOAD, "client", "--url", e.ws_url(), "--key", API_KEY, "--n", str(count)]
            if reconnect:
                cmd.append("--reconnect")
            if not deflate:
                cmd.append("--no-deflate")
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=(e.tmp / "clients.log").open("ab"),
                text=True,
                start_new_session=True,
            )
            self.procs.append(proc)
            self.lines.append(Lines(proc))

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def ready(self, timeout: float = 180) -> tuple[int, int]:
        live = failed = 0
        for lines in self.lines:
            answer = lines.next(timeout).split()
            if not answer or answer[0] != "ready":
                raise RuntimeError(f"client process did not connect: {answer!r}")
            live += int(answer[1])
            failed += int(answer[2])
        return live, failed

    def ask(self, command: str, timeout: float) -> list[str]:
        for lines in self.lines:
            lines.send(command)
        return [lines.next(timeout) for lines in self.lines]

    def wait_for(self, event_id: int, timeout: float) -> tuple[int, int]:
        answers = self.ask(f"wait {event_id} {timeout}", timeout + 10)
        at = n = 0
        for answer in answers:
            parts = answer.split()
            if len(parts) == 3:
                at += int(parts[1])
                n += int(parts[2])
        return at, n

    def dump(self, tmp: Path) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, lines in enumerate(self.lines):
            path = tmp / f"clients-{i}.json"
            lines.send(f"dump {path}")
            if lines.next(60) == "dumped":
                out.extend(json.loads(path.read_text()))
                path.unlink()
        self.stop()
        return out

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                if proc.stdin:
                    proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait(timeout=5)


def start_writer(e: Env, rate: float, seconds: float, tag: str) -> subprocess.Popen[str]:
    cmd = [PYTHON, LOAD, "writer", "--db", e.db_url, "--redis", e.redis_url, "--queue", e.queue]
    cmd += ["--rate", str(rate), "--seconds", str(seconds), "--tag", tag]
    cmd += ["--dispatches", ",".join(e.dispatches), "--out", str(e.tmp / f"{tag}.json")]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=e.env,
        stdout=subprocess.DEVNULL,
        stderr=(e.tmp / "writer.log").open("ab"),
        text=True,
        start_new_session=True,
    )


def finish_writer(e: Env, proc: subprocess.Popen[str], tag: str, timeout: float) -> dict[str, Any]:
    proc.wait(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"writer failed ({proc.returncode}); see {e.tmp / 'writer.log'}")
    return dict(json.loads((e.tmp / f"{tag}.json").read_text()))


def event_ids(e: Env, tag: str) -> dict[int, int]:
    """seq -> event id of the writer's events of run ``tag``."""
    import psycopg

    url = e.db_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, payload FROM events WHERE type = %s ORDER BY id", (BENCH_EVENT,)
        ).fetchall()
    out = {}
    for event_id, payload in rows:
        data = payload if isinstance(payload, dict) else json.loads(payload)
        if data.get("run") == tag:
            out[int(data["seq"])] = int(event_id)
    return out


def all_ids(e: Env, after: int, upto: int) -> list[int]:
    import psycopg

    url = e.db_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM events WHERE id > %s AND id <= %s ORDER BY id", (after, upto)
        ).fetchall()
    return [int(r[0]) for r in rows]


def max_id(e: Env) -> int:
    import psycopg

    url = e.db_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


class Cpu:
    """Cores used over a phase by the server, the clients, the writer, PostgreSQL, Redis."""

    def __init__(self, e: Env, server: Server, clients: Clients, writer: int) -> None:
        self.e, self.server, self.clients, self.writer = e, server, clients, writer
        self.redis = redis_pids()
        self.t0 = time.monotonic()
        self.s0 = self._snap()

    def _snap(self) -> dict[str, Any]:
        return {
            "server": cpu_seconds(self.server.all_pids()),
            "clients": cpu_seconds(self.clients.pids()),
            "writer": cpu_seconds([self.writer]),
            "postgres": postgres_cpu(self.e.dbname),
            "redis": cpu_seconds(self.redis),
            "machine": cpu_times()[0],
            "softirq": softirq_seconds(),
        }

    def before_exit(self) -> None:
        """Read the writer's CPU while it still exists (call just before it ends)."""
        self.writer_cpu = cpu_seconds([self.writer]) - self.s0["writer"]

    def report(self) -> tuple[str, float]:
        s1 = self._snap()
        secs = time.monotonic() - self.t0
        keys = ("server", "clients", "redis", "machine", "softirq")
        used = {k: s1[k] - self.s0[k] for k in keys}
        used["writer"] = getattr(self, "writer_cpu", 0.0)
        used["postgres"] = pg_delta(self.s0["postgres"], s1["postgres"])
        ours = sum(v for k, v in used.items() if k != "machine")
        others = max(0.0, used.pop("machine") - ours) / secs
        line = ", ".join(f"{k} {v / secs:.2f}" for k, v in used.items()).replace(
            "softirq", "kernel interrupts (loopback network)"
        )
        busy = "  << machine BUSY: figures are noisy" if others > 0.25 else ""
        return f"cores used: {line}, other processes {others:.2f}{busy}", others


# --- scenarios ------------------------------------------------------------------------------


def pct_line(values_ms: list[float]) -> str:
    v = sorted(values_ms)
    if not v:
        return "no samples"
    return (
        f"p50 {percentile(v, 50):.1f} ms  p95 {percentile(v, 95):.1f} ms  "
        f"p99 {percentile(v, 99):.1f} ms  max {v[-1]:.1f} ms  (n={len(v):,})"
    )


def warm_up(e: Env, workers: int) -> None:
    """Connections that import and touch everything once (not counted in memory)."""
    clients = Clients(e, WARMUP_CONNECTIONS * workers, 1)
    clients.ready(60)
    clients.stop()
    time.sleep(0.5)


def latency(e: Env, args: argparse.Namespace, workers: int, n: int, tag: str) -> dict[str, Any]:
    print(f"\n-- {n:,} clients on {workers} API process(es) --", flush=True)
    server = Server(e, workers)
    res: dict[str, Any] = {"workers": workers, "clients": n}
    try:
        if not e.dispatches:
            e.dispatches = seed(e, args.dispatches)
            time.sleep(1.0)  # paging of the seeded incidents settles
        warm_up(e, workers)
        rss0 = server.rss()
        socks0 = [sockets(p) for p in server.pids()]
        t0 = time.monotonic()
        clients = Clients(e, n, args.client_procs, deflate=not args.no_deflate)
        live, failed = clients.ready()
        connect_s = time.monotonic() - t0
        time.sleep(1.0)
        rss1 = server.rss()
        socks1 = [sockets(p) for p in server.pids()]
        per_conn = (sum(rss1) - sum(rss0)) / max(1, live)
        print(
            f"   connected {live:,} (failed {failed}) in {connect_s:.1f} s; "
            f"sockets per process {[b - a for a, b in zip(socks0, socks1, strict=True)]}"
        )
        print(
            f"   RSS {sum(rss0) / 1024:.1f} -> {sum(rss1) / 1024:.1f} MiB idle "
            f"({[round(r / 1024, 1) for r in rss1]} per process): "
            f"{per_conn:.1f} KiB per connection  target <= {TARGET_KIB:.0f} KiB  "
            f"{verdict(per_conn <= TARGET_KIB)}"
        )
        print("   " + wait_quiet(args.quiet_wait), flush=True)
        writer = start_writer(e, args.rate, args.seconds, tag)
        cpu = Cpu(e, server, clients, writer.pid)
        time.sleep(max(0.0, args.seconds - 0.5))
        cpu.before_exit()
        written = finish_writer(e, writer, tag, args.seconds + 60)
        ids = event_ids(e, tag)
        last = max(ids.values()) if ids else 0
        at, total = clients.wait_for(last, 15)
        cpu_line, others = cpu.report()
        rss2 = server.rss()
        results = clients.dump(e.tmp)

        commit_at = {ids[seq]: t for seq, _, t in written["commits"] if seq in ids}
        commit_ms = [1000 * (t - t0_) for _, t0_, t in written["commits"]]
        lat: list[float] = []
        first: dict[int, float] = {}
        last_seen: dict[int, float] = {}
        missing = 0
        dup = 0
        for r in results:
            got = 0
            seen: set[int] = set()
            for event_id, t in zip(r["ids"], r["times"], strict=True):
                c = commit_at.get(event_id)
                if c is None:
                    continue
                if event_id in seen:
                    dup += 1
                    continue
                seen.add(event_id)
                got += 1
                ms = 1000 * (t - c)
                lat.append(ms)
                first[event_id] = min(first.get(event_id, ms), ms)
                last_seen[event_id] = max(last_seen.get(event_id, ms), ms)
            missing += len(commit_at) - got
        lat.sort()
        p99 = percentile(lat, 99)
        target = target_for(n)
        print(
            f"   writer: {len(written['commits'])} events at {args.rate:g}/s "
            f"(late at most {1000 * written['max_late']:.0f} ms), commit {pct_line(commit_ms)}"
        )
        print(f"   clients at the last event: {at:,}/{total:,}; missing {missing}, dup {dup}")
        print(f"   commit -> received, all (client, event) pairs: {pct_line(lat)}")
        print(f"   per event, the first client to get it: {pct_line(list(first.values()))}")
        print(f"   per event, the last client to get it:  {pct_line(list(last_seen.values()))}")
        print(f"   {cpu_line}")
        print(
            f"   RSS after the stream {sum(rss2) / 1024:.1f} MiB: "
            f"{(sum(rss2) - sum(rss0)) / max(1, live):.1f} KiB per connection"
        )
        if workers == 1:
            print(f"   p99 {p99:.1f} ms  target <= {target:.0f} ms  {verdict(p99 <= target)}")
        res.update(
            p50=percentile(lat, 50),
            p95=percentile(lat, 95),
            p99=p99,
            max=lat[-1] if lat else float("nan"),
            first_p50=percentile(sorted(first.values()), 50),
            last_p99=percentile(sorted(last_seen.values()), 99),
            missing=missing,
            dup=dup,
            kib=per_conn,
            kib_after=(sum(rss2) - sum(rss0)) / max(1, live),
            others=others,
            cpu=cpu_line,
        )
    finally:
        server.stop()
    return res


def resume(e: Env, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    workers, n = args.reconnect_workers, args.reconnect_clients
    seconds = args.reconnect_seconds
    print(
        f"\n-- resume: {n} clients on {workers} API process(es), {args.reconnects} forced "
        f"reconnects over {seconds:g} s at {args.reconnect_rate:g} events/s"
        f"{', a server restart halfway' if args.restart else ''} --",
        flush=True,
    )
    print("   " + wait_quiet(args.quiet_wait), flush=True)
    server = Server(e, workers)
    try:
        if not e.dispatches:
            e.dispatches = seed(e, args.dispatches)
        clients = Clients(e, n, 1, reconnect=True, deflate=not args.no_deflate)
        clients.ready()
        writer = start_writer(e, args.reconnect_rate, seconds, tag)
        clients.ask(f"drops {seconds - 1:g} {args.reconnects}", 10)
        restart = (0.0, 0.0)
        if args.restart:
            time.sleep(seconds / 2)
            restart = server.restart()
        finish_writer(e, writer, tag, seconds + 120)
        final = max_id(e)
        at, total = clients.wait_for(final, 30)
        results = clients.dump(e.tmp)
    finally:
        server.stop()
    lost = dup = disorder = exact = 0
    for r in results:
        first_id = r["first_id"]
        if first_id is None:
            lost += 1
            continue
        expected = all_ids(e, first_id, final)
        got = [i for i in r["ids"] if i <= final]
        lost += len(set(expected) - set(got))
        dup += len(got) - len(set(got))
        if got == expected:
            exact += 1
        elif sorted(set(got)) == got:
            pass
        else:
            disorder += 1
    ours = sum(r["our_drops"] for r in results)
    by_server = sum(r["server_closes"] for r in results)
    reconnects = sum(max(0, r["connects"] - 1) for r in results)
    refused = sum(r["refused"] for r in results)
    print(f"   clients at the final event {final}: {at}/{total}")
    print(
        f"   reconnects {reconnects}: {ours} forced by clients (reset), {by_server} closed "
        f"by the server; {refused} connects refused while it was down"
    )
    if args.restart:
        print(f"   restart: stopping took {restart[0]:.1f} s, starting {restart[1]:.1f} s")
    ok = lost == 0 and dup == 0 and disorder == 0 and exact == len(results)
    print(
        f"   lost {lost}, duplicated {dup}, out of order {disorder}; clients whose sequence "
        f"equals the database's: {exact}/{len(results)}  {verdict(ok)}"
    )
    return {
        "lost": lost,
        "dup": dup,
        "disorder": disorder,
        "exact": exact,
        "clients": len(results),
        "ours": ours,
        "by_server": by_server,
        "reconnects": reconnects,
        "ok": ok,
    }


def run_once(args: argparse.Namespace, run: int) -> dict[str, Any]:
    print(f"\n== run {run}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    e = make_env(tmp)
    out: dict[str, Any] = {"latency": [], "resume": None}
    try:
        for workers in args.workers:
            for n in args.clients:
                tag = f"r{run}-w{workers}-c{n}"
                out["latency"].append(latency(e, args, workers, n, tag))
        if args.reconnects > 0:
            out["resume"] = resume(e, args, f"r{run}-resume")
    finally:
        close_env(e)
        log = tmp / "api.log"
        errors = [
            line
            for line in (log.read_text(errors="replace").splitlines() if log.exists() else [])
            if "Traceback" in line or "ERROR" in line
        ]
        if errors:
            print(f"   server log: {len(errors)} error line(s), e.g. {errors[0][:200]}")
        if args.keep:
            print(f"   logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def summary(runs: list[dict[str, Any]]) -> None:
    print("\n== summary")
    for i, run in enumerate(runs, 1):
        single = {r["clients"]: r for r in run["latency"] if r["workers"] == 1}
        for r in run["latency"]:
            n, w = r["clients"], r["workers"]
            line = (
                f"run {i}: {n:>5,} clients, {w} process(es): p50/p95/p99 "
                f"{r['p50']:.1f}/{r['p95']:.1f}/{r['p99']:.1f} ms"
            )
            if w == 1:
                line += f" (target <= {target_for(n):.0f} ms: {verdict(r['p99'] <= target_for(n))})"
            elif n in single:
                more = r["p99"] - single[n]["p99"]
                line += (
                    f" ({more:+.1f} ms vs one process, target <= +{TARGET_MORE_MS:.0f} ms: "
                    f"{verdict(more <= TARGET_MORE_MS)})"
                )
            line += f"; {r['kib']:.1f} KiB/connection ({verdict(r['kib'] <= TARGET_KIB)})"
            if r["missing"] or r["dup"]:
                line += f"; missing {r['missing']}, dup {r['dup']}"
            if r["others"] > 0.25:
                line += " BUSY"
            print(line)
        res = run["resume"]
        if res:
            print(
                f"run {i}: resume: {res['reconnects']} reconnects ({res['ours']} forced by "
                f"clients, {res['by_server']} by the server): lost {res['lost']}, duplicated "
                f"{res['dup']}, out of order {res['disorder']}, exact {res['exact']}/"
                f"{res['clients']}: {verdict(res['ok'])}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = {
        "repeat": (2, 1),
        "clients": ("1000,2000", "200,400"),
        "seconds": (20.0, 8.0),
        "reconnects": (500, 100),
        "reconnect_clients": (100, 40),
        "reconnect_seconds": (30.0, 12.0),
    }
    parser.add_argument("--repeat", type=int, help="runs (default 2)")
    parser.add_argument("--clients", help="comma-separated counts (default 1000,2000)")
    parser.add_argument("--workers", default="1,2", help="API processes, comma-separated")
    parser.add_argument("--rate", type=float, default=5.0, help="events/s")
    parser.add_argument("--seconds", type=float, help="of events per scenario (default 20)")
    parser.add_argument("--dispatches", type=int, default=8)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--reconnects", type=int, help="default 500; 0 skips the resume test")
    parser.add_argument("--reconnect-clients", type=int, help="default 100")
    parser.add_argument("--reconnect-workers", type=int, default=2)
    parser.add_argument("--reconnect-rate", type=float, default=10.0)
    parser.add_argument("--reconnect-seconds", type=float, help="default 30")
    parser.add_argument("--no-restart", dest="restart", action="store_false")
    parser.add_argument(
        "--no-deflate", action="store_true", help="clients do not offer permessage-deflate"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs (server, clients)")
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="defaults for a short run: 1 run, 200,400 clients, 8 s, 100 drops over 12 s",
    )
    args = parser.parse_args()
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.clients = [int(x) for x in args.clients.split(",") if x]
    args.workers = [int(x) for x in args.workers.split(",") if x]
    limit = raise_fd_limit(max(args.clients) * 2 + 1000)

    print("== bench_stream: commit -> websocket, memory per connection, resume")
    for line in machine_lines():
        print(line)
    from importlib import metadata

    print(
        "stream   : "
        + ", ".join(
            f"{p} {metadata.version(p)}" for p in ("websockets", "uvloop", "redis", "starlette")
        )
        + f"; open files limit {limit}"
    )
    try:
        info = redis.Redis.from_url(REDIS_BASE).info("server")
        print(f"redis    : {info.get('redis_version')}")
    except redis.RedisError as exc:
        raise SystemExit(f"Redis on 127.0.0.1:6379 is needed: {exc}") from exc
    runs = [run_once(args, i + 1) for i in range(args.repeat)]
    summary(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

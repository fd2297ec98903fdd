"""End-to-end intake over HTTP into PostgreSQL: ``POST /api/v1/incidents`` under load.

    .venv/bin/python bench/bench_intake.py [--repeat 2] [--rate 50] [--open-seconds 30]
                                           [--sat-seconds 20] [--concurrency 16] [--workers 2]

Creates a fresh PostgreSQL database (``bench_<random>``, dropped at the end),
runs the real migrations, stores the national configuration (bench/national.py)
with ``oncall.service.write_config``, and starts the API as a subprocess
(``samenop serve --workers 2``: uvicorn workers, one SO_REUSEPORT socket each)
on a free port. After a warm-up it runs:

(a) open loop: requests launched on a fixed schedule (``--rate`` per second for
    ``--open-seconds``) whatever the server does, each with a unique external_id;
    latency per request from just before the HTTP send to the full response (the
    API commits before it answers). Target p99 <= 25 ms.
(b) saturation: a closed loop with ``--concurrency`` clients posting back to back
    for ``--sat-seconds``; sustained incidents/s. Target >= 300/s.
(c) retries: earlier requests sent again with the same external_id must return
    200 with the same dispatch id.

Client, server and PostgreSQL share this machine, so the client's own CPU is
part of what is measured (reported as the client's CPU share). The server is
stopped by its PID and the database dropped in ``finally``. Exit code 0 either
way; read the PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from bench.machine import cpu_times, percentile, print_machine, wait_quiet  # noqa: E402
from bench.national import build_national, incident_payload, random_incidents  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
API_KEY = "bench-key"
SOURCE = "bench-feed"
TARGET_P99_MS = 25.0
TARGET_RATE = 300.0


# --- database and server ---------------------------------------------------------------


def create_database() -> str:
    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, seed: int) -> dict[str, float]:
    """Migrate and store the national configuration; returns timings in seconds."""
    from core.db import make_engine, make_session_factory, session_scope
    from core.migrate import upgrade
    from oncall.service import write_config

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    upgrade(url)
    timings["migrate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    config = build_national(seed=seed)
    timings["build"] = time.perf_counter() - t0
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        with session_scope(make_session_factory(engine)) as session:
            write_config(
                session=session, config=config, now=datetime.now(UTC), source="bench/national.py"
            )
        timings["write_config"] = time.perf_counter() - t0
    finally:
        engine.dispose()
    return timings


def api_keys_env() -> str:
    """``bench-key`` as the Settings accept it (plain, or a JSON list if plain is refused)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from core.settings import Settings

    saved = os.environ.get("SAMENOP_API_KEYS")
    try:
        for candidate in (API_KEY, json.dumps([API_KEY])):
            os.environ["SAMENOP_API_KEYS"] = candidate
            try:
                if API_KEY in Settings().api_keys:
                    return candidate
            except (SettingsError, ValidationError, ValueError):
                continue
    finally:
        if saved is None:
            os.environ.pop("SAMENOP_API_KEYS", None)
        else:
            os.environ["SAMENOP_API_KEYS"] = saved
    raise SystemExit("core.settings.Settings accepts neither form of SAMENOP_API_KEYS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, workers: int, keys_env: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "SAMENOP_DATABASE_URL": url,
        "SAMENOP_ENVIRONMENT": "test",
        "SAMENOP_API_KEYS": keys_env,
    }
    cmd = [
        str(ROOT / ".venv/bin/samenop"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        # Own session: the supervisor and its workers form one group we can stop by PID.
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # the group led by our own child's PID
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Exception | str = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            r = httpx.get(base + "/healthz", timeout=2)
            if r.status_code == 200:
                return dict(r.json())
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout:.0f} s: {last}")


def worker_pids(proc: subprocess.Popen) -> list[int]:
    """The uvicorn worker processes (children of the supervisor, not the resource tracker)."""
    try:
        kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        return []
    workers = []
    for kid in kids:
        try:
            cmd = Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"resource_tracker" not in cmd:
            workers.append(int(kid))
    return workers


def cpu_each(pids: list[int]) -> list[float]:
    return [cpu_seconds([pid]) for pid in pids]


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in set(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


_PG_BACKGROUND = ("walwriter", "checkpointer", "background writer", "wal writer")


def postgres_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds per process of the postgres backends serving ``dbname`` and the shared
    WAL writer / checkpointer / background writer; other sessions' backends are left out."""
    found, tick = {}, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if not stat[stat.find("(") + 1 : stat.rfind(")")].startswith("postgres"):
                continue
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if f" {dbname} " in cmd or any(name in cmd for name in _PG_BACKGROUND):
            fields = stat.rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def pg_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


# --- load ------------------------------------------------------------------------------


@dataclass
class Load:
    base: str
    payloads: list[dict[str, Any]]
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    next_index: int = 0
    # external_id -> (body, dispatch id) of every incident created, for the retry check
    sent: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def body(self, tag: str) -> dict[str, Any]:
        template = self.payloads[self.next_index % len(self.payloads)]
        self.next_index += 1
        return {**template, "external_id": f"{tag}-{self.next_index:06d}"}

    async def post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, int, Any]:
        t0 = time.perf_counter_ns()
        r = await client.post("/api/v1/incidents", json=body)
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        is_json = r.headers.get("content-type", "").startswith("application/json")
        data = r.json() if is_json else None
        if r.status_code == 201 and isinstance(data, dict):
            self.sent[body["external_id"]] = (body, data["id"])
        elif r.status_code != 200:
            self.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
        return elapsed, r.status_code, data


def make_clients(base: str, n: int) -> list[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    return [
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": API_KEY}, timeout=30, limits=limits)
        for _ in range(n)
    ]


async def closed_loop(
    load: Load, tag: str, concurrency: int, seconds: float
) -> tuple[int, float, list[float]]:
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    done = 0

    async def client_loop(i: int) -> None:
        nonlocal done
        client = load.clients[i % len(load.clients)]
        while time.perf_counter() < stop:
            ms, status, _ = await load.post(client, load.body(tag))
            if status in (200, 201):
                done += 1
                latencies.append(ms)

    t0 = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(concurrency)))
    return done, time.perf_counter() - t0, latencies


async def open_loop(
    load: Load, tag: str, rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    """Launch request i at t0 + i/rate, never waiting for earlier ones to finish."""
    n = int(rate * seconds)
    latencies: list[float] = []
    lags: list[float] = []
    failures = 0

    async def one(i: int, due: float) -> None:
        nonlocal failures
        lags.append((time.perf_counter() - due) * 1000)
        ms, status, _ = await load.post(load.clients[i % len(load.clients)], load.body(tag))
        if status in (200, 201):
            latencies.append(ms)
        else:
            failures += 1

    t0 = time.perf_counter() + 0.05
    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return latencies, lags, failures


async def retries(load: Load, count: int) -> tuple[int, int, list[str]]:
    """Send ``count`` earlier requests again; each must give 200 and the same dispatch id."""
    ok, wrong = 0, 0
    problems: list[str] = []
    items = list(load.sent.items())[:: max(1, len(load.sent) // count)][:count]
    client = load.clients[0]
    for ext_id, (body, dispatch_id) in items:
        r = await client.post("/api/v1/incidents", json=body)
        if r.status_code == 200 and r.json().get("id") == dispatch_id:
            ok += 1
        else:
            wrong += 1
            problems.append(f"{ext_id}: HTTP {r.status_code} {r.text[:120]}")
    return ok, wrong, problems


def _pct(values: list[float]) -> str:
    v = sorted(values)
    if not v:
        return "no samples"
    return (
        f"p50 {percentile(v, 50):.1f} ms  p95 {percentile(v, 95):.1f} ms  "
        f"p99 {percentile(v, 99):.1f} ms  max {v[-1]:.1f} ms  (n={len(v)})"
    )


async def run_once(
    base: str,
    run: int,
    args: argparse.Namespace,
    payloads: list[dict[str, Any]],
    server_pids: list[int],
) -> dict[str, Any]:
    load = Load(base=base, payloads=payloads)
    load.clients = make_clients(base, args.clients)
    tag = f"r{run}-{secrets.token_hex(3)}"
    try:
        # Warm-up: every worker must have built its snapshot (read_config, ~1 s) before we
        # measure. Kept-alive connections may all land on one worker, so first send requests
        # on fresh connections until each worker has clearly done that work.
        t0 = time.perf_counter()
        workers = server_pids[1:]
        cpu0 = cpu_each(workers)
        async with httpx.AsyncClient(
            base_url=base, headers={"X-API-Key": API_KEY, "Connection": "close"}, timeout=30
        ) as fresh:
            while time.perf_counter() - t0 < 30:
                await asyncio.gather(
                    *(load.post(fresh, load.body(f"{tag}-warm0")) for _ in range(4))
                )
                used = [b - a for a, b in zip(cpu0, cpu_each(workers), strict=True)]
                if run > 1 or min(used) >= args.snapshot_cpu:
                    break
        await closed_loop(load, f"{tag}-warm", 8, args.warmup_seconds)
        used = [b - a for a, b in zip(cpu0, cpu_each(workers), strict=True)]
        print(
            f"   warm-up        : {time.perf_counter() - t0:.1f} s, worker cpu "
            + " / ".join(f"{u:.1f} s" for u in used)
        )

        gc.collect()
        gc.freeze()  # keep the client's own collector pauses out of the latencies
        self_cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        srv0, pg0 = cpu_seconds(server_pids), postgres_cpu(args.dbname)
        each0 = cpu_each(server_pids[1:])
        box0, _ = cpu_times()
        w0 = time.perf_counter()
        latencies, lags, failures = await open_loop(
            load, f"{tag}-open", args.rate, args.open_seconds
        )
        wall = time.perf_counter() - w0
        self_cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        srv1, pg1 = cpu_seconds(server_pids), postgres_cpu(args.dbname)
        each1 = cpu_each(server_pids[1:])
        box1, _ = cpu_times()
        lat = sorted(latencies)
        p99 = percentile(lat, 99) if lat else float("inf")
        client_cpu = (
            self_cpu1.ru_utime + self_cpu1.ru_stime - self_cpu0.ru_utime - self_cpu0.ru_stime
        )
        n_ok = len(latencies)
        print(
            f"   (a) open loop {args.rate:.0f}/s x {args.open_seconds:.0f} s: "
            f"{n_ok} ok, {failures} failed, achieved {n_ok / wall:.1f}/s"
        )
        print(f"       latency    : {_pct(latencies)}")
        print(f"       send lag   : {_pct(lags)} (client scheduling; should stay ~0)")
        print(
            f"       cpu/request: server {1000 * (srv1 - srv0) / max(n_ok, 1):.2f} ms, "
            f"postgres {1000 * pg_delta(pg0, pg1) / max(n_ok, 1):.2f} ms, "
            f"client {1000 * client_cpu / max(n_ok, 1):.2f} ms; per worker "
            + " / ".join(f"{b - a:.1f} s" for a, b in zip(each0, each1, strict=True))
        )
        others = (box1 - box0) - (srv1 - srv0) - pg_delta(pg0, pg1) - client_cpu
        print(
            f"       other work : {max(others, 0) / wall:.2f} cores used by other processes "
            "on this shared machine during the phase"
        )
        open_ok = p99 <= TARGET_P99_MS and failures == 0
        print(f"       target p99 <= {TARGET_P99_MS:.0f} ms: {'PASS' if open_ok else 'FAIL'}")

        self_cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        srv0, pg0 = cpu_seconds(server_pids), postgres_cpu(args.dbname)
        each0 = cpu_each(server_pids[1:])
        box0, _ = cpu_times()
        done, secs, sat_lat = await closed_loop(
            load, f"{tag}-sat", args.concurrency, args.sat_seconds
        )
        self_cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        srv1, pg1 = cpu_seconds(server_pids), postgres_cpu(args.dbname)
        each1 = cpu_each(server_pids[1:])
        box1, _ = cpu_times()
        rate = done / secs
        client_cpu = (
            self_cpu1.ru_utime + self_cpu1.ru_stime - self_cpu0.ru_utime - self_cpu0.ru_stime
        )
        print(
            f"   (b) saturation {args.concurrency} clients x {args.sat_seconds:.0f} s: "
            f"{done} incidents, {rate:.1f} incidents/s"
        )
        print(f"       latency    : {_pct(sat_lat)}")
        print(
            f"       cpu used   : server {srv1 - srv0:.1f} s, postgres {pg_delta(pg0, pg1):.1f} s, "
            f"client {client_cpu:.1f} s of {secs * (os.cpu_count() or 1):.0f} cpu-s available; "
            "per worker " + " / ".join(f"{b - a:.1f} s" for a, b in zip(each0, each1, strict=True))
        )
        print(
            f"       cpu/request: server {1000 * (srv1 - srv0) / max(done, 1):.2f} ms, "
            f"postgres {1000 * pg_delta(pg0, pg1) / max(done, 1):.2f} ms, "
            f"client {1000 * client_cpu / max(done, 1):.2f} ms"
        )
        others = (box1 - box0) - (srv1 - srv0) - pg_delta(pg0, pg1) - client_cpu
        print(f"       other work : {max(others, 0) / secs:.2f} cores used by other processes")
        sat_ok = rate >= TARGET_RATE
        print(f"       target >= {TARGET_RATE:.0f}/s: {'PASS' if sat_ok else 'FAIL'}")

        ok, wrong, problems = await retries(load, args.retries)
        retry_ok = wrong == 0 and ok > 0
        print(
            f"   (c) retries    : {ok} returned 200 with the same dispatch id, {wrong} did not"
            f" -> {'PASS' if retry_ok else 'FAIL'}"
        )
        for p in problems[:5]:
            print(f"       {p}")
        if load.errors:
            print(f"   errors         : {len(load.errors)}, first: {load.errors[0]}")
        return {
            "p99": p99,
            "p50": percentile(lat, 50) if lat else float("nan"),
            "p95": percentile(lat, 95) if lat else float("nan"),
            "rate": rate,
            "open_ok": open_ok,
            "sat_ok": sat_ok,
            "retry_ok": retry_ok,
        }
    finally:
        await asyncio.gather(*(c.aclose() for c in load.clients))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop requests/s")
    parser.add_argument("--open-seconds", type=float, default=30.0)
    parser.add_argument("--sat-seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--clients", type=int, default=4, help="httpx.AsyncClient pool size")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument(
        "--snapshot-cpu",
        type=float,
        default=0.8,
        help="cpu-seconds each worker must have used in warm-up (snapshot build)",
    )
    parser.add_argument("--retries", type=int, default=25)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="seconds to wait at most for other work on the machine to stop",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-log", action="store_true", help="keep the server log")
    args = parser.parse_args()

    print("== intake benchmark: POST /api/v1/incidents over HTTP into PostgreSQL ==")
    print_machine()
    keys_env = api_keys_env()
    if keys_env != API_KEY:
        print(
            f"note     : SAMENOP_API_KEYS=bench-key is refused by core.settings "
            f"(pydantic-settings wants JSON for list[str]); using {keys_env}"
        )

    name = args.dbname = create_database()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    log = Path(f"/tmp/{name}-uvicorn.log")
    proc: subprocess.Popen | None = None
    results: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    try:
        timings = prepare(url, args.seed)
        print(
            f"database : {name} — migrate {timings['migrate']:.1f} s, build config "
            f"{timings['build']:.2f} s, write_config {timings['write_config']:.1f} s"
        )
        from bench.national import build_national as _b  # same seed, same config

        config = _b(seed=args.seed)
        facts = random_incidents(config, 2_000, seed=23)
        payloads = [incident_payload(f, at, source=SOURCE, external_id="x") for f, at in facts]

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        proc = start_server(url, port, args.workers, keys_env, log)
        health = wait_ready(base, proc)
        # With --workers 1 the server runs in the supervisor process itself.
        pids = [proc.pid, *(worker_pids(proc) or [proc.pid])]
        print(
            f"server   : samenop serve --workers {args.workers} on {base}, pid {proc.pid}, "
            f"workers {pids[1:]}, ready in {time.perf_counter() - t0:.1f} s, healthz {health}"
        )
        print()
        for run in range(1, args.repeat + 1):
            load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"-- run {run}/{args.repeat} (load avg {load_avg})")
            print(f"   {wait_quiet(args.quiet_wait)}")
            results.append(asyncio.run(run_once(base, run, args, payloads, pids)))
            print()
    finally:
        if proc is not None:
            stop_server(proc)
        drop_database(name)
        if proc is not None and not args.keep_log:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
            if any("Traceback" in line or "ERROR" in line for line in tail):
                print("server log (tail):", *tail, sep="\n  ")
            log.unlink(missing_ok=True)

    def verdict(key: str) -> str:
        return "PASS" if results and all(r[key] for r in results) else "FAIL"

    print(f"== summary ({time.perf_counter() - t_start:.0f} s total)")
    print(
        "   open-loop p50/p95/p99 per run: "
        + "; ".join(f"{r['p50']:.1f}/{r['p95']:.1f}/{r['p99']:.1f} ms" for r in results)
        + f" -> target p99 <= {TARGET_P99_MS:.0f} ms: {verdict('open_ok')}"
    )
    print(
        "   saturation per run: "
        + "; ".join(f"{r['rate']:.1f}/s" for r in results)
        + f" -> target >= {TARGET_RATE:.0f}/s: {verdict('sat_ok')}"
    )
    print(f"   retries idempotent: {verdict('retry_ok')}")
    if verdict("open_ok") == "FAIL" or verdict("sat_ok") == "FAIL":
        print(
            "   where the time goes: .venv/bin/python bench/profile_intake.py (see bench/README.md)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A planner validating and saving overrides while incidents come in, on SQLite.

    .venv/bin/python bench/bench_planner_writes.py [--overrides 150] [--rate 20]
                                                   [--baseline 5] [--repeat 1]
                                                   [--in-process 30]

Stores the national configuration (bench/national.py) in a fresh SQLite database (a
temporary directory, removed at the end) and starts ``samenop serve`` on it in the
embedded mode (one process, in-process delivery) on a free port. Then, while incidents
are posted at ``--rate`` per second in the background (open loop, each with a unique
external_id), one planner adds overrides one after the other through
``POST /api/v1/planning/overrides`` (checked, calendar diff, rest rules, saved as a
version with its audit row), with a short pause between them as a person would.

Printed: the override save's p50/p95/p99 (from just before the send to the full
answer; the server commits before it answers), the incidents' latency during the
run, and for comparison ``--baseline`` saves through the older ``POST
/api/v1/overrides`` (``oncall.service.add_override``: the whole configuration read
back and stored again). Target: p99 <= 100 ms for the planner's save. Then the server
is stopped and ``--in-process`` saves go through the app in this process (no delivery
loop, no sweep, no incidents): wall and CPU per save, the cost of the save path alone.
Exit code 0 either way; read the PASS/FAIL line.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.bench_intake import (  # noqa: E402
    API_KEY,
    api_keys_env,
    free_port,
    prepare,
    start_server,
    stop_server,
    wait_ready,
)
from bench.machine import percentile, print_machine, wait_quiet  # noqa: E402
from bench.national import build_national, incident_payload, random_incidents  # noqa: E402

TARGET_P99_MS = 100.0
# Incidents waiting for an answer at most; beyond it the background load is skipped (and
# counted), so an overloaded machine cannot pile up minutes of backlog.
MAX_IN_FLIGHT = 64
SOURCE = "bench-feed"


def _pct(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "no samples"
    return (
        f"n={len(ordered)} p50 {percentile(ordered, 50):.1f} ms, p95 "
        f"{percentile(ordered, 95):.1f} ms, p99 {percentile(ordered, 99):.1f} ms, "
        f"max {ordered[-1]:.1f} ms"
    )


def override_bodies(seed: int, n: int, prefix: str) -> list[dict[str, Any]]:
    """Overrides for regional teams and their members, over the next 8 weeks."""
    config = build_national(seed=seed)
    rng = random.Random(1234)
    members: dict[str, list[str]] = {}
    for p in config.people:
        if p.active and p.phones:
            for ms in p.memberships:
                members.setdefault(ms.team, []).append(p.id)
    teams = [t.id for t in config.teams if t.region and len(members.get(t.id, [])) >= 1]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        team = rng.choice(teams)
        at = start + timedelta(days=rng.randrange(56), hours=rng.choice((8, 9, 17)))
        out.append(
            {
                "id": f"{prefix}-{i:05d}",
                "team": team,
                "kind": "add",
                "person": rng.choice(members[team]),
                "start": at.isoformat(),
                "end": (at + timedelta(hours=rng.choice((8, 12, 24)))).isoformat(),
                "reason": "bench",
            }
        )
    return out


async def incidents_in_background(
    base: str, seed: int, rate: float, stop: asyncio.Event, out: dict[str, list[float]]
) -> None:
    config = build_national(seed=seed)
    payloads = [
        incident_payload(f, at, source=SOURCE, external_id="x")
        for f, at in random_incidents(config, 2000, seed=11)
    ]
    latencies: list[float] = out.setdefault("incidents", [])
    failures: list[float] = out.setdefault("incident_failures", [])
    during: list[float] = out.setdefault("incidents_planner", [])
    tasks: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": API_KEY}, timeout=15, limits=limits
    ) as client:
        in_flight = 0
        skipped: list[float] = out.setdefault("incidents_skipped", [])

        async def one(i: int) -> None:
            nonlocal in_flight
            body = {**payloads[i % len(payloads)], "external_id": f"bg-{seed}-{i:07d}"}
            t0 = time.perf_counter()
            in_flight += 1
            try:
                r = await client.post("/api/v1/incidents", json=body)
            except httpx.HTTPError:
                failures.append(0.0)
                return
            finally:
                in_flight -= 1
            if r.status_code in (200, 201):
                latencies.append((time.perf_counter() - t0) * 1000)
                if not out.get("planner_done"):  # sent while the planner was saving
                    during.append(latencies[-1])
            else:
                failures.append(float(r.status_code))

        t0 = time.perf_counter()
        i = 0
        while not stop.is_set():
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    break
                except TimeoutError:
                    pass
            if in_flight >= MAX_IN_FLIGHT:  # the server fell behind: do not pile up
                skipped.append(1.0)
            else:
                tasks.append(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*tasks)


async def planner(
    base: str, bodies: list[dict[str, Any]], path: str, pause: float
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": API_KEY}, timeout=60
    ) as client:
        for body in bodies:
            t0 = time.perf_counter()
            try:
                r = await client.post(path, json=body)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code in (200, 201):
                latencies.append(ms)
            else:
                errors.append(f"HTTP {r.status_code}: {r.text[:160]}")
            await asyncio.sleep(pause)
    return latencies, errors


async def run_once(args: argparse.Namespace, base: str, round_no: int) -> dict[str, Any]:
    stop = asyncio.Event()
    out: dict[str, list[float]] = {}
    background = None
    if args.rate > 0:  # --rate 0: the saves alone, for comparison
        background = asyncio.create_task(
            incidents_in_background(base, args.seed, args.rate, stop, out)
        )
        await asyncio.sleep(2.0)  # incidents flowing before the first save
    bodies = override_bodies(args.seed, args.overrides + args.baseline, f"r{round_no}")
    planner_path = "/api/v1/planning/overrides?accept_warnings=true"
    new, new_errors = await planner(base, bodies[: args.overrides], planner_path, args.pause)
    out["planner_done"] = [1.0]
    old, old_errors = await planner(base, bodies[args.overrides :], "/api/v1/overrides", 0.2)
    stop.set()
    if background is not None:
        await background
    return {
        "new": new,
        "new_errors": new_errors,
        "old": old,
        "old_errors": old_errors,
        "incidents": out.get("incidents", []),
        "incidents_planner": out.get("incidents_planner", []),
        "incident_failures": out.get("incident_failures", []),
        "incidents_skipped": out.get("incidents_skipped", []),
    }


def in_process(url: str, seed: int, n: int) -> tuple[list[float], list[float]]:
    """The same saves through the app in this process (no delivery loop, no sweep, no
    incidents): wall and CPU milliseconds per save, the cost of the save path itself."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.settings import Settings

    app = create_app(
        Settings(environment="test", database_url=url, api_keys=[API_KEY]),
        run_delivery=False,
        run_stream=False,
    )
    wall: list[float] = []
    cpu: list[float] = []
    with TestClient(app, headers={"X-API-Key": API_KEY}) as client:
        client.get("/api/v1/oncall")  # the snapshot, once
        for body in override_bodies(seed, n, "inproc"):
            t0, c0 = time.perf_counter(), time.process_time()
            r = client.post("/api/v1/planning/overrides?accept_warnings=true", json=body)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"in-process save failed: {r.status_code} {r.text[:200]}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--overrides", type=int, default=150)
    parser.add_argument("--baseline", type=int, default=5)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between saves")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--in-process", type=int, default=30, help="saves through the app in this process"
    )
    args = parser.parse_args()
    # A SIGTERM (timeout, Ctrl-C in a wrapper) still stops the server and removes the files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print_machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench_planner_"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    proc = None
    try:
        timings = prepare(url, args.seed)
        print("prepared: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(url, port, 1, api_keys_env(), tmp / "server.log")
        wait_ready(base, proc)
        t0 = time.perf_counter()
        httpx.get(base + "/api/v1/oncall", headers={"X-API-Key": API_KEY}, timeout=60)
        print(f"first snapshot load {time.perf_counter() - t0:.2f} s")
        print(wait_quiet())
        verdicts = []
        for round_no in range(1, args.repeat + 1):
            result = asyncio.run(run_once(args, base, round_no))
            print(f"\n--- round {round_no}: incidents at {args.rate:g}/s in the background")
            print(f"planner save (POST /api/v1/planning/overrides): {_pct(result['new'])}")
            for err in result["new_errors"][:5]:
                print(f"  error: {err}")
            print(f"older save (POST /api/v1/overrides, whole config): {_pct(result['old'])}")
            for err in result["old_errors"][:5]:
                print(f"  error: {err}")
            print(f"incidents while the planner saved: {_pct(result['incidents_planner'])}")
            print(
                f"incidents, whole run (the older saves too): {_pct(result['incidents'])}; "
                f"failed {len(result['incident_failures'])}, not sent (server behind) "
                f"{len(result['incidents_skipped'])}"
            )
            ordered = sorted(result["new"])
            p99 = percentile(ordered, 99) if ordered else float("inf")
            ok = p99 <= TARGET_P99_MS and not result["new_errors"]
            verdicts.append(ok)
            print(
                f"{'PASS' if ok else 'FAIL'}: planner save p99 {p99:.1f} ms "
                f"(target <= {TARGET_P99_MS:.0f} ms)"
            )
        if not all(verdicts):
            log = (tmp / "server.log").read_text(errors="replace").splitlines()
            print("server log (last lines):", *log[-15:], sep="\n  ")
        stop_server(proc)
        proc = None
        if args.in_process:
            wall, cpu = in_process(url, args.seed, args.in_process)
            print(f"\n--- in process (TestClient; no sweep, no incidents), {args.in_process} saves")
            print(f"wall: {_pct(wall)}")
            print(f"CPU : {_pct(cpu)}")
    finally:
        if proc is not None:
            stop_server(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

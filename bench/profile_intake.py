"""Where an intake request spends its time: an in-process, single-threaded profile.

    .venv/bin/python bench/profile_intake.py [--n 1000] [--top 20]

The same app (``api.app.create_app``) on a fresh PostgreSQL database with the
national configuration, driven one request at a time through
``httpx.ASGITransport`` (no sockets, no uvicorn). Sync endpoints and
dependencies run inline instead of in the thread pool (anyio's ``run_sync`` is
replaced in this process only; the hops are counted), so every stage can be
timed in one thread:

1. stage timers (``perf_counter_ns`` wrappers around the service functions, in
   this process only): real milliseconds per request, without profiler inflation;
2. SQL statements per request, wall time inside ``cursor.execute``;
3. micro-costs of the suspects (``pair``, ``Plan.to_dict``, JSON size, one SQL
   round trip, a commit) to size the suggestions;
4. ``cProfile`` top functions by own time (inflates code with many small calls).

A diagnostic for when bench_intake.py misses a target, not a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import inspect
import pstats
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import anyio.to_thread  # noqa: E402

HOPS = [0]  # calls uvicorn would send to the thread pool (one thread hop each)


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    HOPS[0] += 1
    return func(*args)


anyio.to_thread.run_sync = _inline  # type: ignore[assignment]  # this process only

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.bench_intake import API_KEY, SOURCE, create_database, drop_database, prepare  # noqa: E402
from bench.machine import percentile, print_machine  # noqa: E402
from bench.national import build_national, incident_payload, random_incidents  # noqa: E402

TIMES: dict[str, int] = defaultdict(int)
ACTIVE: set[str] = set()


def _wrap(owner: Any, attr: str, label: str) -> None:
    """Time ``owner.attr`` under ``label`` (outermost call only)."""
    original = getattr(owner, attr)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            if label in ACTIVE:
                return await original(*args, **kwargs)
            ACTIVE.add(label)
            t0 = time.perf_counter_ns()
            try:
                return await original(*args, **kwargs)
            finally:
                TIMES[label] += time.perf_counter_ns() - t0
                ACTIVE.discard(label)

        setattr(owner, attr, timed_async)
        return

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if label in ACTIVE:
            return original(*args, **kwargs)
        ACTIVE.add(label)
        t0 = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter_ns() - t0
            ACTIVE.discard(label)

    setattr(owner, attr, timed)


def install_timers() -> list[tuple[str, int]]:
    """(label, indent) in display order."""
    from sqlalchemy.orm import Session

    from dispatch import pairing, service
    from oncall import service as oncall_service

    plan = [
        (oncall_service, "get_version", "get_snapshot: config version query", 1),
        (service, "intake", "intake()", 1),
        (service, "request_hash", "request_hash", 2),
        (service, "resolve_area", "resolve_area", 2),
        (service, "pair", "pair()", 2),
        (pairing.Plan, "to_dict", "Plan.to_dict()", 2),
        (service, "_assignment_rows", "_assignment_rows", 2),
        (service, "_read", "_read -> DispatchRead", 2),
    ]
    for owner, attr, label, _ in plan:
        _wrap(owner, attr, label)
    # Session methods: the Core INSERTs inside intake, COMMIT, close.
    _wrap(
        Session,
        "execute",
        "session.execute() (version read, INSERTs)",
    )
    _wrap(Session, "commit", "session.commit() (COMMIT)")
    _wrap(Session, "close", "session.close()")
    order = [(label, indent) for *_, label, indent in plan]
    order.append(("session.execute() (version read, INSERTs)", 2))
    order.append(("session.commit() (COMMIT)", 1))
    order.append(("session.close()", 1))
    return order


class TimedApp:
    """ASGI wrapper: time from the app being called to it returning."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        t0 = time.perf_counter_ns()
        try:
            await self.app(scope, receive, send)
        finally:
            TIMES["whole request in the app (ASGI)"] += time.perf_counter_ns() - t0


async def _drive(app: Any, payloads: list[dict[str, Any]], tag: str) -> list[float]:
    transport = httpx.ASGITransport(app=app)
    latencies: list[float] = []
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers={"X-API-Key": API_KEY}
    ) as client:
        for i, body in enumerate(payloads):
            t0 = time.perf_counter_ns()
            r = await client.post("/api/v1/incidents", json={**body, "external_id": f"{tag}-{i}"})
            latencies.append((time.perf_counter_ns() - t0) / 1e6)
            if r.status_code != 201:
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print("== intake profile: one request at a time, in process ==")
    print_machine()
    from api.app import create_app
    from core.settings import Settings

    name = create_database()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        prepare(url, args.seed)
        inner = create_app(Settings(database_url=url, environment="test", api_keys=[API_KEY]))
        app = TimedApp(inner)
        engine = inner.state.samenop.engine
        statements: Counter[str] = Counter()
        sql_ns, checkouts = [0], [0]
        statement_ns: Counter[str] = Counter()

        @event.listens_for(engine, "before_cursor_execute")
        def _count(conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            words = statement.split()
            key = " ".join(words[:3]) if words and words[0] == "INSERT" else " ".join(words[:1])
            if words and words[0] == "SELECT":
                key = "SELECT " + (
                    "config_state"
                    if "config_state" in statement
                    else "dispatches JOIN incidents (idempotency)"
                    if "dispatches" in statement
                    else words[1]
                )
            statements[key] += 1
            conn.info["t0"] = time.perf_counter_ns()
            conn.info["key"] = key

        @event.listens_for(engine, "after_cursor_execute")
        def _timed(conn: Any, *_: Any) -> None:
            spent = time.perf_counter_ns() - conn.info.pop("t0", time.perf_counter_ns())
            sql_ns[0] += spent
            statement_ns[conn.info.pop("key", "?")] += spent

        @event.listens_for(engine, "checkout")
        def _checkout(*_: Any) -> None:
            checkouts[0] += 1

        config = build_national(seed=args.seed)
        facts = random_incidents(config, args.n + 300, seed=23)
        payloads = [incident_payload(f, at, source=SOURCE, external_id="x") for f, at in facts]
        t0 = time.perf_counter()
        asyncio.run(_drive(app, payloads[:300], "warm"))  # builds the snapshot, fills caches
        print(
            f"warm-up: 300 requests in {time.perf_counter() - t0:.1f} s "
            "(includes the first snapshot build: read_config + ConfigSnapshot)"
        )

        order = install_timers()
        TIMES.clear()
        statements.clear()
        statement_ns.clear()
        checkouts[0] = HOPS[0] = sql_ns[0] = 0
        t0 = time.perf_counter()
        plain = sorted(asyncio.run(_drive(app, payloads[300:], "plain")))
        wall = time.perf_counter() - t0
        n = len(plain)
        print(
            f"unprofiled: {n} requests one at a time: p50 {percentile(plain, 50):.2f} ms, "
            f"p99 {percentile(plain, 99):.2f} ms -> {n / wall:.0f} requests/s "
            "on one core (client included)"
        )
        print()
        whole = TIMES["whole request in the app (ASGI)"] or 1
        print(f"{'stage (stage timers, no profiler)':70} {'ms/request':>10} {'share':>7}")
        rows = [("whole request in the app (ASGI)", 0), *order]
        for label, indent in rows:
            ns = TIMES.get(label, 0)
            print(f"{'  ' * indent + label:70} {ns / 1e6 / n:10.3f} {100 * ns / whole:6.1f}%")
        print(
            f"{'  SQL: wall time inside cursor.execute (all statements)':70} "
            f"{sql_ns[0] / 1e6 / n:10.3f} {100 * sql_ns[0] / whole:6.1f}%"
        )
        print(
            f"  thread-pool hops under uvicorn: {HOPS[0] / n:.1f} per request (every sync "
            "dependency, the endpoint, the session generator's enter and exit)"
        )
        print(
            f"  pool checkouts: {checkouts[0] / n:.1f} per request (pool_pre_ping: one "
            "extra SELECT 1 round trip each)"
        )
        print()
        print("SQL statements per request (count, wall ms inside cursor.execute):")
        for key, count in statements.most_common():
            print(f"  {count / n:5.2f}  {statement_ns[key] / 1e6 / n:6.3f} ms  {key}")
        print(
            f"  {sum(statements.values()) / n:5.2f}  total, plus BEGIN, COMMIT and the "
            "pre-ping SELECT 1 (not seen by these events)"
        )
        print()
        micro(url, config, payloads[300 : 300 + min(n, 500)])
        print()

        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(_drive(app, payloads[300 : 300 + min(n, 500)], "prof"))
        prof.disable()
        print(f"cProfile, top {args.top} functions by own time (profiling inflates small calls):")
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    finally:
        drop_database(name)
    return 0


def _per_call_ms(fn: Any, items: list[Any]) -> float:
    t0 = time.perf_counter_ns()
    for item in items:
        fn(item)
    return (time.perf_counter_ns() - t0) / 1e6 / len(items)


def micro(url: str, config: Any, payloads: list[dict[str, Any]]) -> None:
    """Unprofiled costs of the suspects, to size the suggestions."""
    import json
    from dataclasses import fields, is_dataclass

    import psycopg

    from dispatch.pairing import pair
    from dispatch.schemas import IncidentCreate
    from dispatch.service import facts_from, resolve_area
    from oncall.snapshot import ConfigSnapshot

    snapshot = ConfigSnapshot(config, 1)
    data = [IncidentCreate.model_validate(p) for p in payloads]
    facts = [
        (facts_from(d, *resolve_area(snapshot, d.basisteam, d.municipality)), d.reported_at)
        for d in data
    ]
    plans = [pair(f, snapshot, at) for f, at in facts]

    def one_pass(value: Any) -> Any:
        """What a single-pass Plan.to_dict could look like (same output, no deepcopy)."""
        if is_dataclass(value):
            if {"code", "text", "params"} <= value.__dataclass_fields__.keys():
                return {"code": value.code, "text": value.text}
            return {f.name: one_pass(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, list | tuple):
            return [one_pass(v) for v in value]
        if isinstance(value, datetime):
            return value.isoformat()
        if hasattr(value, "value") and not isinstance(value, str | int | float | bool):
            return value.value
        return value

    same = all(one_pass(p) == p.to_dict() for p in plans[:50])
    dicts = [p.to_dict() for p in plans]
    sizes = sorted(len(json.dumps(d)) for d in dicts)
    slim = [{**d, "rules": [r for r in d["rules"] if r["matched"]]} for d in dicts]
    slim_sizes = sorted(len(json.dumps(d)) for d in slim)
    pair_ms = _per_call_ms(lambda x: pair(x[0], snapshot, x[1]), facts)
    print("micro-costs per request, unprofiled (sizing the suggestions):")
    print(f"  pair()                                   {pair_ms:.3f} ms")
    to_dict_ms = _per_call_ms(lambda p: p.to_dict(), plans)
    print(f"  Plan.to_dict() (dataclasses.asdict+walk) {to_dict_ms:.3f} ms")
    print(
        f"  single-pass to_dict (sketch, same output: {same}) "
        f"{_per_call_ms(one_pass, plans):.3f} ms"
    )
    print(
        f"  json.dumps(plan)                         {_per_call_ms(json.dumps, dicts):.3f} ms;"
        f" plan JSON p50 {percentile(sizes, 50):,} B, max {sizes[-1]:,} B"
        f" (matched rules only: p50 {percentile(slim_sizes, 50):,} B)"
    )
    print(
        f"  IncidentCreate validation                "
        f"{_per_call_ms(IncidentCreate.model_validate, payloads):.3f} ms"
    )

    plain_url = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain_url) as conn:
        conn.execute("CREATE TEMP TABLE bench_rt (id serial primary key, v text)")
        conn.commit()
        n = 300
        t0 = time.perf_counter_ns()
        for _ in range(n):
            conn.execute("SELECT 1")
        rt = (time.perf_counter_ns() - t0) / 1e6 / n
        conn.commit()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            conn.execute("INSERT INTO bench_rt (v) VALUES ('x')")
            conn.commit()
        commit = (time.perf_counter_ns() - t0) / 1e6 / n
        conn.execute("SET synchronous_commit TO off")
        t0 = time.perf_counter_ns()
        for _ in range(n):
            conn.execute("INSERT INTO bench_rt (v) VALUES ('x')")
            conn.commit()
        async_commit = (time.perf_counter_ns() - t0) / 1e6 / n
    print(f"  one SQL round trip (raw psycopg SELECT 1) {rt:.3f} ms")
    print(
        f"  BEGIN + INSERT + COMMIT (raw psycopg)    {commit:.3f} ms with synchronous_commit=on,"
        f" {async_commit:.3f} ms with off (difference: the WAL flush)"
    )


if __name__ == "__main__":
    sys.exit(main())

"""The load ``bench_paging.py`` and its phases send: incidents posted to the API, on a
fixed schedule (open loop) or as fast as a number of clients go (burst)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from bench.paging_records import Sent
from bench.paging_stack import BenchConfig, Stack

SOURCE = "bench"
Kind = Callable[[int, float], str]  # (index, seconds into the schedule) -> kind


class Load:
    def __init__(self, stack: Stack, bench: BenchConfig, tag: str) -> None:
        self.stack = stack
        self.bench = bench
        self.tag = tag
        self.n = 0
        self.sent: list[Sent] = []
        self.errors: list[str] = []

    def basisteam(self, kind: str) -> str:
        if kind == "dl":
            return self.bench.deadline_teams[self.n % len(self.bench.deadline_teams)]
        if kind == "kill":
            return self.bench.kill_team
        return self.bench.latency_teams[self.n % len(self.bench.latency_teams)]

    async def post(self, http: httpx.AsyncClient, kind: str) -> Sent:
        self.n += 1
        bt = self.basisteam(kind)
        ext = f"{self.tag}-{kind}-{self.n:05d}"
        body = {
            "source": SOURCE,
            "external_id": ext,
            "reported_at": datetime.now(UTC).isoformat(),
            "case_type": "HG",
            "basisteam": bt,
            "persons": [],
            "police_unit": "u",
            "police_callback": "0612345678",
        }
        item = Sent(ext, bt, kind, time.perf_counter())
        self.sent.append(item)
        try:
            r = await http.post("/api/v1/incidents", json=body)
        except httpx.HTTPError as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return item
        item.t_done = time.perf_counter()
        item.status = r.status_code
        if r.status_code == 201:
            item.dispatch_id = r.json()["id"]
        else:
            self.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
        return item


async def open_loop(
    load: Load, clients: list[httpx.AsyncClient], rate: float, seconds: float, kind: Kind
) -> list[Sent]:
    """Incident i is sent at t0 + i/rate whatever the server does; ``kind(i, t)`` names it."""
    n = int(rate * seconds)
    tasks = []
    t0 = time.perf_counter() + 0.05
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(load.post(clients[i % len(clients)], kind(i, due - t0))))
    return list(await asyncio.gather(*tasks))


async def burst(load: Load, clients: list[httpx.AsyncClient], n: int, concurrency: int) -> None:
    left = n

    async def one(i: int) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await load.post(clients[i % len(clients)], "burst")

    await asyncio.gather(*(one(i) for i in range(concurrency)))

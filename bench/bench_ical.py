"""One person's iCal feed on the national configuration, built from scratch.

    .venv/bin/python bench/bench_ical.py [--people 200] [--repeat 2]

Builds the national ``ConfigSet`` (bench/national.py) and its ``ConfigSnapshot``, then
times ``oncall.ical.person_feed`` (the whole VCALENDAR: four weeks back to twelve
ahead, every team of the person) for ``--people`` people drawn with a fixed seed, each
built anew: what ``GET /ical/{token}.ics`` costs on a cache miss (a new configuration
version or a new day). Prints p50/p95/p99/max of the wall time, and of the thread's CPU
time (on a shared, busy machine the wall time includes waiting for a CPU); target: wall
p99 <= 100 ms. For scale it also
times the feed built with its teams' walks cached (the route keeps them per version:
every person of a team after the first), a team's feed, the same person's feed from the
route's cache, the "Piket nu"
table with its next handover for every team (what the stream hub computes at a
configuration change or a handover), and one region's daily digest content (eight
weeks of gaps). The exit code is 0 whether or not the target is met; read PASS/FAIL.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.routers.ical import CACHE, TEAM_BLOCKS, build_feed, cached_feed  # noqa: E402
from api.stream import next_handover, piket_table  # noqa: E402
from bench.machine import percentile, print_machine, wait_quiet  # noqa: E402
from bench.national import build_national, summary  # noqa: E402
from dispatch.digest import region_digest  # noqa: E402
from oncall import ical  # noqa: E402
from oncall.snapshot import ConfigSnapshot  # noqa: E402

TARGET_P99_MS = 100.0
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # mid-year: the window lies inside 2026


def _stats(ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"p50 {percentile(ms, 50):.1f} ms  p95 {percentile(ms, 95):.1f} ms  "
        f"p99 {percentile(ms, 99):.1f} ms  max {ms[-1]:.1f} ms  (n={len(ms)})"
    )


def _timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    args = parser.parse_args()

    print_machine()
    t0 = time.perf_counter()
    config = build_national()
    snapshot = ConfigSnapshot(config, version=1)
    print(summary(config))
    print(f"built in {time.perf_counter() - t0:.1f} s; now {NOW.isoformat()}\n")
    rng = random.Random(5)
    rostered = sorted({p for r in config.rotations for p in r.participants})
    people = rng.sample(rostered, min(args.people, len(rostered)))
    teams = rng.sample([t.id for t in config.teams], min(args.teams, len(config.teams)))
    region = config.regions[0].id

    verdicts = []
    for run in range(1, args.repeat + 1):
        print(f"-- run {run}/{args.repeat}: {wait_quiet(args.quiet_wait)}")
        gc.collect()
        person_ms, cpu_ms, sizes, events = [], [], [], []
        for person in people:
            c0 = time.thread_time()
            ms, body = _timed(lambda p=person: ical.person_feed(snapshot, p, NOW))
            cpu_ms.append((time.thread_time() - c0) * 1000)
            person_ms.append(ms)
            sizes.append(len(body))  # type: ignore[arg-type]
            events.append(body.count(b"BEGIN:VEVENT"))  # type: ignore[union-attr]
        team_ms = [_timed(lambda t=t: ical.team_feed(snapshot, t, NOW))[0] for t in teams]
        TEAM_BLOCKS.clear()
        for person in people:  # warm the team walks: each team walked once
            build_feed(snapshot, "person", person, NOW)
        warm_ms = [_timed(lambda p=p: build_feed(snapshot, "person", p, NOW))[0] for p in people]
        CACHE.clear()
        for person in people:
            cached_feed(snapshot, "person", person, NOW)
        hit_ms = [_timed(lambda p=p: cached_feed(snapshot, "person", p, NOW))[0] for p in people]
        piket_ms, _ = _timed(lambda: (piket_table(snapshot, NOW), next_handover(snapshot, NOW)))
        digest_ms, digest = _timed(lambda: region_digest(snapshot, region, NOW))
        p99 = percentile(sorted(person_ms), 99)
        ok = p99 <= TARGET_P99_MS
        verdicts.append(ok)
        print(f"   person feed (built)  : {_stats(person_ms)}")
        print(f"     its CPU time       : {_stats(cpu_ms)}")
        print(
            f"                          {sum(events) / len(events):.0f} events and "
            f"{sum(sizes) / len(sizes) / 1024:.0f} KiB per feed on average"
        )
        print(f"   person feed (built, its team's walk cached): {_stats(warm_ms)}")
        print(f"   team feed (built)    : {_stats(team_ms)}")
        print(f"   person feed (cached) : {_stats(hit_ms)}")
        print(f"   piket nu, all {len(config.teams)} teams + next handover: {piket_ms:.0f} ms")
        gaps = len(digest.gaps)  # type: ignore[attr-defined]
        print(f"   digest content of {region} (8 weeks, {gaps} gaps): {digest_ms:.0f} ms")
        print(f"   target person feed p99 <= {TARGET_P99_MS:.0f} ms: {'PASS' if ok else 'FAIL'}")
    print()
    print(f"RESULT: {'PASS' if all(verdicts) else 'FAIL'} (person feed p99 <= 100 ms)")


if __name__ == "__main__":
    main()

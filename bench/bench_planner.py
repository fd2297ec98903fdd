"""The planner's read side on the national configuration: a region's month and 8 weeks of gaps.

    .venv/bin/python bench/bench_planner.py [--repeat 15] [--seed 7]

Builds the national configuration (bench/national.py), stores it in a fresh SQLite
database (migrated, ``oncall.service.write_config``) and drives the real app
(``api.app.create_app``) in-process with FastAPI's ``TestClient`` and the bootstrap
admin key. Figures:

1. A month calendar of the largest region (most people on its teams' rosters):
   ``GET /api/v1/planning/regions/{region}/overview?weeks=5&blocks=true`` (five weeks,
   every team's blocks, gaps and per-day summary) for March 2026, which holds the
   spring-forward night. Also the single team calendars the page loads
   (``/teams/{team}/calendar`` for the month). Target: p95 <= 300 ms.
2. Gaps for 8 weeks of the whole national configuration (every team): the pure
   computation (``oncall.gaps.find_gaps`` for every team; CPU and wall seconds) and the
   same through ``GET /api/v1/coverage/gaps`` (all teams, 56 days). Target: <= 2 s.

The machine is shared: the load average is printed and the CPU seconds of the pure
computation are the steadier figure. The exit code is 0 whether or not a target is
met; read the PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import percentile, print_machine  # noqa: E402
from bench.national import build_national  # noqa: E402
from core.timeutil import AMS  # noqa: E402
from oncall.gaps import find_gaps  # noqa: E402
from oncall.schemas import ConfigSet  # noqa: E402
from oncall.snapshot import ConfigSnapshot  # noqa: E402

TARGET_MONTH_MS = 300.0
TARGET_GAPS_S = 2.0
API_KEY = "bench-planner-key-0123456789"
MONTH = datetime(2026, 3, 1, tzinfo=AMS)
GAPS_FROM = datetime(2026, 3, 2, tzinfo=AMS)


def largest_region(config: ConfigSet) -> str:
    """The region whose teams have the most people on their rotations."""
    team_region = {t.id: t.region for t in config.teams if t.region}
    people: Counter[str] = Counter()
    for rotation in config.rotations:
        region = team_region.get(rotation.team)
        if region:
            people[region] += len(rotation.participants)
    return people.most_common(1)[0][0]


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"p50 {percentile(ordered, 50):7.1f} ms  p95 {percentile(ordered, 95):7.1f} ms  "
        f"max {ordered[-1]:7.1f} ms"
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def pure_gaps(snapshot: ConfigSnapshot, repeat: int) -> tuple[list[float], list[float], int]:
    cpu: list[float] = []
    wall: list[float] = []
    found = 0
    hi = GAPS_FROM + timedelta(days=56)
    for _ in range(repeat):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        found = sum(len(find_gaps(snapshot, team, GAPS_FROM, hi)) for team in snapshot.teams)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return cpu, wall, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per figure")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from core.clock import ManualClock
    from core.db import make_engine, make_session_factory, session_scope
    from core.migrate import upgrade
    from core.settings import Settings
    from oncall.service import write_config

    print_machine()
    t0 = time.perf_counter()
    config = build_national(seed=args.seed)
    snapshot = ConfigSnapshot(config)
    region = largest_region(config)
    teams = [t.id for t in config.teams if t.region == region]
    print(
        f"config   : national seed {args.seed}: {len(config.teams)} teams, "
        f"{len(config.people)} people, {len(config.rotations)} rotations, "
        f"{len(config.shifts)} shifts, {len(config.overrides)} overrides, "
        f"{len(config.rules)} rules (built in {time.perf_counter() - t0:.2f} s)"
    )
    print(f"region   : {region} ({len(teams)} teams: {', '.join(teams)})")

    # --- 2a. pure gaps, before the app exists (nothing else in the process) ----------
    repeat_pure = max(3, args.repeat // 3)
    cpu, wall, found = pure_gaps(snapshot, repeat_pure)
    print()
    print(f"gaps, 8 weeks, all {len(snapshot.teams)} teams, pure find_gaps ({repeat_pure} runs):")
    print(
        f"  cpu  best {min(cpu):.3f} s  median {sorted(cpu)[len(cpu) // 2]:.3f} s   "
        f"wall best {min(wall):.3f} s  median {sorted(wall)[len(wall) // 2]:.3f} s   "
        f"({found} gaps)"
    )

    with tempfile.TemporaryDirectory(prefix="bench-planner-") as tmp:
        url = f"sqlite:///{tmp}/planner.db"
        upgrade(url)
        engine = make_engine(url)
        with session_scope(make_session_factory(engine)) as session:
            write_config(session=session, config=config, now=datetime.now(UTC), source="bench")
        engine.dispose()
        settings = Settings(environment="test", database_url=url, api_keys=[API_KEY])
        clock = ManualClock(datetime(2026, 2, 20, 9, tzinfo=UTC))
        app = create_app(settings, clock=clock, run_delivery=False, run_stream=False)
        with TestClient(app, headers={"X-API-Key": API_KEY}) as client:
            overview_url = f"/api/v1/planning/regions/{region}/overview"
            params = {"start": MONTH.date().isoformat(), "weeks": "5", "blocks": "true"}
            warm = client.get(overview_url, params=params)  # loads the snapshot once
            assert warm.status_code == 200, warm.text
            size = len(warm.content)
            month: list[float] = []
            month_cpu: list[float] = []
            for _ in range(args.repeat):
                c0, w0 = time.process_time(), time.perf_counter()
                r = client.get(overview_url, params=params)
                month.append((time.perf_counter() - w0) * 1000)
                month_cpu.append((time.process_time() - c0) * 1000)
                assert r.status_code == 200, r.text
            end = (MONTH + timedelta(days=31)).date().isoformat()
            singles: list[float] = []
            for _ in range(max(3, args.repeat // 3)):
                w0 = time.perf_counter()
                for team in teams:
                    r = client.get(
                        f"/api/v1/planning/teams/{team}/calendar",
                        params={"start": MONTH.date().isoformat(), "end": end},
                    )
                    assert r.status_code == 200, r.text
                singles.append((time.perf_counter() - w0) * 1000)
            gaps_params = {
                "from": GAPS_FROM.isoformat(),
                "to": (GAPS_FROM + timedelta(days=56)).isoformat(),
            }
            api_gaps: list[float] = []
            api_gaps_cpu: list[float] = []
            for _ in range(max(3, args.repeat // 5)):
                c0, w0 = time.process_time(), time.perf_counter()
                r = client.get("/api/v1/coverage/gaps", params=gaps_params)
                api_gaps.append(time.perf_counter() - w0)
                api_gaps_cpu.append(time.process_time() - c0)
                assert r.status_code == 200, r.text

    print()
    print(f"month calendar of {region} (March 2026, 5 weeks, blocks; {size / 1024:.0f} KiB):")
    print(f"  overview route ({args.repeat} requests)   wall {_ms(month)}")
    print(f"                                      cpu  {_ms(month_cpu)}")
    print(f"  {len(teams)} team calendar routes, 31 days, together: wall {_ms(singles)}")
    print(f"gaps, 8 weeks, all teams, GET /api/v1/coverage/gaps ({len(api_gaps)} requests):")
    print(
        f"  wall best {min(api_gaps):.3f} s  median {sorted(api_gaps)[len(api_gaps) // 2]:.3f} s"
        f"   cpu best {min(api_gaps_cpu):.3f} s"
        f"  median {sorted(api_gaps_cpu)[len(api_gaps_cpu) // 2]:.3f} s"
    )
    print()
    month_p95 = percentile(sorted(month), 95)
    print(
        f"{_verdict(month_p95 <= TARGET_MONTH_MS)}  region month calendar p95 "
        f"{month_p95:.1f} ms wall (target <= {TARGET_MONTH_MS:.0f} ms)"
    )
    cpu_p95 = percentile(sorted(month_cpu), 95)
    print(
        f"{_verdict(cpu_p95 <= TARGET_MONTH_MS)}  region month calendar p95 "
        f"{cpu_p95:.1f} ms CPU (target <= {TARGET_MONTH_MS:.0f} ms)"
    )
    gaps_cpu = sorted(cpu)[len(cpu) // 2]
    print(
        f"{_verdict(gaps_cpu <= TARGET_GAPS_S)}  national gaps 8 weeks, pure, median "
        f"{gaps_cpu:.3f} s CPU (target <= {TARGET_GAPS_S:.0f} s)"
    )
    for label, values in (("wall", api_gaps), ("CPU", api_gaps_cpu)):
        median = sorted(values)[len(values) // 2]
        print(
            f"{_verdict(median <= TARGET_GAPS_S)}  national gaps 8 weeks through the API, "
            f"median {median:.3f} s {label} (target <= {TARGET_GAPS_S:.0f} s)"
        )


if __name__ == "__main__":
    main()

"""Pairing latency on a national configuration: ``pair(incident, snapshot, at)`` per call.

    .venv/bin/python bench/bench_pairing.py [--n 10000] [--repeat 2]

Builds the national ``ConfigSet`` (bench/national.py) and its ``ConfigSnapshot``,
then times ``pair()`` for each of ``--n`` random incidents with
``time.perf_counter_ns`` around the single call, and prints p50/p95/p99/max and
the throughput. Target: p99 <= 2 ms. As a same-process baseline it also times a
naive scope pass: ``evaluate_rule`` over every rule of the configuration (no
area index), and the indexed scope pass that ``pair`` does (``rules_near`` and
``evaluate_rule``), so the ratio says what the index buys on this machine today.
The exit code is 0 whether or not the target is met; read the PASS/FAIL line.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import cpu_times, percentile, print_machine, wait_quiet  # noqa: E402
from bench.national import build_national, random_incidents, summary  # noqa: E402
from dispatch.pairing import pair  # noqa: E402
from oncall.scope import evaluate_rule  # noqa: E402
from oncall.snapshot import ConfigSnapshot  # noqa: E402

TARGET_P99_MS = 2.0


def _stats(ns: list[int]) -> dict[str, float]:
    ms = sorted(x / 1e6 for x in ns)
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": ms[-1],
        "mean": sum(ms) / len(ms),
        "total_s": sum(ms) / 1000,
    }


def _fmt(stats: dict[str, float]) -> str:
    return (
        f"p50 {stats['p50']:.3f} ms  p95 {stats['p95']:.3f} ms  p99 {stats['p99']:.3f} ms  "
        f"max {stats['max']:.3f} ms  mean {stats['mean']:.3f} ms"
    )


def time_pair(snapshot: ConfigSnapshot, incidents: list) -> tuple[list[int], float, Counter]:
    per_call: list[int] = []
    statuses: Counter = Counter()
    clock = time.perf_counter_ns
    wall0 = time.perf_counter()
    for facts, at in incidents:
        t0 = clock()
        plan = pair(facts, snapshot, at)
        per_call.append(clock() - t0)
        statuses[plan.status] += 1
    return per_call, time.perf_counter() - wall0, statuses


def time_scope(snapshot: ConfigSnapshot, incidents: list, *, indexed: bool) -> list[int]:
    """Scope only: which rules cover each incident (no rosters, no plan)."""
    per_call: list[int] = []
    clock = time.perf_counter_ns
    all_rules = snapshot.config.rules
    bm, mb = snapshot.basisteam_municipalities, snapshot.municipality_basisteams
    for facts, at in incidents:
        t0 = clock()
        rules = snapshot.rules_near(facts.basisteam, facts.municipality) if indexed else all_rules
        for rule in rules:
            evaluate_rule(
                rule,
                facts,
                at,
                office_hours=snapshot.office_hours(rule.team),
                basisteam_municipalities=bm,
                municipality_basisteams=mb,
            )
        per_call.append(clock() - t0)
    return per_call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="incidents per run")
    parser.add_argument("--repeat", type=int, default=2, help="runs (the machine is noisy)")
    parser.add_argument("--seed", type=int, default=7, help="configuration seed")
    parser.add_argument("--incident-seed", type=int, default=11)
    parser.add_argument(
        "--baseline-n",
        type=int,
        default=2_000,
        help="incidents for the naive baseline (it is slow)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=15.0,
        help="seconds to wait at most for other work on the machine to stop",
    )
    args = parser.parse_args()

    print("== pairing benchmark: pair(incident, snapshot, at) on a national configuration ==")
    print_machine()

    t0 = time.perf_counter()
    config = build_national(seed=args.seed)
    t1 = time.perf_counter()
    snapshot = ConfigSnapshot(config, version=1)
    t2 = time.perf_counter()
    incidents = random_incidents(config, args.n, seed=args.incident_seed)
    t3 = time.perf_counter()
    print(f"config   : {summary(config)}")
    print(
        f"build    : ConfigSet {1000 * (t1 - t0):.0f} ms, "
        f"ConfigSnapshot {1000 * (t2 - t1):.1f} ms, {args.n} incidents {1000 * (t3 - t2):.0f} ms"
    )

    # Warm up (holiday tables, zoneinfo caches, code paths) on other incidents.
    for facts, at in random_incidents(config, 500, seed=args.incident_seed + 1000):
        pair(facts, snapshot, at)
    print(f"gc       : enabled (as in the service), thresholds {gc.get_threshold()}")
    print()

    results = []
    for run in range(1, args.repeat + 1):
        print(f"-- run {run}/{args.repeat}: {wait_quiet(args.quiet_wait)}")
        box0, _ = cpu_times()
        per_call, wall, statuses = time_pair(snapshot, incidents)
        box1, _ = cpu_times()
        stats = _stats(per_call)
        rate = len(incidents) / wall
        base_inc = incidents[: args.baseline_n]
        naive = _stats(time_scope(snapshot, base_inc, indexed=False))
        scoped = _stats(time_scope(snapshot, base_inc, indexed=True))
        ok = stats["p99"] <= TARGET_P99_MS
        results.append((stats, rate, ok))
        print(f"   pair() x {len(incidents)}: {_fmt(stats)}")
        print(
            f"   throughput    : {rate:,.0f} pairings/s (one core, {wall:.2f} s wall); "
            f"machine busy {(box1 - box0) / wall:.2f} cores meanwhile (this run: 1.00)"
        )
        print("   statuses      : " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        print(f"   baseline (same process, first {len(base_inc)} incidents, scope only):")
        print(f"     naive  all {len(config.rules)} rules : {_fmt(naive)}")
        print(f"     indexed rules_near   : {_fmt(scoped)}")
        print(
            f"     ratio naive/indexed scope: p50 {naive['p50'] / scoped['p50']:.1f}x, "
            f"mean {naive['mean'] / scoped['mean']:.1f}x;  "
            f"naive scope / full pair(): p50 {naive['p50'] / stats['p50']:.2f}x"
        )
        print(
            f"   target p99 <= {TARGET_P99_MS} ms: {'PASS' if ok else 'FAIL'} "
            f"(p99 {stats['p99']:.3f} ms)"
        )
        print()

    verdict = "PASS" if all(ok for _, _, ok in results) else "FAIL"
    p99s = ", ".join(f"{s['p99']:.3f}" for s, _, _ in results)
    rates = ", ".join(f"{r:,.0f}/s" for _, r, _ in results)
    print(
        f"== summary: pair() p99 per run [{p99s}] ms, throughput [{rates}] -> "
        f"target p99 <= {TARGET_P99_MS} ms: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

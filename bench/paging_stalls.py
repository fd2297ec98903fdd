"""Phase (7) of ``bench_paging.py``: SQLite write-lock stalls in embedded mode, over many
short runs (``--stall-runs``, default 20), each with a fresh SQLite database and a fresh
``samenop serve`` process (``paging_stack.start_stack``, embedded).

One run:

1. 10 incidents at 10/s to the deadline teams (voice only, 15 s to answer): the warm-up
   of the fresh process (their intake latency is not counted) and the deadline samples;
2. ``--rate`` incidents/s (open loop) to the latency teams for ``--stall-seconds``
   (default 15 s), so that the deadlines of step 1 fall due while this load runs;
3. until every deadline of step 1 has fired (bounded).

Per run: the worst intake -> first call at the fake (step 2; same clock as the client),
and the worst lateness of a round-0 deadline (the ``attempt.expired`` event's time minus
the page's ``deadline_at``). A run *stalled* when

- an incident of step 2 took more than 200 ms from the send to the fake receiving its
  first call (or got no call within 10 s), or
- a deadline fired more than 200 ms later than the loop's sweep interval allows, i.e.
  more than 0.25 + 0.2 = 0.45 s after ``deadline_at`` (or had not fired 5 s after it).

Target: 0 stalled runs of 20.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.machine import percentile, wait_quiet
from bench.paging_load import Load, open_loop
from bench.paging_records import (
    BUSY_CORES,
    Cpu,
    Records,
    Sent,
    first_pages,
    perf_of,
    verdict,
)
from bench.paging_stack import DEADLINE_WAIT, BenchConfig, client, start_stack

STALL_S = 0.2
# The embedded loop looks for passed deadlines every min(SAMENOP_SWEEP_SECONDS, 0.25) s
# (api/app.py); the bench leaves SAMENOP_SWEEP_SECONDS at its default (0.5).
SWEEP_S = 0.25
DEADLINE_STALL_S = SWEEP_S + STALL_S
DEADLINE_SAMPLES = 10  # step 1: 10 incidents at 10/s


async def phase_stalls(bench: BenchConfig, args: Any) -> dict[str, Any]:
    n = args.stall_runs
    print(
        f"-- (7) embedded write-lock stalls: {n} runs, each a fresh SQLite database and "
        f"samenop serve process; {DEADLINE_SAMPLES} deadline incidents, then "
        f"{args.rate:.0f}/s for {args.stall_seconds:g} s"
    )
    print(
        f"   stall: intake -> first call over {1000 * STALL_S:.0f} ms, or a deadline fired "
        f"more than {1000 * STALL_S:.0f} ms beyond the {SWEEP_S} s sweep interval (over "
        f"{DEADLINE_STALL_S:.2f} s after deadline_at); a missing call or expiry counts too"
    )
    print(f"   {await asyncio.to_thread(wait_quiet, args.quiet_wait)}")
    runs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for k in range(1, n + 1):
        try:
            runs.append(await _run(k, n, bench, args))
        except Exception as exc:  # one broken run is reported, the others still run
            print(f"   run {k:2}/{n}: the run failed: {type(exc).__name__}: {exc}")
            runs.append({"error": f"{type(exc).__name__}: {exc}", "stalled": False})
    measured = [r for r in runs if "error" not in r]
    stalled = [i for i, r in enumerate(runs, 1) if r["stalled"]]
    broken = len(runs) - len(measured)
    busy = sum(r["others"] > BUSY_CORES for r in measured)
    worst_call = max((r["call_max"] for r in measured), default=float("nan"))
    worst_dl = max((r["dl_max"] for r in measured), default=float("nan"))
    good = not stalled and not broken and len(runs) == n
    print(
        f"   (7) {len(stalled)} of {len(measured)} runs stalled"
        f"{' (runs ' + ', '.join(map(str, stalled)) + ')' if stalled else ''}"
        f"{f'; {broken} runs failed' if broken else ''}; worst intake -> first call "
        f"{1000 * worst_call:.0f} ms, worst deadline lateness {worst_dl:.2f} s; "
        f"{busy} runs on a busy machine; {time.perf_counter() - t0:.0f} s in all"
    )
    print(f"       target 0 of {n} runs with a stall over 200 ms: {verdict(good)}")
    print()
    return {
        "ok": good,
        "runs": n,
        "measured": len(measured),
        "stalled": stalled,
        "broken": broken,
        "worst_call": worst_call,
        "worst_dl": worst_dl,
    }


async def _run(k: int, n: int, bench: BenchConfig, args: Any) -> dict[str, Any]:
    stack = await asyncio.to_thread(
        start_stack,
        "embedded",
        bench,
        api_workers=1,
        rq_workers=0,
        secondary=args.failover,
        circuit=args.circuit_env,
    )
    records = Records(stack)
    try:
        load = Load(stack, bench, f"s{k}")
        cpu = Cpu(stack)
        warm = client(stack.base)
        try:
            dl = await open_loop(load, [warm], 10, DEADLINE_SAMPLES / 10, lambda i, t: "dl")
        finally:
            await warm.aclose()
        clients = [client(stack.base) for _ in range(2)]
        try:
            before = stack.fake.count()
            sent = await open_loop(load, clients, args.rate, args.stall_seconds, lambda i, t: "lat")
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        firsts, seen = await asyncio.to_thread(first_pages, records, sent, 10, before)
        late, missing_dl = await asyncio.to_thread(_deadlines, records, dl)
        report = cpu.report(len(sent) + len(dl))
        if load.errors:
            print(f"       run {k}: {len(load.errors)} errors, first: {load.errors[0]}")
    finally:
        records.close()
        await asyncio.to_thread(stack.close)
    calls: list[tuple[float, Sent]] = []
    missing = 0
    for s in sent:
        page = firsts.get(s.dispatch_id or "")
        if page is None or page.id not in seen:
            missing += 1
            continue
        calls.append((seen[page.id][0] - s.t_send, s))
    calls.sort(key=lambda x: x[0])
    lat = [x for x, _ in calls]
    slow = [x for x in lat if x > STALL_S]
    slow_dl = [x for x in late if x > DEADLINE_STALL_S]
    stalled = bool(slow or missing or slow_dl or missing_dl)
    call_max = lat[-1] if lat else float("inf")
    dl_max = max(late) if late else float("nan")
    worst = ""
    if calls and slow:
        w = calls[-1][1]
        page = firsts[w.dispatch_id or ""]
        created = perf_of(page.created_at)
        claimed = perf_of(page.claimed_at) if page.claimed_at else float("nan")
        worst = (
            f" ({w.external_id}: send -> API clock at intake {1000 * (created - w.t_send):.0f} "
            f"ms, -> claimed {1000 * (claimed - created):.0f} ms, -> fake "
            f"{1000 * (seen[page.id][0] - claimed):.0f} ms; 201 after "
            f"{1000 * (w.t_done - w.t_send):.0f} ms)"
        )
    print(
        f"   run {k:2}/{n}: {len(sent)} incidents, intake -> first call p50 "
        f"{1000 * percentile(lat, 50):.1f} ms, max {1000 * call_max:.1f} ms{worst}, "
        f"{len(slow)} over {1000 * STALL_S:.0f} ms, {missing} without a call; {len(late)} "
        f"deadlines, latest {dl_max:.2f} s after deadline_at, {len(slow_dl)} over "
        f"{DEADLINE_STALL_S:.2f} s, {missing_dl} not fired; other processes "
        f"{report.others:.2f} cores: {'STALL' if stalled else 'no stall'}",
        flush=True,
    )
    return {
        "stalled": stalled,
        "call_max": call_max,
        "dl_max": dl_max,
        "slow": len(slow),
        "slow_dl": len(slow_dl),
        "others": report.others,
    }


def _deadlines(records: Records, dl: list[Sent]) -> tuple[list[float], int]:
    """Seconds from each round-0 ``deadline_at`` to its ``attempt.expired`` event (waiting
    until each has fired, at most 5 s after the last deadline), and how many had not."""
    ids = [s.dispatch_id for s in dl if s.dispatch_id]
    last = max((s.t_send for s in dl), default=time.perf_counter())
    until = last + DEADLINE_WAIT + 5
    while True:
        expired = {
            d: at for d, p, at in records.events("attempt.expired") if int(p.get("round", -1)) == 0
        }
        if all(d in expired for d in ids) or time.perf_counter() > until:
            break
        time.sleep(0.2)
    pages = records.pages()
    late: list[float] = []
    for d in ids:
        first = next((p for p in pages.get(d, []) if p.round == 0), None)
        if first is not None and d in expired:
            late.append((expired[d] - first.deadline_at).total_seconds())
    return late, len(dl) - len(late)


def summary_line(result: dict[str, Any]) -> str:
    stalled = result["stalled"]
    which = f" (runs {', '.join(map(str, stalled))})" if stalled else ""
    broken = f", {result['broken']} runs failed" if result["broken"] else ""
    return (
        f"   embedded write-lock stalls over 200 ms: {len(stalled)} of {result['measured']} "
        f"runs{which}{broken}; worst intake -> first call {1000 * result['worst_call']:.0f} ms, "
        f"worst deadline lateness {result['worst_dl']:.2f} s -> target 0 of {result['runs']}: "
        f"{verdict(result['ok'])}"
    )

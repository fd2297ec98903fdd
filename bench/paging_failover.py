"""Phase (6) of ``bench_paging.py``: failover from Twilio (primary) to Vonage (secondary).

Incidents flow at a steady rate (``--failover-rate``, latency teams: one call each, at
once). After ``--failover-lead`` seconds, at t0, the primary is made unavailable:

- *refused*: the fake Twilio's HTTP server is stopped (``FakeTwilioServer.stop_http``);
  connections are refused from then on (the listening socket closes first);
- *503*: the fake Twilio answers every REST request (creates, look-ups, probes) with
  503 (``rest_outage(503)``): Twilio did not take the request.

After ``--failover-outage`` seconds, at t1, Twilio is restored (``start()`` again, on the
same port; or the outage switched off) and the load goes on for two probe intervals
plus 3 s, so that every sending process's circuit has had its probe. Then:

- t0 -> the first page created at the fake Vonage (``received_perf``, same clock).
  Target <= 5 s;
- the incidents sent during the outage: how many were paged before t1, through which
  provider, later, or not at all (after a bounded wait), and intake -> first page;
- pages that reached a phone through both fakes, matched by page id (must be 0); pages
  created twice at one fake; pages whose recorded provider (``pages.provider``) is not
  the fake that received them;
- t1 -> the first page through Twilio again (the circuit's probe, every
  ``SAMENOP_CIRCUIT_PROBE_SECONDS``), and t1 -> the last page through Vonage (every
  sending process back on Twilio: the circuit is per process);
- the circuit's own log lines (opened / closed), counted in the services' logs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.paging_load import Load, open_loop
from bench.paging_records import PageRow, Records, Sent, pct, perf_of, verdict
from bench.paging_stack import Create, Stack, client

TARGET_FAILOVER_S = 5.0
VARIANTS = {
    "refused": "Twilio refuses connections (its fake's HTTP server stopped)",
    "503": "Twilio answers every REST request with 503",
}


@dataclass
class Marks:
    start: float = 0.0
    t0: float = 0.0  # the primary made unavailable (just before the call that does it)
    down: float = 0.0  # that call returned
    t1: float = 0.0  # the primary restored (just before)
    up: float = 0.0


async def phase_failover(
    load: Load, stack: Stack, records: Records, args: Any
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for variant in args.failover_variants:
        try:
            out[variant] = await _variant(load, stack, records, args, variant)
        except Exception as exc:  # a broken measurement is a FAIL, not a crashed benchmark
            print(
                f"   (6) failover ({variant}): the measurement failed: "
                f"{type(exc).__name__}: {exc}: FAIL"
            )
            out[variant] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            stack.fake.twilio.rest_outage(None)
    return out


def _restore(stack: Stack, variant: str) -> None:
    if variant == "refused":
        stack.fake.server.start()  # on the same port
    else:
        stack.fake.twilio.rest_outage(None)


async def _variant(
    load: Load, stack: Stack, records: Records, args: Any, variant: str
) -> dict[str, Any]:
    fake = stack.fake
    if fake.vonage is None:
        raise RuntimeError("the stack runs without a secondary provider")
    lead, outage = args.failover_lead, args.failover_outage
    recovery = 2 * args.probe_seconds + 3
    logs0 = _circuit_lines(stack)
    marks = Marks(start=time.perf_counter())

    async def control() -> None:
        await asyncio.sleep(max(0.0, marks.start + lead - time.perf_counter()))
        marks.t0 = time.perf_counter()
        if variant == "refused":
            await asyncio.to_thread(fake.server.stop_http)
        else:
            fake.twilio.rest_outage(503)
        marks.down = time.perf_counter()
        await asyncio.sleep(max(0.0, marks.t0 + outage - time.perf_counter()))
        marks.t1 = time.perf_counter()
        await asyncio.to_thread(_restore, stack, variant)
        marks.up = time.perf_counter()

    fake.twilio.rest_outage(None)
    fake.twilio.delay_creates(None)
    clients = [client(stack.base) for _ in range(2)]
    try:
        async with asyncio.TaskGroup() as tasks:  # one fails: the other is cancelled
            load_task = tasks.create_task(
                open_loop(
                    load, clients, args.failover_rate, lead + outage + recovery, lambda i, t: "fo"
                )
            )
            tasks.create_task(control())
        sent = load_task.result()
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
        if marks.t0 and not marks.up:  # interrupted during the outage: Twilio comes back
            await asyncio.to_thread(_restore, stack, variant)
    firsts = await asyncio.to_thread(_wait_paged, stack, records, sent, 15.0)
    return _report(stack, records, variant, args, sent, firsts, marks, logs0)


def _wait_paged(
    stack: Stack, records: Records, sent: list[Sent], timeout: float
) -> dict[str, PageRow]:
    """Until the first page of every incident in ``sent`` is at one of the fakes."""
    wanted = {s.dispatch_id for s in sent if s.dispatch_id}
    end = time.monotonic() + timeout
    while True:
        pages = records.pages()
        firsts = {d: pages[d][0] for d in wanted if d in pages}
        at = {c.page_id for c in [*stack.fake.twilio_creates(), *stack.fake.vonage_creates()]}
        if all(d in firsts and firsts[d].id in at for d in wanted) or time.monotonic() > end:
            return firsts
        time.sleep(0.2)


def _report(
    stack: Stack,
    records: Records,
    variant: str,
    args: Any,
    sent: list[Sent],
    firsts: dict[str, PageRow],
    m: Marks,
    logs0: tuple[int, int],
) -> dict[str, Any]:
    tw, vo = stack.fake.twilio_creates(), stack.fake.vonage_creates()
    earliest: dict[str, Create] = {}
    for c in sorted([*tw, *vo], key=lambda c: c.received_perf):
        earliest.setdefault(c.page_id, c)
    vo_after_t0 = [c for c in vo if c.received_perf >= m.t0]
    vo_before = [c for c in vo if m.start <= c.received_perf < m.t0]
    failover_s = vo_after_t0[0].received_perf - m.t0 if vo_after_t0 else float("inf")

    during = [s for s in sent if m.t0 <= s.t_send < m.t1]
    # The first incident sent after t0: from its send to its page's create (t0 -> first
    # page at vonage is this plus the wait for the next incident of the steady rate).
    next_s = float("inf")
    if during:
        page = firsts.get(during[0].dispatch_id or "")
        got = earliest.get(page.id) if page else None
        if got is not None:
            next_s = got.received_perf - during[0].t_send
    paged_in, via = 0, Counter[str]()
    never: list[str] = []
    late: list[str] = []
    lat: list[float] = []
    claimed: list[float] = []  # the page claimed by a sender -> its create at a fake
    slowest: tuple[float, str] = (0.0, "")
    for s in during:
        page = firsts.get(s.dispatch_id or "")
        got = earliest.get(page.id) if page else None
        if page is None or got is None:
            never.append(s.external_id)
            continue
        took = got.received_perf - s.t_send
        lat.append(took)
        if page.claimed_at is not None:
            claimed.append(got.received_perf - perf_of(page.claimed_at))
        where = f"sent t1-{m.t1 - s.t_send:.2f} s, {1000 * took:.0f} ms, {got.provider}"
        slowest = max(slowest, (took, f"{s.external_id}: {where}"))
        if got.received_perf < m.t1:
            paged_in += 1
            via[got.provider] += 1
        else:
            late.append(f"{s.external_id}: {where}")

    # Every page that reached either fake since this variant began, by page id.
    window = {c.page_id for c in [*tw, *vo] if c.received_perf >= m.start and c.page_id}
    tw_ids, vo_ids = Counter(c.page_id for c in tw), Counter(c.page_id for c in vo)
    both = sorted(p for p in window if tw_ids[p] and vo_ids[p])
    twice = sorted(p for p in window if tw_ids[p] > 1 or vo_ids[p] > 1)
    by_id = {p.id: p for ps in records.pages().values() for p in ps}
    wrong = sorted(
        f"{p} (recorded {by_id[p].provider}, at {earliest[p].provider})"
        for p in window
        if p in by_id and p in earliest and by_id[p].provider != earliest[p].provider
    )
    tw_back = [c for c in tw if c.received_perf >= m.t1]
    vo_back = [c for c in vo if c.received_perf >= m.t1]
    back_s = tw_back[0].received_perf - m.t1 if tw_back else float("inf")
    last_vo_s = vo_back[-1].received_perf - m.t1 if vo_back else 0.0
    opened, closed = (a - b for a, b in zip(_circuit_lines(stack), logs0, strict=True))

    good_failover = failover_s <= TARGET_FAILOVER_S
    ok = good_failover and not both and not never
    total = args.failover_lead + args.failover_outage + 2 * args.probe_seconds + 3
    print(
        f"   (6) failover, {variant}: {VARIANTS[variant]}; {len(sent)} incidents at "
        f"{args.failover_rate:g}/s over {total:g} s, the outage from {args.failover_lead:g} s "
        f"for {args.failover_outage:g} s; circuit: {args.circuit_failures} failures, probe "
        f"after {args.probe_seconds:g} s"
    )
    print(
        f"       t0 -> first page created at vonage    : {_s(failover_s)} (making twilio "
        f"unavailable took {m.down - m.t0:.3f} s; pages through vonage before t0: "
        f"{len(vo_before)})"
    )
    print(
        f"       first incident sent after t0 -> page  : {_s(next_s)} (sent "
        f"{during[0].t_send - m.t0 if during else float('nan'):.2f} s after t0)"
    )
    print(
        f"       incidents sent during the outage     : {len(during)}; paged before twilio "
        f"was back {paged_in} (vonage {via['vonage']}, twilio {via['twilio']}), only after "
        f"it {len(late)}{_ids(late)}, not at all {len(never)}{_ids(never)}"
    )
    print(f"       their intake -> first page at a fake : {pct(lat)}")
    print(f"       their page claimed -> create at a fake: {pct(claimed)}")
    print(f"       slowest of them                      : {slowest[1] or '-'}")
    print(
        f"       pages through both providers         : {len(both)}{_ids(both)}; created twice "
        f"at one fake {len(twice)}{_ids(twice)}; recorded provider != the fake that got it "
        f"{len(wrong)}{_ids(wrong)}"
    )
    print(
        f"       restored -> first page through twilio: {_s(back_s)} (restoring took "
        f"{m.up - m.t1:.3f} s); -> last page through vonage: {last_vo_s:.2f} s "
        f"({len(vo_back)} pages through vonage after the restore)"
    )
    print(
        f"       circuit, from the services' logs     : opened {opened} times, closed "
        f"{closed} times"
    )
    print(
        f"       target t0 -> first page through the secondary <= {TARGET_FAILOVER_S:.0f} s "
        f"({failover_s / TARGET_FAILOVER_S:.2f} of it): {verdict(good_failover)}; pages "
        f"through both providers 0: {verdict(not both)}; every incident paged: "
        f"{verdict(not never)}"
    )
    return {
        "ok": ok,
        "failover_s": failover_s,
        "next_s": next_s,
        "both": len(both),
        "during": len(during),
        "paged_in": paged_in,
        "never": len(never),
        "back_s": back_s,
        "last_vonage_s": last_vo_s,
    }


def _circuit_lines(stack: Stack) -> tuple[int, int]:
    opened = closed = 0
    for log in stack.tmp.glob("*.log"):
        text = log.read_text(errors="replace")
        opened += text.count(": circuit open")
        closed += text.count(": circuit closed")
    return opened, closed


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds != float("inf") else "never"


def _ids(items: list[str], most: int = 4) -> str:
    if not items:
        return ""
    more = f", +{len(items) - most} more" if len(items) > most else ""
    return f" ({', '.join(items[:most])}{more})"


def summary_line(mode: str, items: list[dict[str, Any]]) -> list[str]:
    """The ``== summary`` lines of phase (6) for one mode (``items``: one per run)."""
    lines = []
    variants = sorted({v for r in items for v in r.get("failover", {})}, reverse=True)
    for variant in variants:
        runs = [r["failover"][variant] for r in items if variant in r.get("failover", {})]
        parts = []
        for f in runs:
            if "error" in f:
                parts.append(f"error ({f['error'][:60]})")
                continue
            parts.append(
                f"{_s(f['failover_s'])}, both {f['both']}, unpaged {f['never']}, back on "
                f"twilio {_s(f['back_s'])} / all {f['last_vonage_s']:.2f} s"
            )
        good = bool(runs) and all(f["ok"] for f in runs)
        lines.append(
            f"   {mode:8} failover ({variant}), t0 -> first page via vonage: "
            f"{'; '.join(parts)} -> target <= {TARGET_FAILOVER_S:.0f} s, 0 through both: "
            f"{verdict(good)}"
        )
    return lines

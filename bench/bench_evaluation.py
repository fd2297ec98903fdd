"""The evaluation report for a year of the national configuration, through the app.

    .venv/bin/python bench/bench_evaluation.py [--db /tmp/samenop_bench_evaluation.db]
        [--per-day 20] [--repeat 10] [--fresh]

1. History (once; reused when the file is there): the national configuration
   (bench/national.py) stored in a SQLite file under /tmp, and a year (2026) of
   incidents at ``--per-day`` per region per day (25 regions: 182,500 at 20), each with
   the events the service records for it (intake, paging, answers, the steps, the
   close: 8 to 17 events, 2.3 million in all), written with bulk inserts in the shapes
   ``dispatch.service``, ``dispatch.paging`` and ``dispatch.progress`` write them. The
   evaluation's facts are then folded from those events by ``evaluation_store.rebuild``
   (timed: that is what ``samenop evaluation rebuild`` costs at this size).
2. In-process app (``create_app``, the admin key): ``GET /api/v1/evaluation`` and
   ``GET /evaluatie`` for one region and the whole year, ``--repeat`` times each
   after a warm-up, and the CSV once. Prints p50 and max; PASS when the max of both is
   at most 1 s.
3. Baseline in the same run: the same table computed from the raw events (every
   relevant event of the region's dispatches in the year, folded per dispatch), which
   is what the projection saves.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Table, func, insert, select  # noqa: E402

from access import service as access  # noqa: E402
from access.models import Account  # noqa: E402
from access.principal import Role  # noqa: E402
from api.app import create_app  # noqa: E402
from bench.machine import print_machine, wait_quiet  # noqa: E402
from bench.national import build_national  # noqa: E402
from core import migrate  # noqa: E402
from core.db import make_engine, make_session_factory  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.timeutil import AMS  # noqa: E402
from dispatch import evaluation, evaluation_store  # noqa: E402
from dispatch.models import Dispatch, EvaluationFact, Event, Incident  # noqa: E402
from oncall import service as oncall_service  # noqa: E402

TARGET_S = 1.0
KEY = "bench-evaluation-key"
PASSWORD = "bench evaluation password 1"
YEAR = 2026
INCIDENTS = cast(Table, Incident.__table__)
DISPATCHES = cast(Table, Dispatch.__table__)
EVENTS = cast(Table, Event.__table__)
OUTCOMES = (
    ("joint_on_scene", 20),
    ("phone_consult", 18),
    ("video_consult", 7),
    ("no_consult", 33),
    ("cancelled", 8),
    ("no_responder", 7),
    ("police_call", 2),
    ("open", 5),
)


def _events(
    t: datetime, outcome: str, region: str, team: str | None, basisteam: str, rng: random.Random
) -> list[tuple[str, dict[str, Any], datetime]]:
    """The events of one incident, as the service writes them (payload shapes kept)."""
    s = timedelta(seconds=1)
    police = outcome == "police_call"
    out: list[tuple[str, dict[str, Any], datetime]] = [
        ("incident.received", {"incident_id": "x", "source": "bench", "by": "key:bench",
         "basisteam": basisteam, "municipality": None, "case_type": "HG"}, t),
        ("dispatch.planned", {"reference": "SO-BENCH", "status": "paired", "region": region,
         "team": team, "mode": "on_scene", **({"police_call": True} if police else {})}, t),
    ]  # fmt: skip
    if police:
        close = {"stage": "closed", "outcome": "phone_consult"}
        return [*out, ("lifecycle.close", close, t + timedelta(minutes=40))]
    out += [
        ("lifecycle.paging", {"stage": "paging", "actor": "system", "assignment": None}, t),
        ("paging.started", {"phase": "respond"}, t),
        ("attempt.started", {"assignment": 1, "round": 1}, t),
        ("page.sent", {"page": "p1", "assignment": 1, "channel": "voice"}, t + s),
    ]
    position = 1
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        out.append(("assignment.declined", {"assignment": position, "purpose": "respond",
                    "team": team, "via": "voice", "late": False}, t + 20 * s))  # fmt: skip
        position += 1
    if outcome == "no_responder":
        out.append(("dispatch.no_responder", {"phase": "respond", "reason": "paging_no_responder"},
                    t + 600 * s))  # fmt: skip
        out.append(("lifecycle.close", {"stage": "closed", "outcome": outcome}, t + 3600 * s))
        return out
    if outcome in ("joint_on_scene", "phone_consult", "video_consult"):
        accepted = t + timedelta(seconds=rng.randint(30, 900))
        out += [
            ("assignment.accepted", {"assignment": position, "purpose": "respond", "team": team,
             "via": "voice", "late": False}, accepted),
            ("lifecycle.accepted", {"stage": "accepted", "actor": "system"}, accepted),
            ("contact.exchanged", {"assignment": position}, accepted),
            ("dispatch.accepted", {"assignments": [position]}, accepted),
        ]  # fmt: skip
        if outcome == "joint_on_scene":
            arrived = accepted + timedelta(seconds=rng.randint(600, 2400))
            out += [
                ("lifecycle.onderweg", {"stage": "onderweg", "eta_minutes": 20}, accepted),
                ("lifecycle.ter_plaatse", {"stage": "ter_plaatse", "first": True}, arrived),
                ("lifecycle.motorkapoverleg", {"stage": "motorkapoverleg"}, arrived + 300 * s),
            ]
    if outcome != "open":
        kind = "lifecycle.cancel" if outcome == "cancelled" else "lifecycle.close"
        out.append((kind, {"stage": "closed", "outcome": outcome}, t + 5400 * s))
    return out


def generate(url: str, per_day: int) -> None:
    """The national configuration and a year of incidents with their events."""
    config = build_national(seed=7)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        oncall_service.write_config(
            session=s, config=config, now=datetime(2026, 1, 1, tzinfo=UTC), source="bench"
        )
        s.commit()
    rng = random.Random(2026)
    teams_of: dict[str, list[str]] = {}
    for tm in config.teams:
        if tm.region:
            teams_of.setdefault(tm.region, []).append(tm.id)
    basisteams_of: dict[str, list[str]] = {}
    for b in config.basisteams:
        basisteams_of.setdefault(b.region, []).append(b.id)
    regions = sorted(r.id for r in config.regions)
    outcomes = [o for o, _w in OUTCOMES]
    weights = [w for _o, w in OUTCOMES]
    day = date(YEAR, 1, 1)
    started = time.perf_counter()
    n = 0
    while day.year == YEAR:
        incidents, dispatches, events = [], [], []
        for region in regions:
            for _ in range(per_day):
                local = datetime.combine(day, datetime.min.time(), AMS) + timedelta(
                    seconds=rng.randrange(86400)
                )
                t = local.astimezone(UTC)
                iid, did = str(uuid.uuid4()), str(uuid.uuid4())
                outcome = rng.choices(outcomes, weights)[0]
                team = rng.choice(teams_of[region])
                basisteam = rng.choice(basisteams_of[region])
                incidents.append({
                    "id": iid, "source": "bench", "external_id": iid, "request_hash": "",
                    "reported_at": t, "received_at": t, "basisteam_id": basisteam,
                    "municipality_code": None, "case_type": "HG", "persons": [], "flags": [],
                    "police_unit": "", "police_callback": "", "created_by": "key:bench",
                })  # fmt: skip
                closed = None if outcome == "open" else t + timedelta(minutes=90)
                dispatches.append({
                    "id": did, "incident_id": iid, "reference": f"B{n:011d}", "status": "paired",
                    "region_id": region, "team_id": team, "mode": "on_scene", "staff_needed": 1,
                    "config_version": 1, "planned_at": t, "plan": {}, "outcome": None,
                    "paging_state": "accepted", "paging": None, "created_at": t,
                    "updated_at": t, "stage": "closed" if closed else "paging", "stage_at": t,
                    "closed_at": closed,
                })  # fmt: skip
                for kind, payload, at in _events(t, outcome, region, team, basisteam, rng):
                    events.append(
                        {"dispatch_id": did, "type": kind, "payload": payload, "created_at": at}
                    )
                n += 1
        with factory() as s:
            s.execute(insert(INCIDENTS), incidents)
            s.execute(insert(DISPATCHES), dispatches)
            s.execute(insert(EVENTS), events)
            s.commit()
        if day.day == 1:
            print(f"  {day:%Y-%m}: {n:,} incidents so far, {time.perf_counter() - started:.0f} s")
        day += timedelta(days=1)
    with factory() as s:
        t0 = time.perf_counter()
        folded = evaluation_store.rebuild(s)
        s.commit()
        took = time.perf_counter() - t0
        events_n = s.scalar(select(func.count()).select_from(Event))
    print(f"history: {n:,} incidents, {events_n:,} events in {time.perf_counter() - started:.0f} s")
    print(f"evaluation rebuild (samenop evaluation rebuild): {folded:,} dispatches in {took:.1f} s")
    engine.dispose()


def from_raw_events(url: str, region: str) -> tuple[float, int]:
    """The baseline: the region's year folded from the raw events (seconds, incidents)."""
    engine = make_engine(url)
    first, after = evaluation.period_bounds(date(YEAR, 1, 1), date(YEAR, 12, 31))
    t0 = time.perf_counter()
    with make_session_factory(engine)() as s:
        rows = s.execute(
            select(Event.dispatch_id, Event.type, Event.payload, Event.created_at)
            .join(Dispatch, Dispatch.id == Event.dispatch_id)
            .where(Dispatch.region_id == region, Event.type.in_(sorted(evaluation.RELEVANT)))
        )
        per: dict[str, list[Any]] = {}
        for did, kind, payload, at in rows:
            per.setdefault(did, []).append((kind, payload, at))
    facts = []
    for did, items in per.items():
        d = evaluation.fold(items)
        if d.received_at is not None and first <= d.received_at < after:
            facts.append(
                evaluation.Fact(did, d.received_at, d.team_id, d.outcome, d.police_call,
                                d.first_accept_at, d.arrived_at, d.declines, d.unanswered)
            )  # fmt: skip
    report = evaluation.report(region, date(YEAR, 1, 1), date(YEAR, 12, 31), facts)
    took = time.perf_counter() - t0
    engine.dispose()
    return took, report.total.incidents


def _time(
    client: TestClient, path: str, params: dict[str, str], repeat: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (of this process: the app runs in it) per request."""
    client.get(path, params=params)  # warm-up (snapshot, templates)
    out, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        r = client.get(path, params=params, follow_redirects=False)
        out.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert r.status_code == 200, r.text[:300]
        assert len(r.content) > 500, r.text[:300]  # the whole year, not a redirect
    return out, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="/tmp/samenop_bench_evaluation.db")
    parser.add_argument("--per-day", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--fresh", action="store_true", help="generate the history again")
    args = parser.parse_args()
    print_machine()
    path = Path(args.db)
    url = f"sqlite:///{path}"
    if args.fresh and path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    engine = make_engine(url)
    if path.exists():
        migrate.upgrade(url)  # a file from an older tree: its schema brought up to date
        with make_session_factory(engine)() as s:
            have = s.scalar(select(func.count()).select_from(EvaluationFact)) or 0
    else:
        have = 0
    if not have:
        print(f"generating the history into {path} (once; reused next time) ...")
        migrate.upgrade(url)
        generate(url, args.per_day)
    else:
        print(f"reusing {path}: {have:,} incidents' facts")
    engine.dispose()
    print(wait_quiet())
    app = create_app(
        Settings(environment="test", database_url=url, api_keys=[KEY]),
        run_delivery=False,
        run_stream=False,
    )
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        if s.scalar(select(Account.id).where(Account.username == "bench-planner")) is None:
            access.create_account(
                s,
                username="bench-planner",
                role=Role.PLANNER,
                password=PASSWORD,
                now=datetime.now(UTC),
                by="bench",
            )
            s.commit()
    engine.dispose()
    with TestClient(app, headers={"X-API-Key": KEY}) as client:
        # the page is for a signed-in planner (every region: an account given no bound)
        signed = client.post(
            "/login",
            data={"username": "bench-planner", "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        regions = sorted(client.get("/api/v1/config").json()["regions"], key=lambda r: r["id"])
        region = regions[0]["id"]
        params = {"region": region, "start": f"{YEAR}-01-01", "end": f"{YEAR}-12-31"}
        body = client.get("/api/v1/evaluation", params=params).json()
        totals = body["totals"]
        print(
            f"region {region}, {params['start']}..{params['end']}: {totals['incidents']:,} "
            f"incidents, {totals['joint_approach']:,} joint approach, "
            f"median to accept {totals['to_accept']['median_seconds']:.0f} s"
        )
        results = {
            "JSON /api/v1/evaluation": _time(client, "/api/v1/evaluation", params, args.repeat),
            "page /evaluatie": _time(client, "/evaluatie", params, args.repeat),
            "CSV /api/v1/evaluation.csv": _time(client, "/api/v1/evaluation.csv", params, 3),
        }
    worst = 0.0
    for name, (times, cpu) in results.items():
        p50, top = statistics.median(times), max(times)
        worst = max(worst, top)
        print(
            f"{name:28s} n={len(times):2d}  p50 {p50 * 1000:7.1f} ms  max {top * 1000:7.1f} ms"
            f"  (CPU p50 {statistics.median(cpu) * 1000:6.1f} ms)"
        )
    raw, raw_n = from_raw_events(url, region)
    print(f"baseline: the same year folded from raw events: {raw * 1000:.0f} ms ({raw_n:,})")
    verdict = "PASS" if worst <= TARGET_S else "FAIL"
    print(f"{verdict}: slowest response {worst * 1000:.0f} ms (target <= {TARGET_S * 1000:.0f} ms)")


if __name__ == "__main__":
    main()

"""Prometheus metrics: every named figure is exposed and moves when an incident is paged
through the Twilio fake; /metrics needs a key; scrape-time figures survive a database
that is away; processes sharing a metrics directory report together."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue
from sqlalchemy.orm import sessionmaker
from websockets.sync.client import connect

from core.db import make_engine
from dispatch.metrics import StoreCollector, render, scrape_registry, serve_port
from oncall.schemas import ConfigSet
from tests.api.live import Live, start_live
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import API_KEY, BACKENDS

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

NAMED = (
    "samenop_intake_seconds",
    "samenop_pages",
    "samenop_time_to_first_call_seconds",
    "samenop_deadline_lateness_seconds",
    "samenop_sweeper_redrives",
    "samenop_websocket_clients",
    "samenop_open_alarms",
)


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_config: ConfigSet,
) -> Iterator[Live]:
    yield from start_live(request.param, tmp_path_factory.mktemp("metrics"), example_config)


@pytest.fixture
def stack(live: Live) -> Iterator[Live]:
    live.fake.reset()
    live.clean()
    live.at("2026-03-10T16:59")
    yield live
    live.fake.wait_idle()
    live.fake.reset()


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def scrape(stack: Live) -> Samples:
    r = stack.http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def families(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def ticket(stack: Live) -> str:
    r = stack.http.post("/api/v1/stream/tickets")
    if r.status_code == 201:
        return f"ticket={r.json()['ticket']}"
    return f"key={API_KEY}"  # before the ticket route existed


def test_metrics_needs_a_key(stack: Live) -> None:
    r = httpx.get(f"{stack.url}/metrics", timeout=10)
    assert r.status_code == 401
    assert "samenop_" not in r.text
    r = httpx.get(f"{stack.url}/metrics", headers={"X-API-Key": "wrong-key-0123456789"})
    assert r.status_code == 401
    assert "/metrics" not in stack.http.get("/openapi.json").json()["paths"]


def test_every_named_metric_moves_when_an_incident_is_paged(stack: Live) -> None:
    before = scrape(stack)
    names = families(before)
    for name in ("samenop_websocket_clients", "samenop_scrape_source_up"):
        assert name in names, sorted(names)
    assert total(before, "samenop_open_alarms", kind="no_accept") == 0
    assert total(before, "samenop_scrape_source_up", source="database") == 1

    url = stack.url.replace("http://", "ws://") + "/ws?" + ticket(stack)
    with connect(url) as ws:
        assert '"snapshot"' in str(ws.recv(timeout=5))
        live_clients = total(scrape(stack), "samenop_websocket_clients")
        assert live_clients == total(before, "samenop_websocket_clients") + 1

        body = incident(basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
        d = stack.post(**body)
        stack.run()  # the first call goes out through the fake Twilio
        stack.twilio.expect_call("+31612340102")
        after_call = scrape(stack)
        # the sweeper beside RQ re-drives what the queue lost: play that part once
        driver = stack.app_state.driver
        assert driver is not None
        driver.queue_empty = lambda: True
        try:
            stack.clock.advance(timedelta(minutes=3, seconds=30))
            stack.run()
            stack.fake.wait_idle()
            stack.run()
        finally:
            driver.queue_empty = None
        after = scrape(stack)

    assert (
        total(after_call, "samenop_intake_seconds_count", result="created")
        == total(before, "samenop_intake_seconds_count", result="created") + 1
    )
    assert total(after_call, "samenop_intake_seconds_sum") > total(
        before, "samenop_intake_seconds_sum"
    )
    first = "samenop_time_to_first_call_seconds_count"
    assert total(after_call, first, provider="twilio", channel="voice") == (
        total(before, first, provider="twilio", channel="voice") + 1
    )
    assert total(after_call, "samenop_pages", provider="twilio", kind="page", status="sent") >= 1
    assert total(after_call, "samenop_pages", provider="twilio") > total(
        before, "samenop_pages", provider="twilio"
    )
    # minutes later: the call's attempt expired, its SMS went out (re-driven), and
    # nobody accepted yet
    late = "samenop_deadline_lateness_seconds_count"
    assert total(after, late) > total(before, late)
    assert total(after, "samenop_sweeper_redrives_total") > total(
        before, "samenop_sweeper_redrives_total"
    )
    assert total(after, "samenop_open_alarms", kind="no_accept") == 1
    assert total(after, "samenop_pages", provider="twilio", status="expired") >= 1
    assert {f"{n}_count" if "seconds" in n else n for n in NAMED} <= families(after) | {
        "samenop_sweeper_redrives"
    }
    assert "samenop_sweeper_redrives_total" in families(after)
    # the websocket went away with the block
    assert total(scrape(stack), "samenop_websocket_clients") == total(
        before, "samenop_websocket_clients"
    )
    assert d["reference"]


def test_a_scrape_survives_the_database_being_away(tmp_path: Path) -> None:
    engine = make_engine("postgresql+psycopg://samenop@127.0.0.1:1/nowhere?connect_timeout=1")
    try:
        registry = scrape_registry(sessionmaker(bind=engine), redis_url=None, queue_name="x")
        samples = parse(render(registry).decode())
    finally:
        engine.dispose()
    assert total(samples, "samenop_scrape_source_up", source="database") == 0
    assert "samenop_pages" not in families(samples)
    assert "samenop_intake_seconds_count" in families(samples)


def test_queue_depth_is_read_from_redis(live: Live) -> None:
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(REDIS_URL)
    queue = Queue(name, connection=client)
    try:
        queue.enqueue_call("builtins.print", args=("x",), result_ttl=0)
        queue.enqueue_call("builtins.print", args=("y",), result_ttl=0)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(live.app_state.sessions, REDIS_URL, name))
        samples = parse(render(registry).decode())
        assert total(samples, "samenop_queue_depth", queue=name, state="queued") == 2
        assert total(samples, "samenop_queue_depth", queue=name, state="scheduled") == 0
        assert total(samples, "samenop_scrape_source_up", source="redis") == 1
        # Redis away: the scrape still answers, saying so
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(live.app_state.sessions, "redis://127.0.0.1:1/0", name))
        samples = parse(render(registry).decode())
        assert total(samples, "samenop_scrape_source_up", source="redis") == 0
        assert total(samples, "samenop_scrape_source_up", source="database") == 1
    finally:
        queue.delete(delete_jobs=True)
        client.close()


CHILD = textwrap.dedent(
    """
    import sys
    from core import metrics
    metrics.use_directory(sys.argv[1])
    m = metrics.current()
    m.intake_seconds.labels(result="created").observe(0.004)
    m.sweeper_redrives.inc(3)
    m.websocket_clients.inc()
    print("ready", flush=True)
    sys.stdin.readline()  # until told to end
    """
)


def test_processes_sharing_a_directory_report_together(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"

        def read() -> Samples:
            registry = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(registry, path=str(folder))
            return parse(render(registry).decode())

        both = read()
        assert total(both, "samenop_intake_seconds_count", result="created") == 2
        assert total(both, "samenop_sweeper_redrives_total") == 6
        assert total(both, "samenop_websocket_clients") == 2
        first = children[0]
        first.communicate("\n", timeout=20)
        one = read()
        # a process that ended takes its clients with it; what it counted stays counted
        assert total(one, "samenop_websocket_clients") == 1
        assert total(one, "samenop_intake_seconds_count", result="created") == 2
    finally:
        for child in children:
            if child.poll() is None:
                child.communicate("\n", timeout=20)


def test_the_metrics_port_serves_without_a_key(live: Live) -> None:
    from tests.api.live import free_port

    port = free_port()
    registry = scrape_registry(live.app_state.sessions, redis_url=None, queue_name="x")
    assert serve_port(port, registry)
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200
    assert "samenop_scrape_source_up" in r.text and "samenop_intake_seconds" in r.text
    assert not serve_port(port, registry)  # taken: another process serves it
    assert not serve_port(None, registry)

"""Logs: JSON lines that parse and carry no phone number, key or token; uvicorn's access
log without secret query values; a fault logged when it starts and when it ends, with
a count, also through a real PostgreSQL outage (a server that refuses connections)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from rq import Queue
from rq.job import JobStatus
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from api.stream import Hub
from core import logs
from core.bus import InMemoryBus
from core.clock import ManualClock
from core.db import make_engine, make_session_factory
from core.logs import FaultLog, JsonFormatter, Scrub, TextFormatter
from core.settings import Settings
from dispatch.driver import Driver
from dispatch.jobs import DispatchWorker, build_context
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
SAMENOP = Path(sys.executable).with_name("samenop")
REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Nothing listens here: every connection is refused at once, as when PostgreSQL is down.
DOWN = "postgresql+psycopg://samenop@127.0.0.1:1/samenop?connect_timeout=1"
PHONE, CALLBACK = "+31612340102", "06 12345678"
SECRET_TOKEN = "sekrit-token-9f8e7d6c5b4a"


def json_handler(stream: io.StringIO, fmt: logging.Formatter | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(Scrub())
    handler.setFormatter(fmt or JsonFormatter())
    return handler


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger(f"samenop.test.{uuid.uuid4().hex[:6]}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = json_handler(stream)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# --- format and scrubbing ---------------------------------------------------------------


def test_a_json_line_per_record_with_event_fields_and_no_personal_data(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with logs.fields(reference="SO-7KQ2MZ"):
        logger.info(
            "page %s to %s sent; police callback %s",
            "3f2a1b4c-1234-4567-89ab-123456789012",
            PHONE,
            CALLBACK,
            extra={
                "page": "3f2a1b4c-1234-4567-89ab-123456789012",
                "phone": PHONE,
                "person_name": "Bram",
                "ages": [34, 6],
                "api_key": API_KEY,
                "attempt": 2,
            },
        )
    try:
        raise ValueError(f"bad number {PHONE} with X-API-Key: {API_KEY}")
    except ValueError:
        logger.exception("failed for https://x.nl/p/%s?key=%s", SECRET_TOKEN, API_KEY)
    first, second = lines(stream)
    assert {"time", "level", "logger", "message"} <= first.keys()
    assert first["level"] == "info" and first["reference"] == "SO-7KQ2MZ"
    assert datetime.fromisoformat(str(first["time"])).tzinfo is not None
    assert first["page"] == "3f2a1b4c-1234-4567-89ab-123456789012"  # ids are kept
    assert first["attempt"] == 2
    for dropped in ("phone", "person_name", "ages", "api_key"):
        assert dropped not in first
    assert "3f2a1b4c-1234-4567-89ab-123456789012" in str(first["message"])
    assert second["level"] == "error" and "ValueError" in str(second["exception"])
    text = stream.getvalue()
    for secret in (PHONE, CALLBACK, "612340102", API_KEY, SECRET_TOKEN, "Bram"):
        assert secret not in text, secret


def test_the_access_log_hides_secret_query_values_and_link_tokens() -> None:
    stream = io.StringIO()
    handler = json_handler(stream)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            f"/ws?after=12&key={API_KEY}&ticket=abc123&token={SECRET_TOKEN}",
            "1.1",
            101,
        ),
        None,
    )
    handler.handle(record)
    for path in (f"/w/{SECRET_TOKEN}", f"/p/{SECRET_TOKEN}?x=1", f"/login?password={API_KEY}"):
        handler.handle(
            logging.LogRecord(
                "uvicorn.access",
                logging.INFO,
                __file__,
                1,
                '%s - "%s %s HTTP/%s" %d',
                ("127.0.0.1:5000", "GET", path, "1.1", 200),
                None,
            )
        )
    found = lines(stream)
    assert found[0]["path"] == "/ws?after=12&key=[redacted]&ticket=[redacted]&token=[redacted]"
    assert found[0]["status"] == 101 and found[0]["method"] == "GET"
    assert found[1]["path"] == "/w/[redacted]"
    assert found[2]["path"] == "/p/[redacted]?x=1"
    text = stream.getvalue()
    assert API_KEY not in text and SECRET_TOKEN not in text and "abc123" not in text


def test_text_format_is_scrubbed_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("samenop.test.text")
    logger.propagate = False
    handler = json_handler(stream, TextFormatter())
    logger.addHandler(handler)
    try:
        logger.warning("reply from %s", PHONE, extra={"reference": "SO-ABC123"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert PHONE not in line and "[phone]" in line and "reference=SO-ABC123" in line


def test_format_defaults_follow_the_environment() -> None:
    assert logs.resolve_format(None, "production") == "json"
    assert logs.resolve_format(None, "development") == "text"
    assert logs.resolve_format("text", "production") == "text"
    assert Settings(environment="test", api_keys=[API_KEY]).log_format is None


def test_database_errors_never_quote_the_values_sent(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text("SELECT * FROM no_such_table WHERE phone = :p"), {"p": PHONE})
    assert PHONE not in str(caught.value)


# --- the fault helper ----------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_fault_is_logged_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = Ticks()
    fault = FaultLog(logging.getLogger("samenop.test.fault"), "sweep", clock=ticks)
    fault.ok()  # nothing failed: nothing logged
    with caplog.at_level(logging.INFO, logger="samenop.test.fault"):
        for _ in range(160):
            ticks.now += 0.125
            fault.failed(ConnectionError("connection refused"))
        assert len(caplog.records) == 1
        assert caplog.records[0].levelno == logging.ERROR and caplog.records[0].exc_info
        fault.failed(TimeoutError("slow"))  # a new kind is worth one more line
        assert len(caplog.records) == 2
        ticks.now += 0.5
        fault.ok()
        fault.ok()
        assert len(caplog.records) == 3
        assert caplog.records[2].getMessage() == "sweep recovered after 161 failures in 20.4 s"
        assert not caplog.records[2].exc_info
        # a long outage is recalled once a minute, one line without a traceback
        caplog.clear()
        for _ in range(100):
            ticks.now += 1.5
            fault.failed(ConnectionError("connection refused"))
        assert [r.exc_info is not None for r in caplog.records] == [True, False, False]
        assert "still failing: 41 failures" in caplog.records[1].getMessage()
    assert fault.faults == 2


def test_a_fault_seen_per_request_settles_when_failures_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = Ticks()
    fault = FaultLog(
        logging.getLogger("samenop.test.settle"), "database", clock=ticks, settle_after=30
    )
    with caplog.at_level(logging.INFO, logger="samenop.test.settle"):
        for _ in range(50):  # 50 requests answered 503 in 10 s
            ticks.now += 0.2
            fault.failed(ConnectionError("refused"))
        ticks.now += 300  # back for five minutes; then a new outage
        fault.failed(ConnectionError("refused"))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "database failing: ConnectionError: refused",
        "database: the previous fault ended: 50 failures in 9.8 s, then none for 300 s",
        "database failing: ConnectionError: refused",
    ]
    assert fault.faults == 2


# --- a real PostgreSQL outage ------------------------------------------------------------


def settings_for(url: str) -> Settings:
    return Settings(environment="test", database_url=url, api_keys=[API_KEY])


def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_sweeper_logs_a_database_outage_once_and_its_end_once(
    caplog: pytest.LogCaptureFixture, sessions: sessionmaker[Session]
) -> None:
    down = make_engine(DOWN, pre_ping=False)
    clock = ManualClock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    ctx = build_context(settings_for(DOWN), make_session_factory(down), clock, waker=None)  # type: ignore[arg-type]
    driver = Driver(ctx, interval=0.01, parallel=1)
    ctx.waker = driver
    try:
        with caplog.at_level(logging.INFO, logger="samenop"):
            driver.start()
            wait_until(lambda: driver._sweep_faults.failures >= 40)
            errors = [r for r in caplog.records if r.name == "samenop.driver"]
            assert len(errors) == 1, [r.getMessage() for r in errors]
            assert errors[0].levelno == logging.ERROR and errors[0].exc_info
            assert "OperationalError" in errors[0].getMessage()
            ctx.sessions = sessions  # PostgreSQL is back
            wait_until(lambda: not driver._sweep_faults.failing)
            driver.stop()
            records = [r for r in caplog.records if r.name == "samenop.driver"]
            assert len(records) == 2
            assert records[1].getMessage().startswith("sweep recovered after ")
            failures = int(records[1].getMessage().split("after ")[1].split()[0])
            assert failures >= 40
    finally:
        driver.stop()
        down.dispose()


def test_the_event_tail_logs_a_database_outage_once_and_its_end_once(
    caplog: pytest.LogCaptureFixture, engine: Engine
) -> None:
    down = make_engine(DOWN, pre_ping=False)
    clock = ManualClock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    failing = make_session_factory(down)
    working = make_session_factory(engine)

    async def scenario() -> None:
        hub = Hub(lambda: failing(), InMemoryBus(), clock, poll_seconds=0.01)
        await hub.start()
        try:
            for _ in range(500):
                if hub._tail_faults.failures >= 30:
                    break
                await asyncio.sleep(0.01)
            assert hub._tail_faults.failures >= 30
            hub.sessions = lambda: working()
            await asyncio.wait_for(hub.started.wait(), 10)
            for _ in range(500):
                if not hub._tail_faults.failing:
                    break
                await asyncio.sleep(0.01)
        finally:
            await hub.stop()

    try:
        with caplog.at_level(logging.INFO, logger="api.stream"):
            asyncio.run(scenario())
        records = [r for r in caplog.records if r.name == "api.stream"]
        assert len(records) == 2, [r.getMessage() for r in records]
        assert records[0].levelno == logging.ERROR and records[0].exc_info
        assert records[1].getMessage().startswith("event tail recovered after ")
    finally:
        down.dispose()


# --- RQ jobs --------------------------------------------------------------------------------


def unreachable_database() -> None:
    """A job meeting the outage (as ``deliver_page`` would)."""
    raise ConnectionRefusedError("connection to 127.0.0.1:5432 refused")


def works() -> int:
    return 1


class _BurstWorker(DispatchWorker):
    """One burst without RQ's command channel: stopping its thread can wait out a long
    poll, longer than a failed job's record is kept."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


def test_failed_rq_jobs_are_one_fault_not_a_traceback_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    queue = Queue(f"logs-{uuid.uuid4().hex[:8]}", connection=client)
    try:
        failing = [
            queue.enqueue(unreachable_database, result_ttl=0, failure_ttl=600) for _ in range(6)
        ]
        queue.enqueue(works, result_ttl=0)
        worker = _BurstWorker([queue], connection=client, name=f"logs-{uuid.uuid4().hex[:8]}")
        with caplog.at_level(logging.INFO):
            worker.work(burst=True, logging_level="WARNING")
        ours = [r for r in caplog.records if r.name == "dispatch.jobs"]
        seen = [(r.name, r.levelname, r.getMessage()[:200]) for r in caplog.records]
        assert [r.levelno for r in ours] == [logging.ERROR, logging.WARNING], seen
        assert "ConnectionRefusedError" in ours[0].getMessage() and ours[0].exc_info
        assert (
            ours[1].getMessage()
            == "RQ jobs recovered after 6 failures in "
            + (ours[1].getMessage().rsplit(" in ", 1)[1])
        )
        rq_errors = [r for r in caplog.records if r.name.startswith("rq") and r.levelno >= 40]
        assert rq_errors == [], seen
        for job in failing:  # failed as before, only logged once
            assert job.get_status(refresh=True) == JobStatus.FAILED
    finally:
        queue.failed_job_registry.cleanup()
        for job_id in queue.failed_job_registry.get_job_ids():
            queue.failed_job_registry.remove(job_id, delete_job=True)
        queue.delete(delete_jobs=True)
        client.close()


# --- a real server ------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_running_server_writes_json_lines_without_secrets(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENOP_")}
    env.update(
        PYTHONUNBUFFERED="1",
        SAMENOP_ENVIRONMENT="test",
        SAMENOP_LOG_FORMAT="json",
        SAMENOP_DATABASE_URL=f"sqlite:///{tmp_path / 'logs.db'}",
        SAMENOP_API_KEYS=API_KEY,
        SAMENOP_REGIONS_DIR=str(ROOT / "regions"),
        SAMENOP_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    subprocess.run(
        [str(SAMENOP), "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    subprocess.run(
        [str(SAMENOP), "config", "load", str(ROOT / "regions")],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    out = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(SAMENOP), "serve", "--port", str(port), "--log-level", "info"],
        env=env,
        cwd=tmp_path,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
            body = {
                "source": "meldkamer-logs",
                "external_id": f"LOG-{uuid.uuid4().hex[:8]}",
                "reported_at": "2026-03-10T16:59",
                "basisteam": "gooi-en-vechtstreek-noord",
                "case_type": "HG",
                "persons": [{"role": "victim", "age": 34}, {"role": "child", "age": 6}],
                "flags": ["children_present"],
                "police_unit": "GV-21",
                "police_callback": CALLBACK,
            }
            r = http.post("/api/v1/incidents", json=body, headers={"X-API-Key": API_KEY})
            assert r.status_code == 201, r.text
            http.get(f"/metrics?key={API_KEY}")
            http.get(f"/api/v1/incidents?token={SECRET_TOKEN}&ticket={SECRET_TOKEN}")
            http.get(f"/w/{SECRET_TOKEN}")
            http.get(f"/p/{SECRET_TOKEN}")
            http.get("/api/v1/incidents", headers={"X-API-Key": "wrong-key-0123456789"})
            time.sleep(1.0)  # the embedded loop pages the people on call meanwhile
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        out.close()
    text = (tmp_path / "serve.log").read_text()
    records = []
    for line in text.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON line: {line!r}\n{text}")
    assert records, text
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(str(r["path"]).startswith("/metrics?key=[redacted]") for r in access), text
    assert any(r["logger"] == "samenop.pages" for r in records), text  # pages went out
    for secret in (API_KEY, SECRET_TOKEN, CALLBACK, "12345678", PHONE, "612340"):
        assert secret not in text, secret

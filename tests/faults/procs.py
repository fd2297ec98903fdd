"""Real processes for fault tests: the fake Twilio, the API and RQ workers, each a
``samenop`` command in a process group of its own, over a PostgreSQL database and a
Redis database number that belong to one test.

Processes are stopped by process group (``os.killpg``), never by name: ``kill -9`` of a
worker takes its forked RQ scheduler with it, as a crashed machine would. Children
also die with the test process (``PR_SET_PDEATHSIG``), so an aborted run leaves
nothing behind. Every process writes a log file of its own; a failing test prints
them. Whatever happens, the processes, the database and the Redis database are
cleaned up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import redis
from rq import Queue, Worker
from sqlalchemy import select

from core import migrate
from core.db import make_engine, make_session_factory
from dispatch.models import Event, Page
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.conftest import API_KEY, PG_ADMIN, _pg_url

REDIS_ADMIN = os.environ.get("SAMENOP_TEST_FAULTS_REDIS", "redis://127.0.0.1:6379").rstrip("/")
# Database 0 holds the claims below; 14 and 15 are used by other tests and by hand.
REDIS_DBS = range(1, 14)
SAMENOP = Path(sys.executable).with_name("samenop")
LOG_TAIL = 120  # lines per process printed when a test fails
T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def require_services() -> None:
    """PostgreSQL and Redis are part of what these tests prove: missing is a failure."""
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"fault tests need PostgreSQL at {PG_ADMIN}: {exc}", pytrace=False)
    try:
        redis.Redis.from_url(REDIS_ADMIN, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"fault tests need Redis at {REDIS_ADMIN}: {exc}", pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """One ``samenop`` command as a process group, logging to its own file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        *,
        rq_name: str | None = None,
    ) -> None:
        self.name = name
        self.rq_name = rq_name  # a worker's name in RQ's registry
        self.argv = argv
        self.env = env
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=log.parent,  # not the checkout: no .env file sneaks settings in
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """``kill -9`` of the whole group: the process and anything it forked."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def tail(self, lines: int = LOG_TAIL) -> str:
        text = self.log.read_text("utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(
                f"{self.name} exited with {self.popen.returncode}:\n{self.tail(40)}"
            )


class Databases:
    """A migrated template database holding ``config``; every stack gets a fresh copy."""

    def __init__(self, config: ConfigSet) -> None:
        self.admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
        self.template = f"samenop_faults_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.copies: list[str] = []
        self.admin.execute(f'CREATE DATABASE "{self.template}"')
        url = _pg_url(self.template)
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as session:
                oncall_service.write_config(
                    session=session, config=config, now=datetime.now(UTC), source="fault tests"
                )
                session.commit()
        finally:
            engine.dispose()

    def copy(self) -> str:
        name = f"{self.template}_{len(self.copies) + 1}"
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.copies.append(name)
        return _pg_url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in [*self.copies, self.template]:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


class RedisDb:
    """A Redis database number of our own, claimed with a key in database 0.

    A database is taken only when it is empty or marked as left by an earlier fault
    test, so a crashed run cannot block the next one and nobody else's data is flushed.
    """

    MARK = "samenop:faults:owner"

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self._claims = redis.Redis.from_url(f"{REDIS_ADMIN}/0")
        for number in REDIS_DBS:
            claim = f"samenop:faults:db:{number}"
            if not self._claims.set(claim, self.token, nx=True, ex=900):
                continue
            client = redis.Redis.from_url(f"{REDIS_ADMIN}/{number}")
            if client.dbsize() and not client.exists(self.MARK):
                self._claims.delete(claim)
                client.close()
                continue
            self.number, self.claim, self.client = number, claim, client
            self.flush()
            return
        raise AssertionError(f"no free Redis database in {REDIS_DBS} at {REDIS_ADMIN}")

    @property
    def url(self) -> str:
        return f"{REDIS_ADMIN}/{self.number}"

    def flush(self) -> None:
        """FLUSHDB: every job, schedule, registry and lock of the test is gone."""
        self.client.flushdb()
        self.client.set(self.MARK, self.token)

    def release(self) -> None:
        self.client.flushdb()
        self.client.close()
        if self._claims.get(self.claim) == self.token.encode():
            self._claims.delete(self.claim)
        self._claims.close()


class Stack:
    """The fake Twilio, the API and workers of one test, and handles on what they share."""

    def __init__(self, tmp: Path, database_url: str, redis_db: RedisDb) -> None:
        self.tmp = tmp
        self.database_url = database_url
        self.redis_db = redis_db
        self.queue_name = f"faults-{uuid.uuid4().hex[:10]}"
        self.fake_url = f"http://127.0.0.1:{free_port()}"
        self.api_url = f"http://127.0.0.1:{free_port()}"
        self.procs: list[Proc] = []
        self.engine = make_engine(database_url)
        self.http = httpx.Client(base_url=self.api_url, headers={"X-API-Key": API_KEY}, timeout=10)
        self.control = httpx.Client(base_url=self.fake_url, timeout=10)

    # --- processes ------------------------------------------------------------------

    def env(self, *, redis_url: bool = True, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENOP_")}
        env.update(
            PYTHONUNBUFFERED="1",
            SAMENOP_ENVIRONMENT="test",
            SAMENOP_DATABASE_URL=self.database_url,
            SAMENOP_API_KEYS=API_KEY,
            SAMENOP_PAGING_PROVIDER="twilio",
            SAMENOP_TWILIO_API_BASE=self.fake_url,
            SAMENOP_PUBLIC_BASE_URL=self.api_url,
            SAMENOP_QUEUE_NAME=self.queue_name,
        )
        if redis_url:
            env["SAMENOP_REDIS_URL"] = self.redis_db.url
        env.update(extra)
        return env

    def spawn(
        self, name: str, args: list[str], env: dict[str, str], *, rq_name: str | None = None
    ) -> Proc:
        count = sum(p.name == name for p in self.procs)
        log = self.tmp / f"{name}.{count + 1}.log"
        proc = Proc(name, [str(SAMENOP), *args], env, log, rq_name=rq_name)
        self.procs.append(proc)
        return proc

    def start_fake(self) -> Proc:
        port = self.fake_url.rsplit(":", 1)[1]
        return self.spawn("fake-twilio", ["fake-twilio", "--port", port], self.env())

    def start_api(self, delivery: str = "rq") -> Proc:
        """``samenop serve``; ``inline`` is the embedded mode (no Redis, no worker)."""
        port = self.api_url.rsplit(":", 1)[1]
        env = self.env(redis_url=delivery == "rq", SAMENOP_DELIVERY=delivery)
        return self.spawn("api", ["serve", "--port", port, "--log-level", "warning"], env)

    def start_worker(self) -> Proc:
        name = f"{self.queue_name}-w{sum(p.name == 'worker' for p in self.procs) + 1}"
        return self.spawn("worker", ["worker", "--name", name], self.env(), rq_name=name)

    def wait_fake(self, proc: Proc, timeout: float = 20) -> None:
        wait_for(
            "the fake Twilio", lambda: self._answers(proc, self.control, "/_fake/state"), timeout
        )

    def wait_api(self, proc: Proc, timeout: float = 20) -> None:
        wait_for("GET /healthz", lambda: self._answers(proc, self.http, "/healthz"), timeout)

    def wait_workers(self, *procs: Proc, timeout: float = 20) -> None:
        def registered() -> bool:
            for proc in procs:
                proc.check_alive()
            names = {w.name for w in Worker.all(queue=self.queue())}
            return all(p.rq_name in names for p in procs)

        wait_for("the RQ workers to register", registered, timeout)

    def _answers(self, proc: Proc, client: httpx.Client, path: str) -> bool:
        proc.check_alive()
        try:
            return client.get(path, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def close(self, *, failed: bool) -> None:
        try:
            report = self.report() if failed else ""
        finally:
            for proc in reversed(self.procs):
                with contextlib.suppress(Exception):
                    proc.kill()
        if report:
            print(report)  # pytest shows it with the failure
        self.http.close()
        self.control.close()
        self.engine.dispose()

    def report(self) -> str:
        """Every process's log, then the pages and events in the database."""
        parts = []
        for proc in self.procs:
            state = "running" if proc.alive() else f"exit {proc.popen.returncode}"
            parts.append(f"===== {proc.log.name} (pid {proc.pid}, {state}) =====\n{proc.tail()}")
        parts.append("===== database =====")
        try:
            with make_session_factory(self.engine)() as session:
                for p in session.scalars(select(Page).order_by(Page.created_at, Page.seq)):
                    parts.append(
                        f"page {p.id[:8]} {p.channel} {p.phone} {p.status} due={p.due_at:%T.%f}"
                        f" lease={p.lease_until and f'{p.lease_until:%T.%f}'} tries={p.tries}"
                        f" sent={p.sent_at and f'{p.sent_at:%T.%f}'} id={p.provider_id}"
                    )
                for e in session.scalars(select(Event).order_by(Event.id)):
                    parts.append(f"event {e.id} {e.created_at:%T.%f} {e.type} {e.payload}")
        except Exception as exc:  # the report must not hide the failure
            parts.append(f"(unreadable: {exc})")
        return "\n".join(parts)

    # --- Redis / RQ -----------------------------------------------------------------

    def queue(self) -> Queue:
        return Queue(self.queue_name, connection=self.redis_db.client)

    def live_workers(self) -> list[Proc]:
        return [p for p in self.procs if p.rq_name is not None and p.alive()]

    def busy_worker(self) -> Proc | None:
        """The worker process running an RQ job right now (by its registered name)."""
        busy = {w.name for w in Worker.all(queue=self.queue()) if w.get_current_job_id()}
        for proc in self.procs:
            if proc.rq_name in busy and proc.alive():
                return proc
        return None

    # --- the fake phone -------------------------------------------------------------

    def fake_state(self) -> dict[str, Any]:
        return dict(self.control.get("/_fake/state").raise_for_status().json())

    def calls(self, to: str | None = None) -> list[dict[str, Any]]:
        params = {"to": to} if to else {}
        return list(self.control.get("/_fake/calls", params=params).raise_for_status().json())

    def sms(self, to: str | None = None) -> list[dict[str, Any]]:
        """SMS our service sent (REST creates), oldest first."""
        params = {"to": to} if to else {}
        found = self.control.get("/_fake/messages", params=params).raise_for_status().json()
        return [m for m in found if m["direction"] == "outbound-api"]

    def received(self) -> dict[str, tuple[int, int]]:
        """Per number: (calls, SMS) as the phones saw them."""
        out: dict[str, tuple[int, int]] = {}
        for call in self.calls():
            n_calls, n_sms = out.get(call["to"], (0, 0))
            out[call["to"]] = (n_calls + 1, n_sms)
        for message in self.sms():
            n_calls, n_sms = out.get(message["to"], (0, 0))
            out[message["to"]] = (n_calls, n_sms + 1)
        return out

    def delay_creates(self, seconds: float, *, before: bool = False, count: int = 1) -> None:
        body = {"seconds": seconds, "before": before, "count": count}
        self.control.post("/_fake/delay_creates", json=body).raise_for_status()

    # --- the API and the database ---------------------------------------------------

    def post_incident(self, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]:
        r = self.http.post("/api/v1/incidents", json=body)
        assert r.status_code == expect, r.text
        return dict(r.json())

    def pages(self, dispatch_id: str) -> list[Page]:
        with make_session_factory(self.engine)() as session:
            rows = session.scalars(
                select(Page).where(Page.dispatch_id == dispatch_id).order_by(Page.created_at)
            )
            return list(rows)

    def events(self, dispatch_id: str) -> list[Event]:
        with make_session_factory(self.engine)() as session:
            rows = session.scalars(
                select(Event).where(Event.dispatch_id == dispatch_id).order_by(Event.id)
            )
            return list(rows)

    def event_types(self, dispatch_id: str) -> list[str]:
        return [e.type for e in self.events(dispatch_id)]

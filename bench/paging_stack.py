"""The services ``bench_paging.py`` measures: a bench configuration, the fake Twilio (and
the fake Vonage, the secondary provider) in this process, and the API and RQ workers as
subprocesses, started and stopped by PID.

Two shapes of the same code path:

- *scaled*: PostgreSQL (a fresh database), Redis (a database number of its own, flushed
  at the end) and RQ: ``samenop serve --workers N`` plus ``samenop worker`` processes;
- *embedded*: SQLite in a temporary directory, no Redis, ``SAMENOP_DELIVERY=inline``,
  one ``samenop serve`` process whose in-process loop delivers.

The fake Twilio runs in this process (``FakeTwilio`` served by ``ServerThread``), so the
``time.perf_counter()`` instant it records for every REST create is on the same clock
as the load generator's. Its ``delay_creates`` control (a create recorded, its answer
held back) leaves a worker holding a claimed page mid-delivery for the kill measurement.
With a secondary, the fake Vonage (over TLS, ``FakeVonageServer``) runs here too, and the
service pages through Twilio with Vonage as its failover (``SAMENOP_PAGING_SECONDARY``).

Every REST create at either fake is matched to its page by the page id in the webhook
URLs the service gave it: Twilio's ``StatusCallback`` (``.../call-status/{page}``,
``.../sms-status/{page}``), Vonage's call ``event_url`` (``.../voice/{page}/event``)
and SMS ``callback`` (``.../sms/{page}/status``; its ``client-ref`` is the page id too).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis
from jwt.warnings import InsecureKeyLengthWarning

from bench.bench_intake import (
    API_KEY,
    create_database,
    drop_database,
    free_port,
    stop_server,
    wait_ready,
    worker_pids,
)
from notifications.fake.harness import FakeTwilioServer
from notifications.fake.vonage.harness import FakeVonageServer
from oncall.schemas import (
    Basisteam,
    ChannelStep,
    ConfigSet,
    CoverageRule,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Handoff,
    HolidayPolicy,
    Membership,
    Person,
    Region,
    Rotation,
    Team,
    TeamKind,
)

# The fake Vonage signs its webhooks with the development signature secret (27 bytes),
# as the tests do; PyJWT warns about the short HMAC key once per process.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

ROOT = Path(__file__).resolve().parent.parent
SAMENOP = str(ROOT / ".venv/bin/samenop")
REDIS_BASE = "redis://127.0.0.1:6379"

# --- the bench configuration -------------------------------------------------------------

# Latency teams: the call goes out at once; nothing else fires while the bench runs
# (an SMS after 20 minutes is armed at intake, as with a real policy).
SLOW_POLICY = EscalationPolicy(
    steps=(
        EscalationStep(
            target=EscalationTarget.ON_CALL,
            channels=(
                ChannelStep(channel="voice", after=0),
                ChannelStep(channel="sms", after=1200),
            ),
            wait=1200,
        ),
    )
)
# Deadline teams: voice only, 15 s to answer, then the same person once more, then nobody.
DEADLINE_WAIT = 15
SHORT_POLICY = EscalationPolicy(
    steps=(
        EscalationStep(
            target=EscalationTarget.ON_CALL,
            channels=(ChannelStep(channel="voice", after=0),),
            wait=DEADLINE_WAIT,
            repeat=1,
        ),
    )
)


@dataclass(frozen=True)
class BenchConfig:
    config: ConfigSet
    latency_teams: list[str]  # basisteam ids
    deadline_teams: list[str]
    kill_team: str
    kill_phone: str


def bench_config(n_latency: int = 40, n_deadline: int = 10) -> BenchConfig:
    """One region; every basisteam has its own team with one person on call 24/7, so every
    incident pages somebody at once, and the calls go to many different numbers."""
    region = Region(id="bench", name="Veilig Thuis Bench")
    basisteams, teams, people, rotations, rules = [], [], [], [], []
    groups = [("lat", n_latency, SLOW_POLICY), ("dl", n_deadline, SHORT_POLICY)]
    groups.append(("kill", 1, SLOW_POLICY))
    ids: dict[str, list[str]] = {}
    phones: dict[str, str] = {}
    n = 0
    for kind, count, policy in groups:
        ids[kind] = []
        for i in range(count):
            n += 1
            bt, team, person = f"bt-{kind}-{i:02d}", f"vt-{kind}-{i:02d}", f"p-{kind}-{i:02d}"
            phone = f"06 2{n:07d}"
            basisteams.append(Basisteam(id=bt, name=f"Basisteam {kind} {i}", region="bench"))
            teams.append(
                Team(
                    id=team,
                    kind=TeamKind.VEILIG_THUIS,
                    name=f"VT bench {kind} {i}",
                    region="bench",
                    escalation=policy,
                )
            )
            people.append(
                Person(
                    id=person,
                    name=f"Bench {kind} {i}",
                    phones=(phone,),
                    memberships=(Membership(team=team),),
                )
            )
            rotations.append(
                Rotation(
                    id=f"rot-{kind}-{i:02d}",
                    team=team,
                    participants=(person,),
                    start="2026-01-05T09:00",
                    handoff=Handoff(every="daily", at="09:00"),
                    holidays=HolidayPolicy.OPEN,
                )
            )
            rules.append(
                CoverageRule(
                    id=f"rule-{kind}-{i:02d}",
                    team=team,
                    area={"basisteams": [bt]},
                    holidays=HolidayPolicy.OPEN,
                    description="bench: always, everywhere in this basisteam",
                )
            )
            ids[kind].append(bt)
            phones[bt] = people[-1].phones[0]
    config = ConfigSet(
        regions=(region,),
        basisteams=tuple(basisteams),
        teams=tuple(teams),
        people=tuple(people),
        rotations=tuple(rotations),
        rules=tuple(rules),
    )
    return BenchConfig(
        config=config,
        latency_teams=ids["lat"],
        deadline_teams=ids["dl"],
        kill_team=ids["kill"][0],
        kill_phone=phones[ids["kill"][0]],
    )


def store_config(url: str, config: ConfigSet) -> None:
    from core.db import make_engine, make_session_factory, session_scope
    from core.migrate import upgrade
    from oncall.loader import validate_references
    from oncall.service import write_config

    issues = validate_references(config)
    if issues:
        raise SystemExit(f"bench config invalid: {issues[:3]}")
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            write_config(session=session, config=config, now=datetime.now(UTC), source="bench")
    finally:
        engine.dispose()


# --- the fakes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    """A REST create (a call or an outbound SMS) one of the fakes received."""

    provider: str  # twilio | vonage
    page_id: str  # from the webhook URLs the service gave it ("" when none)
    channel: str  # voice | sms
    received_perf: float  # time.perf_counter() of this process when it arrived
    created_at: datetime
    sid: str


def twilio_page_id(params: dict[str, str]) -> str:
    """``StatusCallback`` ends with the page id: ``.../call-status/{page}``."""
    return params.get("StatusCallback", "").rstrip("/").rsplit("/", 1)[-1]


def vonage_page_id(url: str | None, client_ref: str | None = None) -> str:
    """``.../webhooks/vonage/voice/{page}/event`` or ``.../webhooks/vonage/sms/{page}/status``
    (an SMS also carries the page id as its ``client-ref``)."""
    parts = urlsplit(url or "").path.strip("/").split("/")
    if len(parts) >= 2 and parts[-1] in ("event", "answer", "key", "status"):
        return parts[-2]
    return client_ref or ""


class Fake:
    """The fake Twilio (and, with a secondary, the fake Vonage) served from threads of
    this process (the tests' harnesses)."""

    def __init__(self, *, secondary: bool = False) -> None:
        self.server = FakeTwilioServer().start()
        self.twilio = self.server.fake
        self.vonage: FakeVonageServer | None = None
        if secondary:
            try:
                self.vonage = FakeVonageServer().start()
            except BaseException:
                self.server.stop()
                raise

    @property
    def url(self) -> str:
        return self.server.url

    def count(self) -> int:
        """Calls and messages created over REST at the fake Twilio so far."""
        return len(self.twilio.calls()) + len(self.twilio.messages(direction="outbound-api"))

    def first_seen(self) -> dict[str, tuple[float, datetime]]:
        """Page id -> (perf_counter, wall clock) when its REST create arrived at Twilio."""
        seen: dict[str, tuple[float, datetime]] = {}
        for c in self.twilio_creates():
            if c.page_id and c.page_id not in seen:
                seen[c.page_id] = (c.received_perf, c.created_at)
        return seen

    def twilio_creates(self) -> list[Create]:
        out = [
            Create(
                "twilio", twilio_page_id(c.params), "voice", c.received_perf, c.created_at, c.sid
            )
            for c in self.twilio.calls()
        ]
        out += [
            Create("twilio", twilio_page_id(m.params), "sms", m.received_perf, m.created_at, m.sid)
            for m in self.twilio.messages(direction="outbound-api")
        ]
        return sorted(out, key=lambda c: c.received_perf)

    def vonage_creates(self) -> list[Create]:
        if self.vonage is None:
            return []
        fake = self.vonage.fake
        out = [
            Create(
                "vonage",
                vonage_page_id(c.event_url),
                "voice",
                c.received_perf,
                c.created_at,
                c.uuid,
            )
            for c in fake.calls()
        ]
        out += [
            Create(
                "vonage",
                vonage_page_id(m.callback, m.client_ref),
                "sms",
                m.received_perf,
                m.created_at,
                m.message_id,
            )
            for m in fake.messages(direction="outbound-api")
        ]
        return sorted(out, key=lambda c: c.received_perf)

    def settings(self, base: str) -> dict[str, str]:
        """The ``SAMENOP_*`` variables that point the service at these fakes."""
        env = {"SAMENOP_PAGING_PROVIDER": "twilio", "SAMENOP_TWILIO_API_BASE": self.url}
        self.twilio.set_sms_url(base + "/webhooks/twilio/sms")
        if self.vonage is not None:
            env["SAMENOP_PAGING_SECONDARY"] = "vonage"
            env.update(self.vonage.settings())
            self.vonage.fake.set_sms_url(base + "/webhooks/vonage/sms/inbound")
        return env

    def stop(self) -> None:
        self.server.stop()
        if self.vonage is not None:
            self.vonage.stop()


# --- processes -----------------------------------------------------------------------------


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # Own session: the process and its children form one group we stop by PID.
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM to the group led by our child, SIGKILL if it does not go; reaped either way."""
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    kill_group(proc, signal.SIGKILL)  # the RQ scheduler child may outlive its parent
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def free_redis_db(client_url: str = REDIS_BASE, first: int = 12) -> int:
    """A Redis database number nobody uses now (empty), from ``first`` upwards."""
    for n in [*range(first, 15), *range(1, first)]:
        if redis.Redis.from_url(f"{client_url}/{n}").dbsize() == 0:
            return n
    raise SystemExit("no empty Redis database number between 1 and 14")


@dataclass
class Stack:
    mode: str  # scaled | embedded
    base: str
    db_url: str
    fake: Fake
    api: subprocess.Popen[bytes]
    env: dict[str, str]
    tmp: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    dbname: str | None = None
    redis_db: int | None = None
    queue: str | None = None
    _names: int = 0
    names: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def api_pids(self) -> list[int]:
        return [self.api.pid, *worker_pids(self.api)]

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.poll() is None]

    def start_worker(self) -> subprocess.Popen[bytes]:
        self._names += 1
        name = f"{self.queue}-w{self._names}"
        proc = _spawn([SAMENOP, "worker", "--name", name], self.env, self.tmp / "workers.log")
        self.workers.append(proc)
        self.names[name] = proc
        return proc

    def worker_running(self, page_id: str) -> subprocess.Popen[bytes] | None:
        """The worker process whose RQ job is delivering ``page_id`` right now."""
        from rq import Queue, Worker

        assert self.redis_db is not None and self.queue is not None
        queue = Queue(self.queue, connection=redis.Redis.from_url(f"{REDIS_BASE}/{self.redis_db}"))
        for worker in Worker.all(queue=queue):
            job_id = worker.get_current_job_id() or ""
            if page_id in job_id and worker.name in self.names:
                return self.names[worker.name]
        return None

    def wait_workers(self, n: int, timeout: float = 30) -> None:
        """Until ``n`` live workers are registered on our queue."""
        assert self.redis_db is not None
        client = redis.Redis.from_url(f"{REDIS_BASE}/{self.redis_db}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [w for w in self.workers if w.poll() is None]
            keys = client.smembers(f"rq:workers:{self.queue}")
            names = {(k.decode() if isinstance(k, bytes) else k).rsplit(":", 1)[-1] for k in keys}
            live = [k for k in names if client.exists(f"rq:worker:{k}")]
            if len(alive) >= n and len(live) >= n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{n} workers not registered after {timeout:.0f} s")

    def log_tail(self, lines: int = 8) -> list[str]:
        out = []
        for log in sorted(self.tmp.glob("*.log")):
            text = log.read_text(errors="replace").strip().splitlines()
            bad = [t for t in text if "Traceback" in t or "ERROR" in t or "Error" in t]
            if bad:
                out.append(f"{log.name}: {len(bad)} error line(s), last lines:")
                out.extend("  " + t for t in text[-lines:])
        return out

    def close(self) -> None:
        for w in self.workers:
            stop_group(w)
        stop_server(self.api)
        kill_group(self.api)
        self.fake.stop()
        if self.dbname:
            drop_database(self.dbname)
        if self.redis_db is not None:
            redis.Redis.from_url(f"{REDIS_BASE}/{self.redis_db}").flushdb()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_stack(
    mode: str,
    bench: BenchConfig,
    *,
    api_workers: int,
    rq_workers: int,
    secondary: bool = False,
    circuit: dict[str, str] | None = None,
) -> Stack:
    """``secondary``: Vonage (its fake) as the failover provider; ``circuit``: extra
    ``SAMENOP_CIRCUIT_*`` settings."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-paging-"))
    dbname = redis_db = None
    queue_name = f"bench-{secrets.token_hex(3)}"
    fake: Fake | None = None
    try:
        if mode == "scaled":
            dbname = create_database()
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
        else:
            url = f"sqlite:///{tmp / 'samenop.db'}"
        store_config(url, bench.config)
        fake = Fake(secondary=secondary)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "SAMENOP_ENVIRONMENT": "test",
            "SAMENOP_DATABASE_URL": url,
            "SAMENOP_API_KEYS": API_KEY,
            "SAMENOP_PUBLIC_BASE_URL": base,
            "SAMENOP_QUEUE_NAME": queue_name,
        }
        for name in [k for k in env if k.startswith(("SAMENOP_VONAGE_", "SAMENOP_CIRCUIT_"))]:
            env.pop(name)
        for name in ("SAMENOP_REDIS_URL", "SAMENOP_PAGING_SECONDARY"):
            env.pop(name, None)
        env.update(fake.settings(base))
        env.update(circuit or {})
        if mode == "scaled":
            redis_db = free_redis_db()
            env["SAMENOP_REDIS_URL"] = f"{REDIS_BASE}/{redis_db}"
            env["SAMENOP_DELIVERY"] = "rq"
        else:
            env["SAMENOP_DELIVERY"] = "inline"
        cmd = [SAMENOP, "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(api_workers), "--log-level", "warning"]
        api = _spawn(cmd, env, tmp / "api.log")
        stack = Stack(
            mode=mode,
            base=base,
            db_url=url,
            fake=fake,
            api=api,
            env=env,
            tmp=tmp,
            dbname=dbname,
            redis_db=redis_db,
            queue=queue_name,
        )
    except BaseException:
        if fake is not None:
            fake.stop()
        if dbname:
            drop_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        wait_ready(base, api)
        for _ in range(rq_workers):
            stack.start_worker()
        if rq_workers:
            stack.wait_workers(rq_workers)
    except BaseException:
        stack.close()
        raise
    return stack


def client(base: str, *, fresh: bool = False) -> httpx.AsyncClient:
    headers = {"X-API-Key": API_KEY}
    if fresh:
        headers["Connection"] = "close"
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits)

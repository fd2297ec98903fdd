"""The load ``bench_stream.py`` runs in processes of its own: websocket clients and the writer.

    python bench/stream_load.py client --url ws://127.0.0.1:8000/ws --key K --n 500 [--reconnect]
    python bench/stream_load.py writer --db URL --redis URL --queue Q --rate 5 --seconds 20 ...

Both stamp instants with ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every
process on the machine), so a commit instant in the writer and a receive instant in a
client compare directly.

**Clients** are plain ``asyncio.Protocol``s around the sans-I/O ``websockets``
``ClientProtocol`` (with permessage-deflate offered, as ``websockets.connect`` and browsers
do), on uvloop: no task per connection, and the receive instant is taken in
``data_received``, before any parsing. Only the event id is read from a message (the
server writes ``{"type":"event","id":N,...`` first). Control is by lines on stdin:

- at start: connect ``--n`` connections (at most ``--parallel`` handshakes at once),
  then print ``ready <live> <failed>`` once every connection has its ``caught_up``;
- ``drops <seconds> <count>`` (``--reconnect``): drop ``count`` randomly chosen
  connections at random instants over the next ``seconds``; a dropped connection is
  cut abruptly (SO_LINGER 0, so the server gets a reset) and reconnects after 0-100 ms
  with ``after=<last id it saw>``; a connection the *server* closes (or a refused
  connect) reconnects the same way, with a growing pause while it is refused;
- ``wait <id> <timeout>``: print ``reached <connections at id> <connections>`` once every
  connection has seen event ``id`` (or at the timeout);
- ``dump <path>``: write what every connection received (JSON) and exit.

The **writer** commits one event per transaction at a steady rate, through
``dispatch.events.append`` on a session from ``core.db.make_session_factory`` with a
``RedisBus``, which publishes the wake-up after the commit. The bus is wrapped to stamp
the instant of that publish, i.e. the instant the COMMIT returned. Each event's payload
carries its sequence number, so ``bench_stream.py`` maps it to its event id afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVENT_PREFIX = b'{"type":"event","id":'
CAUGHT_UP_PREFIX = b'{"type":"caught_up","last_id":'
SNAPSHOT_PREFIX = b'{"type":"snapshot","last_id":'
BENCH_EVENT = "bench.tick"


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _number_after(data: bytes, start: int) -> int:
    end = start
    while 48 <= data[end] <= 57:
        end += 1
    return int(data[start:end])


# --- clients ---------------------------------------------------------------------------


class Stream(asyncio.Protocol):
    """One websocket connection, over the sans-I/O protocol of ``websockets``."""

    def __init__(self, conn: Conn, url: str) -> None:
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
        from websockets.uri import parse_uri

        self.conn = conn
        extensions = enable_client_permessage_deflate(None) if conn.owner.deflate else None
        self.ws = ClientProtocol(parse_uri(url), extensions=extensions, max_size=None)
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.dropped_by_us = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ws.send_request(self.ws.connect())
        self._flush()

    def _flush(self) -> None:
        out = self.ws.data_to_send()
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        t = time.monotonic()
        self.ws.receive_data(data)
        for item in self.ws.events_received():
            frame_data = getattr(item, "data", None)
            if frame_data is None:  # the handshake response
                status = getattr(item, "status_code", 0)
                if status != 101:
                    self.conn.failure(f"HTTP {status}")
                continue
            if item.opcode.value == 1 and frame_data[:1] == b"{":  # a whole text message
                self.conn.message(t, frame_data)
        self._flush()
        if self.ws.close_expected() and self.transport is not None:
            self.transport.close()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.conn.lost(self)

    def drop(self) -> None:
        """Cut the connection as a crashing client or a broken network would."""
        if self.transport is None:
            return
        self.dropped_by_us = True
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class Conn:
    """One dashboard: a websocket that comes back with ``after`` when it is cut."""

    def __init__(self, owner: Clients, index: int) -> None:
        self.owner = owner
        self.index = index
        self.stream: Stream | None = None
        self.first_id: int | None = None  # the snapshot's position at the first connect
        self.last_id: int | None = None  # the newest event id seen (or the first position)
        self.ids: list[int] = []
        self.times: list[float] = []
        self.caught_up = False
        self.ever_caught_up = asyncio.Event()
        self.connects = 0
        self.our_drops = 0
        self.server_closes = 0
        self.refused = 0
        self.failures: list[str] = []
        self.closing = False

    def url(self, ticket: str) -> str:
        # a single-use ticket per connection: the key itself never goes in a URL
        url = f"{self.owner.url}?ticket={ticket}"
        if self.last_id is None:
            return url
        return f"{url}&after={self.last_id}"

    async def connect(self) -> None:
        pause = 0.05
        while not self.closing:
            loop = asyncio.get_running_loop()
            try:
                url = self.url(await self.owner.ticket())
                _, proto = await loop.create_connection(
                    lambda url=url: Stream(self, url), self.owner.host, self.owner.port
                )
            except OSError:
                self.refused += 1
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 1.0)
                continue
            self.stream = proto
            self.connects += 1
            self.caught_up = False
            return

    def message(self, t: float, data: bytes) -> None:
        if data.startswith(EVENT_PREFIX):
            event_id = _number_after(data, len(EVENT_PREFIX))
            self.ids.append(event_id)
            self.times.append(t)
            self.last_id = event_id
            self.owner.progress(self)
        elif data.startswith(CAUGHT_UP_PREFIX):
            last = _number_after(data, len(CAUGHT_UP_PREFIX))
            if self.first_id is None:
                self.first_id = last
            if self.last_id is None or last > self.last_id:
                self.last_id = last
            self.caught_up = True
            self.ever_caught_up.set()
            self.owner.progress(self)
        elif data.startswith(SNAPSHOT_PREFIX) and self.first_id is None:
            self.first_id = _number_after(data, len(SNAPSHOT_PREFIX))
            self.last_id = self.first_id

    def failure(self, text: str) -> None:
        self.failures.append(text)

    def lost(self, stream: Stream) -> None:
        if stream is not self.stream:
            return
        self.stream = None
        if stream.dropped_by_us:
            self.our_drops += 1
            delay = random.random() * 0.1
        else:
            self.server_closes += 1
            delay = 0.05 + random.random() * 0.1
        if self.closing or not self.owner.reconnect:
            return
        self.owner.spawn(self._again(delay))

    async def _again(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.connect()

    def result(self) -> dict[str, Any]:
        return {
            "first_id": self.first_id,
            "ids": self.ids,
            "times": self.times,
            "connects": self.connects,
            "our_drops": self.our_drops,
            "server_closes": self.server_closes,
            "refused": self.refused,
            "failures": self.failures[:5],
        }


class Clients:
    def __init__(
        self, url: str, key: str, n: int, parallel: int, reconnect: bool, deflate: bool
    ) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.url = url
        self.key = key
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reconnect = reconnect
        self.deflate = deflate
        self.parallel = parallel
        self.conns = [Conn(self, i) for i in range(n)]
        self.tasks: set[asyncio.Task[Any]] = set()
        self.target: int | None = None
        self.at_target: set[int] = set()
        self.reached = asyncio.Event()

    async def ticket(self) -> str:
        """POST /api/v1/stream/tickets with the key (plain HTTP/1.1 over asyncio)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                (
                    f"POST /api/v1/stream/tickets HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    f"X-API-Key: {self.key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if b" 201 " not in head.split(b"\r\n", 1)[0]:
            raise OSError(f"no ticket: {head[:60]!r}")
        if b"chunked" in head.lower():
            body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
        return str(json.loads(body)["ticket"])

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def progress(self, conn: Conn) -> None:
        target = self.target
        if target is None or conn.last_id is None or conn.last_id < target:
            return
        self.at_target.add(conn.index)
        if len(self.at_target) == len(self.conns):
            self.reached.set()

    async def start(self, timeout: float) -> tuple[int, int]:
        gate = asyncio.Semaphore(self.parallel)

        async def one(conn: Conn) -> None:
            async with gate:
                await conn.connect()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.ever_caught_up.wait(), timeout)

        await asyncio.gather(*(one(c) for c in self.conns))
        live = sum(1 for c in self.conns if c.caught_up and c.stream is not None)
        return live, len(self.conns) - live

    async def drops(self, seconds: float, count: int) -> None:
        """Drop ``count`` connections (chosen at random, with repeats) at random instants."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for _ in range(count):
            conn = random.choice(self.conns)
            loop.call_at(now + random.random() * seconds, self._drop, conn)

    def _drop(self, conn: Conn) -> None:
        if conn.stream is not None and not conn.stream.dropped_by_us:
            conn.stream.drop()
        else:  # between connections now: drop it as soon as it is back
            asyncio.get_running_loop().call_later(0.05, self._drop, conn)

    async def wait(self, target: int, timeout: float) -> tuple[int, int]:
        self.target = target
        self.reached.clear()
        conns = self.conns
        self.at_target = {c.index for c in conns if c.last_id is not None and c.last_id >= target}
        if not all(c.last_id is not None and c.last_id >= target for c in conns):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reached.wait(), timeout)
        at = sum(1 for c in conns if c.last_id is not None and c.last_id >= target)
        return at, len(conns)

    def dump(self, path: str) -> None:
        for conn in self.conns:
            conn.closing = True
        Path(path).write_text(json.dumps([c.result() for c in self.conns]))


async def run_clients(args: argparse.Namespace) -> None:
    raise_fd_limit(args.n + 100)
    clients = Clients(
        args.url, args.key, args.n, args.parallel, args.reconnect, not args.no_deflate
    )
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    live, failed = await clients.start(args.connect_timeout)
    say(f"ready {live} {failed}")
    while True:
        line = (await reader.readline()).decode().split()
        if not line:
            return
        if line[0] == "drops":
            await clients.drops(float(line[1]), int(line[2]))
            say("ok")
        elif line[0] == "wait":
            at, n = await clients.wait(int(line[1]), float(line[2]))
            say(f"reached {at} {n}")
        elif line[0] == "dump":
            clients.dump(line[1])
            say("dumped")
            return


# --- writer ----------------------------------------------------------------------------


class StampingBus:
    """A ``RedisBus`` that notes the instant of each publish (called right after COMMIT)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stamp = 0.0

    def publish(self) -> None:
        self.stamp = time.monotonic()
        self.inner.publish()

    def close(self) -> None:
        self.inner.close()


def run_writer(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.bus import RedisBus
    from core.db import make_engine, make_session_factory
    from dispatch import events

    engine = make_engine(args.db)
    bus = StampingBus(RedisBus(args.redis, args.queue))
    sessions = make_session_factory(engine, bus)
    dispatches = args.dispatches.split(",")
    n = int(args.rate * args.seconds)
    commits: list[tuple[int, float, float]] = []  # (seq, before commit, commit returned)
    with sessions() as session:  # connect and warm the statement path (not counted)
        session.execute(text("SELECT 1"))
    t0 = time.monotonic() + 0.05
    late = 0.0
    for seq in range(n):
        due = t0 + seq / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            late = max(late, -pause)
        with sessions() as session:
            events.append(
                session,
                dispatches[seq % len(dispatches)],
                datetime.now(UTC),
                [(BENCH_EVENT, {"run": args.tag, "seq": seq})],
            )
            t_before = time.monotonic()
            bus.stamp = 0.0
            session.commit()
            commits.append((seq, t_before, bus.stamp or time.monotonic()))
    bus.close()
    engine.dispose()
    out = {"tag": args.tag, "commits": commits, "max_late": late}
    Path(args.out).write_text(json.dumps(out))
    print("written", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    c.add_argument("--key", required=True, help="API key that buys a ticket per connection")
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--parallel", type=int, default=50)
    c.add_argument("--connect-timeout", type=float, default=120.0)
    c.add_argument("--reconnect", action="store_true")
    c.add_argument("--no-deflate", action="store_true")
    w = sub.add_parser("writer")
    w.add_argument("--db", required=True)
    w.add_argument("--redis", required=True)
    w.add_argument("--queue", required=True)
    w.add_argument("--rate", type=float, required=True)
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--dispatches", required=True)
    w.add_argument("--tag", required=True)
    w.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.role == "client":
        try:
            import uvloop

            uvloop.run(run_clients(args))
        except ImportError:
            asyncio.run(run_clients(args))
    else:
        run_writer(args)


if __name__ == "__main__":
    main()

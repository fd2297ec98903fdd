"""The live stream: one hub per API process tails the event log and fans out to websockets.

Why a tail and not a pipe: the event log in the database is the only truth. The bus
only says "something was committed"; the hub then reads ``id > last`` in one query,
builds each changed dispatch's summary once, serialises each message once per view,
and puts it on every matching connection's queue. Event ids are handed out in commit
order (see ``dispatch.events``), so reading "after the last id" can never skip a row.

A connection that resumes (``after=N``) is registered with the hub *before* it reads
its backlog from the database: whatever the hub fans out meanwhile waits in its queue,
the backlog covers everything up to at least the hub's position, and the sender drops
any id it already sent. Nothing is lost and nothing is sent twice.

Each connection has its own queue and sender task, so one slow client never holds up
another. A client is closed with 4408 ("too slow") when it is more than ``max_queue``
messages behind and nothing could be sent to it for ``STALL_SECONDS``, or at once when
it is ten times that far behind (the memory bound). A burst of events that a reading
client works through in time is not "too slow".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from starlette.websockets import WebSocket, WebSocketState

from core import metrics
from core.bus import Bus
from core.clock import Clock
from core.logs import FaultLog
from core.texts import LAYER_NL, TEAM_KIND_NL
from dispatch import live
from dispatch.live import EventRow as Row
from dispatch.live import last_event_id
from oncall.calendar import team_blocks
from oncall.phones import display_phone
from oncall.service import SnapshotCache, get_version
from oncall.snapshot import ConfigSnapshot

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
CLOSE_BAD_SUBSCRIPTION = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408

BATCH = 500  # events read per tail query
CLOSE_TIMEOUT = 5.0  # seconds a close frame may wait behind a full socket
STALL_SECONDS = 2.0  # a client this long without a completed send, while behind, is dropped
HARD_FACTOR = 10  # ... and one this many times ``max_queue`` behind is dropped at once
REPLAY_LIMIT = 5000  # a longer backlog is answered with a fresh snapshot instead


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a client wants: empty sets mean "all" (within what its role may see)."""

    regions: frozenset[str] = frozenset()
    basisteams: frozenset[str] = frozenset()
    incident: str | None = None
    # The viewer's own area (None: everywhere): a dispatch outside it never reaches them.
    allowed_regions: frozenset[str] | None = None
    allowed_basisteams: frozenset[str] | None = None
    # Only the "Piket nu" table (``piket=only``): no incidents at all.
    piket: bool = False

    def matches(self, dispatch_id: str | None, region: str | None, basisteam: str | None) -> bool:
        if self.piket:
            return False
        if self.incident is not None and dispatch_id != self.incident:
            return False
        if self.allowed_regions is not None or self.allowed_basisteams is not None:
            inside = (region is not None and region in (self.allowed_regions or ())) or (
                basisteam is not None and basisteam in (self.allowed_basisteams or ())
            )
            if not inside:
                return False
        if self.regions and region not in self.regions:
            return False
        return not self.basisteams or basisteam in self.basisteams


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is watching: the control room sees everything it subscribed to; a worker
    sees only its own incident, without other workers' phone numbers."""

    role: str  # control_room | worker
    name: str
    assignment_position: int | None = None


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)


def event_message(row: Row, summary: dict[str, Any] | None) -> str:
    return _dumps({"type": "event", "id": row.id, "event": row.event(), "dispatch": summary})


def view_of(summary: dict[str, Any] | None, viewer: Viewer) -> dict[str, Any] | None:
    if summary is None or viewer.role != "worker":
        return summary
    return live.for_role(summary, "worker", viewer.assignment_position)


class Mailbox:
    """A connection's outgoing messages: a bounded FIFO with one reader (``pump``).

    ``asyncio.Queue`` keeps three deques and an event per instance (about 2.5 KiB); with
    2,000 idle dashboards on a process that is 5 MB for nothing. This keeps one deque
    and, while the reader waits, one future."""

    __slots__ = ("items", "limit", "waiter")

    def __init__(self, limit: int) -> None:
        self.items: deque[tuple[int, str]] = deque()
        self.limit = limit
        self.waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self.items)

    def empty(self) -> bool:
        return not self.items

    def put_nowait(self, item: tuple[int, str]) -> None:
        if len(self.items) >= self.limit:
            raise asyncio.QueueFull
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> tuple[int, str]:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()


@dataclass(eq=False, slots=True)
class Connection:
    """One websocket: its subscription, its queue, and the last event id it was sent."""

    websocket: WebSocket
    viewer: Viewer
    subscription: Subscription
    max_queue: int = 1000
    last_sent: int = 0
    queue: Mailbox = field(init=False)
    # The task serving this connection, cancelled when a close frame cannot be sent.
    handler: asyncio.Task[Any] | None = None
    close_timeout: float = CLOSE_TIMEOUT
    closing: bool = False
    last_sent_at: float = 0.0  # loop time of the last message sent
    progress_at: float = 0.0  # ... or of the moment the queue was last empty

    def __post_init__(self) -> None:
        self.queue = Mailbox(self.max_queue * HARD_FACTOR)

    def offer(self, event_id: int, text: str) -> bool:
        """Queue a message; False when the client is far too far behind."""
        if self.closing:
            return True
        if self.queue.empty():
            self.progress_at = asyncio.get_running_loop().time()  # nothing was waiting
        try:
            self.queue.put_nowait((event_id, text))
        except asyncio.QueueFull:
            return False
        return True

    def stalled(self, now: float, stall_seconds: float) -> bool:
        """Behind by more than ``max_queue`` and no send completed for a while."""
        return self.queue.qsize() > self.max_queue and now - self.progress_at > stall_seconds

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)
        self.last_sent_at = self.progress_at = asyncio.get_running_loop().time()

    async def pump(self) -> None:
        """Send queued messages in order, skipping ids already sent by the replay."""
        try:
            while True:
                event_id, text = await self.queue.get()
                if self.closing:
                    return  # the close frame is the last thing this client gets
                if event_id and event_id <= self.last_sent:
                    continue
                await self.send(text)
                if event_id:
                    self.last_sent = event_id
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket broke while sending: end the connection
            await self.close(1011, "send failed")

    async def close(self, code: int, reason: str) -> None:
        """Send the close frame; a client that reads nothing any more gets
        ``CLOSE_TIMEOUT`` for it, then its handler is ended without it."""
        if self.closing:
            return
        self.closing = True
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return
        try:
            await asyncio.wait_for(
                self.websocket.close(code=code, reason=reason), self.close_timeout
            )
        except Exception:
            if self.handler is not None:
                self.handler.cancel()


def read_rows(
    session: Session, after: int, limit: int, subscription: Subscription | None = None
) -> list[Row]:
    """Events after ``after`` (in id order), optionally only those a subscription wants."""
    if subscription is None:
        return live.read_events(session, after, limit)
    return live.read_events(
        session,
        after,
        limit,
        incident=subscription.incident,
        regions=subscription.regions,
        basisteams=subscription.basisteams,
    )


def summaries_for(session: Session, rows: Sequence[Row], now: datetime) -> dict[str, Any]:
    ids = sorted({r.dispatch_id for r in rows if r.dispatch_id})
    return live.summaries(session, ids, now) if ids else {}


# --- "Piket nu": who is on call, pushed at every handover and configuration change ------

PIKET_HORIZON = timedelta(hours=24)  # looked ahead for the next handover; then looked again
PIKET_CHECK_SECONDS = 1.0  # the configuration version is read at most this often


def wants_piket(conn: Connection) -> bool:
    """A dashboard's "Piket nu" follows its own connection (``/ws?piket=only``)."""
    return conn.subscription.piket


def piket_table(snapshot: ConfigSnapshot, now: datetime) -> list[dict[str, Any]]:
    """Every team with who is on call now (as the dashboard renders it)."""
    teams = []
    for team in snapshot.config.teams:
        people = []
        for entry in snapshot.on_call(team.id, now).entries:
            person = snapshot.people.get(entry.person)
            people.append(
                {
                    "name": person.name if person else entry.person,
                    "layer": entry.layer.value,
                    "layer_nl": LAYER_NL.get(entry.layer.value, entry.layer.value),
                    "until": entry.until.isoformat() if entry.until else None,
                }
            )
        teams.append(
            {
                "id": team.id,
                "name": team.name,
                "kind": TEAM_KIND_NL.get(team.kind.value, team.kind.value),
                "phone": display_phone(team.phone) if team.phone else None,
                "people": people,
            }
        )
    return teams


def next_handover(snapshot: ConfigSnapshot, now: datetime) -> datetime:
    """The first instant after ``now`` at which anyone's piket starts or ends in any
    team (handovers, windows, shifts, overrides), or the horizon when none is nearer."""
    horizon = now + PIKET_HORIZON
    found = horizon
    for team in snapshot.config.teams:
        for block in team_blocks(snapshot, team.id, now, horizon):
            if now < block.start < found:
                found = block.start
            if now < block.end < found:
                found = block.end
    return found


@dataclass
class _Piket:
    version: int
    next_at: datetime
    table: str  # the teams and their people, to tell whether anything changed
    text: str  # the message


class Hub:
    """Tails the event log for this process and fans each new event out once."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        bus: Bus,
        clock: Clock,
        *,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float = 15.0,
        max_queue: int = 1000,
        stall_seconds: float = STALL_SECONDS,
        snapshots: SnapshotCache | None = None,
    ) -> None:
        self.snapshots = snapshots or SnapshotCache()
        # The "Piket nu" message as last built: rebuilt when the configuration version
        # moves or the next handover passes, and only while a dashboard is connected.
        self._piket: _Piket | None = None
        self._piket_seq = 0
        self._piket_checked = 0.0  # loop time of the last version check
        self.max_queue = max_queue
        self.stall_seconds = stall_seconds
        self.replay_limit = REPLAY_LIMIT
        self.close_timeout = CLOSE_TIMEOUT
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.connections: set[Connection] = set()
        self.position = 0  # the newest event id fanned out
        # With nobody connected the hub reads nothing (no summaries are built for no
        # one); it only notes that its position is stale and finds the log's end again
        # before the next client registers.
        self._stale = False
        self._drain_lock = asyncio.Lock()
        self.started = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        # An outage is logged when it starts and when it ends, not at every retry.
        self._bus_faults = FaultLog(log, "event bus listener")
        self._tail_faults = FaultLog(log, "event tail")

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start tailing; the app starts even while the database is down (the hub then
        keeps trying, and clients wait until it knows where the log ends)."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="stream-bus"),
            asyncio.create_task(self._tail(), name="stream-tail"),
            asyncio.create_task(self._heartbeat(), name="stream-heartbeat"),
            asyncio.create_task(self._watch_stalled(), name="stream-stalled"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        # Bounded: a shutdown never hangs on a task that did not take its cancellation.
        _done, pending = await asyncio.wait(self._tasks, timeout=5) if self._tasks else ((), ())
        for task in pending:
            log.warning("stream task %s did not stop in 5 s", task.get_name())
        await asyncio.gather(
            *(c.close(CLOSE_GOING_AWAY, "server stopping") for c in list(self.connections)),
            return_exceptions=True,
        )

    def _read_position(self) -> int:
        with self.sessions() as session:
            return last_event_id(session)

    async def _listen(self) -> None:
        while True:
            try:
                async for _ in self.bus.listen():
                    self._wake.set()
                    self._bus_faults.ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus adapters retry; this is a last resort
                self._bus_faults.failed(exc)
                await asyncio.sleep(1.0)

    async def _tail(self) -> None:
        while not self.started.is_set():
            try:
                self.position = await asyncio.to_thread(self._read_position)
                self.started.set()
            except Exception as exc:  # the stream starts when the event log is back
                self._tail_faults.failed(exc)
                await asyncio.sleep(self.poll_seconds)
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as its timeout fires, and stop() then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
                self._tail_faults.ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database briefly unreachable: the next round retries
                self._tail_faults.failed(exc)
                await asyncio.sleep(self.poll_seconds)

    async def _heartbeat(self) -> None:
        """Ping each client that has heard nothing for a heartbeat interval; a client
        receiving events needs no ping (and 2,000 pings at once would delay them)."""
        loop = asyncio.get_running_loop()
        step = self.heartbeat_seconds / 4
        while True:
            await asyncio.sleep(step)
            quiet_since = loop.time() - self.heartbeat_seconds + step / 2
            text = _dumps({"type": "ping", "t": self.clock.now().isoformat()})
            for conn in list(self.connections):
                if conn.last_sent_at and conn.last_sent_at <= quiet_since:
                    self._offer(conn, 0, text)

    # --- fan-out ---------------------------------------------------------------------

    def _fetch(self, after: int) -> tuple[list[Row], dict[str, Any]]:
        with self.sessions() as session:
            rows = read_rows(session, after, BATCH)
            return rows, summaries_for(session, rows, self.clock.now())

    async def drain(self) -> int:
        """Fan out every event committed since the last round; returns how many."""
        async with self._drain_lock:
            if not self.connections:
                self._stale = True  # nobody to tell: read nothing now
                return 0
            total = 0
            while True:
                rows, summaries = await asyncio.to_thread(self._fetch, self.position)
                if rows:
                    self.fan_out(rows, summaries)
                    self.position = rows[-1].id
                    total += len(rows)
                if len(rows) < BATCH:
                    await self._piket_round()
                    return total

    async def _join(self, conn: Connection) -> None:
        """Register a client; when the hub sat idle, first find where the log ends (the
        client's own backlog covers everything up to there, the hub what follows)."""
        async with self._drain_lock:
            if self._stale:
                self.position = await asyncio.to_thread(self._read_position)
                self._stale = False
            self.connections.add(conn)
            metrics.current().websocket_clients.inc()
            if wants_piket(conn) and self._piket is not None:
                conn.offer(0, self._piket.text)  # sent after its backlog

    def fan_out(self, rows: Sequence[Row], summaries: dict[str, Any]) -> None:
        conns = list(self.connections)
        for row in rows:
            if row.id <= self.position:
                continue
            summary = summaries.get(row.dispatch_id) if row.dispatch_id else None
            shared: str | None = None
            for conn in conns:
                if not conn.subscription.matches(row.dispatch_id, row.region, row.basisteam):
                    continue
                if conn.viewer.role == "worker":
                    text = event_message(row, view_of(summary, conn.viewer))
                else:
                    if shared is None:
                        shared = event_message(row, summary)
                    text = shared
                self._offer(conn, row.id, text)

    def _build_piket(self, known: _Piket | None) -> _Piket | None:
        """A new "Piket nu" message when the version moved or a handover passed (one
        primary-key read otherwise); None when the last one still holds."""
        now = self.clock.now()
        with self.sessions() as session:
            version = get_version(session=session)
            if known is not None and known.version == version and now < known.next_at:
                return None
            snapshot = self.snapshots.get(session=session)
        next_at = next_handover(snapshot, now)
        teams = piket_table(snapshot, now)
        table = _dumps({"teams": teams})
        if known is not None and known.table == table:
            # Nothing a dashboard shows changed: keep the message, look again later.
            return _Piket(snapshot.version, next_at, table, known.text)
        self._piket_seq += 1
        message = {
            "type": "piket",
            "seq": self._piket_seq,
            "version": snapshot.version,
            "at": now.isoformat(),
            "next": next_at.isoformat(),
            "teams": teams,
        }
        return _Piket(snapshot.version, next_at, table, _dumps(message))

    async def _piket_round(self, joining: bool = False) -> None:
        """Rebuild and send "Piket nu" to the dashboards when it changed (the caller
        holds the drain lock; nothing runs without a dashboard connected). A dashboard
        ``joining`` gets the current table from ``_join``, so it is made current first."""
        targets = [c for c in self.connections if wants_piket(c)]
        if not targets and not joining:
            return
        moment = asyncio.get_running_loop().time()
        known = self._piket
        if (
            not joining
            and known is not None
            and moment - self._piket_checked < PIKET_CHECK_SECONDS
            and self.clock.now() < known.next_at
        ):
            return  # a burst of events: the version was read less than a second ago
        self._piket_checked = moment
        built = await asyncio.to_thread(self._build_piket, known)
        if built is None:
            return
        changed = self._piket is None or self._piket.table != built.table
        self._piket = built
        if changed:
            for conn in targets:
                self._offer(conn, 0, built.text)

    def _offer(self, conn: Connection, event_id: int, text: str) -> None:
        if not conn.offer(event_id, text):
            self._too_slow(conn)

    def _too_slow(self, conn: Connection) -> None:
        log.warning("closing a websocket %d messages behind", conn.queue.qsize())
        task = asyncio.create_task(conn.close(CLOSE_TOO_SLOW, "te traag: opnieuw verbinden"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def close_stalled(self) -> int:
        """Close the clients that are behind and have not taken a message for a while."""
        now = asyncio.get_running_loop().time()
        stalled = [
            c for c in self.connections if not c.closing and c.stalled(now, self.stall_seconds)
        ]
        for conn in stalled:
            self._too_slow(conn)
        return len(stalled)

    async def _watch_stalled(self) -> None:
        while True:
            await asyncio.sleep(self.stall_seconds / 4)
            self.close_stalled()

    # --- one connection ----------------------------------------------------------------

    def _backlog(self, conn: Connection, after: int | None) -> tuple[list[str], int]:
        """Messages to send before going live (a replay or a snapshot), and the last
        event id they cover."""
        sub = conn.subscription
        if sub.piket:
            return [], 0  # the table only: it comes from the queue (see ``_join``)
        now = self.clock.now()
        with self.sessions() as session:
            end = last_event_id(session)
            # An id beyond the log's end was not given out by this database (it was
            # restored, or the client saw another one): start afresh, or the client
            # would skip every event up to that id.
            if after is not None and after <= end:
                rows = read_rows(session, after, self.replay_limit + 1, sub)
                if len(rows) <= self.replay_limit:
                    rows = [r for r in rows if sub.matches(r.dispatch_id, r.region, r.basisteam)]
                    summaries = summaries_for(session, rows, now)
                    messages = [
                        event_message(r, view_of(summaries.get(r.dispatch_id or ""), conn.viewer))
                        for r in rows
                    ]
                    return messages, rows[-1].id if rows else after
            # A snapshot: the position (read above) first, then the state, which may be
            # newer; the events after the position then arrive live with the same state.
            if sub.incident is not None:
                found = live.summaries(session, [sub.incident], now)
                dispatches = list(found.values())
            else:
                dispatches = live.open_summaries(
                    session,
                    region_ids=set(sub.regions) or None,
                    basisteam_ids=set(sub.basisteams) or None,
                    now=now,
                )
            views = [
                view_of(d, conn.viewer)
                for d in dispatches
                if sub.matches(d["id"], d.get("region"), d.get("basisteam"))
            ]
            snapshot = _dumps({"type": "snapshot", "last_id": end, "dispatches": views})
            return [snapshot], end

    async def serve(self, conn: Connection, after: int | None) -> None:
        """Replay or snapshot, then live until the client goes; the socket is accepted."""
        await self.started.wait()
        if wants_piket(conn):
            async with self._drain_lock:
                await self._piket_round(joining=True)
        await self._join(conn)
        pump: asyncio.Task[None] | None = None
        conn.handler = asyncio.current_task()
        conn.close_timeout = self.close_timeout
        try:
            messages, last = await asyncio.to_thread(self._backlog, conn, after)
            try:
                for text in messages:
                    await conn.send(text)
                conn.last_sent = max(conn.last_sent, last)
                await conn.send(_dumps({"type": "caught_up", "last_id": last}))
            except Exception:  # the client went while catching up: it will resume again
                log.debug("client left during its backlog", exc_info=True)
                return
            pump = asyncio.create_task(conn.pump())
            # Until the client goes, or the server gives up on it (see ``close``).
            await _receive_until_closed(conn.websocket)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not conn.closing or current is None:
                raise
            current.uncancel()  # ended by ``close``: a normal end for this handler
        finally:
            if conn in self.connections:
                self.connections.discard(conn)
                metrics.current().websocket_clients.dec()
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump


async def _receive_until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, such as pongs, until it disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return

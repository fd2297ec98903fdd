"""The hub's fan-out rules and the bus adapters, without HTTP: a client that stops
reading is closed with 4408 while the others get every event in order; the Redis and
in-memory buses wake a listener published to from another thread."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from api.stream import CLOSE_TOO_SLOW, Connection, Hub, Row, Subscription, Viewer
from core.bus import InMemoryBus, RedisBus
from core.clock import ManualClock

REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


class Socket:
    """The client end of a websocket: it reads everything, or (stalled) never reads."""

    def __init__(self, stalled: bool = False) -> None:
        self.stalled = stalled
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.application_state = WebSocketState.CONNECTED

    async def send_text(self, text: str) -> None:
        if self.stalled:
            await asyncio.Event().wait()  # the TCP window never opens again
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def rows(first: int, count: int, dispatch_id: str = "d1", basisteam: str = "b1") -> list[Row]:
    return [
        Row(i, dispatch_id, "test.event", NOW, {"n": i}, "r1", basisteam)
        for i in range(first, first + count)
    ]


def test_a_stalled_client_is_closed_and_the_others_get_everything() -> None:
    async def scenario() -> tuple[Socket, Socket, Socket, int]:
        hub = Hub(lambda: None, InMemoryBus(), ManualClock(NOW), stall_seconds=0.1)  # type: ignore[arg-type,return-value]
        stalled, reader, elsewhere = Socket(stalled=True), Socket(), Socket()
        viewer = Viewer(role="control_room", name="t")
        conns = [
            Connection(stalled, viewer, Subscription(), max_queue=10),  # type: ignore[arg-type]
            Connection(reader, viewer, Subscription(), max_queue=10),  # type: ignore[arg-type]
            Connection(elsewhere, viewer, Subscription(basisteams=frozenset({"b2"})), 10),  # type: ignore[arg-type]
        ]
        pumps = [asyncio.create_task(c.pump()) for c in conns]
        hub.connections.update(conns)
        # A burst of 50 events in one go: more than max_queue, but the reader keeps up.
        hub.fan_out(rows(1, 50), {})
        await asyncio.sleep(0.05)
        early = hub.close_stalled()
        await asyncio.sleep(0.1)  # the stalled client took nothing for longer than allowed
        closed = hub.close_stalled()
        await asyncio.sleep(0.05)
        for p in pumps:
            p.cancel()
        return stalled, reader, elsewhere, early * 10 + closed

    stalled, reader, elsewhere, closings = asyncio.run(scenario())
    assert closings == 1  # none too early, then just the stalled one
    assert stalled.closed is not None and stalled.closed[0] == CLOSE_TOO_SLOW
    ids = [json.loads(t)["id"] for t in reader.sent]
    assert ids == list(range(1, 51))  # in order, none twice, none lost
    assert reader.closed is None
    assert elsewhere.sent == []  # another basisteam's client is not bothered


def test_a_client_ten_times_too_far_behind_is_closed_at_once() -> None:
    async def scenario() -> Socket:
        hub = Hub(lambda: None, InMemoryBus(), ManualClock(NOW), stall_seconds=60)  # type: ignore[arg-type,return-value]
        sock = Socket(stalled=True)
        conn = Connection(sock, Viewer("control_room", "t"), Subscription(), max_queue=10)  # type: ignore[arg-type]
        hub.connections.add(conn)
        hub.fan_out(rows(1, 101), {})  # the 101st does not fit: 10 x 10
        await asyncio.sleep(0.05)
        return sock

    sock = asyncio.run(scenario())
    assert sock.closed is not None and sock.closed[0] == CLOSE_TOO_SLOW


def test_the_sender_skips_what_the_replay_already_sent() -> None:
    async def scenario() -> list[Any]:
        sock = Socket()
        conn = Connection(sock, Viewer("control_room", "t"), Subscription(), 100)  # type: ignore[arg-type]
        for r in rows(1, 5):
            conn.offer(r.id, f'{{"id": {r.id}}}')
        conn.last_sent = 3  # the backlog covered up to 3
        pump = asyncio.create_task(conn.pump())
        await asyncio.sleep(0.02)
        pump.cancel()
        return sock.sent

    assert asyncio.run(scenario()) == ['{"id": 4}', '{"id": 5}']


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_bus_wakes_a_listener_published_to_from_another_thread(kind: str) -> None:
    bus = InMemoryBus() if kind == "memory" else RedisBus(REDIS_URL, f"t{uuid.uuid4().hex[:8]}")

    async def scenario() -> int:
        woken = 0
        listener = bus.listen()
        if kind == "redis":
            await anext(listener)  # subscribed (a (re)subscription wakes once)

        async def consume() -> None:
            nonlocal woken
            async for _ in listener:
                woken += 1
                return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        publisher = threading.Thread(target=bus.publish)
        publisher.start()
        await asyncio.wait_for(task, timeout=3)
        publisher.join(timeout=3)
        return woken

    try:
        assert asyncio.run(scenario()) == 1
    finally:
        bus.close()


def test_a_subscription_never_reaches_outside_the_viewers_area() -> None:
    mine = Subscription(allowed_regions=frozenset({"gooi"}), allowed_basisteams=frozenset({"laak"}))
    assert mine.matches("d1", "gooi", "gv-noord")
    assert mine.matches("d2", "den-haag", "laak")  # a basisteam of its own elsewhere
    assert not mine.matches("d3", "den-haag", "centrum")
    assert not mine.matches("d4", None, None)  # outside every area: admins only
    # asking for one incident does not widen the area
    one = Subscription(incident="d3", allowed_regions=frozenset({"gooi"}))
    assert not one.matches("d3", "den-haag", "centrum")
    everything = Subscription()
    assert everything.matches("d4", None, None)

"""The websocket stream over real HTTP: snapshot, live events, resume without loss or
duplicates, authentication and subscriptions, and fan-out between two API processes
through Redis.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from api.app import create_app
from api.auth import COOKIE
from api.state import AppState
from dispatch import events
from dispatch.models import Assignment
from notifications import links
from notifications.fake.server import ServerThread
from oncall.schemas import ConfigSet
from tests.accounts import make_account, sign_in
from tests.api.live import Live, free_port, start_live
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import API_KEY, BACKENDS

REDIS_URL = os.environ.get("SAMENOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_config: ConfigSet,
) -> Iterator[Live]:
    yield from start_live(request.param, tmp_path_factory.mktemp("stream"), example_config)


@pytest.fixture
def stack(live: Live) -> Iterator[Live]:
    live.clean()
    live.at("2026-03-10T16:59")
    yield live


def ticket(base: str, key: str) -> str:
    """A single-use websocket ticket bought with an API key (the key never goes in a URL)."""
    r = httpx.post(f"{base}/api/v1/stream/tickets", headers={"X-API-Key": key}, timeout=10)
    return str(r.json()["ticket"]) if r.status_code == 201 else "not-a-ticket"


def ws_url(base: str, **params: Any) -> str:
    if "key" in params:
        params["ticket"] = ticket(base, params.pop("key"))
    query = "&".join(
        f"{k}={v}"
        for k, values in params.items()
        for v in (values if isinstance(values, list) else [values])
    )
    return base.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")


def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message["type"] != "ping":
            return dict(message)


def events_until(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    got = []
    while len(got) < count:
        message = receive(ws)
        assert message["type"] == "event", message
        got.append(message)
    return got


def post(stack: Live, external_id: str | None = None) -> dict[str, Any]:
    body = incident(basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    body["external_id"] = external_id or uuid.uuid4().hex
    return stack.post(**body)


def test_refuses_a_client_without_credentials(stack: Live) -> None:
    with connect(ws_url(stack.url)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


def test_a_ticket_works_once_and_a_key_in_the_url_never(stack: Live) -> None:
    once = ticket(stack.url, API_KEY)
    with connect(ws_url(stack.url, ticket=once)) as ws:
        assert receive(ws)["type"] == "snapshot"
    with connect(ws_url(stack.url, ticket=once)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    raw = stack.url.replace("http://", "ws://") + f"/ws?key={API_KEY}"
    with connect(raw) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    late = ticket(stack.url, API_KEY)
    stack.clock.advance(timedelta(seconds=31))
    with connect(ws_url(stack.url, ticket=late)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_refuses_a_wrong_key_and_a_bad_subscription(stack: Live) -> None:
    with connect(ws_url(stack.url, key="nope")) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    url = ws_url(stack.url, key=API_KEY, basisteam="atlantis")
    with connect(url) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert "atlantis" in closed.value.rcvd.reason
    bad_after = ws_url(stack.url, key=API_KEY, after="x")
    with connect(bad_after) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


def test_snapshot_then_live_events_with_the_dispatch_summary(stack: Live) -> None:
    before = post(stack)
    with connect(ws_url(stack.url, key=API_KEY)) as ws:
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot"
        assert [d["id"] for d in snapshot["dispatches"]] == [before["id"]]
        caught_up = receive(ws)
        assert caught_up == {"type": "caught_up", "last_id": snapshot["last_id"]}
        created = post(stack)
        first = receive(ws)
        assert first["type"] == "event"
        assert first["id"] > snapshot["last_id"]
        assert first["event"]["dispatch_id"] == created["id"]
        assert first["dispatch"]["reference"] == created["reference"]
        assert first["dispatch"]["basisteam"] == GV_NOORD
        ids = [first["id"]] + [
            m["id"] for m in events_until(ws, len(stack.events(created["id"])) - 1)
        ]
        assert ids == [e.id for e in stack.events(created["id"])]


def test_resume_after_a_disconnect_misses_nothing_and_repeats_nothing(stack: Live) -> None:
    with connect(ws_url(stack.url, key=API_KEY)) as ws:
        last = receive(ws)["last_id"]
        receive(ws)  # caught_up
        first = post(stack)
        seen = events_until(ws, len(stack.events(first["id"])))
        last = seen[-1]["id"]
    # Offline: two more incidents are made.
    missed = [post(stack), post(stack)]
    expected = [e.id for d in missed for e in stack.events(d["id"])]
    with connect(ws_url(stack.url, key=API_KEY, after=last)) as ws:
        replay = events_until(ws, len(expected))
        assert [m["id"] for m in replay] == sorted(expected)
        assert receive(ws) == {"type": "caught_up", "last_id": max(expected)}
        # And then live, continuing from there.
        third = post(stack)
        live_ids = [m["id"] for m in events_until(ws, len(stack.events(third["id"])))]
        assert live_ids == [e.id for e in stack.events(third["id"])]
        assert min(live_ids) > max(expected)


def test_an_id_this_database_never_gave_out_gets_a_fresh_snapshot(stack: Live) -> None:
    d = post(stack)
    beyond = stack.events(d["id"])[-1].id + 1000  # e.g. seen before a restore
    with connect(ws_url(stack.url, key=API_KEY, after=beyond)) as ws:
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot"
        assert [x["id"] for x in snapshot["dispatches"]] == [d["id"]]
        assert snapshot["last_id"] == stack.events(d["id"])[-1].id
        assert receive(ws) == {"type": "caught_up", "last_id": snapshot["last_id"]}


def test_a_long_absence_gets_a_snapshot_instead_of_the_whole_backlog(stack: Live) -> None:
    first, second = post(stack), post(stack)
    with served_app(stack) as (url, state):
        assert state.hub is not None
        state.hub.replay_limit = 2  # the backlog here is longer than that
        with connect(ws_url(url, key=API_KEY, after=0)) as ws:
            snapshot = receive(ws)
            assert snapshot["type"] == "snapshot"
            assert {x["id"] for x in snapshot["dispatches"]} == {first["id"], second["id"]}
            assert receive(ws)["type"] == "caught_up"


def test_subscriptions_filter_by_basisteam_and_incident(stack: Live) -> None:
    other = incident(basisteam="laak", reported_at="2026-03-10T16:59")
    url_team = ws_url(stack.url, key=API_KEY, basisteam=GV_NOORD, after=0)
    with connect(url_team) as team_ws:
        assert receive(team_ws)["type"] == "caught_up"
        elsewhere = stack.post(**{**other, "external_id": uuid.uuid4().hex})
        ours = post(stack)
        got = events_until(team_ws, len(stack.events(ours["id"])))
        assert {m["event"]["dispatch_id"] for m in got} == {ours["id"]}
        assert elsewhere["id"] not in {m["event"]["dispatch_id"] for m in got}
    # An incident that names only a municipality is filed under its one basisteam.
    again = ws_url(stack.url, key=API_KEY, basisteam=GV_NOORD, after=got[-1]["id"])
    with connect(again) as team_ws:
        assert receive(team_ws)["type"] == "caught_up"
        body = incident(municipality="GM0376", reported_at="2026-03-10T16:59")
        by_place = stack.post(**body)
        message = receive(team_ws)
        assert message["event"]["dispatch_id"] == by_place["id"]
        assert message["dispatch"]["basisteam"] == GV_NOORD
    with connect(ws_url(stack.url, key=API_KEY, incident=elsewhere["id"], after=0)) as one:
        replay = events_until(one, len(stack.events(elsewhere["id"])))
        assert {m["event"]["dispatch_id"] for m in replay} == {elsewhere["id"]}
        assert receive(one)["type"] == "caught_up"


def test_a_worker_token_follows_only_its_own_incident(stack: Live) -> None:
    mine = post(stack)
    theirs = post(stack)
    state = stack.app_state

    with state.sessions() as s:
        assignment = s.scalars(
            select(Assignment).where(Assignment.dispatch_id == mine["id"]).limit(1)
        ).first()
        assert assignment is not None
        token = links.sign_worker(
            assignment.id, stack.clock.now() + timedelta(hours=1), state.settings.link_secret
        )
    with connect(ws_url(stack.url, token=token)) as ws:
        snapshot = receive(ws)
        assert [d["id"] for d in snapshot["dispatches"]] == [mine["id"]]
        receive(ws)
        post(stack)  # another incident: never shown to this worker
        assert theirs["id"] not in json.dumps(snapshot)
        with pytest.raises(TimeoutError):
            receive(ws, timeout=0.5)
    url = ws_url(stack.url, token=token, incident=theirs["id"])
    with connect(url) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    expired = links.sign_worker(
        1, stack.clock.now() - timedelta(seconds=1), state.settings.link_secret
    )
    with connect(ws_url(stack.url, token=expired)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@contextmanager
def served_app(
    live: Live, port: int | None = None, **settings: Any
) -> Iterator[tuple[str, AppState]]:
    """Another API process on the live stack's database (a thread with its own app,
    engine and hub), with some settings changed; yields its URL and state."""
    app = create_app(
        live.app_state.settings.model_copy(update=settings), clock=live.clock, run_delivery=False
    )
    port = port or free_port()
    server = ServerThread(app, "127.0.0.1", port, lifespan="on")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", app.state.samenop
    finally:
        server.stop()
        app.state.samenop.engine.dispose()


@contextmanager
def served(live: Live, port: int | None = None, **settings: Any) -> Iterator[str]:
    with served_app(live, port, **settings) as (url, _):
        yield url


def test_two_api_processes_share_events_through_redis(stack: Live) -> None:
    # A fallback poll far longer than the test: only Redis can wake process b.
    shared = {
        "redis_url": REDIS_URL,
        "queue_name": f"t{uuid.uuid4().hex[:10]}",
        "delivery": "inline",
        "stream_poll_seconds": 30.0,
    }
    with (
        served(stack, **shared) as a,
        served(stack, **shared) as b,
        connect(ws_url(b, key=API_KEY)) as ws,
    ):
        receive(ws)
        receive(ws)
        body = incident(basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
        r = httpx.post(f"{a}/api/v1/incidents", json=body, headers={"X-API-Key": API_KEY})
        assert r.status_code == 201, r.text
        # The hub on b was woken by Redis, well before its fallback poll.
        message = receive(ws, timeout=0.9)
        assert message["event"]["dispatch_id"] == r.json()["id"]


def test_heartbeats_keep_an_idle_client_company(stack: Live) -> None:
    with (
        served(stack, stream_heartbeat_seconds=0.2) as url,
        connect(ws_url(url, key=API_KEY)) as ws,
    ):
        assert receive(ws)["type"] == "snapshot"
        assert receive(ws)["type"] == "caught_up"
        pings = [json.loads(ws.recv(timeout=2)) for _ in range(2)]
        assert [p["type"] for p in pings] == ["ping", "ping"]
        assert pings[0]["t"] == stack.clock.now().isoformat()
        ws.send(json.dumps({"type": "pong"}))  # answering is allowed, and changes nothing
        assert json.loads(ws.recv(timeout=2))["type"] == "ping"


def test_resume_across_a_server_restart(stack: Live) -> None:
    """Process a serves the client; it stops; incidents are made through the live stack's
    own process; a new process on a's port serves the reconnect: the client gets exactly
    what it missed."""
    port = free_port()
    with served(stack, port=port) as url, connect(ws_url(url, key=API_KEY)) as ws:
        receive(ws)
        receive(ws)
        first = post(stack)
        # Woken by its own poll (another process wrote it, no shared bus here).
        last = events_until(ws, len(stack.events(first["id"])))[-1]["id"]
    # (the server stopped when the block ended; the client had gone just before)
    missed = [post(stack), post(stack)]
    expected = sorted(e.id for d in missed for e in stack.events(d["id"]))
    with served(stack, port=port) as url, connect(ws_url(url, key=API_KEY, after=last)) as ws:
        assert [m["id"] for m in events_until(ws, len(expected))] == expected
        assert receive(ws) == {"type": "caught_up", "last_id": expected[-1]}


def test_the_sign_in_cookie_only_counts_from_our_own_pages(stack: Live) -> None:
    make_account(stack.app_state.sessions, "meldkamer")
    with httpx.Client(base_url=stack.url) as browser:
        sign_in(browser, "meldkamer")
        cookie = f"{COOKIE}={browser.cookies[COOKIE]}"
    own = stack.url
    with connect(ws_url(stack.url), additional_headers={"Cookie": cookie}, origin=own) as ws:
        assert receive(ws)["type"] == "snapshot"
    evil = "http://evil.example"
    with (
        connect(ws_url(stack.url), additional_headers={"Cookie": cookie}, origin=evil) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def _stalled_socket(port: int) -> socket.socket:
    """A websocket client with a small receive window that reads the handshake and then
    never reads again."""
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    slow.sendall(
        (
            f"GET /ws?ticket={ticket(f'http://127.0.0.1:{port}', API_KEY)}&after=0 HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert slow.recv(4096).startswith(b"HTTP/1.1 101")
    return slow


def _flood(stack: Live, count: int = 80) -> None:
    """``count`` events of 100 kB: more than the kernel's socket buffers (4 MB) hold."""
    blob = "x" * 100_000
    with stack.app_state.sessions() as session:
        for n in range(count):
            events.append(session, None, stack.clock.now(), [("test.filler", {"n": n, "b": blob})])
            session.commit()


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked frames a server sent, as far as they are whole."""
    out, i = [], 0
    while i + 2 <= len(data):
        opcode, length, i = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if length == 126:
            length, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif length == 127:
            length, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        if i + length > len(data):
            break
        out.append((opcode, data[i : i + length]))
        i += length
    return out


def test_a_client_that_stops_reading_is_closed_with_4408(stack: Live) -> None:
    """A real socket with a small receive window that stops reading: the server's queue
    for it overflows, it is closed with 4408 ("te traag"), and a reading client on the
    same process gets every event meanwhile."""
    with (
        served_app(stack, stream_queue=10) as (url, state),
        # This client reads all the time (into memory), however slowly the test looks.
        connect(ws_url(url, key=API_KEY), max_queue=None, max_size=None) as reader,
    ):
        receive(reader)
        receive(reader)
        slow = _stalled_socket(int(url.rsplit(":", 1)[1]))
        _flood(stack)
        got = [m["event"]["payload"]["n"] for m in events_until(reader, 80)]
        assert got == list(range(80))  # the reader was not held up
        # The server gives up on the slow one once it has taken nothing for a while.
        hub = state.hub
        assert hub is not None
        deadline = time.monotonic() + 10
        while not any(c.closing for c in list(hub.connections)):
            assert time.monotonic() < deadline, "the stalled client was never closed"
            time.sleep(0.05)
        # Now read what the slow client was sent: it ends with the close frame.
        slow.settimeout(10)
        chunks: list[bytes] = []
        while chunk := slow.recv(1 << 22):
            chunks.append(chunk)
            if chunk[-256:].find(b"\x88") >= 0 and _frames(b"".join(chunks))[-1][0] == 0x8:
                break  # the close frame came (the server then waits for ours)
        data = b"".join(chunks)
        slow.close()
        opcode, payload = _frames(data)[-1]
        assert opcode == 0x8
        assert int.from_bytes(payload[:2], "big") == 4408
        assert b"te traag" in payload[2:]


def test_a_client_that_never_reads_again_is_let_go_without_its_close_frame(stack: Live) -> None:
    """When not even the close frame can be written, the server stops waiting for it:
    the connection's handler ends and the hub forgets the client."""
    with served_app(stack, stream_queue=10) as (url, state):
        hub = state.hub
        assert hub is not None
        hub.stall_seconds, hub.close_timeout = 0.4, 0.3
        slow = _stalled_socket(int(url.rsplit(":", 1)[1]))
        try:
            deadline = time.monotonic() + 5
            while not hub.connections:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            _flood(stack)
            while hub.connections:
                assert time.monotonic() < deadline + 10, "the stuck client was never let go"
                time.sleep(0.05)
        finally:
            slow.close()

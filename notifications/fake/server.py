"""Serving an ASGI app on a free local port from a background thread, or as a process.

Tests and the embedded demo run the fake (and sometimes our own API) inside the test
process: uvicorn in a daemon thread, on a socket bound before the thread starts so the
port is known and never raced for. ``main`` runs the fake on its own for the demo or a
benchmark that drives it over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

logger = logging.getLogger(__name__)
_TLS_CLOSE_WAIT = 0.05  # seconds a TLS connection gets to close by itself on shutdown


class _Server(uvicorn.Server):
    """uvicorn looks at ``should_exit`` every 0.1 s; tests start and stop many servers."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000  # on_tick refreshes the Date header per 10 ticks
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's graceful shutdown, polling every 5 ms instead of sleeping 0.1 s twice."""
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + (self.config.timeout_graceful_shutdown or 2)
        state = self.server_state
        while (state.connections or state.tasks) and loop.time() < deadline:
            if self.config.is_ssl and loop.time() > started + _TLS_CLOSE_WAIT:
                # A TLS close waits for the client's close_notify, which an idle pooled
                # connection never sends: cut the idle ones (requests are finished).
                for connection in list(state.connections):
                    transport = getattr(connection, "transport", None)
                    if transport is not None and not state.tasks:
                        transport.abort()
            await asyncio.sleep(0.005)
        for task in state.tasks:
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        if self.config.lifespan != "off":
            await self.lifespan.shutdown()

    def exit_soon(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)


class ServerThread:
    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        lifespan: str = "off",
        ssl_certfile: str | None = None,
    ) -> None:
        """``lifespan="on"`` runs the app's startup and shutdown (the service's stream);
        ``ssl_certfile`` (the key and certificate chain in one PEM) serves HTTPS."""
        self._app = app
        self._lifespan = lifespan
        self._ssl_certfile = ssl_certfile
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("server not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_certfile else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = int(sock.getsockname()[1])  # a restart comes back on the same port
        self._socket = sock
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan=self._lifespan,  # type: ignore[arg-type]
            timeout_graceful_shutdown=2,
            ssl_certfile=self._ssl_certfile,
        )
        self._server = server = _Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-twilio-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self._host}:{self.port} did not start")
            time.sleep(0.005)

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.exit_soon()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None


def main(argv: list[str] | None = None) -> None:
    from notifications.fake.app import create_fake_app
    from notifications.fake.state import (
        DEFAULT_ACCOUNT_SID,
        DEFAULT_AUTH_TOKEN,
        DEFAULT_FROM,
        FakeTwilio,
    )

    parser = argparse.ArgumentParser(
        prog="python -m notifications.fake",
        description="A local Twilio-compatible server that plays the phones (tests, demo).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--from-number", default=DEFAULT_FROM, help="our Twilio number")
    parser.add_argument("--sms-url", default=None, help="inbound SMS webhook of the service")
    parser.add_argument(
        "--behaviour",
        default="manual",
        help="how every phone answers: manual, accept, decline, no_answer, voicemail, busy",
    )
    parser.add_argument("--phone", action="append", default=[], help="NUMBER[=LABEL] to show")
    args = parser.parse_args(argv)

    fake = FakeTwilio(
        args.account_sid, args.auth_token, from_number=args.from_number, sms_url=args.sms_url
    )
    fake.set_behaviour("*", args.behaviour)
    for entry in args.phone:
        number, _, label = entry.partition("=")
        fake.register_phone(number, label)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logger.info("Fake Twilio on http://%s:%d (phones: /phones)", args.host, args.port)
    try:
        uvicorn.run(create_fake_app(fake), host=args.host, port=args.port, log_level="warning")
    finally:
        fake.close()

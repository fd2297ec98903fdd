"""Running the fake Twilio inside a test process, and a tiny webhook receiver.

``FakeTwilioServer`` serves ``create_fake_app`` on a free port in a daemon thread so
the real SDK talks HTTP to it; use it as a context manager or a pytest fixture::

    @pytest.fixture
    def twilio() -> Iterator[FakeTwilioServer]:
        with FakeTwilioServer() as server:
            yield server

    def test_pages(twilio):
        provider = twilio.provider()
        ...
        call = twilio.expect_call("+31612345678")
        twilio.fake.answer(call.sid)
        twilio.assert_nothing_unexpected()

``WebhookSink`` stands in for our service when the fake itself is under test: it
records every request and answers what the test configured per path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from notifications.fake.app import create_fake_app
from notifications.fake.faces import Face
from notifications.fake.records import Call, Message
from notifications.fake.server import ServerThread
from notifications.fake.state import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM,
    FakeTwilio,
)
from notifications.twilio import TwilioProvider


class FakeTwilioServer:
    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        from_number: str = DEFAULT_FROM,
        sms_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_timeout: float = 10.0,
        now: Callable[[], datetime] | None = None,
        faces: Sequence[Face] = (),
    ) -> None:
        """``faces``: other providers' faces whose phones the phone page shows too."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.fake = FakeTwilio(
            account_sid,
            auth_token,
            from_number=from_number,
            sms_url=sms_url,
            callback_timeout=callback_timeout,
            now=now,
        )
        self._server = ServerThread(create_fake_app(self.fake, faces=faces), host, port)

    @property
    def url(self) -> str:
        """Base URL; also the ``api_base`` / ``twilio_api_base`` setting for the SDK."""
        return self._server.url

    def start(self) -> FakeTwilioServer:
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving (REST now fails as if Twilio were unreachable), then the outbox."""
        self._server.stop()
        self.fake.close()

    def stop_http(self) -> None:
        """Stop only the HTTP side: our service sees Twilio as down, the state stays."""
        self._server.stop()

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def provider(self, *, auth_token: str | None = None, timeout: float = 5.0) -> TwilioProvider:
        """The production provider, pointed at this server."""
        return TwilioProvider(
            self.account_sid,
            auth_token or self.auth_token,
            self.from_number,
            api_base=self.url,
            timeout=timeout,
        )

    # The expectation layer, at hand on the fixture itself.
    def expect_call(self, to: str, *, timeout: float = 5.0) -> Call:
        return self.fake.expect_call(to, timeout=timeout)

    def expect_sms(self, to: str, contains: str | None = None, *, timeout: float = 5.0) -> Message:
        return self.fake.expect_sms(to, contains, timeout=timeout)

    def assert_nothing_unexpected(self) -> None:
        self.fake.assert_nothing_unexpected()


@dataclass
class Received:
    method: str
    url: str  # as requested: the URL Twilio signed
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    body: bytes = b""  # as received (a JSON webhook's form is empty)


Answer = tuple[int, str, str]  # status, content type, body
Responder = Callable[[Received], Answer]


class WebhookSink:
    """An HTTP server that records requests; ``respond(path, ...)`` sets its answers."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: dict[str, Responder] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like our uvicorn service
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length) if length else b""
                body = raw.decode("utf-8")
                split = urlsplit(self.path)
                query = parse_qs(split.query, keep_blank_values=True)
                form = parse_qs(body, keep_blank_values=True) if self.command == "POST" else query
                host = self.headers.get("Host", "")
                received = Received(
                    method=self.command,
                    url=f"http://{host}{self.path}",
                    path=split.path,
                    headers={k: v for k, v in self.headers.items()},
                    form={k: v[0] for k, v in form.items()},
                    body=raw,
                )
                status, content_type, text = sink._record(received)
                payload = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def respond(
        self, path: str, body: str | Responder = "", status: int = 200, content_type: str = ""
    ) -> None:
        """Answer requests to ``path`` with ``body`` (TwiML by default) or a function."""
        if callable(body):
            responder = body
        else:
            kind = content_type or ("text/xml" if body.lstrip().startswith("<") else "text/plain")
            text = body

            def responder(received: Received) -> Answer:
                return status, kind, text

        with self._lock:
            self._answers[path] = responder

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def _record(self, received: Received) -> Answer:
        with self._lock:
            self.received.append(received)
            responder = self._answers.get(received.path)
        if responder is None:
            return 200, "text/xml", "<Response/>"
        return responder(received)

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        self._http.server_close()

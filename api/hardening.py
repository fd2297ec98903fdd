"""Input that cannot hurt the server, refused before the application sees it.

A pure ASGI middleware (no ``BaseHTTPMiddleware``: intake is benchmarked, and this
adds a few microseconds to a small JSON request):

- **Body size**: a ``Content-Length`` over the route's limit is answered 413 without
  reading a byte; a body sent without one is counted while it streams in and refused
  as soon as it passes the limit. Configuration routes have their own, larger limit.
- **NUL**: PostgreSQL refuses NUL in text, so a NUL in the path, a query parameter, a
  JSON string (``\\u0000``) or a form field is answered 422 naming where it is.
- **JSON depth**: a JSON body nested deeper than the limit is answered 422 before any
  parser recurses into it.
- **Headers** on every response: Content-Security-Policy (no inline script, no
  framing), ``X-Content-Type-Options: nosniff``, a Referrer-Policy (worker links carry
  their token in the URL), and HSTS in production. A response that sets its own CSP
  (``/docs``) keeps it.

YAML bodies are bounded by the configuration loader itself (aliases, depth, NUL).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import apidocs
from api.errors import validation_content
from core.settings import Settings
from oncall.yamlsafe import nul_path

# Routes that take a whole configuration (JSON or YAML) get the larger body limit.
CONFIG_PREFIX = "/api/v1/config"
# Bodies larger than this are checked in a worker thread, not on the event loop.
_THREAD_ABOVE = 64 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [1 if b in b"[{" else -1 for b in range(256)]
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})

Problem = tuple[str, str, str]  # field, rule, type


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether the JSON in ``body`` nests arrays/objects deeper than ``limit``."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def check_json(body: bytes, depth: int) -> Problem | None:
    if json_too_deep(body, depth):
        return "body", f"JSON nested deeper than {depth} levels", "json_too_deep"
    if b"\\u0000" in body:
        try:
            where = nul_path(json.loads(body))
        except ValueError:
            return None  # not JSON: the route says so itself
        if where is not None:
            return where or "body", "NUL character (\\u0000) not allowed", "nul_character"
    return None


def check_form(body: bytes) -> Problem | None:
    if b"%00" not in body and b"\x00" not in body:
        return None
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "body", "NUL character not allowed", "nul_character"
    return None


def _nul_in_target(scope: Scope) -> Problem | None:
    if "\x00" in scope["path"]:
        return "path", "NUL character (%00) not allowed", "nul_character"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                name = key.replace("\x00", "") or "query"
                return name, "NUL character (%00) not allowed", "nul_character"
    return None


async def _answer(
    send: Send, status: int, content: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HardeningMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_config_body_bytes: int,
        max_json_depth: int,
        hsts: bool,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_config_body = max_config_body_bytes
        self.depth = max_json_depth
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket" and _nul_in_target(scope):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": "NUL not allowed"})
        else:
            await self.app(scope, receive, send)

    def _secured(self, send: Send) -> Callable[[Message], Awaitable[None]]:
        extra = self.headers

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        return secured

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = self._secured(send)
        problem = _nul_in_target(scope)
        if problem is not None:
            await self._invalid(send, problem)
            return
        length: bytes | None = None
        content_type = b""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value.lower()
            elif name == b"transfer-encoding":
                chunked = True
        config = scope["path"].startswith(CONFIG_PREFIX)
        limit = self.max_config_body if config else self.max_body
        if length is not None:
            if not length.isdigit():
                await _answer(send, 400, {"detail": "Content-Length: not a number of bytes"})
                return
            if int(length) > limit:
                await self._too_large(send, limit, config)
                return
        elif not chunked and scope["method"] in _METHODS_WITHOUT_BODY:
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit, config)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            problem = await self._check_body(body, content_type)
            if problem is not None:
                await self._invalid(send, problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _check_body(self, body: bytes, content_type: bytes) -> Problem | None:
        if b"yaml" in content_type or b"multipart/" in content_type:
            return None  # YAML: the configuration loader bounds it; no multipart routes
        if b"x-www-form-urlencoded" in content_type:
            check: Callable[[], Problem | None] = lambda: check_form(body)  # noqa: E731
        else:  # JSON, or parsed as JSON by the route (configuration without a type)
            check = lambda: check_json(body, self.depth)  # noqa: E731
        if len(body) > _THREAD_ABOVE:
            return await anyio.to_thread.run_sync(check)
        return check()

    async def _invalid(self, send: Send, problem: Problem) -> None:
        field, rule, kind = problem
        content = validation_content([{"field": field, "rule": rule, "type": kind}])
        await _answer(send, 422, content)

    async def _too_large(self, send: Send, limit: int, config: bool) -> None:
        setting = "SAMENOP_MAX_CONFIG_BODY_BYTES" if config else "SAMENOP_MAX_BODY_BYTES"
        detail = (
            f"request body too large: the limit for this route is {limit} bytes "
            f"({setting}); nothing was read or stored"
        )
        # The rest of the body is never read: the connection cannot carry another request.
        await _answer(send, 413, {"detail": detail}, [(b"connection", b"close")])


def install(app: FastAPI, settings: Settings) -> None:
    """The middleware, the error schemas in the OpenAPI document, and ``/docs``."""
    app.add_middleware(
        HardeningMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_config_body_bytes=settings.max_config_body_bytes,
        max_json_depth=settings.max_json_depth,
        hsts=settings.environment == "production",
    )
    apidocs.install(app)

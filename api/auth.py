"""Who is calling, and whether their role may use a route.

Credentials, in order: an ``X-API-Key`` header (a stored key scoped to a role and
regions, or one of the bootstrap admin keys from the settings); the pages' sign-in
cookie (a server-side session, with a CSRF token on every write and an Origin check);
a worker's signed link (handled by the worker routes themselves). Every route names the
roles that may use it with ``allow(...)``; ``tests/api/test_access_matrix.py`` walks the
app and fails for a route that names none.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Header, HTTPException, Request, status
from starlette.requests import HTTPConnection

from access import service as access
from access.principal import Principal, Role
from api.state import AppState
from dispatch.models import Assignment
from notifications import links

COOKIE = "samenop_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BOOTSTRAP = Principal(kind="key", name="bootstrap", role=Role.ADMIN)
DEMO = Principal(kind="demo", name="demo", role=Role.ADMIN)
KEY_CACHE_SECONDS = 5.0  # a revoked key stops working at most this long after


def limits(state: AppState) -> access.SessionLimits:
    return access.SessionLimits(
        idle=timedelta(minutes=state.settings.session_idle_minutes),
        absolute=timedelta(hours=state.settings.session_absolute_hours),
    )


@dataclass
class _Cached:
    principal: Principal | None
    until: float
    expires_at: datetime | None = None  # a rotated key's end of overlap


class KeyCache:
    """Stored keys looked up by digest, remembered a few seconds per process (intake
    runs at 20/s; a lookup per request would be one more query on the hot path)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Cached] = {}

    def get(self, secret: str) -> _Cached | None:
        entry = self._entries.get(access.digest(secret))
        if entry is None or entry.until < time.monotonic():
            return None
        return entry

    def put(
        self, secret: str, principal: Principal | None, expires_at: datetime | None = None
    ) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[access.digest(secret)] = _Cached(
            principal, time.monotonic() + KEY_CACHE_SECONDS, expires_at
        )

    def clear(self) -> None:
        self._entries.clear()


def _cache(state: AppState) -> KeyCache:
    cache = getattr(state, "key_cache", None)
    if cache is None:
        cache = KeyCache()
        state.key_cache = cache  # type: ignore[attr-defined]
    return cache


def forget_keys(state: AppState) -> None:
    """This process forgets what it cached about keys (after a rotation or revocation;
    other processes forget within KEY_CACHE_SECONDS)."""
    _cache(state).clear()


def _stored_key(state: AppState, secret: str) -> tuple[Principal | None, datetime | None]:
    now = state.clock.now()
    with state.sessions() as session:
        row = access.resolve_key(session, secret, now)
        if row is None:
            return None, None
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            row.last_used_at = now
            session.commit()
        return access.key_principal(row), row.expires_at


async def key_principal(state: AppState, secret: str) -> Principal | None:
    if any(secrets.compare_digest(secret, known) for known in state.settings.api_keys):
        return BOOTSTRAP
    if not secret.startswith(access.KEY_PREFIX):
        return None
    cache = _cache(state)
    hit = cache.get(secret)
    if hit is not None:
        if hit.expires_at is not None and state.clock.now() >= hit.expires_at:
            return None
        return hit.principal
    principal, expires_at = await asyncio.to_thread(_stored_key, state, secret)
    cache.put(secret, principal, expires_at)
    return principal


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    csrf: str
    display_name: str


def _session_of(state: AppState, token: str) -> SignedIn | None:
    with state.sessions() as session:
        found = access.resolve_session(session, token, now=state.clock.now(), limits=limits(state))
        session.commit()  # an expiry or a touch
        if found is None:
            return None
        account, row = found
        return SignedIn(
            access.account_principal(account, row.id),
            row.csrf,
            account.display_name or account.username,
        )


async def signed_in(connection: HTTPConnection, state: AppState) -> SignedIn | None:
    """The live sign-in session behind the cookie, if any (read once per request by
    the middleware; later calls get what it found)."""
    resolved = connection.scope.get("state", {}).get("access")
    if isinstance(resolved, Credentials):
        return resolved.signed_in
    token = connection.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    return await asyncio.to_thread(_session_of, state, token)


def demo_open(state: AppState) -> bool:
    """The local demo (``samenop demo``) opens the pages without signing in."""
    return state.settings.demo_open and state.settings.environment == "development"


def same_origin(connection: HTTPConnection, state: AppState) -> bool:
    """Whether a browser request comes from our own pages (Origin, else Referer)."""
    origin = connection.headers.get("origin") or connection.headers.get("referer")
    if not origin:
        return False
    netloc = urlsplit(origin).netloc
    return netloc in (
        connection.headers.get("host"),
        urlsplit(state.settings.public_base_url).netloc,
    )


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="missing or unknown credentials: send an API key (header X-API-Key) or sign in",
        headers={"WWW-Authenticate": "ApiKey"},
    )


@dataclass(frozen=True)
class Credentials:
    """What the request's credentials resolved to, before any route ran."""

    principal: Principal | None
    signed_in: SignedIn | None
    by_key: bool = False  # a key was sent: it alone counts for the API


class AccessMiddleware:
    """Resolves the caller's API key or sign-in cookie once, before the route's own
    dependencies open a database session (on SQLite that session would hold the one
    write lock while a second session looked up the credentials: a deadlock)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            connection = HTTPConnection(scope)
            state: AppState = scope["app"].state.samenop
            scope.setdefault("state", {})["access"] = await _resolve(connection, state)
        await self.app(scope, receive, send)


async def _resolve(connection: HTTPConnection, state: AppState) -> Credentials:
    """The key's principal (when a key is sent, it alone counts for the API) and the
    sign-in session (what the pages go by)."""
    key = connection.headers.get("x-api-key")
    if key is None:  # scrapers such as Prometheus send keys as bearer tokens
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            key = token.strip()
    found = await signed_in(connection, state)
    if key is not None:
        principal = None if len(key) > 128 else await key_principal(state, key)
        return Credentials(principal, found, by_key=True)
    return Credentials(found.principal if found else None, found)


def credentials(connection: HTTPConnection) -> Credentials:
    found = connection.scope.get("state", {}).get("access")
    return found if isinstance(found, Credentials) else Credentials(None, None)


async def principal_of(
    request: Request, state: AppState, x_api_key: str | None
) -> Principal | None:
    resolved = credentials(request)
    if x_api_key is not None or resolved.by_key:
        return resolved.principal
    found = resolved.signed_in
    if found is not None:
        if request.method not in SAFE_METHODS:
            if not same_origin(request, state):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    detail="origin: a signed-in write must come from this service's own pages",
                )
            sent = request.headers.get(CSRF_HEADER, "")
            if not secrets.compare_digest(sent.encode(), found.csrf.encode()):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    detail="x-csrf-token: missing or wrong (reload the page)",
                )
        return found.principal
    if demo_open(state):
        return DEMO
    return None


def allow(*roles: Role) -> Any:
    """A dependency giving the caller, refused unless its role is one of ``roles``."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def dependency(
        request: Request,
        x_api_key: Annotated[
            str | None, Header(description="API key (or sign in to the pages)", max_length=128)
        ] = None,
    ) -> Principal:
        state: AppState = request.app.state.samenop
        principal = await principal_of(request, state, x_api_key)
        if principal is None:
            raise _unauthenticated()
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role}' may not use this; it is for "
                + ", ".join(sorted(r.value for r in allowed)),
            )
        request.state.principal = principal
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]
    return Depends(dependency)


def roles_of(dependency: Callable[..., Awaitable[Principal]]) -> frozenset[Role] | None:
    roles = getattr(dependency, "roles", None)
    return roles if isinstance(roles, frozenset) else None


def page_roles(*roles: Role) -> Any:
    """Declares the roles of a page. Pages check the viewer themselves, because a
    browser that is not signed in is sent to /login rather than given a 401."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def dependency() -> None:
        return None

    dependency.roles = allowed  # type: ignore[attr-defined]
    dependency.page = True  # type: ignore[attr-defined]
    return Depends(dependency)


def public(reason: str) -> Any:
    """Marks a route that needs no role, with why (signed webhooks, the worker's
    signed link, liveness, the sign-in page)."""

    async def dependency() -> None:
        return None

    dependency.public = reason  # type: ignore[attr-defined]
    return Depends(dependency)


def worker_assignment(token: str, state: AppState) -> Assignment | None:
    """The assignment a worker token is for, or None when it is bad or expired."""
    try:
        assignment_id = links.verify_worker(token, state.clock.now(), state.settings.link_secret)
    except links.LinkInvalid:
        return None
    with state.sessions() as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is not None:
            session.expunge(assignment)
        return assignment


def denied(principal: Principal, what: str) -> HTTPException:
    """403 for an object the caller may know exists but not touch."""
    return HTTPException(
        status.HTTP_403_FORBIDDEN, detail=f"{what}: outside the regions of {principal.actor}"
    )


def cookies_of(connection: HTTPConnection) -> Mapping[str, str]:
    return connection.cookies

"""Signing in through an external identity provider (OpenID Connect), end to end.

A fake provider (``tests.api.oidc_provider``) and the service each run under uvicorn
on a free port; httpx walks the real flow, following the redirects from the service
to the provider and back. The account is found by the ID token's subject only; a token
for another audience, with another nonce, expired, signed with another key, from
another issuer, or for an unknown or inactive subject is refused (401, the sign-in page
in Dutch) and leaves no session behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from access import service as access
from access.models import Account, WebSession
from access.principal import Role
from api import auth
from api.app import create_app
from api.routers import oidc
from api.state import AppState
from core import migrate
from core.db import make_engine, make_session_factory
from core.settings import Settings
from dispatch.models import AuditLog
from notifications.fake.server import ServerThread
from tests.api.live import free_port
from tests.api.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider, new_key
from tests.conftest import API_KEY, BACKENDS, _make_database


@dataclass
class Stack:
    url: str
    provider: FakeProvider
    engine: Engine
    state: AppState

    def account(self, username: str, subject: str, *, active: bool = True) -> None:
        with make_session_factory(self.engine)() as s:
            account = access.create_account(
                s,
                username=username,
                role=Role.OPERATOR,
                password=None,
                oidc_subject=subject,
                now=datetime.now(UTC),
                by="tests",
            )
            account.active = active
            s.commit()

    def sessions_of(self, username: str) -> int:
        with make_session_factory(self.engine)() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(WebSession)
                    .join(Account, Account.id == WebSession.account_id)
                    .where(Account.username == username)
                )
                or 0
            )

    def all_sessions(self) -> int:
        with make_session_factory(self.engine)() as s:
            return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)

    def accounts(self) -> int:
        with make_session_factory(self.engine)() as s:
            return int(s.scalar(select(func.count()).select_from(Account)) or 0)


@contextmanager
def open_stack(backend: str, tmp: Path, provider_host: str = "127.0.0.1") -> Iterator[Stack]:
    """The service (its own database) and a fake provider, each on a free port."""
    url, handle = _make_database(backend, tmp)
    migrate.upgrade(url)
    provider = FakeProvider(host=provider_host).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        environment="test",
        database_url=url,
        api_keys=[API_KEY],
        public_base_url=base,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    app = create_app(settings, run_delivery=False, run_stream=False)
    server = ServerThread(app, "127.0.0.1", port)
    server.start()
    engine = make_engine(url)
    try:
        yield Stack(base, provider, engine, app.state.samenop)
    finally:
        server.stop()
        provider.stop()
        app.state.samenop.engine.dispose()
        engine.dispose()
        if handle is not None:
            admin, name = cast(tuple[psycopg.Connection[Any], str], handle)
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with open_stack(request.param, tmp_path_factory.mktemp("oidc")) as opened:
        yield opened


def browser(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.url, follow_redirects=True, timeout=10)


def test_a_mapped_account_signs_in_through_the_provider(stack: Stack) -> None:
    stack.account("oidc-jan", "sub-jan-0001")
    stack.provider.reset("sub-jan-0001")
    with browser(stack) as client:
        done = client.get("/login/oidc")  # -> the provider -> the callback
        assert done.status_code == 200, done.text
        # the flow went through the provider with PKCE, state and nonce
        asked = stack.provider.authorize_requests[-1]
        assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
        assert asked["redirect_uri"] == stack.url + "/login/oidc/callback"
        assert [r.url.path for r in done.history] == ["/login/oidc", "/authorize"]
        # the answer moves on to the dashboard by itself (a Strict cookie is not sent
        # on a redirect that began at the provider's site)
        assert 'http-equiv="refresh" content="0;url=/"' in done.text
        assert done.headers["cache-control"] == "no-store"
        cookie = next(c for c in client.cookies.jar if c.name == auth.COOKIE)
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert "samesite=strict" in done.headers["set-cookie"].lower()
        # the flow's cookie is gone
        assert oidc.FLOW_COOKIE not in {c.name for c in client.cookies.jar}
        me = client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["actor"] == "account:oidc-jan" and me.json()["role"] == "operator"
        assert stack.sessions_of("oidc-jan") == 1
    with make_session_factory(stack.engine)() as s:
        notes = s.scalars(
            select(AuditLog).where(
                AuditLog.actor == "account:oidc-jan", AuditLog.action == "session.start"
            )
        ).all()
        assert len(notes) == 1 and "(oidc)" in (notes[0].detail or "")


@pytest.mark.parametrize(
    "case",
    ["audience", "nonce", "expired", "issuer", "key", "unknown", "inactive"],
)
def test_a_token_that_does_not_check_out_is_refused(
    stack: Stack, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    username, subject = f"oidc-{case}", f"sub-{case}-0001"
    stack.account(username, subject, active=case != "inactive")
    stack.provider.reset("sub-nobody-here" if case == "unknown" else subject)
    now = int(time.time())
    changes: dict[str, dict[str, Any]] = {
        # azp naming us does not make up for an audience that is not us
        "audience": {"aud": "another-client", "azp": CLIENT_ID},
        "nonce": {"nonce": "not-the-one-we-sent"},
        "expired": {"iat": now - 3600, "exp": now - 600},
        "issuer": {"iss": "http://127.0.0.1:1/elsewhere"},
    }
    stack.provider.next_claims = changes.get(case, {})
    if case == "key":
        stack.provider.sign_with = new_key("fake-1")  # same kid, not the provider's key
    before_sessions, before_accounts = stack.all_sessions(), stack.accounts()
    with browser(stack) as client:
        refused = client.get("/login/oidc")
        assert refused.status_code == 401, (case, refused.text)
        assert refused.url.path == "/login/oidc/callback"
        assert 'role="alert"' in refused.text
        expected = "geen actief account" if case in ("unknown", "inactive") else "geweigerd"
        assert expected in refused.text, refused.text
        assert auth.COOKIE not in {c.name for c in client.cookies.jar}
        assert client.get("/api/v1/me").status_code == 401
    why = {
        "audience": "'aud'",
        "nonce": "'nonce'",
        "expired": "ExpiredTokenError",
        "issuer": "'iss'",
        "key": "BadSignatureError",
        "unknown": "refused (unknown)",
        "inactive": "refused (unknown)",
    }[case]
    assert why in caplog.text, caplog.text  # refused for that reason, not another
    assert stack.all_sessions() == before_sessions
    assert stack.accounts() == before_accounts  # nothing made for an unknown subject
    assert stack.sessions_of(username) == 0


def test_the_callback_needs_the_flow_it_began(stack: Stack) -> None:
    stack.account("oidc-flow", "sub-flow-0001")
    stack.provider.reset("sub-flow-0001")
    before = stack.all_sessions()
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        # no flow cookie at all
        bare = client.get("/login/oidc/callback", params={"code": "x", "state": "y"})
        assert bare.status_code == 401 and "verlopen of niet gelukt" in bare.text
        # a real flow, but the state comes back changed
        start = client.get("/login/oidc")
        assert start.status_code == 303
        at_provider = client.get(start.headers["location"])
        back = httpx.URL(at_provider.headers["location"])
        tokens_before = stack.provider.token_requests
        forged = client.get(
            "/login/oidc/callback",
            params={"code": back.params["code"], "state": "forged-state"},
        )
        assert forged.status_code == 401
        # a tampered flow cookie
        client.cookies.set(oidc.FLOW_COOKIE, "gAAAAA-not-sealed-by-us", path="/login/oidc")
        tampered = client.get("/login/oidc/callback", params=dict(back.params))
        assert tampered.status_code == 401
        assert stack.provider.token_requests == tokens_before  # the code was never used
        # the provider says no
        client.cookies.clear()
        start = client.get("/login/oidc")
        state = httpx.URL(start.headers["location"]).params["state"]
        denied = client.get(
            "/login/oidc/callback", params={"error": "access_denied", "state": state}
        )
        assert denied.status_code == 401 and "afgebroken of geweigerd" in denied.text
    assert stack.all_sessions() == before


def test_a_provider_that_names_another_issuer_is_not_used(stack: Stack) -> None:
    stack.provider.reset("sub-anyone")
    stack.provider.issuer_in_discovery = "https://elsewhere.example"
    provider = oidc.provider(stack.state)
    provider.client.server_metadata.clear()  # read the document again
    try:
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            r = client.get("/login/oidc")
            assert r.status_code == 503 and "nu niet mogelijk" in r.text
            assert oidc.FLOW_COOKIE not in client.cookies  # no flow began
    finally:
        stack.provider.issuer_in_discovery = None
        provider.client.server_metadata.clear()


def test_without_an_issuer_the_routes_do_not_exist() -> None:
    app = create_app(Settings(environment="test", database_url="sqlite://"))
    with TestClient(app) as client:
        assert client.get("/login/oidc", follow_redirects=False).status_code == 404
        assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404
        assert "/login/oidc" not in client.get("/login").text


def test_the_login_page_offers_the_provider_when_configured(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        assert 'href="/login/oidc"' in client.get("/login").text

"""Accounts, sign-in sessions and API keys through the API and the pages.

Sessions live on the server: a new cookie at every sign-in, ended by logout, by an
admin, by the idle and the absolute limit. Keys are stored as digests, shown once,
scoped, rotated with an overlap and revoked. Sign-in failures lock an account for a
while and a busy address is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.models import ApiKey, WebSession
from access.principal import Role
from api.app import create_app
from core.clock import ManualClock
from core.settings import Settings
from dispatch.models import AuditLog
from tests.accounts import PASSWORD, make_account, make_key, sign_in
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import API_KEY

OWN = {"Origin": "http://testserver"}


@pytest.fixture
def app_client(
    settings: Settings, sessions: sessionmaker[Session], clock: ManualClock, loaded: int
) -> Iterator[TestClient]:
    """A client without credentials of its own (each test picks them)."""
    tight = settings.model_copy(
        update={
            "session_idle_minutes": 30,
            "session_absolute_hours": 2,
            "login_max_failures": 3,
            "login_lockout_minutes": 15,
            "login_per_address": 6,
        }
    )
    app = create_app(tight, clock=clock, run_delivery=False, run_stream=False)
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    app.state.samenop.paging.sessions = sessions
    with TestClient(app) as client:
        yield client


def _login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    r = client.post(
        "/login",
        data={"username": username, "password": password},
        headers=OWN,
        follow_redirects=False,
    )
    return r.status_code


def _me(client: TestClient) -> int:
    return client.get("/api/v1/me").status_code


def test_every_sign_in_is_a_new_server_side_session_that_logout_ends(
    app_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    make_account(sessions, "meldkamer")
    csrf = sign_in(app_client, "meldkamer")
    first = app_client.cookies["samenop_session"]
    assert _me(app_client) == 200
    app_client.cookies.clear()
    sign_in(app_client, "meldkamer")
    second = app_client.cookies["samenop_session"]
    assert first != second
    with sessions() as s:  # only digests are stored
        stored = set(s.scalars(select(WebSession.id)))
        assert first not in stored and second not in stored and len(stored) == 2
    # logout needs the page's CSRF token; then the old cookie is worthless
    app_client.cookies.clear()
    app_client.cookies.set("samenop_session", first)
    refused = app_client.post("/logout", data={"csrf": "wrong"}, headers=OWN)
    assert refused.status_code == 403 and _me(app_client) == 200
    out = app_client.post(
        "/logout", data={"csrf": csrf_of(app_client)}, headers=OWN, follow_redirects=False
    )
    assert out.status_code == 303
    app_client.cookies.set("samenop_session", first)
    assert _me(app_client) == 401
    app_client.cookies.set("samenop_session", second)
    assert _me(app_client) == 200  # the other browser stays signed in
    assert csrf  # the first page had a token


def csrf_of(client: TestClient) -> str:
    page = client.get("/")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_sessions_end_when_idle_and_at_the_absolute_limit(
    app_client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    make_account(sessions, "meldkamer")
    sign_in(app_client, "meldkamer")
    clock.advance(timedelta(minutes=29))
    assert _me(app_client) == 200  # touched: the idle clock starts again
    clock.advance(timedelta(minutes=29))
    assert _me(app_client) == 200
    clock.advance(timedelta(minutes=31))
    assert _me(app_client) == 401  # idle too long
    assert app_client.get("/", follow_redirects=False).headers["location"] == "/login"
    sign_in(app_client, "meldkamer")
    for _ in range(4):  # busy all the time (100 minutes), yet the absolute limit holds
        clock.advance(timedelta(minutes=25))
        assert _me(app_client) == 200
    clock.advance(timedelta(minutes=21))  # 121 minutes after signing in
    assert _me(app_client) == 401


def test_an_admin_ends_anyones_sessions_and_a_changed_role_needs_a_new_sign_in(
    app_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    make_account(sessions, "meldkamer", Role.OPERATOR, regions=["gooi-en-vechtstreek"])
    sign_in(app_client, "meldkamer")
    admin = {"X-API-Key": API_KEY}
    listed = app_client.get("/api/v1/sessions", headers=admin).json()
    assert [s["username"] for s in listed] == ["meldkamer"]
    ended = app_client.post("/api/v1/accounts/meldkamer/sessions/end", headers=admin)
    assert ended.json() == {"ended": 1}
    assert _me(app_client) == 401
    sign_in(app_client, "meldkamer")
    patched = app_client.patch(
        "/api/v1/accounts/meldkamer", json={"role": "planner"}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["role"] == "planner"
    assert _me(app_client) == 401
    # an operator cannot make itself an admin
    sign_in(app_client, "meldkamer")
    csrf = csrf_of(app_client)
    r = app_client.patch(
        "/api/v1/accounts/meldkamer",
        json={"role": "admin"},
        headers={**OWN, "X-CSRF-Token": csrf},
    )
    assert r.status_code == 403


def test_failed_sign_ins_lock_the_account_and_then_the_address(
    app_client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    make_account(sessions, "meldkamer")
    assert [_login(app_client, "meldkamer", "fout") for _ in range(3)] == [401, 401, 401]
    # locked now: even the right password waits
    assert _login(app_client, "meldkamer") == 429
    clock.advance(timedelta(minutes=16))
    assert _login(app_client, "meldkamer") == 303
    # the address: six failures in the window, whatever the names, then refused
    for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
        assert _login(app_client, name, "fout") == 401
    assert _login(app_client, "nobody", "fout") == 429
    assert _login(app_client, "meldkamer") == 429  # the address is refused for now
    clock.advance(timedelta(minutes=11))
    assert _login(app_client, "meldkamer") == 303


def test_a_sign_in_from_another_site_is_refused(
    app_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    make_account(sessions, "meldkamer")
    r = app_client.post(
        "/login",
        data={"username": "meldkamer", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "samenop_session" not in r.headers.get("set-cookie", "")


def test_keys_are_shown_once_stored_as_digests_rotated_with_overlap_and_revoked(
    app_client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    admin = {"X-API-Key": API_KEY}
    made = app_client.post(
        "/api/v1/keys",
        json={
            "name": "politie-feed",
            "role": "feed",
            "regions": ["gooi-en-vechtstreek"],
            "sources": ["meldkamer-acceptatie"],
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    listed = app_client.get("/api/v1/keys", headers=admin).json()
    assert "secret" not in listed[0] and secret not in str(listed)
    with sessions() as s:
        assert secret not in {k.digest for k in s.scalars(select(ApiKey))}
        made_row = s.scalars(select(AuditLog).where(AuditLog.action == "key.create")).one()
        assert (made_row.actor_role, made_row.source_address) == ("admin", "testclient")
    feed = {"X-API-Key": secret}
    body = incident(basisteam=GV_NOORD)
    assert app_client.post("/api/v1/incidents", json=body, headers=feed).status_code == 201
    assert app_client.get("/api/v1/keys", headers=feed).status_code == 403
    duplicate = app_client.post(
        "/api/v1/keys", json={"name": "politie-feed", "role": "feed"}, headers=admin
    )
    assert duplicate.status_code == 409

    rotated = app_client.post(
        "/api/v1/keys/politie-feed/rotate", params={"overlap_hours": 1}, headers=admin
    )
    new = {"X-API-Key": rotated.json()["secret"]}
    assert rotated.json()["role"] == "feed" and rotated.json()["regions"] == ["gooi-en-vechtstreek"]
    assert app_client.get("/api/v1/me", headers=feed).status_code == 200  # the overlap
    assert app_client.get("/api/v1/me", headers=new).status_code == 200
    clock.advance(timedelta(minutes=61))
    assert app_client.get("/api/v1/me", headers=feed).status_code == 401
    assert app_client.get("/api/v1/me", headers=new).status_code == 200
    revoked = app_client.post("/api/v1/keys/politie-feed/revoke", headers=admin)
    assert revoked.status_code == 200
    assert app_client.get("/api/v1/me", headers=new).status_code == 401
    assert app_client.post("/api/v1/keys/politie-feed/revoke", headers=admin).status_code == 404


def test_scopes_are_checked_when_keys_and_accounts_are_made(app_client: TestClient) -> None:
    admin = {"X-API-Key": API_KEY}
    r = app_client.post(
        "/api/v1/keys", json={"name": "x", "role": "operator", "regions": []}, headers=admin
    )
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "regions"
    r = app_client.post("/api/v1/keys", json={"name": "x", "role": "worker"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "role"
    r = app_client.post(
        "/api/v1/accounts",
        json={"username": "kort", "role": "operator", "password": "kort"},
        headers=admin,
    )
    assert r.status_code == 422 and "password" in r.text


def test_a_scoped_key_made_in_the_database_is_resolved_once_per_few_seconds(
    app_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    secret = make_key(sessions, "meldkamer-a", Role.OPERATOR, regions=["gooi-en-vechtstreek"])
    me = app_client.get("/api/v1/me", headers={"X-API-Key": secret}).json()
    assert me == {
        "actor": "key:meldkamer-a",
        "role": "operator",
        "regions": ["gooi-en-vechtstreek"],
        "basisteams": [],
    }


def test_a_worker_account_sees_its_own_shifts_and_nothing_else(
    app_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    make_account(sessions, "linda", Role.WORKER, person_id="dh-linda-de-graaf")
    app_client.post(
        "/login",
        data={"username": "linda", "password": PASSWORD},
        headers=OWN,
        follow_redirects=False,
    )
    shifts = app_client.get("/api/v1/me/shifts", params={"days": 14})
    assert shifts.status_code == 200, shifts.text
    periods = shifts.json()
    # Linda alternates daily with Kevin on the CIT desk, 11:00-22:00 Amsterdam (CET)
    assert 6 <= len(periods) <= 8
    assert {p["team"] for p in periods} == {"cit-haaglanden"}
    assert periods[0]["start"] == "2026-11-28T12:00:00Z"  # on call now: from now
    for p in periods:
        assert p["start"].endswith(("T10:00:00Z", "T12:00:00Z")), p
        assert p["end"].endswith("T21:00:00Z") or p["end"] == "2026-12-12T12:00:00Z", p
    days = sorted(int(p["start"][8:10]) for p in periods if p["start"][5:7] == "12")
    assert all(b - a == 2 for a, b in itertools.pairwise(days))
    # a worker account sees nothing of incidents or rosters
    assert app_client.get("/api/v1/incidents").status_code == 403
    assert app_client.get("/api/v1/oncall").status_code == 403
    # signed in, a worker's home is their own shifts (the dashboard is not theirs)
    home = app_client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/shifts")
    assert app_client.get("/shifts").status_code == 200


def test_a_key_may_come_as_a_bearer_token_for_scrapers(
    app_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    secret = make_key(sessions, "prometheus", Role.ADMIN)
    assert (
        app_client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    assert (
        app_client.get("/metrics", headers={"Authorization": "Bearer sk_nope"}).status_code == 401
    )
    assert app_client.get("/metrics").status_code == 401


def test_the_api_documentation_is_for_signed_in_staff_in_production(
    settings: Settings, sessions: sessionmaker[Session], clock: ManualClock, loaded: int
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    app = create_app(production, clock=clock, run_delivery=False, run_stream=False)
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/docs", follow_redirects=False).headers["location"] == "/login"
        assert client.get("/docs", headers={"X-API-Key": API_KEY}).status_code == 200
        make_account(sessions, "meldkamer")
        sign_in(client, "meldkamer")
        page = client.get("/docs")
        assert page.status_code == 200 and "swagger" in page.text.lower()

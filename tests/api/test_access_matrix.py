"""Every role against every route, generated from the app itself.

Each route names its roles (``api.auth.allow``), or says why it is public (signed
webhooks, the worker's link, liveness, the sign-in page). For every route and every
role that may not use it, the request is refused (401 without credentials, 403 with
the wrong role) and the database is exactly as before. Roles that may use it are not
refused. Another region's objects: an incident is 404 (its existence is private), a
team or override is 403; each of those denials changes nothing either.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from sqlalchemy import Connection, inspect, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from access.principal import Role
from api.app import create_app
from core.clock import ManualClock
from core.settings import Settings
from tests.accounts import PASSWORD, make_account, make_key
from tests.api.test_scenarios import GV_NOORD, incident
from tests.conftest import API_KEY

REGION_A = "gooi-en-vechtstreek"
REGION_B = "den-haag"
TEAM_B = "cit-haaglanden"
OVERRIDE_B = "dh-2026-11-linda-afwezig"
SOURCE = "meldkamer-acceptatie"
# Changes that are not data: who failed to sign in, what was audited, when a key or a
# session was last seen.
SKIP_TABLES = {"audit_log", "login_attempts", "alembic_version"}
SKIP_COLUMNS = {"last_used_at", "last_seen_at"}


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    roles: frozenset[Role] | None  # None: public
    page: bool
    public: str | None


def _marks(dependant: Any) -> tuple[frozenset[Role] | None, bool, str | None]:
    roles: frozenset[Role] | None = None
    page = False
    public = None
    stack = [dependant]
    while stack:
        dep = stack.pop()
        call = dep.call
        if getattr(call, "roles", None) is not None:
            roles = call.roles
            page = page or bool(getattr(call, "page", False))
        if getattr(call, "public", None) is not None:
            public = call.public
        stack.extend(dep.dependencies)
    return roles, page, public


def route_table(app: FastAPI) -> list[RouteInfo]:
    out: list[RouteInfo] = []
    for route in app.routes:
        contexts = (
            list(route.effective_route_contexts())  # type: ignore[attr-defined]
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for ctx in contexts:
            dependant = getattr(ctx, "dependant", None)
            original = getattr(ctx, "original_route", ctx)
            if dependant is None or isinstance(original, APIWebSocketRoute):
                continue
            if not isinstance(original, APIRoute):
                continue
            roles, page, public = _marks(dependant)
            for method in sorted(ctx.methods or ()):
                if method != "HEAD":
                    out.append(RouteInfo(method, ctx.path, roles, page, public))
    return out


# Routes served by the framework or as files: the API's description and its viewer.
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def test_every_route_names_its_roles_or_why_it_is_public() -> None:
    app = create_app(Settings(environment="test", database_url="sqlite://"))
    table = route_table(app)
    assert len(table) > 30
    unowned = [
        f"{r.method} {r.path}"
        for r in table
        if r.roles is None and r.public is None and r.path not in FRAMEWORK
    ]
    assert unowned == [], f"routes without roles: {unowned}"
    # the roles are real: nothing but the worker's link is open to everyone
    assert all(r.roles or r.public for r in table if r.path not in FRAMEWORK)
    public_paths = {r.path for r in table if r.public}
    assert all(
        p.startswith(
            (
                "/webhooks/",
                "/p/",
                "/w/",
                "/login",
                "/logout",
                "/healthz",
                "/readyz",
                "/ical/",
                "/favicon.ico",
                "/s/",  # the shifts page from a roster SMS's signed link
                "/api/v1/swaps/link/",  # its actions, by the same link
            )
        )
        for p in public_paths
    ), public_paths


# --- the matrix ------------------------------------------------------------------------


def fingerprint(conn: Connection) -> dict[str, str]:
    """A digest of every data table's rows (a denied request must leave each alone)."""
    out = {}
    for table in sorted(inspect(conn).get_table_names()):
        if table in SKIP_TABLES:
            continue
        columns = [
            c["name"] for c in inspect(conn).get_columns(table) if c["name"] not in SKIP_COLUMNS
        ]
        select_list = ", ".join(f'"{c}"' for c in columns)
        rows = conn.execute(text(f'SELECT {select_list} FROM "{table}"')).fetchall()
        digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        out[table] = digest
    return out


@dataclass
class World:
    client: TestClient
    connection: Connection
    headers: dict[str, dict[str, str]]
    dispatch_a: str
    dispatch_b: str
    csrf_worker: str


@pytest.fixture
def world(
    settings: Settings,
    sessions: sessionmaker[Session],
    connection: Connection,
    clock: ManualClock,
    loaded: int,
) -> Iterator[World]:
    app = create_app(settings, clock=clock, run_delivery=False, run_stream=False)
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    app.state.samenop.paging.sessions = sessions
    if app.state.samenop.driver is not None:
        app.state.samenop.driver.parallel = 1
    keys = {
        "admin": API_KEY,
        "feed": make_key(sessions, "feed-a", Role.FEED, regions=[REGION_A], sources=[SOURCE]),
        "operator": make_key(sessions, "meldkamer-a", Role.OPERATOR, regions=[REGION_A]),
        "planner": make_key(sessions, "planner-a", Role.PLANNER, regions=[REGION_A]),
    }
    make_account(sessions, "piket-worker", Role.WORKER)
    with TestClient(app) as client:
        admin = {"X-API-Key": API_KEY}
        a = client.post(
            "/api/v1/incidents",
            json=incident(basisteam=GV_NOORD, source=SOURCE),
            headers={"X-API-Key": keys["feed"]},
        )
        assert a.status_code == 201, a.text
        b = client.post("/api/v1/incidents", json=incident(basisteam="laak"), headers=admin)
        assert b.status_code == 201, b.text
        # the worker signs in (a worker account: its own shifts, nothing else)
        login = client.post(
            "/login",
            data={"username": "piket-worker", "password": PASSWORD},
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert login.status_code == 303
        home = client.get("/", follow_redirects=False)  # a worker's home: their shifts
        assert (home.status_code, home.headers["location"]) == (303, "/shifts")
        refused = client.get("/admin")
        assert refused.status_code == 403
        csrf = re.search(r'name="csrf" value="([^"]+)"', refused.text)
        assert csrf is not None
        worker_cookies = dict(client.cookies)
        client.cookies.clear()
        headers = {name: {"X-API-Key": key} for name, key in keys.items()}
        headers["anonymous"] = {}
        headers["worker"] = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in worker_cookies.items()),
            "X-CSRF-Token": csrf.group(1),
            "Origin": "http://testserver",
        }
        yield World(client, connection, headers, a.json()["id"], b.json()["id"], csrf.group(1))


ROLE_OF = {
    "admin": Role.ADMIN,
    "feed": Role.FEED,
    "operator": Role.OPERATOR,
    "planner": Role.PLANNER,
    "worker": Role.WORKER,
}

PATH_VALUES = {
    "override_id": OVERRIDE_B,
    "position": "1",
    "action": "accept",
    "username": "piket-worker",
    "name": "feed-a",
    "token": "x",
    "page_id": "x",
    "region_id": REGION_B,
    "team": TEAM_B,
    "person": "dh-linda-de-graaf",
    "team_id": TEAM_B,
    "person_id": "dh-linda-de-graaf",
    "rotation_id": "dh-cit-nacht",
}


def _body(route: RouteInfo) -> Any:
    if route.path == "/api/v1/incidents" and route.method == "POST":
        return incident(basisteam=GV_NOORD, source=SOURCE)
    if route.path.endswith("/actions"):
        return {"action": "cancel"}
    if route.path == "/api/v1/overrides" and route.method == "POST":
        return {
            "id": "matrix-override",
            "team": TEAM_B,
            "kind": "remove",
            "person": "dh-linda-de-graaf",
            "start": "2026-12-01T00:00",
            "end": "2026-12-02T00:00",
        }
    if route.path == "/api/v1/keys" and route.method == "POST":
        return {"name": "matrix-key", "role": "admin"}
    if route.path == "/api/v1/accounts" and route.method == "POST":
        return {"username": "matrix", "role": "admin", "password": "a-long-password-1"}
    if route.path.startswith("/api/v1/accounts/") and route.method == "PATCH":
        return {"role": "admin", "all_regions": True}
    if route.path == "/api/v1/config" and route.method in ("PUT", "POST"):
        return {}
    return {}


def _url(route: RouteInfo, dispatch_id: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name == "dispatch_id":
            return dispatch_id
        return PATH_VALUES.get(name, "1")

    return re.sub(r"\{([^}]+)\}", fill, route.path)


def _call(world: World, who: str, route: RouteInfo, dispatch_id: str) -> Any:
    return world.client.request(
        route.method,
        _url(route, dispatch_id),
        headers=world.headers[who],
        json=_body(route) if route.method in ("POST", "PUT", "PATCH") else None,
        follow_redirects=False,
    )


def test_every_role_against_every_route(world: World) -> None:
    table = [
        r
        for r in route_table(world.client.app)
        if r.roles is not None and not r.page  # type: ignore[arg-type]
    ]
    assert len(table) >= 20
    denied = allowed = 0
    for route in table:
        for who in ("anonymous", "feed", "operator", "planner", "worker", "admin"):
            role = ROLE_OF.get(who)
            may = role is not None and role in (route.roles or ())
            if may:
                continue  # checked below, with effects
            before = fingerprint(world.connection)
            response = _call(world, who, route, world.dispatch_b)
            expected = 401 if who == "anonymous" else 403
            assert response.status_code == expected, (who, route, response.text)
            assert fingerprint(world.connection) == before, (who, route, "changed data")
            denied += 1
    for route in table:
        for who in ("operator", "planner", "feed"):
            role = ROLE_OF[who]
            if role not in (route.roles or ()):
                continue
            before = fingerprint(world.connection)
            response = _call(world, who, route, world.dispatch_b)
            if "{dispatch_id}" in route.path:
                # another region's incident (or one the feed did not send): not found
                assert response.status_code == 404, (who, route, response.text)
                assert fingerprint(world.connection) == before, (who, route, "changed data")
            elif route.method != "GET" and response.status_code == 403:
                # a scoped write refused (another region's team): nothing changed
                assert fingerprint(world.connection) == before, (who, route, "changed data")
            else:
                assert response.status_code not in (401, 403), (who, route, response.text)
            allowed += 1
    assert denied > 50 and allowed > 10


def test_an_incident_of_another_region_is_not_found(world: World) -> None:
    op = world.headers["operator"]
    base = "/api/v1/incidents"
    assert world.client.get(f"{base}/{world.dispatch_b}", headers=op).status_code == 404
    assert world.client.get(f"{base}/{world.dispatch_a}", headers=op).status_code == 200
    listed = world.client.get(base, headers=op).json()
    assert {d["id"] for d in listed} == {world.dispatch_a}
    admin = world.client.get(base, headers=world.headers["admin"]).json()
    assert {world.dispatch_a, world.dispatch_b} <= {d["id"] for d in admin}


def test_a_feed_reads_only_what_it_sent_and_sends_only_for_its_sources_and_area(
    world: World,
) -> None:
    feed = world.headers["feed"]
    base = "/api/v1/incidents"
    assert world.client.get(f"{base}/{world.dispatch_a}", headers=feed).status_code == 200
    assert world.client.get(f"{base}/{world.dispatch_b}", headers=feed).status_code == 404
    assert {d["id"] for d in world.client.get(base, headers=feed).json()} == {world.dispatch_a}
    before = fingerprint(world.connection)
    other_source = world.client.post(
        base, json=incident(basisteam=GV_NOORD, source="elders"), headers=feed
    )
    assert other_source.status_code == 403 and "source" in other_source.json()["detail"]
    other_area = world.client.post(
        base, json=incident(basisteam="laak", source=SOURCE), headers=feed
    )
    assert other_area.status_code == 403 and "basisteam" in other_area.json()["detail"]
    assert fingerprint(world.connection) == before
    # the feed's key cannot touch the configuration (it emptied every region before)
    put = world.client.put("/api/v1/config", json={}, headers=feed)
    assert put.status_code == 403
    assert fingerprint(world.connection) == before


def test_a_planner_changes_only_its_own_regions_teams(world: World) -> None:
    planner = world.headers["planner"]
    before = fingerprint(world.connection)
    body = {
        "id": "ander-gebied",
        "team": TEAM_B,
        "kind": "remove",
        "person": "dh-linda-de-graaf",
        "start": "2026-12-01T00:00",
        "end": "2026-12-02T00:00",
    }
    r = world.client.post("/api/v1/overrides", json=body, headers=planner)
    assert r.status_code == 403 and TEAM_B in r.json()["detail"]
    r = world.client.delete(f"/api/v1/overrides/{OVERRIDE_B}", headers=planner)
    assert r.status_code == 403
    assert fingerprint(world.connection) == before
    r = world.client.get("/api/v1/oncall", params={"region": REGION_B}, headers=planner)
    assert r.status_code == 403
    mine = world.client.get("/api/v1/oncall", headers=planner)
    assert mine.status_code == 200
    assert TEAM_B not in {t["team"] for t in mine.json()}


def test_the_stream_follows_only_the_roles_regions(world: World) -> None:
    def ticket(who: str) -> str | None:
        r = world.client.post("/api/v1/stream/tickets", headers=world.headers[who])
        return r.json()["ticket"] if r.status_code == 201 else None

    assert ticket("anonymous") is None and ticket("worker") is None
    for who in ("feed", "planner"):
        t = ticket(who)
        assert t is not None
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            world.client.websocket_connect(f"/ws?ticket={t}") as ws,
        ):
            ws.receive_json()
        assert closed.value.code == 4403, who
    t = ticket("operator")
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        world.client.websocket_connect(f"/ws?ticket={t}&region={REGION_B}") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4403
    # a key in the URL is never taken
    with (
        pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)),
        world.client.websocket_connect(f"/ws?key={API_KEY}") as ws,
    ):
        ws.receive_json()


def test_the_evaluation_is_for_the_planners_own_region_only(world: World) -> None:
    planner = world.headers["planner"]
    before = fingerprint(world.connection)
    for path in ("/api/v1/evaluation", "/api/v1/evaluation.csv"):
        other = world.client.get(path, params={"region": REGION_B}, headers=planner)
        assert other.status_code == 403 and REGION_B in other.json()["detail"], path
        mine = world.client.get(path, params={"region": REGION_A}, headers=planner)
        assert mine.status_code == 200, (path, mine.text)
        for who in ("operator", "feed"):
            refused = world.client.get(
                path, params={"region": REGION_A}, headers=world.headers[who]
            )
            assert refused.status_code == 403, (who, path)
    assert fingerprint(world.connection) == before
    body = world.client.get(
        "/api/v1/evaluation",
        params={"region": REGION_A, "start": "2026-03-10", "end": "2026-03-10"},
        headers=planner,
    )
    assert body.json()["totals"]["incidents"] == 1  # region A's incident, reported that day

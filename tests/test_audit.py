"""The audit log: complete rows (who, in which role, from where, which region), written in
the caller's transaction; append-only (on PostgreSQL the application's UPDATE, DELETE and
TRUNCATE fail); searched by admins through the API and a Dutch page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Principal, Role
from api import audit
from dispatch.models import AuditLog
from tests.accounts import make_account, make_key, sign_in
from tests.conftest import API_KEY, BACKENDS

PLANNER = Principal(kind="account", name="piet", role=Role.PLANNER, regions=frozenset({"x"}))


def _request(client: TestClient, headers: dict[str, str] | None = None) -> Request:
    app: FastAPI = client.app  # type: ignore[assignment]
    scope: dict[str, Any] = {
        "type": "http",
        "app": app,
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("10.0.0.7", 5000),
    }
    return Request(scope)


def row(session: Session, action: str) -> AuditLog:
    return session.scalars(select(AuditLog).where(AuditLog.action == action)).one()


def test_note_writes_who_what_when_where_in_the_callers_transaction(
    client: TestClient, session: Session
) -> None:
    request = _request(client, {"X-Forwarded-For": "203.0.113.9"})
    audit.note(session, request, PLANNER, "test.note", "team", "vt-x", {"n": 1}, region="x")
    session.flush()
    got = row(session, "test.note")
    assert (got.actor, got.actor_kind, got.actor_role) == ("account:piet", "account", "planner")
    assert got.at == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the app's clock
    assert (got.object_type, got.object_id, got.region_id) == ("team", "vt-x", "x")
    assert got.detail == '{"n":1}'
    # X-Forwarded-For is anyone's to write: ignored unless a trusted proxy sets it.
    assert got.source_address == "10.0.0.7"
    state = client.app.state.samenop  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"trust_proxy_headers": True})
    audit.note(session, request, PLANNER, "test.proxied", "team", "vt-x")
    session.flush()
    assert row(session, "test.proxied").source_address == "203.0.113.9"
    session.rollback()
    assert session.scalars(select(AuditLog).where(AuditLog.action.like("test.%"))).all() == []


@pytest.mark.parametrize(
    "db_url", [b for b in BACKENDS if b == "postgresql"], indirect=True
)  # the append-only trigger is PostgreSQL's (CI always runs it)
def test_the_application_cannot_change_or_remove_audit_rows_on_postgresql(
    session: Session, db_url: str
) -> None:
    assert db_url.startswith("postgresql")
    entry = audit.add(
        session,
        now=datetime.now(UTC),
        actor="key:test",
        action="test.append_only",
        object_type="dispatch",
        object_id="d-1",
    )
    session.flush()
    attempts = [
        update(AuditLog).where(AuditLog.id == entry.id).values(actor="key:someone-else"),
        text("DELETE FROM audit_log WHERE id = :id").bindparams(id=entry.id),
        text("TRUNCATE audit_log"),
    ]
    for statement in attempts:
        savepoint = session.begin_nested()
        with pytest.raises(DBAPIError) as caught:
            session.execute(statement)
        assert "append-only" in str(caught.value)
        savepoint.rollback()
    # Through the ORM too: a changed attribute fails at flush.
    savepoint = session.begin_nested()
    entry.detail = "rewritten"
    with pytest.raises(DBAPIError):
        session.flush()
    savepoint.rollback()
    session.expire_all()
    assert session.get(AuditLog, entry.id) is not None
    assert session.get(AuditLog, entry.id).actor == "key:test"  # type: ignore[union-attr]
    comment = session.scalar(text("SELECT obj_description('audit_log'::regclass, 'pg_class')"))
    assert "Append-only" in (comment or "")


def _seed(session: Session, now: datetime) -> None:
    seeded = [  # written oldest first, as the log is
        ("account:jan", "incident.read", 40),
        ("key:meldkamer", "incident.read", 3),
        ("account:jan", "config.region", 2),
        ("account:jan", "incident.read", 1),
    ]
    for n, (actor, action, days) in zip((3, 2, 1, 0), seeded, strict=True):
        audit.add(
            session,
            now=now - timedelta(days=days),
            actor=actor,
            action=action,
            object_type="dispatch",
            object_id=f"d-{n}",
            actor_kind=actor.split(":")[0],
            actor_role="operator",
        )
    session.commit()


def test_admins_search_the_log_with_filters_and_a_bounded_window(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    with sessions() as s:
        _seed(s, now)
    found = client.get("/api/v1/audit", params={"actor": "account:jan"})
    assert found.status_code == 200, found.text
    assert [r["object_id"] for r in found.json()] == ["d-0", "d-1"]  # a week, newest first
    assert found.json()[0]["actor_kind"] == "account"
    reads = client.get(
        "/api/v1/audit", params={"action": "incident.read", "since": "2026-10-01T00:00"}
    ).json()
    assert [r["object_id"] for r in reads] == ["d-0", "d-2", "d-3"]
    one = client.get("/api/v1/audit", params={"object_type": "dispatch", "object_id": "d-2"})
    assert [r["actor"] for r in one.json()] == ["key:meldkamer"]
    limited = client.get("/api/v1/audit", params={"since": "2026-10-01T00:00", "limit": 2}).json()
    older = client.get(
        "/api/v1/audit",
        params={"since": "2026-10-01T00:00", "before_id": limited[-1]["id"]},
    ).json()
    assert [r["object_id"] for r in limited + older][:4] == ["d-0", "d-1", "d-2", "d-3"]
    too_wide = client.get("/api/v1/audit", params={"since": "2026-01-01T00:00"})
    assert too_wide.status_code == 422 and "92 days" in too_wide.text
    assert client.get("/api/v1/audit", params={"limit": 501}).status_code == 422
    assert client.get("/api/v1/audit", params={"since": "gisteren"}).status_code == 422
    for edge in ("0001-01-01T00:00", "9999-12-31T23:59"):
        assert client.get("/api/v1/audit", params={"until": edge}).status_code in (200, 422)


def test_only_admins_search_the_log(client: TestClient, sessions: sessionmaker[Session]) -> None:
    for role in (Role.PLANNER, Role.OPERATOR, Role.FEED):
        key = make_key(sessions, f"{role.value}-{uuid.uuid4().hex[:6]}", role)
        r = client.get("/api/v1/audit", headers={"X-API-Key": key})
        assert r.status_code == 403, (role, r.text)
    assert (
        client.get("/api/v1/audit", headers={"X-API-Key": "niet-geldig-12345"}).status_code == 401
    )


def test_the_audit_page_is_for_signed_in_admins(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        _seed(s, datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    del client.headers["X-API-Key"]
    away = client.get("/admin/audit", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/login"

    make_account(sessions, "beheer", Role.ADMIN)
    make_account(sessions, "plan", Role.PLANNER, regions=["gooi-en-vechtstreek"])
    sign_in(client, "plan")
    assert client.get("/admin/audit").status_code == 403
    client.cookies.clear()

    sign_in(client, "beheer")
    page = client.get("/admin/audit", params={"actor": "account:jan"})
    assert page.status_code == 200, page.text
    assert "Auditlog" in page.text and "account:jan" in page.text
    assert "d-0" in page.text and "d-2" not in page.text
    assert "<script" not in page.text
    assert page.headers["cache-control"] == "no-store"
    wide = client.get("/admin/audit", params={"since": "2026-01-01T00:00"})
    assert wide.status_code == 422 and "hooguit 92 dagen" in wide.text


def test_config_writes_are_in_the_log_without_their_content(
    client: TestClient, session: Session
) -> None:
    data = client.get("/api/v1/config").json()
    data.pop("version")
    person = data["people"][0]
    person["name"] = "Geheime Naam"
    assert client.put("/api/v1/config", json=data).status_code == 200
    logged = row(session, "config.replace")
    assert "Geheime Naam" not in (logged.detail or "")
    assert person["id"] not in (logged.detail or "")  # counts only; the version holds ids
    assert logged.actor == "key:bootstrap" and API_KEY not in (logged.detail or "")

"""Intake over HTTP against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import make_session_factory
from core.settings import Settings
from dispatch.models import AuditLog, Dispatch, Event, Incident
from oncall import service as oncall_service
from tests.accounts import PASSWORD, make_account
from tests.audit_rows import delete_audit_rows
from tests.dispatch.test_pairing import CONFIG, WM

from ..conftest import API_KEY


@pytest.fixture
def loaded(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        version = oncall_service.write_config(
            session=s, config=CONFIG, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    return version


def body(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": "meldkamer-test",
        "external_id": f"MK-{uuid.uuid4().hex[:10]}",
        "reported_at": "2026-03-10T14:00:00+01:00",
        "basisteam": WM,
        "case_type": "HG",
        "persons": [{"role": "victim", "age": 34}, {"role": "child", "age": 6}],
        "flags": ["children_present"],
        "police_unit": "WM-12",
        "police_callback": "06 12345678",
    }
    data.update(over)
    return data


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_create_returns_plan_with_reasons(client: TestClient) -> None:
    r = client.post("/api/v1/incidents", json=body())
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["status"] == "paired"
    assert data["team"] == "vt-zl" and data["mode"] == "on_scene" and data["staff_needed"] == 2
    assert data["reference"].startswith("SO-")
    plan = data["plan"]
    assert plan["response"]["rule"] == "zl-samen-op"
    assert [c["person"] for c in plan["response"]["candidates"]] == ["anna", "cor"]
    assert all(r["text"] for r in plan["response"]["reasons"])
    assert [a["purpose"] for a in data["assignments"]] == ["respond", "respond", "team_line"]
    assert data["assignments"][0]["phone"] == "+31612340001"

    again = client.get(f"/api/v1/incidents/{data['id']}")
    assert again.status_code == 200 and again.json()["plan"] == plan
    by_ref = client.get(f"/api/v1/incidents/{data['reference']}")
    assert by_ref.json()["id"] == data["id"]


def test_retry_returns_same_dispatch_with_200(client: TestClient, session: Session) -> None:
    payload = body()
    first = client.post("/api/v1/incidents", json=payload)
    second = client.post("/api/v1/incidents", json=payload)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["reference"] == second.json()["reference"]
    n = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.external_id == payload["external_id"])
    )
    assert n == 1
    events = session.scalars(select(Event.type).where(Event.dispatch_id == first.json()["id"]))
    kinds = list(events)
    # One dispatch, paged once: every event exactly once, none from the retry.
    assert kinds.count("incident.received") == 1 and kinds.count("dispatch.planned") == 1
    assert kinds.count("paging.started") == 1
    assert kinds.count("attempt.started") == first.json()["staff_needed"]


def test_retry_with_equivalent_formatting_is_still_a_retry(client: TestClient) -> None:
    payload = body()
    first = client.post("/api/v1/incidents", json=payload)
    same = dict(
        payload,
        case_type="hg",
        reported_at="2026-03-10T13:00:00Z",
        police_callback="+31 6 1234 5678",
    )
    second = client.post("/api/v1/incidents", json=same)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]


def test_same_external_id_different_content_conflicts(client: TestClient) -> None:
    payload = body()
    client.post("/api/v1/incidents", json=payload)
    r = client.post("/api/v1/incidents", json=dict(payload, case_type="KM"))
    assert r.status_code == 409
    assert payload["external_id"] in r.json()["detail"]


def test_unknown_area_is_accepted_with_national_fallback(client: TestClient) -> None:
    r = client.post(
        "/api/v1/incidents", json=body(basisteam="onbekend-team", municipality="GM9999")
    )
    assert r.status_code == 201
    data = r.json()
    assert data["status"] == "fallback"
    assert data["plan"]["expectation"]["phone"] == "0800-2000"
    assert "area_unknown" in [x["code"] for x in data["plan"]["reasons"]]


def test_area_by_name_is_resolved(client: TestClient) -> None:
    r = client.post("/api/v1/incidents", json=body(basisteam=None, municipality="stein"))
    assert r.status_code == 201
    assert r.json()["plan"]["response"]["rule"] == "zl-samen-op"


@pytest.mark.parametrize(
    "field,value,where,rule_part",
    [
        ("case_type", "XX", "case_type", "HG"),
        ("police_callback", "12345", "police_callback", "phone number"),
        ("persons", [{"role": "victim", "age": 200}], "persons[0].age", "less than or equal"),
        ("persons", [{"role": "buurman", "age": 40}], "persons[0].role", "victim"),
        ("persons", [{"role": "victim", "name": "Jan"}], "persons[0].name", "not permitted"),
        ("reported_at", "gisteren", "reported_at", "ISO"),
        ("flags", ["vuurwerk"], "flags[0]", "weapons"),
        ("source", "", "source", "pattern"),
    ],
)
def test_bad_input_names_field_and_rule(
    client: TestClient, session: Session, field: str, value: Any, where: str, rule_part: str
) -> None:
    before = count(session, Incident)
    r = client.post("/api/v1/incidents", json=body(**{field: value}))
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert any(e["field"] == where and rule_part in e["rule"] for e in errors), errors
    assert count(session, Incident) == before


def test_missing_fields_are_all_named(client: TestClient) -> None:
    r = client.post("/api/v1/incidents", json={"source": "x"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"external_id", "reported_at", "case_type", "police_unit", "police_callback"} <= fields


def test_api_key_required(client: TestClient) -> None:
    r = client.post("/api/v1/incidents", json=body(), headers={"X-API-Key": "wrong"})
    assert r.status_code == 401
    assert "X-API-Key" in r.json()["detail"]


def test_reads_and_changes_are_audit_logged(client: TestClient, session: Session) -> None:
    sent = body()
    created = client.post("/api/v1/incidents", json=sent).json()
    retry = client.post("/api/v1/incidents", json=sent)  # changes nothing: not logged again
    assert retry.status_code == 200
    client.get(f"/api/v1/incidents/{created['id']}")
    client.get(f"/api/v1/incidents/{created['id']}/pages")
    rows = list(
        session.scalars(
            select(AuditLog).where(AuditLog.object_id == created["id"]).order_by(AuditLog.id)
        )
    )
    assert [r.action for r in rows] == ["incident.create", "incident.read", "incident.pages.read"]
    assert {(r.actor, r.actor_role, r.source_address) for r in rows} == {
        ("key:bootstrap", "admin", "testclient")
    }
    client.get("/api/v1/incidents")
    listed = session.scalars(select(AuditLog).where(AuditLog.action == "incident.list")).one()
    assert created["id"] in (listed.detail or "")
    # Who created it is in the event log (same transaction as the incident).
    received = session.scalar(
        select(Event.payload).where(
            Event.dispatch_id == created["id"], Event.type == "incident.received"
        )
    )
    assert received is not None and received["by"].startswith("key:")


def test_unknown_dispatch_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/incidents/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_oncall_endpoint(client: TestClient) -> None:
    r = client.get("/api/v1/oncall", params={"team": "vt-zl", "at": "2026-06-02T14:00"})
    assert r.status_code == 200
    [team] = r.json()
    assert [p["person"] for p in team["on_call"]] == ["cor"]
    assert team["removed"][0]["person"] == "anna"
    assert team["team_line"] == "+318002000"
    bad = client.get("/api/v1/oncall", params={"team": "geen-team"})
    assert bad.status_code == 404


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/api/v1/incidents",
        "/api/v1/incidents/{dispatch_id}",
        "/api/v1/oncall",
        "/api/v1/config",
    } <= set(spec["paths"])
    post = spec["paths"]["/api/v1/incidents"]["post"]
    assert {"200", "201", "409", "422"} <= set(post["responses"])
    assert "examples" in spec["components"]["schemas"]["IncidentCreate"]


def test_dashboard_needs_a_sign_in_outside_the_demo(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    ref = client.post("/api/v1/incidents", json=body()).json()["reference"]
    first = client.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login"
    make_account(sessions, "meldkamer")
    wrong = client.post(
        "/login", data={"username": "meldkamer", "password": "raden"}, follow_redirects=False
    )
    assert wrong.status_code == 401 and "verkeerd wachtwoord" in wrong.text
    ok = client.post(
        "/login", data={"username": "meldkamer", "password": PASSWORD}, follow_redirects=False
    )
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert PASSWORD not in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert ref in page.text and "Meldingen" in page.text


def test_dashboard_is_open_in_the_development_demo(
    settings: Settings, sessions: sessionmaker[Session], loaded: int
) -> None:
    app = create_app(settings.model_copy(update={"environment": "development", "demo_open": True}))
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    with TestClient(app) as c:
        assert c.get("/").status_code == 200
    # development alone is not the demo: the pages still want a sign-in
    closed = create_app(settings.model_copy(update={"environment": "development"}))
    closed.state.samenop.sessions = sessions
    closed.state.samenop.readers = sessions  # the test transaction
    with TestClient(closed) as c:
        assert c.get("/", follow_redirects=False).status_code == 303


def test_concurrent_duplicates_make_one_dispatch(engine: Engine, settings: Settings) -> None:
    """Real commits from parallel requests: the unique constraint lets one win."""
    factory = make_session_factory(engine)
    with factory() as s:
        oncall_service.write_config(
            session=s, config=CONFIG, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    app = create_app(settings)
    app.state.samenop.sessions = factory
    app.state.samenop.readers = factory  # the test transaction
    payload = body()
    results: list[tuple[int, str]] = []
    try:
        with TestClient(app, headers={"X-API-Key": API_KEY}) as c:

            def post() -> None:
                r = c.post("/api/v1/incidents", json=payload)
                results.append((r.status_code, r.json()["id"]))

            threads = [threading.Thread(target=post) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert sorted(code for code, _ in results) == [200] * 5 + [201]
        assert len({i for _, i in results}) == 1
    finally:
        with factory() as s:
            s.query(Dispatch).delete()
            s.query(Incident).delete()
            s.query(Event).delete()
            delete_audit_rows(s)
            s.commit()


def test_list_filters_by_status_and_region(client: TestClient) -> None:
    paired = client.post("/api/v1/incidents", json=body()).json()
    fallback = client.post("/api/v1/incidents", json=body(basisteam="nergens")).json()
    ids = lambda **q: [d["id"] for d in client.get("/api/v1/incidents", params=q).json()]  # noqa: E731
    assert ids(status="fallback") == [fallback["id"]]
    assert paired["id"] in ids(region="zuid-limburg")
    assert fallback["id"] not in ids(region="zuid-limburg")
    bad = client.get("/api/v1/incidents", params={"status": "zoek"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    assert client.get("/api/v1/incidents", params={"limit": 0}).status_code == 422


def test_dutch_role_names_are_understood(client: TestClient) -> None:
    r = client.post(
        "/api/v1/incidents",
        json=body(persons=[{"role": "Slachtoffer", "age": 30}, {"role": "kind", "age": 4}]),
    )
    assert r.status_code == 201, r.text
    stored = client.get(f"/api/v1/incidents/{r.json()['id']}").json()
    assert stored["plan"]["response"]["rule"] == "zl-samen-op"

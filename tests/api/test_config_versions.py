"""Configuration versions over HTTP: every write is a version with author, time and diff;
versions are listed, compared and rolled back; a planner writes only their region's part;
dangerous removals need a confirmation; each write is in the audit log. SQLite and
PostgreSQL, with the example regions loaded."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from access.principal import Role
from core.settings import get_settings
from dispatch.models import AuditLog
from oncall import service as oncall_service
from oncall.models import ConfigVersion
from tests.accounts import make_key

GV = "gooi-en-vechtstreek"
HVB = "hart-van-brabant"
ROOT = Path(__file__).resolve().parent.parent.parent


def exported(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/v1/config")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    data.pop("version")
    return data


def versions(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/config/versions", params=params)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def current_version(client: TestClient) -> int:
    return int(client.get("/api/v1/config").json()["version"])


def audit_rows(session: Session, action: str) -> list[AuditLog]:
    return list(
        session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
    )


def renamed(data: dict[str, Any], person: str, name: str) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    for p in changed["people"]:
        if p["id"] == person:
            p["name"] = name
    return changed


def planner(client: TestClient, sessions: sessionmaker[Session], regions: list[str]) -> str:
    name = f"planner-{uuid.uuid4().hex[:6]}"
    key = make_key(sessions, name, Role.PLANNER, regions=regions)
    client.headers["X-API-Key"] = key
    return name


def without_team(data: dict[str, Any], team: str) -> dict[str, Any]:
    """The configuration without a team and everything that names it."""
    out = copy.deepcopy(data)
    out["teams"] = [t for t in out["teams"] if t["id"] != team]
    for section in ("rotations", "shifts", "overrides"):
        out[section] = [x for x in out.get(section, []) if x["team"] != team]
    out["rules"] = [
        r
        for r in out["rules"]
        if r["team"] != team and (r.get("consult") or {}).get("team") != team
    ]
    for p in out["people"]:
        p["memberships"] = [m for m in p.get("memberships", []) if m["team"] != team]
    return out


# --- versions -------------------------------------------------------------------------------


def test_every_write_is_a_version_with_author_time_and_diff(
    client: TestClient, session: Session, loaded: int
) -> None:
    data = exported(client)
    person = data["people"][0]["id"]
    r = client.put("/api/v1/config", json=renamed(data, person, "Nieuwe Naam"))
    assert r.status_code == 200, r.text
    written = r.json()["version"]

    [top, before, *_] = versions(client)
    assert top["version"] == written and before["version"] == loaded
    assert top["author"] == "key:bootstrap" and top["rollback_of"] is None
    assert top["at"].startswith("2026-11-28T12:00")
    assert top["changes"] == {"people": {"changed": 1}}

    one = client.get(f"/api/v1/config/versions/{written}").json()
    assert one["diff"] == {"people": {"changed": {person: ["name"]}}}
    assert next(p for p in one["configuration"]["people"] if p["id"] == person)["name"] == (
        "Nieuwe Naam"
    )
    [row] = audit_rows(session, "config.replace")
    assert (row.actor, row.actor_kind, row.actor_role) == ("key:bootstrap", "key", "admin")
    assert row.object_type == "config_version" and row.object_id == str(written)
    assert row.source_address == "testclient"
    assert '"people":{"changed":1}' in (row.detail or "")


def test_override_writes_are_versions_too(
    client: TestClient, session: Session, loaded: int
) -> None:
    override = {
        "id": "hvb-versie-extra",
        "team": "cit-hvb",
        "kind": "add",
        "person": "hvb-olaf-van-den-berg",
        "start": "2026-03-10T20:00",
        "end": "2026-03-11T08:00",
    }
    added = client.post("/api/v1/overrides", json=override)
    assert added.status_code == 201, added.text
    removed = client.delete("/api/v1/overrides/hvb-versie-extra")
    assert removed.status_code == 200, removed.text
    [gone, came, *_] = versions(client)
    assert came["changes"] == {"overrides": {"added": 1}}
    assert gone["changes"] == {"overrides": {"removed": 1}}
    diff = client.get(f"/api/v1/config/versions/{came['version']}").json()["diff"]
    assert diff == {"overrides": {"added": ["hvb-versie-extra"]}}
    [create] = audit_rows(session, "override.create")
    [delete] = audit_rows(session, "override.delete")
    assert create.object_id == delete.object_id == "hvb-versie-extra"
    assert create.region_id == delete.region_id == HVB


def test_diff_between_any_two_versions(client: TestClient, loaded: int) -> None:
    data = exported(client)
    first = client.put("/api/v1/config", json=renamed(data, data["people"][0]["id"], "A"))
    second = client.put("/api/v1/config", json=renamed(data, data["people"][1]["id"], "B"))
    a, b = first.json()["version"], second.json()["version"]
    r = client.get(f"/api/v1/config/versions/{loaded}/diff/{b}")
    assert r.status_code == 200, r.text
    changed = r.json()["changes"]["people"]["changed"]
    assert changed == {data["people"][1]["id"]: ["name"]}  # the first rename came back in b
    back = client.get(f"/api/v1/config/versions/{b}/diff/{a}").json()["changes"]
    assert set(back["people"]["changed"]) == {data["people"][0]["id"], data["people"][1]["id"]}
    assert client.get(f"/api/v1/config/versions/{a}/diff/{a}").json()["changes"] == {}
    assert client.get(f"/api/v1/config/versions/{a}/diff/999999").status_code == 404


def test_versions_are_paged_with_a_bounded_limit(client: TestClient, loaded: int) -> None:
    data = exported(client)
    for n in range(3):
        client.put("/api/v1/config", json=renamed(data, data["people"][0]["id"], f"Naam {n}"))
    page = versions(client, limit=2)
    assert len(page) == 2 and page[0]["version"] > page[1]["version"]
    older = versions(client, limit=2, before=page[-1]["version"])
    assert older[0]["version"] == page[-1]["version"] - 1
    assert client.get("/api/v1/config/versions", params={"limit": 201}).status_code == 422
    assert client.get("/api/v1/config/versions/0").status_code == 422
    assert client.get("/api/v1/config/versions/99999").status_code == 404


def test_rollback_writes_a_new_version_equal_to_the_old_one(
    client: TestClient, session: Session, loaded: int
) -> None:
    before = exported(client)
    changed = client.put("/api/v1/config", json=renamed(before, before["people"][0]["id"], "X"))
    assert changed.status_code == 200
    r = client.post(f"/api/v1/config/versions/{loaded}/rollback")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rollback_of"] == loaded and body["version"] == changed.json()["version"] + 1
    assert body["changes"] == {"people": {"changed": {before["people"][0]["id"]: ["name"]}}}
    assert exported(client) == before
    top = versions(client)[0]
    assert (top["rollback_of"], top["author"]) == (loaded, "key:bootstrap")
    old = client.get(f"/api/v1/config/versions/{loaded}").json()["configuration"]
    new = client.get(f"/api/v1/config/versions/{body['version']}").json()["configuration"]
    assert old == new
    [row] = audit_rows(session, "config.rollback")
    assert row.object_id == str(body["version"]) and f'"rollback_of":{loaded}' in (row.detail or "")
    assert client.post("/api/v1/config/versions/99999/rollback").status_code == 404


# --- a planner's region ----------------------------------------------------------------------


def test_a_planner_writes_their_region_and_it_is_merged(
    client: TestClient, sessions: sessionmaker[Session], session: Session, loaded: int
) -> None:
    everything = exported(client)
    name = planner(client, sessions, [GV])
    r = client.get(f"/api/v1/config/regions/{GV}")
    assert r.status_code == 200, r.text
    part = r.json()
    assert part.pop("version") == loaded
    assert [x["id"] for x in part["regions"]] == [GV]
    assert all(t["region"] == GV for t in part["teams"])
    person = part["people"][0]["id"]
    written = client.put(f"/api/v1/config/regions/{GV}", json=renamed(part, person, "Gewijzigd"))
    assert written.status_code == 200, written.text
    assert written.json()["changes"] == {"people": {"changed": {person: ["name"]}}}
    client.headers["X-API-Key"] = "test-key-0123456789"
    assert exported(client) == renamed(everything, person, "Gewijzigd")
    assert versions(client)[0]["author"] == f"key:{name}"
    [row] = audit_rows(session, "config.region")
    assert (row.actor, row.actor_role, row.region_id) == (f"key:{name}", "planner", GV)


def test_a_planner_cannot_write_another_region(
    client: TestClient, sessions: sessionmaker[Session], session: Session, loaded: int
) -> None:
    own = exported(client)
    hvb_part = client.get(f"/api/v1/config/regions/{HVB}").json()
    gv_part = client.get(f"/api/v1/config/regions/{GV}").json()
    planner(client, sessions, [GV])
    other = client.put(f"/api/v1/config/regions/{HVB}", json=hvb_part)
    assert other.status_code == 403 and HVB in other.json()["detail"]
    # Another region's team slipped into the own region's part: refused by name.
    hvb_team = hvb_part["teams"][0]
    sneaky = copy.deepcopy(gv_part)
    sneaky["teams"].append({**hvb_team, "name": "Overgenomen"})
    r = client.put(f"/api/v1/config/regions/{GV}", json=sneaky)
    assert r.status_code == 403, r.text
    assert f"teams '{hvb_team['id']}'" in r.json()["detail"] and HVB in r.json()["detail"]
    # The whole configuration and rollbacks are for admins.
    assert client.put("/api/v1/config", json=own).status_code == 403
    assert client.post(f"/api/v1/config/versions/{loaded}/rollback").status_code == 403
    client.headers["X-API-Key"] = "test-key-0123456789"
    assert current_version(client) == loaded and exported(client) == own
    assert audit_rows(session, "config.region") == []


def test_a_region_part_that_breaks_references_is_rejected(
    client: TestClient, sessions: sessionmaker[Session], loaded: int
) -> None:
    part = client.get(f"/api/v1/config/regions/{GV}").json()
    planner(client, sessions, [GV])
    broken = copy.deepcopy(part)
    broken["rules"][0]["team"] = "bestaat-niet"
    r = client.put(f"/api/v1/config/regions/{GV}", json=broken)
    assert r.status_code == 422, r.text
    assert "bestaat-niet" in r.json()["detail"]["issues"][0]["rule"]
    twice = copy.deepcopy(part)
    twice["people"].append(twice["people"][0])
    r = client.put(f"/api/v1/config/regions/{GV}", json=twice)
    assert r.status_code == 422 and r.json()["detail"]["issues"][0]["path"].startswith("people[")
    client.headers["X-API-Key"] = "test-key-0123456789"
    assert current_version(client) == loaded


# --- confirmations ---------------------------------------------------------------------------


def test_removing_a_region_needs_confirmation(
    client: TestClient, session: Session, loaded: int
) -> None:
    part = client.get(f"/api/v1/config/regions/{GV}").json()
    data = exported(client)
    smaller = {
        section: [x for x in items if x not in part.get(section, [])]
        for section, items in data.items()
    }
    r = client.put("/api/v1/config", json=smaller)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail["error"] == "confirmation_needed"
    removes = detail["would_remove"]
    assert removes["regions"] == [GV] and "regions" in removes["reasons"]
    assert sorted(removes["objects"]["teams"]) == sorted(t["id"] for t in part["teams"])
    assert current_version(client) == loaded and audit_rows(session, "config.replace") == []
    ok = client.put("/api/v1/config", params={"confirm": "true"}, json=smaller)
    assert ok.status_code == 200, ok.text
    assert [r["id"] for r in exported(client)["regions"]] == [
        x["id"] for x in data["regions"] if x["id"] != GV
    ]


def test_removing_a_team_with_an_open_incident_needs_confirmation(
    client: TestClient, loaded: int
) -> None:
    incident = {
        "source": "meldkamer-test",
        "external_id": f"MK-{uuid.uuid4().hex[:10]}",
        "reported_at": "2026-11-28T11:55:00+01:00",
        "basisteam": "tilburg",
        "case_type": "HG",
        "persons": [{"role": "victim", "age": 34}],
        "police_unit": "T-12",
        "police_callback": "06 12345678",
    }
    created = client.post("/api/v1/incidents", json=incident)
    assert created.status_code == 201, created.text
    team = created.json()["team"]
    assert team
    smaller = without_team(exported(client), team)
    r = client.put("/api/v1/config", json=smaller)
    assert r.status_code == 409, r.text
    removes = r.json()["detail"]["would_remove"]
    assert removes["reasons"] == ["teams_with_open_incidents"]
    assert removes["teams_with_open_incidents"] == [team]
    assert current_version(client) == loaded
    assert client.put("/api/v1/config?confirm=true", json=smaller).status_code == 200


def test_removing_many_people_needs_confirmation(client: TestClient, loaded: int) -> None:
    data = exported(client)
    bigger = copy.deepcopy(data)
    bigger["people"].append(
        {"id": "tijdelijk", "name": "Tijdelijke Kracht", "memberships": [{"team": "cit-hvb"}]}
    )
    assert client.put("/api/v1/config", json=bigger).status_code == 200
    version = current_version(client)
    state = client.app.state.samenop  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"config_remove_people_share": 0.0})
    r = client.put("/api/v1/config", json=data)  # one person of 60 goes: over a 0 % limit
    assert r.status_code == 409, r.text
    removes = r.json()["detail"]["would_remove"]
    assert removes["reasons"] == ["people_share"] and removes["people"] == ["tijdelijk"]
    assert removes["people_share_limit"] == 0.0 and removes["people_share"] > 0
    assert current_version(client) == version
    assert client.put("/api/v1/config?confirm=true", json=data).status_code == 200
    # At the default limit (a fifth of the people) one person needs no confirmation.
    state.settings = state.settings.model_copy(update={"config_remove_people_share": 0.2})
    assert client.put("/api/v1/config", json=bigger).status_code == 200
    assert client.put("/api/v1/config", json=data).status_code == 200


def test_a_rollback_that_removes_a_region_needs_confirmation(
    client: TestClient, loaded: int
) -> None:
    data = exported(client)
    bigger = copy.deepcopy(data)
    bigger["regions"].append({"id": "proefregio", "name": "Proefregio"})
    assert client.put("/api/v1/config", json=bigger).status_code == 200
    r = client.post(f"/api/v1/config/versions/{loaded}/rollback")
    assert r.status_code == 409 and r.json()["detail"]["would_remove"]["regions"] == ["proefregio"]
    ok = client.post(f"/api/v1/config/versions/{loaded}/rollback", params={"confirm": True})
    assert ok.status_code == 200 and exported(client) == data


# --- the command line ------------------------------------------------------------------------


def test_cli_load_is_a_version_by_the_user_and_asks_for_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli import app
    from core.db import make_engine, make_session_factory

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SAMENOP_DATABASE_URL", url)
    monkeypatch.setenv("SAMENOP_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        regions = ROOT / "regions"
        first = runner.invoke(app, ["config", "load", str(regions)])
        assert first.exit_code == 0, first.output
        # One region's file only: every other region would go.
        only = regions / "hart-van-brabant.yaml"
        refused = runner.invoke(app, ["config", "load", str(only)])
        assert refused.exit_code == 3, refused.output
        assert "--confirm" in refused.stderr and '"regions"' in refused.stderr
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            rows = list(s.scalars(select(ConfigVersion).order_by(ConfigVersion.version)))
            assert [r.version for r in rows] == [1]
            assert rows[0].author.startswith("cli:")
            [row] = s.scalars(select(AuditLog).where(AuditLog.action == "config.load"))
            assert row.actor == rows[0].author and row.actor_kind == "cli"
        done = runner.invoke(app, ["config", "load", "--confirm", str(only)])
        assert done.exit_code == 0, done.output
        with make_session_factory(engine)() as s:
            assert oncall_service.get_version(session=s) == 2
            assert [r.id for r in oncall_service.read_config(session=s).regions] == [HVB]
        engine.dispose()
    finally:
        get_settings.cache_clear()

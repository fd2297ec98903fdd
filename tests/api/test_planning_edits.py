"""The planner's edits over HTTP on both databases: dry runs write nothing, a save is a
version by the planner with an audit row, warnings must be accepted, undo reverts
exactly one change, and another region's planner is refused with nothing changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from api.errors import ErrorBody, ValidationErrorBody
from dispatch.models import AuditLog
from oncall import service as oncall_service
from oncall.models import ConfigVersion
from oncall.schemas import ConfigSet, Planning
from tests.accounts import make_key

GV = "gooi-en-vechtstreek"
PIKET = "vt-gv-piket"
EXTRA = {
    "id": "anouk-extra-dec",
    "team": "vt-gv",
    "kind": "add",
    "person": "gv-anouk-de-vries",
    "start": "2026-12-09T08:30",
    "end": "2026-12-10T08:30",
    "reason": "extra bezetting",
}


@pytest.fixture
def loaded(sessions: sessionmaker[Session], example_config: ConfigSet) -> int:
    """The example regions, with rest and fairness rules on the piket team."""
    teams = tuple(
        t.model_copy(update={"planning": Planning(max_shifts_4w=1, no_consecutive_weekends=True)})
        if t.id == PIKET
        else t
        for t in example_config.teams
    )
    config = example_config.model_copy(update={"teams": teams})
    with sessions() as s:
        version = oncall_service.write_config(
            session=s, config=config, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    return version


@pytest.fixture
def planner(sessions: sessionmaker[Session]) -> dict[str, str]:
    return {"X-API-Key": make_key(sessions, "planner-gv", Role.PLANNER, regions=[GV])}


@pytest.fixture
def other(sessions: sessionmaker[Session]) -> dict[str, str]:
    return {"X-API-Key": make_key(sessions, "planner-dh", Role.PLANNER, regions=["den-haag"])}


def version(session: Session) -> int:
    return oncall_service.get_version(session=session)


def overrides(session: Session) -> list[str]:
    return [o.id for o in oncall_service.read_config(session=session).overrides]


def audit_rows(session: Session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_a_dry_run_shows_the_calendar_diff_and_writes_nothing(
    client: TestClient, session: Session, planner: dict[str, str], loaded: int
) -> None:
    r = client.post(
        "/api/v1/planning/overrides", params={"dry_run": "true"}, json=EXTRA, headers=planner
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["dry_run"] is True and data["saved"] is False and data["version"] is None
    assert data["based_on"] == loaded
    assert data["changes"] == {"overrides": {"added": ["anouk-extra-dec"]}}
    [team] = data["calendar"]
    assert team["team"] == "vt-gv" and team["removed"] == []
    [added] = team["added"]
    assert added["person"] == "gv-anouk-de-vries" and added["source"] == "override"
    assert added["start"] == "2026-12-09T07:30:00Z" and added["end"] == "2026-12-10T07:30:00Z"
    assert added["name"] == "Anouk de Vries"
    assert version(session) == loaded
    assert "anouk-extra-dec" not in overrides(session)
    # no version after the loaded one (older ones may be left by tests that commit)
    newer = select(func.count()).select_from(ConfigVersion).where(ConfigVersion.version > loaded)
    assert session.scalar(newer) == 0


def test_a_save_is_a_version_by_the_planner_with_an_audit_row(
    client: TestClient, session: Session, planner: dict[str, str], loaded: int
) -> None:
    r = client.post("/api/v1/planning/overrides", json=EXTRA, headers=planner)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["saved"] is True and data["version"] == loaded + 1
    assert data["undo"] == f"/api/v1/planning/changes/{loaded + 1}/undo"
    assert version(session) == loaded + 1
    assert "anouk-extra-dec" in overrides(session)
    row = session.get(ConfigVersion, loaded + 1)
    assert row is not None and row.author == "key:planner-gv"
    assert row.diff == {"overrides": {"added": ["anouk-extra-dec"]}}
    # The version's document is the whole configuration, as a full write would store it.
    from oncall import changes

    assert row.document == changes.document(oncall_service.read_config(session=session))
    [audit] = audit_rows(session, "planning.override.create")
    assert audit.actor == "key:planner-gv" and audit.region_id == GV
    assert json.loads(audit.detail or "{}")["version"] == loaded + 1
    # The next incident sees it: the on-call list now has her on 9 December.
    oncall = client.get("/api/v1/oncall", params={"team": "vt-gv", "at": "2026-12-09T12:00"}).json()
    assert "gv-anouk-de-vries" in [p["person"] for p in oncall[0]["on_call"]]
    # A retry of the same save does not add a second override.
    again = client.post("/api/v1/planning/overrides", json=EXTRA, headers=planner)
    assert again.status_code == 409 and again.json()["detail"]["errors"][0]["field"] == "id"
    assert version(session) == loaded + 1


def test_warnings_must_be_accepted_and_are_recorded(
    client: TestClient, session: Session, planner: dict[str, str], loaded: int
) -> None:
    extra = dict(
        EXTRA,
        id="daan-extra",
        team=PIKET,
        person="gv-daan-bos",
        start="2026-12-19T09:00",
        end="2026-12-19T21:00",
    )
    dry = client.post(
        "/api/v1/planning/overrides", params={"dry_run": "true"}, json=extra, headers=planner
    )
    assert dry.status_code == 200, dry.text
    warnings = dry.json()["warnings"]
    assert warnings and all(w["team"] == PIKET and w["text"] for w in warnings)
    assert {w["person"] for w in warnings} == {"gv-daan-bos"}

    refused = client.post("/api/v1/planning/overrides", json=extra, headers=planner)
    assert refused.status_code == 409, refused.text
    ErrorBody.model_validate(refused.json())  # as the OpenAPI document declares it
    detail = refused.json()["detail"]
    assert detail["error"] == "warnings_not_accepted"
    assert [e["rule"] for e in detail["errors"]] == [w["text"] for w in warnings]
    assert version(session) == loaded and "daan-extra" not in overrides(session)

    saved = client.post(
        "/api/v1/planning/overrides",
        params={"accept_warnings": "true"},
        json=extra,
        headers=planner,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["warnings_accepted"] is True
    row = session.get(ConfigVersion, loaded + 1)
    assert row is not None and "warnings accepted" in (row.source or "")
    [audit] = audit_rows(session, "planning.override.create")
    assert json.loads(audit.detail or "{}")["warnings_accepted"] == warnings


def test_undo_reverts_exactly_that_change_unless_changed_since(
    client: TestClient, session: Session, planner: dict[str, str], loaded: int
) -> None:
    first = client.post("/api/v1/planning/overrides", json=EXTRA, headers=planner).json()
    other = dict(
        EXTRA,
        id="bram-extra",
        person="gv-bram-visser",
        start="2026-12-15T08:30",
        end="2026-12-16T08:30",
    )
    second = client.post("/api/v1/planning/overrides", json=other, headers=planner).json()
    assert second["version"] == first["version"] + 1

    undo = client.post(first["undo"], headers=planner)
    assert undo.status_code == 200, undo.text
    data = undo.json()
    assert data["version"] == second["version"] + 1
    assert data["changes"] == {"overrides": {"removed": ["anouk-extra-dec"]}}
    [team] = data["calendar"]
    assert [b["person"] for b in team["removed"]] == ["gv-anouk-de-vries"]
    assert overrides(session).count("bram-extra") == 1
    assert "anouk-extra-dec" not in overrides(session)
    row = session.get(ConfigVersion, data["version"])
    assert row is not None and "undo of version" in (row.source or "")

    # Undoing the same change again: the undo itself changed that override since.
    again = client.post(first["undo"], headers=planner)
    assert again.status_code == 409
    ErrorBody.model_validate(again.json())
    assert again.json()["detail"]["errors"][0]["field"] == f"version {data['version']}"
    assert "anouk-extra-dec" in again.json()["detail"]["errors"][0]["rule"]

    # A changed override, then undo of the change: back to how it was.
    changed = dict(other, reason="ruil")
    r = client.put("/api/v1/planning/overrides/bram-extra", json=changed, headers=planner)
    assert r.status_code == 200 and r.json()["changes"] == {
        "overrides": {"changed": {"bram-extra": ["reason"]}}
    }
    back = client.post(r.json()["undo"], headers=planner)
    assert back.status_code == 200, back.text
    [bram] = [
        o for o in oncall_service.read_config(session=session).overrides if o.id == "bram-extra"
    ]
    assert bram.reason == "extra bezetting"
    assert client.post("/api/v1/planning/changes/999/undo", headers=planner).status_code == 404


def test_another_regions_planner_is_refused_and_nothing_changes(
    client: TestClient,
    session: Session,
    other: dict[str, str],
    planner: dict[str, str],
    loaded: int,
) -> None:
    r = client.post("/api/v1/planning/overrides", json=EXTRA, headers=other)
    assert r.status_code == 403 and GV in r.json()["detail"]
    anouk = {
        "id": "gv-anouk-de-vries",
        "name": "Anouk de Vries",
        "phones": ["06 1234 0101"],
        "memberships": [{"team": "vt-gv"}],
    }
    r = client.put("/api/v1/planning/people/gv-anouk-de-vries", json=anouk, headers=other)
    assert r.status_code == 403
    # Moving one's own person into another region's team is refused too.
    moved = dict(anouk, memberships=[{"team": "vt-gv"}, {"team": "cit-haaglanden"}])
    r = client.put("/api/v1/planning/people/gv-anouk-de-vries", json=moved, headers=planner)
    assert r.status_code == 403 and "den-haag" in r.json()["detail"]
    first = client.post("/api/v1/planning/overrides", json=EXTRA, headers=planner).json()
    r = client.post(first["undo"], headers=other)
    assert r.status_code == 403
    assert version(session) == loaded + 1
    assert "anouk-extra-dec" in overrides(session)
    assert audit_rows(session, "planning.undo") == []


@pytest.mark.parametrize(
    "change,status,field",
    [
        ({"team": "geen-team"}, 422, "team"),
        ({"person": "niemand"}, 422, "person"),
        ({"person": "dh-linda-de-graaf"}, 422, "person"),
        (
            {"kind": "replace", "replaces": "gv-daan-bos", "person": "gv-bram-visser"},
            422,
            "replaces",
        ),
        ({"end": "2026-12-01T00:00"}, 422, "end"),
        ({"start": "morgen"}, 422, "start"),
    ],
)
def test_bad_input_names_the_field_and_the_rule(
    client: TestClient,
    session: Session,
    planner: dict[str, str],
    loaded: int,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    r = client.post("/api/v1/planning/overrides", json=dict(EXTRA, **change), headers=planner)
    assert r.status_code == status, r.text
    body = r.json()
    try:
        ValidationErrorBody.model_validate(body)
    except ValueError:
        ErrorBody.model_validate(body)
    errors = body.get("errors") or body["detail"]["errors"]
    # A rule across fields (end after start) is named by the rule's text.
    assert any(field in e["field"] or f"'{field}'" in e["rule"] for e in errors), errors
    assert all(e["rule"] for e in errors)
    assert version(session) == loaded


def test_people_are_edited_with_phones_checked_and_rosters_kept_valid(
    client: TestClient, session: Session, planner: dict[str, str], loaded: int
) -> None:
    new = {
        "id": "gv-fenna-jansen",
        "name": "Fenna Jansen",
        "phones": ["06-12340199"],
        "memberships": [{"team": "vt-gv", "role": "worker"}],
    }
    r = client.post("/api/v1/planning/people", json=new, headers=planner)
    assert r.status_code == 200, r.text
    [fenna] = [
        p for p in oncall_service.read_config(session=session).people if p.id == "gv-fenna-jansen"
    ]
    assert fenna.phones == ("+31612340199",)

    bad_phone = dict(new, phones=["12"])
    r = client.put("/api/v1/planning/people/gv-fenna-jansen", json=bad_phone, headers=planner)
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("phones")

    # Anouk is on the office rotation: she cannot leave the team, nor be removed.
    anouk = {
        "id": "gv-anouk-de-vries",
        "name": "Anouk de Vries",
        "phones": ["0612340101"],
        "memberships": [],
    }
    r = client.put("/api/v1/planning/people/gv-anouk-de-vries", json=anouk, headers=planner)
    assert r.status_code in (403, 422)
    r = client.delete("/api/v1/planning/people/gv-anouk-de-vries", headers=planner)
    assert r.status_code == 422 and "gv-vt-kantoor" in r.json()["detail"]["errors"][0]["rule"]

    zero = client.put(
        "/api/v1/planning/people/gv-fenna-jansen", json=dict(new, active=0), headers=planner
    )
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "active"
    # Inactive: she stays on the roster but is no longer reachable.
    inactive = dict(new, active=False)
    r = client.put("/api/v1/planning/people/gv-fenna-jansen", json=inactive, headers=planner)
    assert r.status_code == 200 and r.json()["changes"] == {
        "people": {"changed": {"gv-fenna-jansen": ["active"]}}
    }
    gone = client.delete("/api/v1/planning/people/gv-fenna-jansen", headers=planner)
    assert gone.status_code == 200, gone.text
    assert "gv-fenna-jansen" not in {
        p.id for p in oncall_service.read_config(session=session).people
    }
    assert (
        client.delete("/api/v1/planning/people/gv-fenna-jansen", headers=planner).status_code == 404
    )


def test_rotations_and_shifts_are_edited(
    client: TestClient, session: Session, planner: dict[str, str], loaded: int
) -> None:
    config = oncall_service.read_config(session=session)
    [rotation] = [r for r in config.rotations if r.id == "gv-vt-kantoor"]
    body = rotation.model_dump(mode="json")
    body["participants"] = ["gv-bram-visser", "gv-anouk-de-vries", "gv-carla-mulder"]
    r = client.put("/api/v1/planning/rotations/gv-vt-kantoor", json=body, headers=planner)
    assert r.status_code == 200, r.text
    [team] = r.json()["calendar"]
    assert team["added"] and team["removed"]
    stored = [
        r for r in oncall_service.read_config(session=session).rotations if r.id == "gv-vt-kantoor"
    ]
    assert stored[0].participants[0] == "gv-bram-visser"

    shift = {
        "team": "vt-gv",
        "person": "gv-jasper-brouwer",
        "start": "2026-12-19T09:00",
        "end": "2026-12-19T17:00",
    }
    r = client.post("/api/v1/planning/shifts", json=shift, headers=planner)
    assert r.status_code == 200, r.text
    key = "vt-gv/gv-jasper-brouwer/2026-12-19T09:00:00+01:00"
    assert r.json()["changes"] == {"shifts": {"added": [key]}}
    moved = dict(shift, start="2026-12-19T10:00")
    r = client.put("/api/v1/planning/shifts", params={"key": key}, json=moved, headers=planner)
    assert r.status_code == 200, r.text
    assert r.json()["changes"]["shifts"]["removed"] == [key]
    new_key = "vt-gv/gv-jasper-brouwer/2026-12-19T10:00:00+01:00"
    r = client.delete("/api/v1/planning/shifts", params={"key": new_key}, headers=planner)
    assert r.status_code == 200, r.text
    shifts = oncall_service.read_config(session=session).shifts
    assert not [s for s in shifts if s.person == "gv-jasper-brouwer" and s.start.day == 19]
    r = client.delete("/api/v1/planning/shifts", params={"key": new_key}, headers=planner)
    assert r.status_code == 404


ROSTER = (
    "\ufeffpersoon;begin;eind;laag;telefoon;naam\n"
    "gv-anouk-de-vries;19-12-2026 09:00;19-12-2026 17:00;primair;;\n"
    "Bram Visser;2026-12-20T09:00;2026-12-20T17:00;reserve;;\n"
    "Fenna Jansen;2026-12-21 09:00;2026-12-21 17:00;;06-12340199;Fenna Jansen\n"
)


def test_csv_import_dry_run_lists_every_error_and_saves_only_a_clean_file(
    client: TestClient,
    session: Session,
    planner: dict[str, str],
    other: dict[str, str],
    loaded: int,
) -> None:
    url = "/api/v1/planning/teams/vt-gv/import"
    headers = {**planner, "Content-Type": "text/csv"}
    bad = ROSTER + "dh-linda-de-graaf;morgen;2026-12-22 17:00;x;;\n"
    r = client.post(url, params={"dry_run": "true"}, content=bad.encode(), headers=headers)
    assert r.status_code == 200, r.text
    data = r.json()
    assert [(e["row"], e["column"], e["field"]) for e in data["errors"]] == [
        (5, "persoon", "person"),
        (5, "begin", "start"),
        (5, "laag", "layer"),
    ]
    assert all(e["rule"] and e["regel"] for e in data["errors"])
    assert data["counts"]["rows"] == 4 and data["counts"]["shifts_added"] == 3
    [team] = data["calendar"]
    assert "fenna-jansen" in {b["person"] for b in team["added"]}
    assert version(session) == loaded

    refused = client.post(url, params={"dry_run": "false"}, content=bad.encode(), headers=headers)
    assert refused.status_code == 422
    fields = [e["field"] for e in refused.json()["detail"]["errors"]]
    assert fields[0].startswith("row 5: persoon") and len(fields) == 3
    assert version(session) == loaded

    comma = ROSTER.replace(";", ",")
    saved = client.post(url, params={"dry_run": "false"}, content=comma.encode(), headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == loaded + 1 and saved.json()["errors"] == []
    config = oncall_service.read_config(session=session)
    assert "fenna-jansen" in {p.id for p in config.people}
    assert {(s.person, s.layer.value) for s in config.shifts if s.team == "vt-gv"} >= {
        ("gv-anouk-de-vries", "primary"),
        ("gv-bram-visser", "backup"),
        ("fenna-jansen", "primary"),
    }
    # The same file again changes nothing: no second version, no doubled shifts.
    again = client.post(url, params={"dry_run": "false"}, content=comma.encode(), headers=headers)
    assert again.status_code == 200 and again.json()["saved"] is False
    assert again.json()["counts"]["unchanged"] == 3
    assert version(session) == loaded + 1

    foreign = client.post(
        url,
        params={"dry_run": "true"},
        content=ROSTER.encode(),
        headers={**other, "Content-Type": "text/csv"},
    )
    assert foreign.status_code == 403
    assert (
        client.post(
            "/api/v1/planning/teams/geen-team/import", content=ROSTER.encode(), headers=headers
        ).status_code
        == 404
    )


def test_the_planner_pages_show_only_the_planners_regions(
    client: TestClient, sessions: sessionmaker[Session], loaded: int
) -> None:
    from tests.accounts import make_account, sign_in

    anonymous = client.get("/planner", headers={"X-API-Key": ""}, follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    make_account(sessions, "planner-gv", Role.PLANNER, regions=[GV])
    make_account(sessions, "meldkamer-gv", Role.OPERATOR, regions=[GV])
    client.headers.pop("X-API-Key")
    sign_in(client, "meldkamer-gv")
    assert client.get("/planner").status_code == 403
    client.post("/logout", data={"csrf": ""})
    client.cookies.clear()
    sign_in(client, "planner-gv")
    page = client.get("/planner")
    assert page.status_code == 200, page.text
    assert 'data-team="vt-gv"' in page.text and 'data-team="cit-haaglanden"' not in page.text
    # VT Gooi en Vechtstreek has no backup on some days: covered, but "krap" (yellow).
    assert 'class="tight-cell"' in page.text and "krap" in page.text
    assert "<script>" not in page.text
    team = client.get("/planner/teams/vt-gv", params={"start": "2026-12-21", "view": "month"})
    assert team.status_code == 200
    assert 'id="planner-data"' in team.text and "gv-anouk-de-vries" in team.text
    assert client.get("/planner/teams/cit-haaglanden").status_code == 404
    assert client.get("/planner/teams/vt-gv", params={"view": "jaar"}).status_code == 422

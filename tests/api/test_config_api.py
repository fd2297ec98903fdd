"""The configuration and on-call endpoints over HTTP, against a real database (SQLite and
PostgreSQL), with the shipped example regions loaded."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from oncall import service as oncall_service
from oncall.loader import dump_config
from oncall.schemas import ConfigSet

EXTRA_OVERRIDE = {
    "id": "hvb-api-extra",
    "team": "cit-hvb",
    "kind": "add",
    "person": "hvb-olaf-van-den-berg",
    "start": "2026-03-10T20:00:00+01:00",
    "end": "2026-03-11T08:00:00+01:00",
    "reason": "extra dienst",
}
CIT_NIGHT = {"team": "cit-hvb", "at": "2026-03-10T23:00"}  # Tuesday night, CET


def exported(client: TestClient) -> tuple[dict[str, Any], int]:
    """GET /config without the version: what a planner edits and sends back."""
    r = client.get("/api/v1/config")
    assert r.status_code == 200, r.text
    data = r.json()
    return data, data.pop("version")


def with_extra_override(data: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["overrides"].append(dict(EXTRA_OVERRIDE))
    return changed


def on_call(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/oncall", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def people(team: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["person"], p["layer"]) for p in team["on_call"]]


def dotted(path: str) -> str:
    """'rules[3].windows[0].start' and 'rules.3.windows.0.start' compare equal."""
    return re.sub(r"\[(\d+)\]", r".\1", path)


def index_of(data: dict[str, Any], section: str, ident: str) -> int:
    return next(i for i, e in enumerate(data[section]) if e.get("id") == ident)


# --- GET / PUT /config ---------------------------------------------------------------------


def test_get_config_returns_active_config_with_version(
    client: TestClient, loaded: int, example_config: ConfigSet
) -> None:
    data, version = exported(client)
    assert version == loaded
    assert set(data) == set(ConfigSet.SECTIONS)
    config = ConfigSet.model_validate(data)
    for section in ConfigSet.SECTIONS:
        assert set(getattr(config, section)) == set(getattr(example_config, section)), section
    assert [r["id"] for r in data["rules"]] == [r.id for r in example_config.rules]


def test_put_json_stores_new_version_and_oncall_sees_it_at_once(
    client: TestClient, loaded: int, session: Session
) -> None:
    [before] = on_call(client, **CIT_NIGHT)
    assert people(before) == [("hvb-petra-willems", "primary"), ("hvb-sem-van-gils", "backup")]

    data, version = exported(client)
    r = client.put("/api/v1/config", json=with_extra_override(data))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == version + 1
    assert body["counts"]["overrides"] == len(data["overrides"]) + 1
    assert oncall_service.get_version(session=session) == version + 1

    [after] = on_call(client, **CIT_NIGHT)
    assert ("hvb-olaf-van-den-berg", "primary") in people(after)
    olaf = next(p for p in after["on_call"] if p["person"] == "hvb-olaf-van-den-berg")
    assert "hvb-api-extra" in olaf["source"]
    again, new_version = exported(client)
    assert new_version == version + 1
    assert "hvb-api-extra" in {o["id"] for o in again["overrides"]}


def test_put_yaml_works(client: TestClient, loaded: int, session: Session) -> None:
    data, version = exported(client)
    text = dump_config(ConfigSet.model_validate(with_extra_override(data)))
    r = client.put(
        "/api/v1/config", content=text.encode(), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == version + 1
    stored = oncall_service.read_config(session=session)
    assert "hvb-api-extra" in {o.id for o in stored.overrides}
    [after] = on_call(client, **CIT_NIGHT)
    assert ("hvb-olaf-van-den-berg", "primary") in people(after)


def break_time(data: dict[str, Any]) -> tuple[str, str]:
    i = index_of(data, "rules", "zl-vt-samen-op")
    data["rules"][i]["windows"][0]["start"] = "25:00"
    return f"rules.{i}.windows.0.start", "'25:00' is not a time of day"


def break_team_reference(data: dict[str, Any]) -> tuple[str, str]:
    i = index_of(data, "rules", "zl-vt-spoed")
    data["rules"][i]["team"] = "vt-zl-bestaat-niet"
    return f"rules.{i}.team", "unknown team 'vt-zl-bestaat-niet'"


def break_phone(data: dict[str, Any]) -> tuple[str, str]:
    i = index_of(data, "people", "zl-gerard-lemmens")
    data["people"][i]["phones"] = ["12345"]
    return f"people.{i}.phones", "'12345' is not a valid phone number"


BREAKERS = [break_time, break_team_reference, break_phone]


def send(client: TestClient, method: str, url: str, data: dict[str, Any], as_yaml: bool) -> Any:
    if as_yaml:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        headers = {"content-type": "application/yaml"}
        return client.request(method, url, content=text.encode(), headers=headers)
    return client.request(method, url, json=data)


@pytest.mark.parametrize("as_yaml", [False, True], ids=["json", "yaml"])
@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_put_invalid_config_is_422_and_changes_nothing(
    client: TestClient, session: Session, breaker: Any, as_yaml: bool
) -> None:
    data, version = exported(client)
    bad = copy.deepcopy(data)
    path, rule = breaker(bad)
    bad["overrides"].append(dict(EXTRA_OVERRIDE))  # a valid change that must not land either

    r = send(client, "PUT", "/api/v1/config", bad, as_yaml)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "nothing was changed" in detail["message"]
    assert any(dotted(i["path"]) == path and rule in i["rule"] for i in detail["issues"]), detail

    assert oncall_service.get_version(session=session) == version
    after, after_version = exported(client)
    assert (after, after_version) == (data, version)


def test_put_invalid_config_lists_every_problem(client: TestClient) -> None:
    """Every field error at once (cross references are checked once the fields are valid)."""
    data, _ = exported(client)
    expected = [break_time(data), break_phone(data)]
    r = client.put("/api/v1/config", json=data)
    assert r.status_code == 422
    issues = r.json()["detail"]["issues"]
    assert len(issues) == 2
    for path, rule in expected:
        assert any(dotted(i["path"]) == path and rule in i["rule"] for i in issues), issues


# --- POST /config/validate -----------------------------------------------------------------


@pytest.mark.parametrize("as_yaml", [False, True], ids=["json", "yaml"])
def test_validate_accepts_without_storing(
    client: TestClient, session: Session, as_yaml: bool
) -> None:
    data, version = exported(client)
    r = send(client, "POST", "/api/v1/config/validate", with_extra_override(data), as_yaml)
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True
    assert r.json()["counts"]["overrides"] == len(data["overrides"]) + 1
    assert r.json()["counts"]["teams"] == len(data["teams"])

    assert oncall_service.get_version(session=session) == version
    after, _ = exported(client)
    assert "hvb-api-extra" not in {o["id"] for o in after["overrides"]}


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_validate_rejects_with_issues(client: TestClient, session: Session, breaker: Any) -> None:
    data, version = exported(client)
    path, rule = breaker(data)
    r = client.post("/api/v1/config/validate", json=data)
    assert r.status_code == 422
    issues = r.json()["detail"]["issues"]
    assert any(dotted(i["path"]) == path and rule in i["rule"] for i in issues), issues
    assert oncall_service.get_version(session=session) == version


def test_malformed_yaml_is_422_naming_the_line(client: TestClient) -> None:
    r = client.put(
        "/api/v1/config",
        content=b"teams:\n  - id: x\n    name: [unclosed\n",
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 422
    [issue] = r.json()["detail"]["issues"]
    assert "not valid YAML" in issue["rule"] and "line" in issue["rule"]


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,url",
    [
        ("GET", "/api/v1/config"),
        ("PUT", "/api/v1/config"),
        ("POST", "/api/v1/config/validate"),
        ("GET", "/api/v1/oncall"),
    ],
)
def test_api_key_required(
    client: TestClient, session: Session, loaded: int, method: str, url: str
) -> None:
    key = client.headers.pop("X-API-Key")
    try:
        missing = client.request(method, url, json={})
        wrong = client.request(method, url, json={}, headers={"X-API-Key": "verkeerd"})
    finally:
        client.headers["X-API-Key"] = key
    assert missing.status_code == 401, missing.text
    assert wrong.status_code == 401, wrong.text
    assert "X-API-Key" in missing.json()["detail"]
    assert oncall_service.get_version(session=session) == loaded


# --- GET /oncall ---------------------------------------------------------------------------


def test_oncall_by_team(client: TestClient) -> None:
    [team] = on_call(client, **CIT_NIGHT)
    assert team["team"] == "cit-hvb"
    assert team["team_name"] == "Crisis Interventie Team Hart van Brabant"
    assert team["kind"] == "cit" and team["team_line"] == "+318008013"
    # 12-hour shifts from Mon 5 Jan 08:00: 20:00 on 10 March is shift 129, 129 % 4 = 1.
    assert people(team) == [("hvb-petra-willems", "primary"), ("hvb-sem-van-gils", "backup")]
    petra = team["on_call"][0]
    assert petra["phones"] == ["+31612340205"]
    assert petra["source"] == "rotation:hvb-cit-12uur"
    assert petra["until"].startswith("2026-03-11T07:00")
    assert all(r["text"] for r in petra["reasons"])


def test_oncall_several_teams(client: TestClient) -> None:
    teams = client.get(
        "/api/v1/oncall", params=[("team", "cit-hvb"), ("team", "vt-mb"), ("at", CIT_NIGHT["at"])]
    ).json()
    assert [t["team"] for t in teams] == ["cit-hvb", "vt-mb"]


def test_oncall_by_region(client: TestClient, example_config: ConfigSet) -> None:
    teams = on_call(client, region="hart-van-brabant", at="2026-03-10T14:00")
    assert sorted(t["team"] for t in teams) == ["cit-hvb", "vt-mb"]
    vt = next(t for t in teams if t["team"] == "vt-mb")
    # Daily handoff at 09:00 from Mon 5 Jan: 10 March is day 64, 64 % 3 = 1.
    assert people(vt)[0] == ("hvb-mohamed-el-amrani", "primary")
    everyone = on_call(client, at="2026-03-10T14:00")
    assert sorted(t["team"] for t in everyone) == sorted(t.id for t in example_config.teams)


@pytest.mark.parametrize(
    "at",
    [
        "2026-03-10T23:00",
        "2026-03-10T23:00:00+01:00",
        "2026-03-10T22:00:00+00:00",
        "2026-03-10T22:00:00Z",
    ],
)
def test_oncall_at_with_and_without_offset(client: TestClient, at: str) -> None:
    [team] = on_call(client, team="cit-hvb", at=at)
    assert team["at"].startswith("2026-03-10T22:00:00")
    assert people(team)[0] == ("hvb-petra-willems", "primary")


def test_oncall_at_without_offset_is_amsterdam_summer_time(client: TestClient) -> None:
    [team] = on_call(client, team="cit-hvb", at="2026-07-01T12:00")
    assert team["at"].startswith("2026-07-01T10:00:00")


def test_oncall_default_is_the_clock(client: TestClient) -> None:
    [team] = on_call(client, team="cit-hvb")
    assert team["at"].startswith("2026-11-28T12:00:00")  # the test clock


@pytest.mark.parametrize("at", ["gisteren", "2026-13-01T10:00", "2026-03-10 25:00"])
def test_oncall_bad_at_is_422_with_clear_message(client: TestClient, at: str) -> None:
    r = client.get("/api/v1/oncall", params={"team": "cit-hvb", "at": at})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("at: ")
    assert at in detail and "ISO" in detail


def test_oncall_unknown_team_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/oncall", params=[("team", "cit-hvb"), ("team", "geen-team")])
    assert r.status_code == 404
    assert "geen-team" in r.json()["detail"]
    assert "cit-hvb" not in r.json()["detail"]


def test_yaml_with_version_line_keeps_times_as_written(client: TestClient) -> None:
    """A YAML export with its version line can be sent back; '17:00' stays a time."""
    from oncall.loader import dump_config, load_directory

    text = "version: 7\n" + dump_config(load_directory(Path("regions")))
    r = client.put(
        "/api/v1/config", content=text.encode(), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 200, r.text
    windows = [
        w for rule in client.get("/api/v1/config").json()["rules"] for w in rule.get("windows", [])
    ]
    assert {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "13:00",
        "end": "22:00",
    } in windows

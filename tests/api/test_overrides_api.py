"""Planners add and withdraw overrides one at a time; the next incident sees the change."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from .test_incidents import body, loaded  # noqa: F401  (hand-built configuration fixture)

SICK = {
    "id": "anna-ziek-maart",
    "team": "vt-zl",
    "kind": "remove",
    "person": "anna",
    "start": "2026-03-10T00:00",
    "end": "2026-03-11T00:00",
    "reason": "afwezig",
}


def candidates(client: TestClient, at: str) -> list[str]:
    r = client.post("/api/v1/incidents", json=body(reported_at=at))
    assert r.status_code == 201, r.text
    return [c["person"] for c in r.json()["plan"]["response"]["candidates"]]


def test_override_takes_effect_and_can_be_withdrawn(client: TestClient) -> None:
    assert candidates(client, "2026-03-10T14:00") == ["anna", "cor"]
    r = client.post("/api/v1/overrides", json=SICK)
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    assert candidates(client, "2026-03-10T14:00") == ["cor"]
    # End exclusive: the next day anna's rotation (day 65 -> bram) is untouched anyway,
    # and at 23:59 on the 10th she is still off.
    oncall = client.get("/api/v1/oncall", params={"team": "vt-zl", "at": "2026-03-10T23:59"})
    assert [p["person"] for p in oncall.json()[0]["on_call"]] == ["cor"]
    listed = client.get("/api/v1/overrides", params={"team": "vt-zl"}).json()
    assert "anna-ziek-maart" in [o["id"] for o in listed]

    gone = client.delete("/api/v1/overrides/anna-ziek-maart")
    assert gone.status_code == 200 and gone.json()["version"] == version + 1
    assert candidates(client, "2026-03-10T14:00") == ["anna", "cor"]
    assert client.delete("/api/v1/overrides/anna-ziek-maart").status_code == 404


def test_replace_override_via_api(client: TestClient) -> None:
    swap = dict(SICK, id="bram-voor-anna", kind="replace", person="bram", replaces="anna")
    assert client.post("/api/v1/overrides", json=swap).status_code == 201
    assert candidates(client, "2026-03-10T14:00") == ["bram", "cor"]


@pytest.mark.parametrize(
    "change,status,field",
    [
        ({"team": "geen-team"}, 422, "team"),
        ({"person": "eva"}, 422, "person"),
        ({"person": "niemand"}, 422, "person"),
        ({"kind": "replace", "person": "bram", "replaces": "eva"}, 422, "replaces"),
    ],
)
def test_bad_override_names_field(
    client: TestClient, change: dict[str, Any], status: int, field: str
) -> None:
    r = client.post("/api/v1/overrides", json=dict(SICK, **change))
    assert r.status_code == status, r.text
    assert r.json()["detail"]["errors"][0]["field"] == field
    assert candidates(client, "2026-03-10T14:00") == ["anna", "cor"]


def test_override_shape_errors_are_422(client: TestClient) -> None:
    r = client.post("/api/v1/overrides", json=dict(SICK, end="2026-03-09T00:00"))
    assert r.status_code == 422
    assert "'end' must be after 'start'" in r.json()["detail"]
    r = client.post("/api/v1/overrides", json=dict(SICK, kind="vakantie"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


def test_duplicate_override_id_conflicts(client: TestClient) -> None:
    assert client.post("/api/v1/overrides", json=SICK).status_code == 201
    r = client.post("/api/v1/overrides", json=SICK)
    assert r.status_code == 409


def test_gaps_endpoint_shows_and_an_override_closes_a_gap(client: TestClient) -> None:
    params = {"team": "vt-gv", "from": "2026-01-10T00:00", "to": "2026-01-25T00:00"}
    [gap] = client.get("/api/v1/coverage/gaps", params=params).json()
    assert gap["start"] == "2026-01-12T08:00:00Z" and gap["end"] == "2026-01-19T08:00:00Z"
    fix = {
        "id": "fleur-extra",
        "team": "vt-gv",
        "kind": "add",
        "person": "fleur",
        "start": "2026-01-12T09:00",
        "end": "2026-01-19T09:00",
    }
    assert client.post("/api/v1/overrides", json=fix).status_code == 201
    assert client.get("/api/v1/coverage/gaps", params=params).json() == []
    bad = client.get("/api/v1/coverage/gaps", params={"team": "vt-gv", "from": "morgen"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"

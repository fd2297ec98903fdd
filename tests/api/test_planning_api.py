"""The planner's read routes: calendar, region overview, gaps, candidates, fairness; and
that a planner of one region cannot read another region's team."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from api.app import create_app
from core.clock import ManualClock
from core.settings import Settings
from core.timeutil import AMS
from dispatch.models import Assignment, Dispatch, Incident
from dispatch.states import AssignmentStatus
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.accounts import make_key
from tests.conftest import API_KEY

R1_TEAM = "vt"
R2_TEAM = "vt-twee"


def _config() -> ConfigSet:
    people = [
        {"id": "anna", "name": "Anna", "phones": ["0612345671"], "memberships": [{"team": "vt"}]},
        {"id": "bas", "name": "Bas", "phones": ["0612345672"], "memberships": [{"team": "vt"}]},
        {"id": "cor", "name": "Cor", "phones": ["0612345673"], "memberships": [{"team": "vt"}]},
        {"id": "dirk", "name": "Dirk", "phones": [], "memberships": [{"team": "vt"}]},
        {"id": "eva", "name": "Eva", "phones": ["0612345675"], "memberships": [{"team": "vt"}]},
        {"id": "fien", "name": "Fien", "phones": ["0612345676"], "memberships": [{"team": "vt"}]},
        {
            "id": "gert",
            "name": "Gert",
            "phones": ["0612345677"],
            "memberships": [{"team": "vt-twee"}],
        },
    ]
    return ConfigSet.model_validate(
        {
            "regions": [{"id": "r1", "name": "Regio Een"}, {"id": "r2", "name": "Regio Twee"}],
            "teams": [
                {
                    "id": "vt",
                    "kind": "veilig_thuis",
                    "name": "VT Een",
                    "region": "r1",
                    "planning": {
                        "max_shifts_4w": 8,
                        "no_consecutive_weekends": True,
                        "min_rest_hours_after_night": 11,
                    },
                },
                {"id": "vt-twee", "kind": "veilig_thuis", "name": "VT Twee", "region": "r2"},
            ],
            "people": people,
            "rotations": [
                # Daily 09:00 handoff over anna, bas and dirk (dirk has no phone).
                {
                    "id": "vt-dag",
                    "team": "vt",
                    "participants": ["anna", "bas", "dirk"],
                    "start": "2026-10-01T09:00",
                    "handoff": {"every": "daily", "at": "09:00"},
                },
                {
                    "id": "twee",
                    "team": "vt-twee",
                    "participants": ["gert"],
                    "start": "2026-10-01T09:00",
                    "handoff": {"every": "weekly", "at": "09:00"},
                },
            ],
            "overrides": [
                {
                    "id": "cor-erbij",
                    "team": "vt",
                    "kind": "add",
                    "person": "cor",
                    "start": "2026-10-26T13:00",
                    "end": "2026-10-26T22:00",
                },
            ],
            "rules": [
                {"id": "vt-altijd", "team": "vt", "hours": "always"},
                {
                    "id": "vt-samen",
                    "team": "vt",
                    "staff": 2,
                    "windows": [{"days": ["weekdays"], "start": "13:00", "end": "22:00"}],
                },
                {"id": "twee-altijd", "team": "vt-twee", "hours": "always"},
            ],
        }
    )


@pytest.fixture
def planning_client(
    settings: Settings, sessions: sessionmaker[Session], clock: ManualClock
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    with sessions() as s:
        oncall_service.write_config(
            session=s, config=_config(), now=datetime(2026, 9, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    clock.set(datetime(2026, 10, 20, 10, tzinfo=UTC))
    keys = {
        "planner": make_key(sessions, "planner-r1", Role.PLANNER, regions=["r1"]),
        "operator": make_key(sessions, "operator-r1", Role.OPERATOR, regions=["r1"]),
    }
    app = create_app(settings, clock=clock, run_delivery=False, run_stream=False)
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    app.state.samenop.paging.sessions = sessions
    with TestClient(app) as client:
        yield client, {name: {"X-API-Key": key} for name, key in keys.items()}


def _get(client: TestClient, headers: dict[str, str], url: str, **params: Any) -> Any:
    r = client.get(url, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


BASE = "/api/v1/planning"


def test_calendar_across_the_october_clock_change(planning_client: Any) -> None:
    client, h = planning_client
    cal = _get(
        client,
        h["planner"],
        f"{BASE}/teams/{R1_TEAM}/calendar",
        start="2026-10-24",
        end="2026-10-27",
    )
    assert cal["team"] == R1_TEAM and cal["region"] == "r1"
    rotation = [b for b in cal["blocks"] if b["source"] == "rotation"]
    # 09:00 to 09:00 local; the slot over the change (Sat 24th 09:00 CEST to Sun 25th
    # 09:00 CET, dirk's) lasts 25 hours, the next one 24 again.
    by_start = {b["start"]: b for b in rotation}
    assert by_start["2026-10-24T07:00:00Z"]["end"] == "2026-10-25T08:00:00Z"
    assert by_start["2026-10-25T08:00:00Z"]["end"] == "2026-10-26T08:00:00Z"
    added = [b for b in cal["blocks"] if b["source"] == "override"]
    assert [(b["person"], b["source_id"]) for b in added] == [("cor", "cor-erbij")]
    assert any(n["staff"] == 2 and "vt-samen" in n["rules"] for n in cal["needs"])
    # dirk (no phone) holds a day: a gap for every rule, needed 1 (2 in the afternoon).
    dirk = [b for b in rotation if b["person"] == "dirk"]
    assert dirk and not dirk[0]["reachable"]
    assert cal["gaps"]
    assert all(g["available"] < g["needed"] for g in cal["gaps"])


def test_gaps_with_staffing_counts_and_unreachable_people(planning_client: Any) -> None:
    client, h = planning_client
    out = _get(
        client,
        h["operator"],
        f"{BASE}/teams/{R1_TEAM}/gaps",
        start="2026-10-26T00:00",
        end="2026-10-29T00:00",
    )
    gaps = [(g["start"], g["end"], g["needed"], g["available"]) for g in out["gaps"]]
    # Mon 26th is bas's day and cor is added 13-22: two, no gap. Tue is dirk's (no phone:
    # a gap all day, needed 2 in the afternoon with 0 available), Wed anna's (a staff-2 gap
    # in the afternoon with 1 available).
    assert gaps == [
        ("2026-10-27T08:00:00Z", "2026-10-27T12:00:00Z", 1, 0),
        ("2026-10-27T12:00:00Z", "2026-10-27T21:00:00Z", 2, 0),
        ("2026-10-27T21:00:00Z", "2026-10-28T08:00:00Z", 1, 0),
        ("2026-10-28T12:00:00Z", "2026-10-28T21:00:00Z", 2, 1),
    ]
    afternoon = [g for g in out["gaps"] if g["needed"] == 2]
    assert afternoon and all(g["available"] in (0, 1) for g in afternoon)
    assert "2026-10-26T12:00:00Z" not in [g["start"] for g in afternoon]  # cor covers Monday
    assert {"person": "dirk", "name": "Dirk", "reason": "no_phone"}.items() <= next(
        u for u in out["unreachable"] if u["person"] == "dirk"
    ).items()
    assert "telefoonnummer" in next(u for u in out["unreachable"])["text"]


def test_overview_of_a_region(planning_client: Any) -> None:
    client, h = planning_client
    out = _get(client, h["planner"], f"{BASE}/regions/r1/overview", start="2026-10-19", weeks=2)
    assert [t["team"] for t in out["teams"]] == [R1_TEAM]
    team = out["teams"][0]
    assert len(team["days"]) == 14
    assert team["gap_minutes"] == sum(d["gap_minutes"] for d in team["days"])
    assert any(d["thin"] for d in team["days"])
    assert team["blocks"] is None
    # "krap": one reachable person on call where one is needed (no one to spare)
    assert team["tight_minutes"] == sum(d["tight_minutes"] for d in team["days"]) > 0
    assert all(d["gap_minutes"] + d["tight_minutes"] <= 25 * 60 for d in team["days"])  # 25 October
    with_blocks = _get(
        client,
        h["planner"],
        f"{BASE}/regions/r1/overview",
        start="2026-10-19",
        weeks=1,
        blocks="true",
    )
    assert with_blocks["teams"][0]["blocks"]


def test_candidates_are_free_reachable_and_fewest_hours_first(planning_client: Any) -> None:
    client, h = planning_client
    out = _get(
        client,
        h["planner"],
        f"{BASE}/teams/{R1_TEAM}/gaps/candidates",
        start="2026-10-28T13:00",
        end="2026-10-28T22:00",
    )
    people = [c["person"] for c in out]
    assert "dirk" not in people  # no phone
    assert "gert" not in people  # another team
    # eva and fien have no on-call hours this quarter; cor has 9, anna and bas many.
    assert people[:2] == ["eva", "fien"]
    hours = [c["hours_this_quarter"] for c in out]
    assert hours == sorted(hours)
    assert out[0]["reasons"] and "kwartaal" in out[0]["reasons"][0]


def test_fairness_counts_and_breaches(planning_client: Any) -> None:
    client, h = planning_client
    out = _get(client, h["planner"], f"{BASE}/teams/{R1_TEAM}/fairness", quarter="2026-Q4")
    assert out["quarter"] == "2026-Q4"
    counts = {c["person"]: c for c in out["counts"]}
    assert set(counts) >= {"anna", "bas", "dirk", "cor"}
    assert counts["cor"]["hours"] == 9 and counts["cor"]["shifts"] == 1
    # Every third day 09:00-09:00: nights and weekends counted.
    assert counts["anna"]["nights"] >= 25 and counts["anna"]["weekends"] >= 8
    # A 3-day cycle puts each of them on 9-10 days in any 4 weeks: above the max of 8.
    codes = {(b["code"], b["person"]) for b in out["breaches"]}
    assert ("max_shifts_4w", "anna") in codes
    assert ("consecutive_weekends", "anna") in codes
    text = next(b["text"] for b in out["breaches"] if b["code"] == "max_shifts_4w")
    assert "piketdiensten in 4 weken (max 8)" in text
    # Christmas: a public holiday is counted for whoever is on that day.
    assert sum(c["holidays"] for c in out["counts"]) >= 2


def test_a_planner_of_one_region_cannot_read_another_regions_team(planning_client: Any) -> None:
    client, h = planning_client
    for who in ("planner", "operator"):
        for url in (
            f"{BASE}/teams/{R2_TEAM}/calendar",
            f"{BASE}/teams/{R2_TEAM}/gaps",
            f"{BASE}/regions/r2/overview",
        ):
            r = client.get(url, headers=h[who])
            assert r.status_code == 404, (who, url, r.text)
    for url in (f"{BASE}/teams/{R2_TEAM}/fairness",):
        assert client.get(url, headers=h["planner"]).status_code == 404
    r = client.get(
        f"{BASE}/teams/{R2_TEAM}/gaps/candidates",
        headers=h["planner"],
        params={"start": "2026-10-28T13:00", "end": "2026-10-28T22:00"},
    )
    assert r.status_code == 404
    # operators read calendars but not fairness or candidates
    assert client.get(f"{BASE}/teams/{R1_TEAM}/fairness", headers=h["operator"]).status_code == 403
    # an admin sees both regions
    admin = {"X-API-Key": API_KEY}
    assert client.get(f"{BASE}/teams/{R2_TEAM}/calendar", headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("calendar", {"start": "2026-10-01", "end": "2026-12-15"}, "end"),
        ("calendar", {"start": "2026-10-10", "end": "2026-10-01"}, "end"),
        ("gaps", {"start": "2026-10-01", "end": "2026-12-01"}, "end"),
        ("calendar", {"start": "gisteren"}, "start"),
        ("fairness", {"quarter": "2026-Q5"}, "quarter"),
        ("gaps/candidates", {"start": "2026-10-01", "end": "2026-11-15"}, "end"),
    ],
)
def test_ranges_are_bounded(
    planning_client: Any, url: str, params: dict[str, str], field: str
) -> None:
    client, h = planning_client
    r = client.get(f"{BASE}/teams/{R1_TEAM}/{url}", params=params, headers=h["planner"])
    assert r.status_code == 422, r.text
    assert field in r.text
    r = client.get(f"{BASE}/regions/r1/overview", params={"weeks": 10}, headers=h["planner"])
    assert r.status_code == 422 and "weeks" in r.text


def test_the_coverage_gaps_route_says_needed_and_available(planning_client: Any) -> None:
    client, h = planning_client
    out = _get(
        client,
        h["planner"],
        "/api/v1/coverage/gaps",
        team=R1_TEAM,
        **{"from": "2026-10-28T00:00", "to": "2026-10-29T00:00"},
    )
    assert [(g["start"], g["end"], g["needed"], g["available"], g["rules"]) for g in out] == [
        ("2026-10-27T23:00:00Z", "2026-10-28T08:00:00Z", 1, 0, ["vt-altijd"]),
        ("2026-10-28T12:00:00Z", "2026-10-28T21:00:00Z", 2, 1, ["vt-samen"]),
    ]


def _night_callout(sessions: sessionmaker[Session], person: str, at: datetime) -> None:
    """An assignment ``person`` accepted at ``at`` (as the paging flow leaves it)."""
    with sessions() as s:
        incident = Incident(
            id=str(uuid.uuid4()),
            source="test",
            external_id=uuid.uuid4().hex,
            request_hash="x" * 64,
            reported_at=at,
            received_at=at,
            case_type="HG",
            persons=[],
            flags=[],
            police_unit="T-1",
            police_callback="0612345600",
        )
        dispatch = Dispatch(
            id=str(uuid.uuid4()),
            incident_id=incident.id,
            reference=f"SO-{uuid.uuid4().hex[:6].upper()}",
            status="paired",
            region_id="r1",
            team_id="vt",
            config_version=1,
            planned_at=at,
            plan={},
            created_at=at,
            updated_at=at,
        )
        assignment = Assignment(
            dispatch_id=dispatch.id,
            position=1,
            purpose="respond",
            team_id="vt",
            person_id=person,
            phone="+31612345671",
            mode="on_scene",
            layer="primary",
            status=AssignmentStatus.ACCEPTED.value,
            reasons=[],
            answered_at=at,
        )
        s.add_all([incident, dispatch, assignment])
        s.commit()


def test_rest_after_a_night_call_out_from_the_database(
    planning_client: Any, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    client, h = planning_client
    clock.set(datetime(2026, 11, 2, 9, tzinfo=UTC))
    # anna's days: 28 and 31 October (09:00-09:00). Called out at 03:00 on the 31st, her
    # shift at 09:00 comes 6 hours later (11 needed).
    _night_callout(sessions, "anna", datetime(2026, 10, 31, 3, 0, tzinfo=AMS))
    out = _get(client, h["planner"], f"{BASE}/teams/{R1_TEAM}/fairness", quarter="2026-Q4")
    rest = [b for b in out["breaches"] if b["code"] == "min_rest_after_night"]
    assert [(b["person"], b["start"]) for b in rest] == [("anna", "2026-10-31T08:00:00Z")]
    assert "6 uur rust" in rest[0]["text"] and "minimaal 11 uur" in rest[0]["text"]
    # cor, called out at 03:00 on the 29th, is not a candidate for 10:00-12:00 that day
    # (7 hours later); anna is not either (a shift more than 8 in 4 weeks).
    url = f"{BASE}/teams/{R1_TEAM}/gaps/candidates"
    gap = {"start": "2026-10-29T10:00", "end": "2026-10-29T12:00"}
    assert [c["person"] for c in _get(client, h["planner"], url, **gap)] == ["eva", "fien", "cor"]
    _night_callout(sessions, "cor", datetime(2026, 10, 29, 3, 0, tzinfo=AMS))
    assert [c["person"] for c in _get(client, h["planner"], url, **gap)] == ["eva", "fien"]
    # A call-out in the evening (22:00) is not a night call-out.
    _night_callout(sessions, "bas", datetime(2026, 10, 29, 22, 0, tzinfo=AMS))
    out = _get(client, h["planner"], f"{BASE}/teams/{R1_TEAM}/fairness", quarter="2026-Q4")
    assert not [
        b for b in out["breaches"] if b["code"] == "min_rest_after_night" and b["person"] == "bas"
    ]


def test_a_calendar_marks_where_coverage_is_tight(planning_client: Any) -> None:
    """Monday 26 October: Bas is on call, Cor is added 13:00-22:00 where two are needed:
    covered, but with nobody to spare; before 13:00 Bas alone covers the one needed."""
    client, h = planning_client
    out = _get(
        client,
        h["planner"],
        f"{BASE}/teams/{R1_TEAM}/calendar",
        start="2026-10-26T09:00",
        end="2026-10-26T23:00",
    )
    spans = [(t["start"], t["end"], t["needed"]) for t in out["tight"]]
    assert spans == [
        ("2026-10-26T08:00:00Z", "2026-10-26T12:00:00Z", 1),
        ("2026-10-26T12:00:00Z", "2026-10-26T21:00:00Z", 2),
        ("2026-10-26T21:00:00Z", "2026-10-26T22:00:00Z", 1),
    ]
    assert out["gaps"] == []
    assert "niemand achter de hand" in out["tight"][1]["text"]

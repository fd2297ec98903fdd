"""The regions' first-hour rules in the plan: "police call the line" (nobody is paged),
local times in the hour a clock change skips or repeats (read as before, and the plan
says how), and the chosen team's mandate.

The pure engine is asked directly over the shipped configuration (and small variations
of it); intake, paging, alarms and the API are checked through ``POST
/api/v1/incidents`` with the clock moved and the delivery loop run by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import ManualClock
from dispatch import live
from dispatch.models import Alarm, Assignment, Dispatch, Event, Page
from dispatch.pairing import STATUS_PAIRED, STATUS_POLICE_CALL, pair
from dispatch.schemas import IncidentCreate
from oncall.facts import IncidentFacts
from oncall.loader import validate_references
from oncall.schemas import (
    CaseType,
    ConfigSet,
    CoverageRule,
    Mode,
    parse_local_datetime,
    read_local_time,
)
from oncall.snapshot import ConfigSnapshot
from tests.dispatch.test_paging_flow import at, post, run

VT_LINE = "+318002000"  # 0800-2000, VT Brabant Noordoost's 24/7 line (team vt-nob)
TUESDAY_EVENING = "2026-03-10T20:30"  # after office hours in Meierij
TUESDAY_MORNING = "2026-03-10T10:00"  # office hours: the intervention team comes


def meierij(**over: Any) -> IncidentFacts:
    facts: dict[str, Any] = {
        "case_type": CaseType.HG,
        "basisteam": "meierij",
        "municipality": None,
        "persons": (),
        "flags": frozenset(),
    }
    facts.update(over)
    return IncidentFacts(**facts)


def instant(text: str) -> datetime:
    return parse_local_datetime(text).astimezone(UTC)


def with_rules(config: ConfigSet, *changed: CoverageRule) -> ConfigSnapshot:
    """The shipped configuration with some rules replaced (by id) or added."""
    by_id = {r.id: r for r in changed}
    rules = [by_id.pop(r.id, r) for r in config.rules] + list(by_id.values())
    return ConfigSnapshot(config.model_copy(update={"rules": tuple(rules)}), 1)


def rule(config: ConfigSet, rule_id: str) -> CoverageRule:
    return next(r for r in config.rules if r.id == rule_id)


# --- the pure engine: police call the line ---------------------------------------------


def test_police_call_rule_in_its_hours_pages_nobody_and_names_the_line(
    example_snapshot: ConfigSnapshot,
) -> None:
    plan = pair(meierij(), example_snapshot, instant(TUESDAY_EVENING))
    assert plan.status == STATUS_POLICE_CALL
    data = plan.to_dict()
    call = data["police_call"]
    assert call["team"] == "vt-nob" and call["rule"] == "mei-vt-telefonisch"
    assert call["number"] == VT_LINE  # the team's own line: the rule gives no number
    assert "niemand ter plaatse" in call["note"]
    # Nobody is asked: no candidates (the line's roster is not even looked at).
    assert data["response"]["candidates"] == [] and data["response"]["skipped"] == []
    [said] = [r for r in data["reasons"] if r["code"] == "police_call"]
    assert said["text"].startswith("Politie belt zelf de 24/7-lijn van Veilig Thuis: 0800 2000")
    assert data["expectation"]["phone"] == VT_LINE
    assert data["expectation"]["text"].startswith("Politie belt zelf")


def test_outside_its_hours_the_police_call_rule_does_not_apply(
    example_snapshot: ConfigSnapshot,
) -> None:
    plan = pair(meierij(), example_snapshot, instant(TUESDAY_MORNING))
    assert plan.status == STATUS_PAIRED
    assert plan.police_call is None and plan.to_dict()["police_call"] is None
    assert plan.response is not None and plan.response.team == "vt-nob-interventie"
    assert plan.response.candidates  # someone on the intervention roster is asked
    telefonisch = next(e for e in plan.rules if e.rule == "mei-vt-telefonisch")
    assert not telefonisch.matched


def test_the_rule_may_name_its_own_number(
    example_config: ConfigSet,
) -> None:
    base = rule(example_config, "mei-vt-telefonisch")
    assert base.police_call is not None
    other = base.model_copy(
        update={"police_call": base.police_call.model_copy(update={"number": "+31612349999"})}
    )
    plan = pair(meierij(), with_rules(example_config, other), instant(TUESDAY_EVENING))
    assert plan.police_call is not None and plan.police_call.number == "+31612349999"
    assert plan.expectation.phone == "+31612349999"


def test_a_rule_with_people_on_call_ranked_first_still_wins(example_config: ConfigSet) -> None:
    # A higher-priority after-hours on-scene rule of the intervention team: whoever is
    # on its daily roster is asked, and the police-call rule stays an alternative.
    on_scene = rule(example_config, "mei-vt-interventie").model_copy(
        update={"id": "mei-test-avond", "priority": 5, "hours": "after_hours"}
    )
    plan = pair(meierij(), with_rules(example_config, on_scene), instant(TUESDAY_EVENING))
    assert plan.status == STATUS_PAIRED and plan.police_call is None
    assert plan.response is not None and plan.response.rule == "mei-test-avond"
    assert [a.rule for a in plan.alternatives] == ["mei-vt-telefonisch"]


def test_a_rule_first_in_line_without_anyone_on_call_gives_way_to_the_police_call(
    example_config: ConfigSet,
) -> None:
    # The same on-scene rule, but its team has nobody on call at 20:30 (its roster only
    # runs in the morning): the police call the line, and the plan says why.
    empty = example_config.model_copy(
        update={
            "rotations": tuple(r for r in example_config.rotations if r.id != "mei-interventie")
        }
    )
    on_scene = rule(empty, "mei-vt-interventie").model_copy(
        update={"id": "mei-test-avond", "priority": 5, "hours": "after_hours"}
    )
    plan = pair(meierij(), with_rules(empty, on_scene), instant(TUESDAY_EVENING))
    assert plan.status == STATUS_POLICE_CALL
    assert plan.police_call is not None and plan.police_call.rule == "mei-vt-telefonisch"
    assert "rule_no_candidates" in [r.code for r in plan.reasons]


def test_police_call_shapes_refused_with_the_field_named() -> None:
    base = {"id": "r", "team": "t", "area": {"basisteams": ["b"]}}
    implied = CoverageRule.model_validate({**base, "police_call": {}})
    assert implied.mode == Mode.PHONE  # a call is by phone; left out, it is implied
    for extra, words in (
        ({"mode": "on_scene"}, "mode: phone"),
        ({"role": "partner"}, "only a respond rule"),
        ({"consult": {"team": "gw"}}, "cannot require a consult"),
        ({"police_call": {"number": "12"}}, "not a valid phone number"),
    ):
        with pytest.raises(ValidationError) as raised:
            CoverageRule.model_validate({**base, "police_call": {}, **extra})
        assert words in str(raised.value)


def test_police_call_without_any_number_is_refused_by_the_set_check(
    example_config: ConfigSet,
) -> None:
    team = next(t for t in example_config.teams if t.id == "vt-nob")
    teams = tuple(
        t.model_copy(update={"phone": None}) if t.id == team.id else t for t in example_config.teams
    )
    config = example_config.model_copy(update={"teams": teams})
    issues = validate_references(config)
    assert [i.path for i in issues] == [
        f"rules[{config.rules.index(rule(config, 'mei-vt-telefonisch'))}].police_call"
    ]
    assert "police_call.number" in issues[0].message
    assert validate_references(example_config) == []


# --- the pure engine: the team's mandate ------------------------------------------------


def test_plan_carries_the_chosen_teams_mandate(example_snapshot: ConfigSnapshot) -> None:
    plan = pair(meierij(), example_snapshot, instant(TUESDAY_MORNING)).to_dict()
    assert plan["response"]["team"] == "vt-nob-interventie"
    assert plan["mandate"] == {
        "may": ["safety_assessment", "vt_files", "huisverbod_advice"],
        "note": "Het interventieteam is Veilig Thuis zelf en heeft de dossiers bij de hand.",
    }
    # IJmond's crisisdienst: a first assessment and VT's files, no huisverbod advice.
    ijmond = meierij(basisteam="ijmond")
    kennemerland = pair(ijmond, example_snapshot, instant("2026-03-10T21:00")).to_dict()
    assert kennemerland["response"]["team"] == "crisisdienst-vtk"
    assert kennemerland["mandate"]["may"] == ["safety_assessment", "vt_files"]


def test_a_team_without_a_mandate_gives_none(example_snapshot: ConfigSnapshot) -> None:
    gv = meierij(basisteam="gooi-en-vechtstreek-noord")
    plan = pair(gv, example_snapshot, instant(TUESDAY_MORNING)).to_dict()
    assert plan["response"]["team"] == "vt-gv"
    assert plan["mandate"] is None
    assert (
        pair(
            meierij(basisteam=None, municipality=None), example_snapshot, instant(TUESDAY_MORNING)
        ).mandate
        is None
    )  # no response at all


# --- the pure engine: times the clock change skips or repeats ----------------------------

DST_CASES = [
    # given, UTC instant read (as always), why (None: nothing to explain)
    ("2026-03-29T02:30", "2026-03-29T01:30:00+00:00", "nonexistent"),
    ("2026-03-29T02:00", "2026-03-29T01:00:00+00:00", "nonexistent"),
    ("2026-03-29T01:59", "2026-03-29T00:59:00+00:00", None),
    ("2026-03-29T03:00", "2026-03-29T01:00:00+00:00", None),
    ("2026-03-29T02:30+01:00", "2026-03-29T01:30:00+00:00", None),
    ("2026-10-25T02:30", "2026-10-25T00:30:00+00:00", "ambiguous"),
    ("2026-10-25T02:00", "2026-10-25T00:00:00+00:00", "ambiguous"),
    ("2026-10-25T02:30+02:00", "2026-10-25T00:30:00+00:00", None),
    ("2026-10-25T02:30+01:00", "2026-10-25T01:30:00+00:00", None),
    ("2026-10-25T03:00", "2026-10-25T02:00:00+00:00", None),
]


@pytest.mark.parametrize("given,utc,why", DST_CASES)
def test_local_times_around_the_clock_change_are_read_as_before_and_explained(
    example_snapshot: ConfigSnapshot, given: str, utc: str, why: str | None
) -> None:
    read = instant(given)
    assert read.isoformat() == utc  # the reading itself has not changed
    time_read = read_local_time(given)
    facts = meierij()
    plain = pair(facts, example_snapshot, read).to_dict()
    told = pair(facts, example_snapshot, read, time_read=time_read).to_dict()
    if why is None:
        assert time_read is None and told == plain and told["time_read"] is None
        return
    assert time_read is not None
    assert told["time_read"] == {
        "given": given,
        "read_as": read.astimezone(parse_local_datetime(given).tzinfo).isoformat(),
        "why": why,
        "text": time_read.text,
    }
    assert datetime.fromisoformat(told["time_read"]["read_as"]) == read
    # Same pairing as without the note: only the note and its reason differ.
    assert told["reasons"][0] == {"code": f"time_{why}", "text": time_read.text}
    assert {**told, "time_read": None, "reasons": told["reasons"][1:]} == plain


def test_the_explanations_name_the_hour_and_how_it_was_read() -> None:
    skipped = read_local_time("2026-03-29T02:30")
    assert skipped is not None and skipped.read_as == "2026-03-29T03:30:00+02:00"
    assert "02:30 bestond niet op 29-03-2026" in skipped.text and "03:30" in skipped.text
    repeated = read_local_time("2026-10-25T02:15:30")
    assert repeated is not None and repeated.read_as == "2026-10-25T02:15:30+02:00"
    assert "02:15:30 kwam op 25-10-2026 twee keer voor" in repeated.text
    assert "eerste keer" in repeated.text
    assert read_local_time(datetime(2026, 10, 25, 2, 30)) is not None  # a naive datetime
    assert read_local_time("not a time") is None


def test_intake_keeps_how_it_read_the_time_without_changing_the_request() -> None:
    body = {
        "source": "meldkamer-test",
        "external_id": "DST-1",
        "case_type": "HG",
        "police_unit": "T-1",
        "police_callback": "06 12345678",
    }
    naive = IncidentCreate.model_validate({**body, "reported_at": "2026-10-25T02:30"})
    offset = IncidentCreate.model_validate({**body, "reported_at": "2026-10-25T02:30+02:00"})
    assert naive.time_read is not None and naive.time_read.why == "ambiguous"
    assert offset.time_read is None
    # The same instant: the same request (a retry with the offset is no conflict).
    assert naive.model_dump_json() == offset.model_dump_json()


# --- through intake, paging and the API --------------------------------------------------


def counts(session: Session, dispatch_id: str) -> tuple[int, int, int]:
    def count(model: Any) -> int:
        return int(
            session.scalar(
                select(func.count()).select_from(model).where(model.dispatch_id == dispatch_id)
            )
            or 0
        )

    return count(Assignment), count(Page), count(Alarm)


def test_intake_under_a_police_call_rule_pages_nobody_and_raises_no_alarm(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, TUESDAY_EVENING)
    d = post(client, basisteam="meierij", reported_at=TUESDAY_EVENING)
    assert (d["status"], d["paging_state"], d["team"]) == ("police_call", "police_call", "vt-nob")
    assert d["assignments"] == []
    assert d["police_call"] == d["plan"]["police_call"]
    assert d["police_call"]["number"] == VT_LINE
    # Minutes pass, the loop sweeps: still nobody paged, no alarm of any kind.
    for _ in range(4):
        clock.advance(timedelta(minutes=3))
        run(client)
    assert counts(session, d["id"]) == (0, 0, 0)
    types = list(
        session.scalars(select(Event.type).where(Event.dispatch_id == d["id"]).order_by(Event.id))
    )
    assert "dispatch.police_call" in types
    assert not [t for t in types if t in ("dispatch.no_responder", "paging.started")]
    assert not [t for t in types if t.startswith(("alarm.", "attempt.", "page."))]
    stored = session.get(Dispatch, d["id"])
    assert stored is not None and stored.paging_state == "police_call"
    assert stored.accept_alarm_at is None
    summary = live.summaries(session, [d["id"]], clock.now())[d["id"]]
    assert summary["alarms"] == []
    assert summary["paging_state"] == "police_call"
    assert summary["police_call"]["number"] == VT_LINE
    # The API shows the number, on reading it back and in the list.
    again = client.get(f"/api/v1/incidents/{d['id']}").json()
    assert again["police_call"]["number"] == VT_LINE
    listed = client.get("/api/v1/incidents", params={"status": "police_call"}).json()
    assert [x["id"] for x in listed] == [d["id"]]
    # "No responder" does not describe it: nobody was asked.
    r = client.post(
        f"/api/v1/incidents/{d['id']}/actions",
        json={"action": "close", "outcome": "no_responder"},
    )
    assert r.status_code == 409, r.text
    assert "police call the line" in r.text
    # The control room records the phone consult the police had, and closes.
    r = client.post(
        f"/api/v1/incidents/{d['id']}/actions", json={"action": "consult", "kind": "phone"}
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/incidents/{d['id']}/actions",
        json={"action": "close", "outcome": "phone_consult"},
    )
    assert r.status_code == 200, r.text


def test_intake_in_office_hours_pages_as_before(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, TUESDAY_MORNING)
    d = post(client, basisteam="meierij", reported_at=TUESDAY_MORNING)
    assert (d["status"], d["paging_state"]) == ("paired", "respond")
    assert d["police_call"] is None
    assert d["plan"]["mandate"]["may"] == ["safety_assessment", "vt_files", "huisverbod_advice"]
    run(client)
    assignments, pages, _ = counts(session, d["id"])
    assert assignments >= 1 and pages >= 1


@pytest.mark.parametrize(
    "given,why",
    [
        ("2026-03-29T02:30", "nonexistent"),
        ("2026-10-25T02:30", "ambiguous"),
        ("2026-10-25T02:30+01:00", None),
    ],
)
def test_the_api_plan_says_how_the_time_was_read(
    client: TestClient, clock: ManualClock, given: str, why: str | None
) -> None:
    clock.set(instant(given) + timedelta(minutes=1))
    d = post(client, basisteam="gooi-en-vechtstreek-noord", reported_at=given)
    assert d["reported_at"].replace("Z", "+00:00") == instant(given).isoformat()
    time_read = d["plan"]["time_read"]
    if why is None:
        assert time_read is None
        return
    assert (time_read["given"], time_read["why"]) == (given, why)
    assert datetime.fromisoformat(time_read["read_as"]) == instant(given)
    stored = client.get(f"/api/v1/incidents/{d['id']}").json()
    assert stored["plan"]["time_read"] == time_read

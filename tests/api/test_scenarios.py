"""Acceptance scenarios over HTTP against the shipped configuration in regions/.

Each test posts an incident as the police feed would (``POST /api/v1/incidents``),
reads it back (``GET /api/v1/incidents/{id}``) or asks who is on call
(``GET /api/v1/oncall``), and checks the plan against values worked out by hand
from regions/*.yaml, never by calling the engine:

* rotation slot = number of complete handoff periods since ``start`` (on the
  Amsterdam wall clock), modulo the number of participants;
* windows: start inclusive, end exclusive; Dutch public holidays close windows
  and office hours unless a rule says ``holidays: open``;
* ``reported_at`` without an offset is Amsterdam time.

Every shipped rotation starts in the week of Monday 2026-01-05, so dates are
written below as "day N" = days since 2026-01-05 (weekly rotations: week N // 7):

    Tue 2026-03-10 = day 64 (week 9)      Sat 2026-03-14 = day 68
    Sun 2026-03-29 = day 83 (DST starts)  Mon 2026-04-06 = day 91 (Tweede paasdag)
    Mon 2026-04-27 = day 112 (Koningsdag) Sat 2026-10-24 = day 292
    Sun 2026-10-25 = day 293 (DST ends)   Fri 2026-12-25 = day 354 (Eerste kerstdag)

A 12-hour rotation starting day 0 08:00 is in slot 2 * day (08:00-20:00) or
2 * day + 1 (20:00-08:00).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.models import Assignment, Dispatch, Event, Incident

INCIDENTS = "/api/v1/incidents"
NATIONAL_LINE = "0800-2000"
VT_LINE = "+318002000"  # 0800-2000 as stored for a regional VT team
CIT_HVB_LINE = "+318008013"  # 0800-8013
CIT_DH_LINE = "+31612340790"


# --- helpers ------------------------------------------------------------------


def incident(**over: Any) -> dict[str, Any]:
    """A valid POST body; an adult victim of domestic violence unless told otherwise."""
    data: dict[str, Any] = {
        "source": "meldkamer-acceptatie",
        "external_id": f"ACC-{uuid.uuid4().hex[:12]}",
        "reported_at": "2026-03-10T14:00",
        "case_type": "HG",
        "persons": [{"role": "victim", "age": 34}, {"role": "suspect", "age": 36}],
        "flags": [],
        "police_unit": "ACC-01",
        "police_callback": "06 12345678",
    }
    data.update(over)
    return data


def post(client: TestClient, **over: Any) -> dict[str, Any]:
    """Post an incident, expect a new dispatch, check it is explained and stored as sent."""
    r = client.post(INCIDENTS, json=incident(**over))
    assert r.status_code == 201, r.text
    data = r.json()
    assert_explained(data["plan"])
    stored = client.get(f"{INCIDENTS}/{data['id']}")
    assert stored.status_code == 200, stored.text
    assert stored.json()["plan"] == data["plan"]
    assert stored.json()["status"] == data["status"]
    return data


def on_call(client: TestClient, team: str, at: str) -> dict[str, Any]:
    r = client.get("/api/v1/oncall", params={"team": team, "at": at})
    assert r.status_code == 200, r.text
    [entry] = r.json()
    for person in entry["on_call"]:
        assert_reasons(person["reasons"], f"on call {person['person']}")
    return entry


def assert_reasons(reasons: list[dict[str, Any]], what: str) -> None:
    assert reasons, f"{what}: no reasons"
    for r in reasons:
        assert r["code"], f"{what}: reason without a code: {r}"
        text = r["text"]
        assert isinstance(text, str) and text.strip() and text != r["code"], (what, r)


def assert_explained(plan: dict[str, Any]) -> None:
    """Every rule evaluated, every person offered or passed over, and the expectation
    carry a Dutch text; a plan without a response says why."""
    for ev in plan["rules"]:
        assert_reasons(ev["reasons"], f"rule {ev['rule']}")
    responses = [plan["response"], *plan["alternatives"]] if plan["response"] else []
    for resp in responses:
        assert_reasons(resp["reasons"], f"response {resp['rule']}")
        for c in resp["candidates"]:
            assert_reasons(c["reasons"], f"candidate {c['person']}")
        for s in resp["skipped"]:
            assert_reasons(s["reasons"], f"skipped {s['person']}")
        if resp["consult"]:
            assert_reasons(resp["consult"]["reasons"], f"consult {resp['consult']['team']}")
            for c in resp["consult"]["candidates"]:
                assert_reasons(c["reasons"], f"consult candidate {c['person']}")
    for partner in plan["partners"]:
        assert_reasons(partner["reasons"], f"partner {partner['rule']}")
        for c in partner["on_call"]:
            assert_reasons(c["reasons"], f"partner on call {c['person']}")
    assert plan["expectation"]["text"].strip()
    if plan["response"] is None:
        assert_reasons(plan["reasons"], "plan without response")


def who(candidates: list[dict[str, Any]]) -> list[str]:
    return [c["person"] for c in candidates]


def layers(candidates: list[dict[str, Any]]) -> list[str]:
    return [c["layer"] for c in candidates]


def codes(reasons: list[dict[str, Any]]) -> list[str]:
    return [r["code"] for r in reasons]


def evaluation(plan: dict[str, Any], rule: str) -> dict[str, Any]:
    [found] = [ev for ev in plan["rules"] if ev["rule"] == rule]
    return found


def why_not(plan: dict[str, Any], rule: str) -> str:
    """The code of the check that stopped ``rule`` (its last reason)."""
    ev = evaluation(plan, rule)
    assert not ev["matched"], f"{rule} matched"
    return str(ev["reasons"][-1]["code"])


def partners(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {p["team"]: who(p["on_call"]) for p in plan["partners"]}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- Gooi en Vechtstreek --------------------------------------------------------
# Office hours (vt-gv) weekdays 08:30-17:00. Kantoor rotation daily 08:30 over
# [anouk, bram, carla]: Tue 03-10 from 08:30 is slot 64 -> bram, before 08:30 slot 63.
# Piket weekly Mon 17:00 [daan, eva, carla] + backup jasper: Mon 03-09 17:00 starts
# week 9 -> daan. Gedragswetenschapper weekly Mon 09:00 [femke, gijs]: week 9 -> gijs.

GV_NOORD = "gooi-en-vechtstreek-noord"


def test_gv_weekday_1659_office_rule_on_scene_without_consult(client: TestClient) -> None:
    data = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    assert (data["status"], data["region"]) == ("paired", "gooi-en-vechtstreek")
    assert (data["team"], data["mode"], data["staff_needed"]) == ("vt-gv", "on_scene", 1)
    plan = data["plan"]
    response = plan["response"]
    assert response["rule"] == "gv-vt-kantoor"
    assert who(response["candidates"]) == ["gv-bram-visser"]
    assert response["consult"] is None
    assert plan["alternatives"] == []
    assert "office_hours" in codes(evaluation(plan, "gv-vt-kantoor")["reasons"])
    assert why_not(plan, "gv-vt-piket") == "not_after_hours"
    # on call, then the team's coordinator, then the team's own line
    assert [a["layer"] for a in data["assignments"]] == ["primary", "coordinator", "team_line"]
    assert data["assignments"][0]["phone"] == "+31612340102"
    assert plan["expectation"]["mode"] == "phone"
    assert plan["expectation"]["phone"] == VT_LINE


def test_gv_weekday_1700_piket_with_gedragswetenschapper_consult(client: TestClient) -> None:
    data = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T17:00")
    assert (data["status"], data["team"], data["mode"]) == ("paired", "vt-gv-piket", "on_scene")
    plan = data["plan"]
    response = plan["response"]
    assert response["rule"] == "gv-vt-piket"
    assert who(response["candidates"]) == ["gv-daan-bos", "gv-jasper-brouwer"]
    assert layers(response["candidates"]) == ["primary", "backup"]
    consult = response["consult"]
    assert consult["team"] == "gw-gv-piket"
    assert [(c["person"], c["name"]) for c in consult["candidates"]] == [
        ("gv-gijs-van-leeuwen", "Gijs van Leeuwen")
    ]
    assert "consult_required" in codes(consult["reasons"])
    assert why_not(plan, "gv-vt-kantoor") == "outside_office_hours"
    # The consult is asked first, then the piket worker, then the backup, then the line.
    assert [(a["purpose"], a["person"]) for a in data["assignments"]] == [
        ("consult", "gv-gijs-van-leeuwen"),
        ("respond", "gv-daan-bos"),
        ("respond", "gv-jasper-brouwer"),
        ("team_line", None),
    ]
    assert data["assignments"][0]["phone"] == "+31612340108"


@pytest.mark.parametrize(
    "at,rule,responders,consulted",
    [
        (
            "2026-03-10T08:29",
            "gv-vt-piket",
            ["gv-daan-bos", "gv-jasper-brouwer"],
            ["gv-gijs-van-leeuwen"],
        ),
        ("2026-03-10T08:30", "gv-vt-kantoor", ["gv-bram-visser"], None),
    ],
)
def test_gv_office_opens_at_0830(
    client: TestClient, at: str, rule: str, responders: list[str], consulted: list[str] | None
) -> None:
    plan = post(client, basisteam="gooi-en-vechtstreek-zuid", reported_at=at)["plan"]
    assert plan["response"]["rule"] == rule
    assert who(plan["response"]["candidates"]) == responders
    consult = plan["response"]["consult"]
    assert (who(consult["candidates"]) if consult else None) == consulted


def test_gv_koningsdag_1100_is_after_hours_piket(client: TestClient) -> None:
    # Mon 2026-04-27 (CEST): piket week 15 until 17:00 -> daan; gedragswetenschapper
    # week 16 from 09:00 -> femke.
    data = post(client, basisteam=GV_NOORD, reported_at="2026-04-27T11:00:00+02:00")
    plan = data["plan"]
    assert plan["response"]["rule"] == "gv-vt-piket"
    assert who(plan["response"]["candidates"]) == ["gv-daan-bos", "gv-jasper-brouwer"]
    assert who(plan["response"]["consult"]["candidates"]) == ["gv-femke-dekker"]
    assert why_not(plan, "gv-vt-kantoor") == "holiday_closed"
    assert "Koningsdag" in evaluation(plan, "gv-vt-kantoor")["reasons"][-1]["text"]
    assert "holiday_closed" in codes(evaluation(plan, "gv-vt-piket")["reasons"])


# Partners: vertrouwensarts weekly Wed 09:00 from 01-07 [hanna, ivo] (Wed 03-04 starts
# slot 8 -> hanna; Wed 04-22 slot 15 -> ivo); OM weekly Mon 08:00 [pieter, sanne]
# (week 9 -> sanne, week 16 -> pieter) and 3RO daily 08:00 [rob, ingrid] (day 64 and
# day 112 -> rob) daily 08:00-22:00; RvdK KM only, after its (default) office hours
# Mon-Fri 09:00-17:00, weekly Mon 17:00 [thomas, wendy] (week 9, week 15 -> wendy).
VA, OM, RECLASSERING, RVDK = "va-gv-piket", "om-zsm", "reclassering-3ro-zsm", "rvdk-spoed"


@pytest.mark.parametrize(
    "at,case_type,expected",
    [
        (
            "2026-03-10T16:59",
            "HG",
            {VA: ["gv-hanna-kok"], OM: ["om-sanne-veenstra"], RECLASSERING: ["3ro-rob-de-jong"]},
        ),
        (
            "2026-03-10T16:59",
            "KM",
            {VA: ["gv-hanna-kok"], OM: ["om-sanne-veenstra"], RECLASSERING: ["3ro-rob-de-jong"]},
        ),
        (
            "2026-03-10T17:00",
            "KM",
            {
                VA: ["gv-hanna-kok"],
                OM: ["om-sanne-veenstra"],
                RECLASSERING: ["3ro-rob-de-jong"],
                RVDK: ["rvdk-wendy-kuipers"],
            },
        ),
        (
            "2026-03-10T21:59",
            "HG",
            {VA: ["gv-hanna-kok"], OM: ["om-sanne-veenstra"], RECLASSERING: ["3ro-rob-de-jong"]},
        ),
        ("2026-03-10T22:00", "HG", {VA: ["gv-hanna-kok"]}),
        ("2026-03-10T22:00", "KM", {VA: ["gv-hanna-kok"], RVDK: ["rvdk-wendy-kuipers"]}),
        (
            "2026-04-27T11:00",
            "KM",
            {
                VA: ["gv-ivo-peters"],
                OM: ["om-pieter-de-boer"],
                RECLASSERING: ["3ro-rob-de-jong"],
                RVDK: ["rvdk-wendy-kuipers"],
            },
        ),
    ],
)
def test_gv_partners_reachable_now(
    client: TestClient, at: str, case_type: str, expected: dict[str, list[str]]
) -> None:
    plan = post(client, basisteam=GV_NOORD, reported_at=at, case_type=case_type)["plan"]
    assert partners(plan) == expected
    # Partners are never the ones sent out.
    assert plan["response"]["team"] in {"vt-gv", "vt-gv-piket"}


def test_gv_partner_reasons_say_why_absent(client: TestClient) -> None:
    plan = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T22:00", case_type="HG")["plan"]
    assert why_not(plan, "partner-om-zsm") == "outside_windows"
    assert why_not(plan, "partner-3ro-zsm") == "outside_windows"
    assert why_not(plan, "partner-rvdk-spoed") == "case_type_excluded"


# --- Hart van Brabant -----------------------------------------------------------
# VT kantoor daily 09:00 [lotte, mohamed, noor]: day 64 -> mohamed. CIT 12-hour
# [olaf, petra, quinten, noor]; achterwacht weekly Mon 08:00 [rianne, sem].


def test_hvb_office_hours_veilig_thuis_comes(client: TestClient) -> None:
    data = post(client, basisteam="tilburg", reported_at="2026-03-10T10:00")
    assert (data["region"], data["team"], data["mode"]) == ("hart-van-brabant", "vt-mb", "on_scene")
    plan = data["plan"]
    assert plan["response"]["rule"] == "hvb-vt-kantoor"
    assert who(plan["response"]["candidates"]) == ["hvb-mohamed-el-amrani"]
    assert why_not(plan, "hvb-cit-buiten-kantoortijd") == "not_after_hours"


@pytest.mark.parametrize("age", [0, 17, 23, 24, 67, 99])
def test_hvb_after_hours_cit_takes_over_for_any_age(client: TestClient, age: int) -> None:
    # Tue 03-10 23:00: CIT slot 2*64+1 = 129 -> petra; achterwacht week 9 -> sem.
    data = post(
        client,
        basisteam="de-langstraat",
        reported_at="2026-03-10T23:00",
        persons=[{"role": "victim", "age": age}],
    )
    assert (data["status"], data["team"], data["mode"]) == ("paired", "cit-hvb", "on_scene")
    plan = data["plan"]
    response = plan["response"]
    assert response["rule"] == "hvb-cit-buiten-kantoortijd"
    assert who(response["candidates"]) == ["hvb-petra-willems", "hvb-sem-van-gils"]
    assert layers(response["candidates"]) == ["primary", "backup"]
    # The CIT's own 0800-8013 line is in the plan and is what the police can expect.
    assert response["team_line"] == CIT_HVB_LINE
    assert "team_line" in codes(response["reasons"])
    assert plan["expectation"]["phone"] == CIT_HVB_LINE
    assert "08008013" in digits(plan["expectation"]["text"])
    last = data["assignments"][-1]
    assert (last["purpose"], last["phone"]) == ("team_line", CIT_HVB_LINE)
    assert why_not(plan, "hvb-vt-kantoor") == "outside_office_hours"


# --- Meierij ----------------------------------------------------------------------
# Office hours weekdays 09:00-17:00. Interventie daily 09:00 [tessa, umar, vera]: day
# 64 -> umar. VT telefonisch 12-hour [wim, yara, vera] + backup zeger.


def test_meierij_office_hours_intervention_team_on_scene(client: TestClient) -> None:
    data = post(client, basisteam="meierij", reported_at="2026-03-10T09:00")
    assert (data["region"], data["team"], data["mode"]) == (
        "meierij",
        "vt-nob-interventie",
        "on_scene",
    )
    plan = data["plan"]
    assert who(plan["response"]["candidates"]) == ["mei-umar-bakker"]
    assert why_not(plan, "mei-vt-telefonisch") == "not_after_hours"


@pytest.mark.parametrize(
    "at,person",
    [
        ("2026-03-10T08:59", "mei-vera-schouten"),  # slot 2*64 = 128 -> vera
        ("2026-03-10T20:30", "mei-wim-verhoeven"),  # slot 129 -> wim
        ("2026-03-14T11:00", "mei-yara-van-hout"),  # Saturday, slot 136 -> yara
    ],
)
def test_meierij_after_hours_phone_only(client: TestClient, at: str, person: str) -> None:
    # After office hours the police phone VT's 24/7 line themselves (police_call):
    # whoever staffs the line (``person``) is not paged, nobody is.
    data = post(client, basisteam="meierij", reported_at=at)
    assert (data["status"], data["team"], data["mode"]) == ("police_call", "vt-nob", "phone")
    assert data["assignments"] == [] and data["paging_state"] == "police_call"
    plan = data["plan"]
    assert plan["response"]["rule"] == "mei-vt-telefonisch"
    assert plan["response"]["mode"] == "phone"
    assert plan["response"]["candidates"] == []
    assert plan["police_call"]["number"] == data["police_call"]["number"] == VT_LINE
    assert "mei-vt-interventie" not in [a["rule"] for a in plan["alternatives"]]
    assert why_not(plan, "mei-vt-interventie") == "outside_office_hours"
    expectation = plan["expectation"]
    assert (expectation["mode"], expectation["team"], expectation["phone"]) == (
        "phone",
        "vt-nob",
        VT_LINE,
    )
    assert "Politie belt zelf" in expectation["text"]


# --- Noord en Midden Limburg -----------------------------------------------------
# Bureau Mon-Fri 09:00-22:00 (holidays closed), weekly Mon 09:00 [anne, bas, chantal]:
# week 9 -> anne. Telefonisch always, daily 08:00 [dirk, esther, chantal] + backup frank.


@pytest.mark.parametrize(
    "at,rule,mode,people",
    [
        (
            "2026-03-10T08:59",
            "nml-vt-telefonisch",
            "phone",
            ["nml-esther-van-de-ven", "nml-frank-stevens"],
        ),
        ("2026-03-10T09:00", "nml-vt-ter-plaatse", "on_scene", ["nml-anne-janssen"]),
        ("2026-03-10T21:59", "nml-vt-ter-plaatse", "on_scene", ["nml-anne-janssen"]),
        (
            "2026-03-10T22:00",
            "nml-vt-telefonisch",
            "phone",
            ["nml-esther-van-de-ven", "nml-frank-stevens"],
        ),
        # Saturday: day 68 -> chantal.
        (
            "2026-03-14T11:00",
            "nml-vt-telefonisch",
            "phone",
            ["nml-chantal-hermans", "nml-frank-stevens"],
        ),
        # Tweede paasdag (Mon): day 91 -> esther.
        (
            "2026-04-06T11:00",
            "nml-vt-telefonisch",
            "phone",
            ["nml-esther-van-de-ven", "nml-frank-stevens"],
        ),
    ],
)
@pytest.mark.parametrize("basisteam", ["venlo-beesel", "weert"])
def test_nml_weekday_window_else_phone(
    client: TestClient, basisteam: str, at: str, rule: str, mode: str, people: list[str]
) -> None:
    data = post(client, basisteam=basisteam, reported_at=at)
    assert (data["status"], data["region"], data["mode"]) == (
        "paired",
        "noord-en-midden-limburg",
        mode,
    )
    plan = data["plan"]
    assert plan["response"]["rule"] == rule
    assert who(plan["response"]["candidates"]) == people
    # The police always hear they can phone VT.
    assert (plan["expectation"]["mode"], plan["expectation"]["phone"]) == ("phone", VT_LINE)


def test_nml_saturday_and_easter_monday_say_why(client: TestClient) -> None:
    saturday = post(client, basisteam="weert", reported_at="2026-03-14T11:00")["plan"]
    assert why_not(saturday, "nml-vt-ter-plaatse") == "outside_windows"
    easter = post(client, basisteam="weert", reported_at="2026-04-06T11:00:00+02:00")["plan"]
    assert why_not(easter, "nml-vt-ter-plaatse") == "holiday_closed"
    assert "paasdag" in evaluation(easter, "nml-vt-ter-plaatse")["reasons"][-1]["text"].lower()


def test_nml_on_scene_lists_phone_rule_as_alternative(client: TestClient) -> None:
    plan = post(client, basisteam="venlo-beesel", reported_at="2026-03-10T12:00")["plan"]
    assert [a["rule"] for a in plan["alternatives"]] == ["nml-vt-telefonisch"]
    assert "rule_lower_priority" in codes(plan["reasons"])
    assert plan["expectation"]["team"] == "vt-nml"


# --- Zuid Limburg -----------------------------------------------------------------
# Samen-op working days 13:00-22:00 (holidays closed), staff 2: two daily-13:00
# rotations [gerard, hilde, ilse] and [joep, karin, luc]: day 64 -> hilde + karin.
# Spoed weekly Mon 09:00 [marloes, nick, karin]: week 9 -> marloes, week 50 -> karin.

ZL_PAIR = ["zl-hilde-op-de-kamp", "zl-karin-dassen"]


@pytest.mark.parametrize(
    "at,rule,mode,staff,people",
    [
        ("2026-03-10T12:59", "zl-vt-spoed", "phone", 1, ["zl-marloes-ramakers"]),
        ("2026-03-10T13:00", "zl-vt-samen-op", "on_scene", 2, ZL_PAIR),
        ("2026-03-10T21:59", "zl-vt-samen-op", "on_scene", 2, ZL_PAIR),
        ("2026-03-10T22:00", "zl-vt-spoed", "phone", 1, ["zl-marloes-ramakers"]),
        ("2026-03-14T13:00", "zl-vt-spoed", "phone", 1, ["zl-marloes-ramakers"]),
        ("2026-12-25T14:00", "zl-vt-spoed", "phone", 1, ["zl-karin-dassen"]),
    ],
)
def test_zl_working_days_1300_2200_two_workers(
    client: TestClient, at: str, rule: str, mode: str, staff: int, people: list[str]
) -> None:
    data = post(client, basisteam="westelijke-mijnstreek", reported_at=at)
    assert (data["region"], data["mode"], data["staff_needed"]) == ("zuid-limburg", mode, staff)
    plan = data["plan"]
    assert plan["response"]["rule"] == rule
    assert plan["response"]["staff"] == staff
    assert who(plan["response"]["candidates"]) == people
    assert plan["expectation"]["mode"] == "phone"


def test_zl_two_candidates_both_asked(client: TestClient) -> None:
    data = post(client, basisteam="westelijke-mijnstreek", reported_at="2026-03-10T13:00")
    assert [(a["purpose"], a["person"]) for a in data["assignments"]] == [
        ("respond", "zl-hilde-op-de-kamp"),
        ("respond", "zl-karin-dassen"),
    ]  # vt-zl-samen-op has no 24/7 line of its own
    assert "team_no_line" in codes(data["plan"]["response"]["reasons"])


def test_zl_christmas_is_phone_with_holiday_reason(client: TestClient) -> None:
    plan = post(client, basisteam="westelijke-mijnstreek", reported_at="2026-12-25T14:00")["plan"]
    assert why_not(plan, "zl-vt-samen-op") == "holiday_closed"
    assert "kerstdag" in evaluation(plan, "zl-vt-samen-op")["reasons"][-1]["text"].lower()


@pytest.mark.parametrize(
    "municipality", ["Sittard-Geleen", "sittard-geleen", "GM1883", "GM0971", "Beek"]
)
def test_zl_municipality_without_basisteam(client: TestClient, municipality: str) -> None:
    data = post(client, basisteam=None, municipality=municipality, reported_at="2026-03-10T13:00")
    assert (data["status"], data["region"], data["staff_needed"]) == ("paired", "zuid-limburg", 2)
    plan = data["plan"]
    assert plan["response"]["rule"] == "zl-vt-samen-op"
    assert who(plan["response"]["candidates"]) == ZL_PAIR
    assert "area_basisteam_of_municipality" in codes(evaluation(plan, "zl-vt-samen-op")["reasons"])


# --- Kennemerland (IJmond) --------------------------------------------------------
# Crisisdienst 0-23 (victim/child), waived when a huisverbod is considered; 12-hour
# [ayla, bart, cor, dewi]: Tue 03-10 14:00 slot 128 -> ayla; achterwacht weekly Mon
# 08:00 [erik, fleur]: week 9 -> fleur. VT telefonisch daily 08:00 [guus, hatice]: day 64 -> guus.

CRISIS = ["ken-ayla-demir", "ken-fleur-van-wijk"]


@pytest.mark.parametrize(
    "persons,flags,age_code",
    [
        ([{"role": "victim", "age": 23}], [], "age_ok"),
        ([{"role": "victim", "age": 0}], [], "age_ok"),
        (
            [{"role": "victim", "age": 40}, {"role": "child", "age": 5}],
            ["children_present"],
            "age_ok",
        ),
        ([{"role": "victim", "age": 34}], ["huisverbod_considered"], "exception_waive_age"),
        ([{"role": "victim"}], [], "age_unknown"),
    ],
)
def test_ijmond_crisisdienst_goes(
    client: TestClient, persons: list[dict[str, Any]], flags: list[str], age_code: str
) -> None:
    data = post(
        client, basisteam="ijmond", reported_at="2026-03-10T14:00", persons=persons, flags=flags
    )
    assert (data["status"], data["region"], data["team"], data["mode"]) == (
        "paired",
        "kennemerland",
        "crisisdienst-vtk",
        "on_scene",
    )
    plan = data["plan"]
    assert plan["response"]["rule"] == "ijmond-crisisdienst"
    assert who(plan["response"]["candidates"]) == CRISIS
    assert codes(evaluation(plan, "ijmond-crisisdienst")["reasons"])[-1] == age_code
    assert plan["expectation"]["team"] == "vt-kennemerland"


def test_ijmond_child_reason_names_the_child(client: TestClient) -> None:
    persons = [{"role": "victim", "age": 40}, {"role": "child", "age": 5}]
    plan = post(client, basisteam="ijmond", reported_at="2026-03-10T14:00", persons=persons)["plan"]
    text = evaluation(plan, "ijmond-crisisdienst")["reasons"][-1]["text"]
    assert "5" in text and "kind" in text


@pytest.mark.parametrize(
    "persons",
    [
        [{"role": "victim", "age": 24}],
        [{"role": "victim", "age": 24}, {"role": "suspect", "age": 19}],
        [{"role": "victim", "age": 58}, {"role": "witness", "age": 12}],
    ],
)
def test_ijmond_adult_without_huisverbod_gets_phone_consult(
    client: TestClient, persons: list[dict[str, Any]]
) -> None:
    data = post(client, basisteam="ijmond", reported_at="2026-03-10T14:00", persons=persons)
    assert (data["team"], data["mode"]) == ("vt-kennemerland", "phone")
    plan = data["plan"]
    assert plan["response"]["rule"] == "ijmond-vt-telefonisch"
    assert who(plan["response"]["candidates"]) == ["ken-guus-timmer"]
    assert why_not(plan, "ijmond-crisisdienst") == "age_out"


# --- Den Haag ---------------------------------------------------------------------
# Bureau daily 11:00-22:00 (holidays open), staff 2: rotations daily 11:00 [ilias,
# jolien] and [kevin, linda] -> day 64: ilias + kevin. Night 22:00-11:00 weekly Mon
# 22:00 [maarten, nadia]: from Mon 03-09 22:00 week 9 -> nadia. Backup otto always.

DH_BUREAU = ["dh-ilias-bouzid", "dh-kevin-ramdin", "dh-otto-pranger"]
DH_NIGHT = ["dh-nadia-chaouch", "dh-otto-pranger"]


@pytest.mark.parametrize(
    "at,rule,mode,staff,people",
    [
        ("2026-03-10T10:59", "dh-cit-telefonisch", "phone", 1, DH_NIGHT),
        ("2026-03-10T11:00", "dh-cit-bureau", "on_scene", 2, DH_BUREAU),
        ("2026-03-10T21:59", "dh-cit-bureau", "on_scene", 2, DH_BUREAU),
        ("2026-03-10T22:00", "dh-cit-telefonisch", "phone", 1, DH_NIGHT),
    ],
)
@pytest.mark.parametrize("basisteam", ["laak", "beresteinlaan", "Laak", "Beresteinlaan"])
def test_dh_cit_at_the_bureau_11_to_22(
    client: TestClient, basisteam: str, at: str, rule: str, mode: str, staff: int, people: list[str]
) -> None:
    data = post(client, basisteam=basisteam, reported_at=at)
    assert (data["status"], data["region"], data["team"]) == (
        "paired",
        "den-haag",
        "cit-haaglanden",
    )
    assert (data["mode"], data["staff_needed"]) == (mode, staff)
    plan = data["plan"]
    assert plan["response"]["rule"] == rule
    assert who(plan["response"]["candidates"]) == people
    assert layers(plan["response"]["candidates"])[-1] == "backup"
    assert (plan["expectation"]["mode"], plan["expectation"]["phone"]) == ("phone", CIT_DH_LINE)


def test_dh_municipality_only_reaches_the_cit(client: TestClient) -> None:
    data = post(
        client, basisteam=None, municipality="'s-Gravenhage", reported_at="2026-03-10T11:00"
    )
    assert (data["region"], data["staff_needed"]) == ("den-haag", 2)
    assert who(data["plan"]["response"]["candidates"]) == DH_BUREAU


def test_dh_bureau_open_on_christmas(client: TestClient) -> None:
    # Day 354: ilias + kevin.
    plan = post(client, basisteam="laak", reported_at="2026-12-25T12:00")["plan"]
    assert plan["response"]["rule"] == "dh-cit-bureau"
    assert who(plan["response"]["candidates"]) == DH_BUREAU
    assert "holiday_open" in codes(evaluation(plan, "dh-cit-bureau")["reasons"])


def test_dh_before_the_rosters_start_nobody_but_the_line(client: TestClient) -> None:
    """Nieuwjaarsdag 2026: the rules apply but every roster starts on 2026-01-05."""
    data = post(client, basisteam="laak", reported_at="2026-01-01T12:00")
    assert data["status"] == "no_candidates"
    plan = data["plan"]
    assert plan["response"]["rule"] == "dh-cit-bureau"
    assert plan["response"]["candidates"] == []
    assert "roster_gap" in codes(plan["response"]["reasons"])
    assert (plan["expectation"]["mode"], plan["expectation"]["phone"]) == ("phone", CIT_DH_LINE)
    # nobody on the roster: the coordinator, then the team's line
    layers = [(a["layer"], a["phone"]) for a in data["assignments"]]
    assert [layer for layer, _ in layers] == ["coordinator", "team_line"]
    assert layers[-1][1] == CIT_DH_LINE


# --- Daylight saving time ---------------------------------------------------------
# vt-nml daily 08:00 [dirk, esther, chantal]: day 82 / 292 -> esther, day 83 / 293 ->
# chantal. CIT HvB 12-hour: 03-28 20:00 slot 165 -> petra, 03-29 08:00 slot 166 ->
# quinten; 10-24 08:00 slot 584 -> olaf (07:59 slot 583 -> noor), 10-24 20:00 slot
# 585 -> petra, 10-25 08:00 slot 586 -> quinten.


@pytest.mark.parametrize(
    "at,person,since,until",
    [
        # 28-03 08:00 CET until 29-03 08:00 CEST: a 23-hour slot.
        ("2026-03-29T07:59", "nml-esther-van-de-ven", "2026-03-28T07:00Z", "2026-03-29T06:00Z"),
        ("2026-03-29T08:00", "nml-chantal-hermans", "2026-03-29T06:00Z", "2026-03-30T06:00Z"),
        ("2026-03-29T05:59:00Z", "nml-esther-van-de-ven", "2026-03-28T07:00Z", "2026-03-29T06:00Z"),
        ("2026-03-29T06:00:00Z", "nml-chantal-hermans", "2026-03-29T06:00Z", "2026-03-30T06:00Z"),
        # 24-10 08:00 CEST until 25-10 08:00 CET: a 25-hour slot.
        ("2026-10-25T07:59", "nml-esther-van-de-ven", "2026-10-24T06:00Z", "2026-10-25T07:00Z"),
        ("2026-10-25T08:00", "nml-chantal-hermans", "2026-10-25T07:00Z", "2026-10-26T07:00Z"),
        ("2026-10-25T06:59:00Z", "nml-esther-van-de-ven", "2026-10-24T06:00Z", "2026-10-25T07:00Z"),
    ],
)
def test_dst_daily_handoff_stays_at_local_0800(
    client: TestClient, at: str, person: str, since: str, until: str
) -> None:
    team = on_call(client, "vt-nml", at)
    primary = [p for p in team["on_call"] if p["layer"] == "primary"]
    assert [p["person"] for p in primary] == [person]
    assert utc(primary[0]["since"]) == utc(since)
    assert utc(primary[0]["until"]) == utc(until)
    assert [p["person"] for p in team["on_call"] if p["layer"] == "backup"] == ["nml-frank-stevens"]


@pytest.mark.parametrize(
    "reported_at,person",
    [
        ("2026-03-29T07:59:00+02:00", "nml-esther-van-de-ven"),
        ("2026-03-29T08:00:00+02:00", "nml-chantal-hermans"),
        ("2026-10-25T07:59:00+01:00", "nml-esther-van-de-ven"),
        ("2026-10-25T08:00:00+01:00", "nml-chantal-hermans"),
    ],
)
def test_dst_candidate_changes_at_local_handoff(
    client: TestClient, reported_at: str, person: str
) -> None:
    plan = post(client, basisteam="venlo-beesel", reported_at=reported_at)["plan"]
    assert plan["response"]["rule"] == "nml-vt-telefonisch"  # Sunday
    assert who(plan["response"]["candidates"]) == [person, "nml-frank-stevens"]


@pytest.mark.parametrize(
    "reported_at,person",
    [
        ("2026-03-29T07:59:00+02:00", "hvb-petra-willems"),
        ("2026-03-29T08:00:00+02:00", "hvb-quinten-aerts"),
        ("2026-10-24T07:59:00+02:00", "hvb-noor-hendriks"),
        ("2026-10-24T08:00:00+02:00", "hvb-olaf-van-den-berg"),
        ("2026-10-25T07:59:00+01:00", "hvb-petra-willems"),
        ("2026-10-25T08:00:00+01:00", "hvb-quinten-aerts"),
    ],
)
def test_dst_twelve_hour_shifts_keep_0800(
    client: TestClient, reported_at: str, person: str
) -> None:
    # Weekend, so after hours: the CIT. Achterwacht weeks 11 and 41 -> sem.
    plan = post(client, basisteam="tilburg", reported_at=reported_at)["plan"]
    assert plan["response"]["rule"] == "hvb-cit-buiten-kantoortijd"
    assert who(plan["response"]["candidates"]) == [person, "hvb-sem-van-gils"]


@pytest.mark.parametrize(
    "at,since,until",
    [
        ("2026-03-29T03:30:00+02:00", "2026-03-28T19:00Z", "2026-03-29T06:00Z"),  # 11 hours
        ("2026-10-25T02:30:00+01:00", "2026-10-24T18:00Z", "2026-10-25T07:00Z"),  # 13 hours
    ],
)
def test_dst_night_shift_is_shorter_or_longer(
    client: TestClient, at: str, since: str, until: str
) -> None:
    [primary] = [p for p in on_call(client, "cit-hvb", at)["on_call"] if p["layer"] == "primary"]
    assert primary["person"] == "hvb-petra-willems"
    assert (utc(primary["since"]), utc(primary["until"])) == (utc(since), utc(until))


def test_dst_repeated_hour_0230_is_two_instants(client: TestClient) -> None:
    # Both 02:30s fall in crisisdienst slot 585 (24-10 20:00 CEST - 25-10 08:00 CET) -> bart;
    # achterwacht week 41 -> fleur.
    victim = [{"role": "victim", "age": 16}]
    first = post(
        client, basisteam="ijmond", persons=victim, reported_at="2026-10-25T02:30:00+02:00"
    )
    second = post(
        client, basisteam="ijmond", persons=victim, reported_at="2026-10-25T02:30:00+01:00"
    )
    assert first["id"] != second["id"]
    assert utc(first["reported_at"]) == utc("2026-10-25T00:30:00Z")
    assert utc(second["reported_at"]) == utc("2026-10-25T01:30:00Z")
    assert utc(first["plan"]["at"]) == utc("2026-10-25T00:30:00Z")
    assert utc(second["plan"]["at"]) == utc("2026-10-25T01:30:00Z")
    for data in (first, second):
        candidates = data["plan"]["response"]["candidates"]
        assert who(candidates) == ["ken-bart-kramer", "ken-fleur-van-wijk"]
        assert utc(candidates[0]["until"]) == utc("2026-10-25T07:00:00Z")


def test_dst_repeated_hour_offsets_are_different_requests(client: TestClient) -> None:
    body = incident(basisteam="ijmond", reported_at="2026-10-25T02:30:00+02:00")
    assert client.post(INCIDENTS, json=body).status_code == 201
    r = client.post(INCIDENTS, json=dict(body, reported_at="2026-10-25T02:30:00+01:00"))
    assert r.status_code == 409, r.text


# --- Overrides, shifts and gaps in the shipped set --------------------------------


@pytest.mark.parametrize(
    "at,person,source",
    [
        # nml-2026-11-bas-afwezig: frank replaces bas 23-11 09:00 until 28-11 00:00; bas
        # has the bureau week from Mon 23-11 09:00 (week 46), anne the week before.
        ("2026-11-23T08:59", "nml-anne-janssen", "rotation:nml-bureau"),
        ("2026-11-23T09:00", "nml-frank-stevens", "override:nml-2026-11-bas-afwezig"),
        ("2026-11-27T23:59", "nml-frank-stevens", "override:nml-2026-11-bas-afwezig"),
        ("2026-11-28T00:00", "nml-bas-peeters", "rotation:nml-bureau"),
    ],
)
def test_override_replace_boundaries(client: TestClient, at: str, person: str, source: str) -> None:
    team = on_call(client, "vt-nml-bureau", at)
    assert [(p["person"], p["source"]) for p in team["on_call"]] == [(person, source)]
    replaced = [(r["person"], r["reason"]["code"]) for r in team["removed"]]
    in_override = source.startswith("override:")
    assert replaced == ([("nml-bas-peeters", "replaced_by_override")] if in_override else [])


@pytest.mark.parametrize("at", ["2026-11-23T09:00", "2026-11-27T21:59"])
def test_override_replacement_is_dispatched(client: TestClient, at: str) -> None:
    plan = post(client, basisteam="weert", reported_at=at)["plan"]
    response = plan["response"]
    assert response["rule"] == "nml-vt-ter-plaatse"
    assert who(response["candidates"]) == ["nml-frank-stevens"]
    assert [(s["person"], codes(s["reasons"])) for s in response["skipped"]] == [
        ("nml-bas-peeters", ["replaced_by_override"])
    ]
    assert "oncall_override_replace" in codes(response["candidates"][0]["reasons"])


@pytest.mark.parametrize(
    "at,people,skipped",
    [
        # Dewi's 12-hour night slots: 599 (31-10 20:00), 603 (02-11 20:00), 611 (06-11 20:00);
        # ken-2026-11-dewi-afgemeld removes her 02-11 08:00 until 06-11 08:00.
        ("2026-10-31T23:00", ["ken-dewi-hoekstra", "ken-erik-schipper"], []),
        ("2026-11-02T23:00", ["ken-fleur-van-wijk"], ["ken-dewi-hoekstra"]),
        ("2026-11-06T23:00", ["ken-dewi-hoekstra", "ken-fleur-van-wijk"], []),
    ],
)
def test_override_remove_dewi(
    client: TestClient, at: str, people: list[str], skipped: list[str]
) -> None:
    data = post(client, basisteam="ijmond", reported_at=at, persons=[{"role": "victim", "age": 16}])
    assert data["status"] == "paired"
    response = data["plan"]["response"]
    assert response["rule"] == "ijmond-crisisdienst"
    assert who(response["candidates"]) == people
    assert [s["person"] for s in response["skipped"]] == skipped
    for s in response["skipped"]:
        assert codes(s["reasons"]) == ["removed_by_override"]
        assert "ken-2026-11-dewi-afgemeld" in s["reasons"][0]["text"]


@pytest.mark.parametrize(
    "at,people,fleur_layer",
    [
        # ken-2026-12-oudjaar-extra adds fleur 31-12 20:00 until 01-01 08:00. Slot 720
        # (31-12 08:00) ayla, 721 bart, 722 (01-01 08:00) cor; fleur is achterwacht week 51.
        ("2026-12-31T19:59", ["ken-ayla-demir", "ken-fleur-van-wijk"], "backup"),
        ("2026-12-31T20:00", ["ken-bart-kramer", "ken-fleur-van-wijk"], "primary"),
        ("2027-01-01T07:59", ["ken-bart-kramer", "ken-fleur-van-wijk"], "primary"),
        ("2027-01-01T08:00", ["ken-cor-zwart", "ken-fleur-van-wijk"], "backup"),
    ],
)
def test_override_add_new_year(
    client: TestClient, at: str, people: list[str], fleur_layer: str
) -> None:
    plan = post(client, basisteam="ijmond", reported_at=at, persons=[{"role": "child", "age": 9}])[
        "plan"
    ]
    candidates = plan["response"]["candidates"]
    assert who(candidates) == people
    assert candidates[1]["layer"] == fleur_layer


@pytest.mark.parametrize(
    "at,status,people",
    [
        # Interventie daily 09:00 [tessa, umar, vera]: vera on days 347 (18-12), 350
        # (21-12), 353 (24-12), 365 (05-01-2027); mei-2026-12-vera-verlof removes her
        # 21-12 00:00 until 04-01 00:00 without a replacement: a roster gap.
        ("2026-12-18T10:00", "paired", ["mei-vera-schouten"]),
        ("2026-12-21T10:00", "no_candidates", []),
        ("2026-12-24T10:00", "no_candidates", []),
        ("2027-01-05T10:00", "paired", ["mei-vera-schouten"]),
    ],
)
def test_override_remove_vera_leaves_a_gap(
    client: TestClient, at: str, status: str, people: list[str]
) -> None:
    data = post(client, basisteam="meierij", reported_at=at)
    assert data["status"] == status
    plan = data["plan"]
    response = plan["response"]
    assert response["rule"] == "mei-vt-interventie"
    assert who(response["candidates"]) == people
    if status == "no_candidates":
        assert [(s["person"], codes(s["reasons"])) for s in response["skipped"]] == [
            ("mei-vera-schouten", ["removed_by_override"])
        ]
        assert "roster_gap" in codes(response["reasons"])
        # Nobody can come: the police are told at once whom to phone.
        assert plan["expectation"]["mode"] == "phone"
        assert plan["expectation"]["phone"] in {NATIONAL_LINE, VT_LINE}
        assert plan["expectation"]["text"]
    else:
        assert response["skipped"] == []


@pytest.mark.parametrize(
    "at,people,skipped",
    [
        # dh-2026-11-linda-afwezig: maarten replaces linda 16-11 11:00 until 21-11 00:00.
        # Bureau day 315 (16-11) jolien + linda, day 319 (20-11) same, 320 ilias + kevin,
        # 321 (22-11) jolien + linda.
        (
            "2026-11-16T11:00",
            ["dh-jolien-van-rijn", "dh-maarten-vos", "dh-otto-pranger"],
            ["dh-linda-de-graaf"],
        ),
        (
            "2026-11-20T21:59",
            ["dh-jolien-van-rijn", "dh-maarten-vos", "dh-otto-pranger"],
            ["dh-linda-de-graaf"],
        ),
        ("2026-11-21T12:00", ["dh-ilias-bouzid", "dh-kevin-ramdin", "dh-otto-pranger"], []),
        ("2026-11-22T12:00", ["dh-jolien-van-rijn", "dh-linda-de-graaf", "dh-otto-pranger"], []),
    ],
)
def test_override_replace_linda_den_haag(
    client: TestClient, at: str, people: list[str], skipped: list[str]
) -> None:
    plan = post(client, basisteam="laak", reported_at=at)["plan"]
    response = plan["response"]
    assert (response["rule"], response["staff"]) == ("dh-cit-bureau", 2)
    assert who(response["candidates"]) == people
    assert [s["person"] for s in response["skipped"]] == skipped


@pytest.mark.parametrize(
    "at,people,skipped",
    [
        # zl-2026-12-luc-afwezig: nick replaces luc 07-12 13:00 until 12-12 00:00. Day 338
        # (Wed 09-12) and day 344 (Tue 15-12): ilse + luc.
        ("2026-12-09T14:00", ["zl-ilse-vroemen", "zl-nick-custers"], ["zl-luc-houben"]),
        ("2026-12-15T14:00", ["zl-ilse-vroemen", "zl-luc-houben"], []),
    ],
)
def test_override_replace_luc_zuid_limburg(
    client: TestClient, at: str, people: list[str], skipped: list[str]
) -> None:
    plan = post(client, basisteam="westelijke-mijnstreek", reported_at=at)["plan"]
    assert who(plan["response"]["candidates"]) == people
    assert [s["person"] for s in plan["response"]["skipped"]] == skipped


@pytest.mark.parametrize(
    "basisteam,at,people,skipped",
    [
        # gv-2026-11-daan-afwezig (carla for daan, 16-11 17:00 - 23-11 17:00) is piket
        # week 45, daan's week (weeks since 05-01 17:00, mod 3 = 0 -> daan).
        (
            "gooi-en-vechtstreek-noord",
            "2026-11-17T20:00",
            ["gv-carla-mulder", "gv-jasper-brouwer"],
            ["gv-daan-bos"],
        ),
        # Week 44 (09-11 17:00) is carla's own week: no override, nobody skipped.
        (
            "gooi-en-vechtstreek-noord",
            "2026-11-10T20:00",
            ["gv-carla-mulder", "gv-jasper-brouwer"],
            [],
        ),
        # End exclusive: 23-11 17:00 starts week 46 (eva), the override is over.
        ("gooi-en-vechtstreek-noord", "2026-11-23T17:00", ["gv-eva-smit", "gv-jasper-brouwer"], []),
        # hvb-2026-10-rianne-verlof (sem for rianne as achterwacht, 26-10 08:00 - 02-11
        # 08:00) is achterwacht week 42, rianne's (even weeks). CIT 12-hour slot 591
        # (27-10 20:00) -> noor (591 mod 4 = 3).
        (
            "tilburg",
            "2026-10-27T23:00",
            ["hvb-noor-hendriks", "hvb-sem-van-gils"],
            ["hvb-rianne-claassen"],
        ),
    ],
)
def test_override_replace_in_shipped_rosters(
    client: TestClient, basisteam: str, at: str, people: list[str], skipped: list[str]
) -> None:
    response = post(client, basisteam=basisteam, reported_at=at)["plan"]["response"]
    assert who(response["candidates"]) == people
    assert [s["person"] for s in response["skipped"]] == skipped
    if skipped:
        assert "replaced_by_override" in codes(response["skipped"][0]["reasons"])


@pytest.mark.parametrize(
    "basisteam,at,people,persons",
    [
        # One-off shifts add a second person to the roster's own.
        (
            "gooi-en-vechtstreek-noord",
            "2026-12-07T10:00",
            ["gv-anouk-de-vries", "gv-jasper-brouwer"],
            None,
        ),
        ("weert", "2026-12-24T10:00", ["nml-chantal-hermans", "nml-frank-stevens"], None),
        (
            "westelijke-mijnstreek",
            "2026-11-11T14:00",
            ["zl-hilde-op-de-kamp", "zl-karin-dassen", "zl-nick-custers"],
            None,
        ),
        ("tilburg", "2026-12-31T23:00", ["hvb-petra-willems", "hvb-sem-van-gils"], None),
        (
            "laak",
            "2026-12-31T12:00",
            ["dh-ilias-bouzid", "dh-kevin-ramdin", "dh-otto-pranger"],
            None,
        ),
        ("meierij", "2026-12-28T10:00", ["mei-tessa-van-der-heijden", "mei-zeger-de-wit"], None),
        (
            "ijmond",
            "2026-10-03T21:00",
            ["ken-dewi-hoekstra", "ken-erik-schipper"],
            [{"role": "victim", "age": 19}],
        ),
    ],
)
def test_shifts_put_a_second_person_on(
    client: TestClient,
    basisteam: str,
    at: str,
    people: list[str],
    persons: list[dict[str, Any]] | None,
) -> None:
    extra = {"persons": persons} if persons else {}
    response = post(client, basisteam=basisteam, reported_at=at, **extra)["plan"]["response"]
    assert who(response["candidates"]) == people
    # A person on a shift is asked as a primary, not as the achterwacht they also are.
    assert layers(response["candidates"]) == ["primary"] * len(people)
    assert response["candidates"][-1]["source"] == "shift"


# --- Areas nobody configured ------------------------------------------------------


@pytest.mark.parametrize(
    "basisteam,municipality,code",
    [
        ("atlantis", None, "area_unknown"),
        (None, "GM9999", "area_unknown"),
        ("atlantis", "GM9999", "area_unknown"),
        (None, "Nergenshuizen", "area_unknown"),
        (None, None, "area_missing"),
        ("", "", "area_missing"),
    ],
)
def test_unknown_area_falls_back_to_national_line(
    client: TestClient, basisteam: str | None, municipality: str | None, code: str
) -> None:
    r = client.post(
        INCIDENTS,
        json=incident(
            basisteam=basisteam, municipality=municipality, reported_at="2026-03-10T23:40"
        ),
    )
    assert r.status_code == 201, r.text
    data = r.json()
    assert_explained(data["plan"])
    assert (data["status"], data["region"], data["team"]) == ("fallback", None, None)
    assert (data["mode"], data["staff_needed"]) == ("phone", 0)
    plan = data["plan"]
    assert plan["response"] is None and plan["alternatives"] == []
    expectation = plan["expectation"]
    assert (expectation["mode"], expectation["phone"]) == ("phone", NATIONAL_LINE)
    assert NATIONAL_LINE in expectation["text"]
    assert code in codes(plan["reasons"])
    assert "national_fallback" in codes(plan["reasons"])
    assert client.get(f"{INCIDENTS}/{data['id']}").json()["status"] == "fallback"


# --- Retries and duplicates -------------------------------------------------------


def test_retry_same_body_returns_first_dispatch(client: TestClient, session: Session) -> None:
    body = incident(basisteam="laak", reported_at="2026-03-10T12:00")
    first = client.post(INCIDENTS, json=body)
    second = client.post(INCIDENTS, json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["reference"] == second.json()["reference"]
    assert first.json()["plan"] == second.json()["plan"]
    n = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.external_id == body["external_id"])
    )
    assert n == 1


def test_naive_time_is_amsterdam_time(client: TestClient) -> None:
    body = incident(basisteam="laak", reported_at="2026-03-10T12:00")
    first = client.post(INCIDENTS, json=body)
    same = client.post(INCIDENTS, json=dict(body, reported_at="2026-03-10T12:00:00+01:00"))
    assert (first.status_code, same.status_code) == (201, 200)
    assert same.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"case_type": "KM"},
        {"reported_at": "2026-03-10T12:01"},
        {"basisteam": "beresteinlaan"},
        {"persons": [{"role": "victim", "age": 35}]},
        {"flags": ["weapons"]},
    ],
)
def test_same_external_id_different_content_is_409(
    client: TestClient, session: Session, change: dict[str, Any]
) -> None:
    body = incident(basisteam="laak", reported_at="2026-03-10T12:00")
    assert client.post(INCIDENTS, json=body).status_code == 201
    before = count(session, Dispatch)
    r = client.post(INCIDENTS, json={**body, **change})
    assert r.status_code == 409, r.text
    assert body["external_id"] in r.json()["detail"]
    assert count(session, Dispatch) == before


def test_twenty_external_ids_make_twenty_dispatches(client: TestClient, session: Session) -> None:
    before = count(session, Dispatch)
    results = [
        client.post(INCIDENTS, json=incident(basisteam="ijmond", external_id=f"ACC-BULK-{i:02d}"))
        for i in range(20)
    ]
    assert [r.status_code for r in results] == [201] * 20
    assert len({r.json()["id"] for r in results}) == 20
    assert len({r.json()["reference"] for r in results}) == 20
    assert count(session, Dispatch) == before + 20


def test_same_external_id_from_another_source_is_another_incident(client: TestClient) -> None:
    body = incident(basisteam="ijmond")
    first = client.post(INCIDENTS, json=body)
    other = client.post(INCIDENTS, json=dict(body, source="meldkamer-noord-holland"))
    assert (first.status_code, other.status_code) == (201, 201)
    assert first.json()["id"] != other.json()["id"]


# --- Bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,field,rule_part",
    [
        ({"case_type": "XX"}, "case_type", "HG"),
        ({"case_type": None}, "case_type", ""),
        ({"reported_at": "gisteren"}, "reported_at", "ISO"),
        ({"reported_at": "2026-02-30T10:00"}, "reported_at", "ISO"),
        ({"persons": [{"role": "victim", "age": -1}]}, "persons[0].age", "greater than or equal"),
        ({"persons": [{"role": "victim", "age": 131}]}, "persons[0].age", "less than or equal"),
        (
            {"persons": [{"role": "victim", "age": 30}, {"role": "buurman"}]},
            "persons[1].role",
            "victim",
        ),
        ({"persons": [{"role": "victim", "name": "Jan"}]}, "persons[0].name", "not permitted"),
        ({"flags": ["weapons", "vuurwerk"]}, "flags[1]", "weapons"),
        ({"police_callback": "12345"}, "police_callback", "phone number"),
        ({"police_callback": ""}, "police_callback", "empty"),
        ({"police_unit": ""}, "police_unit", "at least 1"),
        ({"source": "meldkamer met spaties"}, "source", "pattern"),
        ({"external_id": ""}, "external_id", "at least 1"),
        ({"external_id": "X" * 129}, "external_id", "at most 128"),
        ({"basisteam": "b" * 65}, "basisteam", "at most 64"),
        ({"adres": "Dorpsstraat 1"}, "adres", "not permitted"),
    ],
)
def test_bad_field_is_named_and_nothing_stored(
    client: TestClient, session: Session, change: dict[str, Any], field: str, rule_part: str
) -> None:
    before = [count(session, m) for m in (Incident, Dispatch, Assignment, Event)]
    r = client.post(INCIDENTS, json=incident(**{"basisteam": "laak", **change}))
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["field"] == field and rule_part in e["rule"] and e["type"] for e in errors), errors
    assert field in r.json()["detail"]
    assert [count(session, m) for m in (Incident, Dispatch, Assignment, Event)] == before


def test_every_bad_field_is_named_at_once(client: TestClient, session: Session) -> None:
    before = count(session, Incident)
    bad = incident(
        basisteam="laak",
        case_type="XX",
        reported_at="morgen",
        persons=[{"role": "victim", "age": 200}],
        police_callback="nope",
    )
    del bad["police_unit"]
    r = client.post(INCIDENTS, json=bad)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {
        "case_type",
        "reported_at",
        "persons[0].age",
        "police_callback",
        "police_unit",
    } <= fields
    assert count(session, Incident) == before

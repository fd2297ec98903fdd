"""The pairing engine on a small hand-built configuration, so every expectation is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.timeutil import AMS
from dispatch.pairing import STATUS_FALLBACK, STATUS_NO_CANDIDATES, STATUS_PAIRED, pair
from oncall.facts import IncidentFacts, PersonFacts
from oncall.schemas import CaseType, ConfigSet, Flag, PersonRole
from oncall.scope import evaluate_rule
from oncall.snapshot import ConfigSnapshot

WM = "westelijke-mijnstreek"
IJMOND = "ijmond"
GV = "gooi-vechtstreek-noord"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


CONFIG = ConfigSet.model_validate(
    {
        "regions": [
            {"id": "zuid-limburg", "name": "Zuid Limburg"},
            {"id": "kennemerland", "name": "Kennemerland"},
            {
                "id": "gooi",
                "name": "Gooi en Vechtstreek",
                "office_hours": [{"days": ["weekdays"], "start": "08:30", "end": "17:00"}],
            },
        ],
        "municipalities": [
            {"code": "GM1883", "name": "Sittard-Geleen"},
            {"code": "GM0971", "name": "Stein"},
            {"code": "GM0888", "name": "Beek"},
            {"code": "GM0375", "name": "Beverwijk"},
            {"code": "GM0402", "name": "Hilversum"},
        ],
        "basisteams": [
            {
                "id": WM,
                "name": "Westelijke Mijnstreek",
                "region": "zuid-limburg",
                "municipalities": ["GM1883", "GM0971", "GM0888"],
            },
            {
                "id": IJMOND,
                "name": "IJmond",
                "region": "kennemerland",
                "municipalities": ["GM0375"],
            },
            {
                "id": GV,
                "name": "Gooi en Vechtstreek Noord",
                "region": "gooi",
                "municipalities": ["GM0402"],
            },
        ],
        "teams": [
            {
                "id": "vt-zl",
                "kind": "veilig_thuis",
                "name": "Veilig Thuis Zuid Limburg",
                "region": "zuid-limburg",
                "phone": "0800-2000",
            },
            {
                "id": "cd-ken",
                "kind": "crisisdienst",
                "name": "Crisisdienst VT Kennemerland",
                "region": "kennemerland",
                "phone": "023 5100000",
            },
            {
                "id": "vt-gv",
                "kind": "veilig_thuis",
                "name": "Veilig Thuis Gooi en Vechtstreek",
                "region": "gooi",
                "phone": "0800-2000",
            },
            {
                "id": "gw-gv",
                "kind": "gedragswetenschapper",
                "name": "Gedragswetenschapper GV",
                "region": "gooi",
            },
            {"id": "om-zsm", "kind": "om", "name": "OM op ZSM", "phone": "088 6990000"},
        ],
        "people": [
            {
                "id": "anna",
                "name": "Anna de Vries",
                "phones": ["06 12340001"],
                "memberships": [{"team": "vt-zl"}],
            },
            {
                "id": "bram",
                "name": "Bram Jansen",
                "phones": ["06 12340002"],
                "memberships": [{"team": "vt-zl"}],
            },
            {
                "id": "cor",
                "name": "Cor Bakker",
                "phones": ["06 12340003"],
                "memberships": [{"team": "vt-zl", "role": "backup"}],
            },
            {"id": "dewi", "name": "Dewi Smit", "phones": [], "memberships": [{"team": "vt-zl"}]},
            {
                "id": "eva",
                "name": "Eva Mulder",
                "phones": ["06 12340005"],
                "memberships": [{"team": "cd-ken"}],
            },
            {
                "id": "fleur",
                "name": "Fleur Visser",
                "phones": ["06 12340006"],
                "memberships": [{"team": "vt-gv"}],
            },
            {
                "id": "gijs",
                "name": "Gijs Peters",
                "phones": ["06 12340007"],
                "memberships": [{"team": "gw-gv"}],
            },
            {
                "id": "hanna",
                "name": "Hanna Bos",
                "phones": ["06 12340008"],
                "active": False,
                "memberships": [{"team": "vt-gv"}],
            },
        ],
        "rotations": [
            {
                "id": "zl-samen",
                "team": "vt-zl",
                "participants": ["anna", "bram"],
                "start": "2026-01-05T13:00",
                "handoff": {"every": "daily", "at": "13:00"},
            },
            {
                "id": "zl-backup",
                "team": "vt-zl",
                "layer": "backup",
                "participants": ["cor"],
                "start": "2026-01-05T13:00",
                "handoff": {"every": "weekly", "weekday": "mon", "at": "13:00"},
            },
            {
                "id": "ken-24",
                "team": "cd-ken",
                "participants": ["eva"],
                "start": "2026-01-01T00:00",
                "handoff": {"every": "daily", "at": "08:00"},
            },
            {
                "id": "gv-piket",
                "team": "vt-gv",
                "participants": ["fleur", "hanna"],
                "start": "2026-01-05T09:00",
                "handoff": {"every": "weekly", "weekday": "mon", "at": "09:00"},
            },
            {
                "id": "gw-piket",
                "team": "gw-gv",
                "participants": ["gijs"],
                "start": "2026-01-05T17:00",
                "handoff": {"every": "daily", "at": "17:00"},
                "windows": [
                    {"days": ["weekdays"], "start": "17:00", "end": "08:30"},
                    {"days": ["weekend"], "start": "00:00", "end": "24:00"},
                ],
            },
        ],
        "overrides": [
            {
                "id": "anna-ziek",
                "team": "vt-zl",
                "kind": "remove",
                "person": "anna",
                "start": "2026-06-01T00:00",
                "end": "2026-06-08T00:00",
                "reason": "ziek",
            },
        ],
        "rules": [
            {
                "id": "zl-samen-op",
                "team": "vt-zl",
                "priority": 10,
                "area": {"basisteams": [WM]},
                "windows": [{"days": ["weekdays"], "start": "13:00", "end": "22:00"}],
                "mode": "on_scene",
                "staff": 2,
            },
            {
                "id": "zl-telefonisch",
                "team": "vt-zl",
                "priority": 50,
                "area": {"municipalities": ["GM1883", "GM0971", "GM0888"]},
                "mode": "phone",
            },
            {
                "id": "ken-crisis",
                "team": "cd-ken",
                "priority": 10,
                "area": {"basisteams": [IJMOND]},
                "age": {"min": 0, "max": 23},
                "exceptions": [
                    {"when": {"flags": ["huisverbod_considered"]}, "effect": "waive_age"}
                ],
            },
            {
                "id": "gv-kantoor",
                "team": "vt-gv",
                "priority": 10,
                "area": {"basisteams": [GV]},
                "hours": "office_hours",
                "mode": "on_scene",
            },
            {
                "id": "gv-piket",
                "team": "vt-gv",
                "priority": 20,
                "area": {"basisteams": [GV]},
                "hours": "after_hours",
                "mode": "on_scene",
                "consult": {"team": "gw-gv"},
            },
            {
                "id": "gv-gw",
                "team": "gw-gv",
                "role": "consult",
                "area": {"basisteams": [GV]},
                "hours": "after_hours",
                "mode": "phone",
            },
            {
                "id": "om-zsm",
                "team": "om-zsm",
                "role": "partner",
                "mode": "phone",
                "windows": [{"days": ["all"], "start": "08:00", "end": "22:00"}],
                "holidays": "open",
            },
        ],
    }
)
SNAP = ConfigSnapshot(CONFIG, version=1)


def incident(
    basisteam: str | None = WM,
    municipality: str | None = None,
    *,
    case: CaseType = CaseType.HG,
    persons: tuple[tuple[str, int | None], ...] = (),
    flags: tuple[Flag, ...] = (),
) -> IncidentFacts:
    return IncidentFacts(
        case_type=case,
        basisteam=basisteam,
        municipality=municipality,
        persons=tuple(PersonFacts(role=PersonRole(r), age=a) for r, a in persons),
        flags=frozenset(flags),
    )


def codes(reasons: object) -> list[str]:
    return [r.code for r in reasons]  # type: ignore[attr-defined]


def test_window_start_is_inclusive_and_pairs_two_people() -> None:
    # Tuesday 2026-03-10 13:00 is 64 days after the rotation start (anna's slot 0): anna again.
    plan = pair(incident(), SNAP, local(2026, 3, 10, 13, 0))
    assert plan.status == STATUS_PAIRED
    assert plan.response is not None
    assert plan.response.rule == "zl-samen-op"
    assert plan.response.staff == 2 and plan.response.mode == "on_scene"
    assert [c.person for c in plan.response.candidates] == ["anna", "cor"]
    assert [c.layer for c in plan.response.candidates] == ["primary", "backup"]
    assert plan.region == "zuid-limburg"
    assert [a.rule for a in plan.alternatives] == ["zl-telefonisch"]


def test_two_needed_one_on_call_is_said() -> None:
    # 2026-06-02 14:00: anna is off (override), only backup cor is on call for a staff-2 rule.
    plan = pair(incident(), SNAP, local(2026, 6, 2, 14, 0))
    assert plan.response is not None and plan.response.staff == 2
    assert len(plan.response.candidates) == 1
    assert "staff_short" in codes(plan.response.reasons)
    full = pair(incident(), SNAP, local(2026, 3, 10, 14, 0))
    assert full.response is not None and "staff_short" not in codes(full.response.reasons)


def test_window_end_is_exclusive_so_phone_rule_takes_over() -> None:
    plan = pair(incident(), SNAP, local(2026, 3, 10, 22, 0))
    assert plan.response is not None and plan.response.rule == "zl-telefonisch"
    samen = next(ev for ev in plan.rules if ev.rule == "zl-samen-op")
    assert not samen.matched
    assert "outside_windows" in codes(samen.reasons)
    assert plan.expectation.mode == "phone"


def test_one_minute_before_end_still_in_window() -> None:
    plan = pair(incident(), SNAP, local(2026, 3, 10, 21, 59))
    assert plan.response is not None and plan.response.rule == "zl-samen-op"


def test_koningsdag_is_not_a_working_day() -> None:
    plan = pair(incident(), SNAP, local(2026, 4, 27, 14, 0))
    samen = next(ev for ev in plan.rules if ev.rule == "zl-samen-op")
    assert not samen.matched
    assert "holiday_closed" in codes(samen.reasons)
    assert plan.response is not None and plan.response.rule == "zl-telefonisch"


def test_municipality_alone_finds_basisteam_rules() -> None:
    plan = pair(incident(basisteam=None, municipality="GM0971"), SNAP, local(2026, 3, 10, 15, 0))
    assert plan.response is not None and plan.response.rule == "zl-samen-op"


def test_override_removes_person_with_reason() -> None:
    # 2026-06-02 (Tue) 14:00: anna's rotation day, but she is ill.
    at = local(2026, 6, 2, 14, 0)
    assert SNAP.on_call("vt-zl", at - timedelta(days=7)).entries  # sanity: roster runs
    plan = pair(incident(), SNAP, at)
    assert plan.response is not None
    persons = [c.person for c in plan.response.candidates]
    assert "anna" not in persons and persons == ["cor"]
    skipped = {s.person: codes(s.reasons) for s in plan.response.skipped}
    assert "removed_by_override" in skipped["anna"]


def test_age_limit_excludes_adult_without_huisverbod() -> None:
    plan = pair(
        incident(IJMOND, persons=(("victim", 34), ("suspect", 20))), SNAP, local(2026, 3, 10, 3, 0)
    )
    crisis = next(ev for ev in plan.rules if ev.rule == "ken-crisis")
    assert not crisis.matched and "age_out" in codes(crisis.reasons)
    assert plan.status == STATUS_FALLBACK
    assert plan.expectation.phone == "0800-2000"


@pytest.mark.parametrize("age,matched", [(0, True), (23, True), (24, False)])
def test_age_limits_are_inclusive(age: int, matched: bool) -> None:
    plan = pair(incident(IJMOND, persons=(("victim", age),)), SNAP, local(2026, 3, 10, 3, 0))
    assert next(ev for ev in plan.rules if ev.rule == "ken-crisis").matched is matched


def test_huisverbod_waives_age_limit() -> None:
    plan = pair(
        incident(IJMOND, persons=(("victim", 34),), flags=(Flag.HUISVERBOD_CONSIDERED,)),
        SNAP,
        local(2026, 3, 10, 3, 0),
    )
    assert plan.status == STATUS_PAIRED
    assert plan.response is not None and plan.response.rule == "ken-crisis"
    assert "exception_waive_age" in codes(plan.response.reasons)
    assert [c.person for c in plan.response.candidates] == ["eva"]


def test_child_present_keeps_crisisdienst_in_scope_for_adult_victim() -> None:
    plan = pair(
        incident(IJMOND, persons=(("victim", 40), ("child", 7))), SNAP, local(2026, 3, 10, 3, 0)
    )
    assert plan.response is not None and plan.response.rule == "ken-crisis"


def test_after_hours_needs_consult_first() -> None:
    plan = pair(incident(GV), SNAP, local(2026, 3, 10, 23, 40))
    assert plan.response is not None and plan.response.rule == "gv-piket"
    assert plan.response.consult is not None
    assert [c.person for c in plan.response.consult.candidates] == ["gijs"]
    assert "consult_required" in codes(plan.response.consult.reasons)


def test_office_hours_no_consult_and_inactive_person_skipped() -> None:
    # Week of 2026-01-12 is hanna's (second participant) and she is inactive.
    plan = pair(incident(GV), SNAP, local(2026, 1, 13, 10, 0))
    assert plan.response is not None and plan.response.rule == "gv-kantoor"
    assert plan.response.consult is None
    assert plan.status == STATUS_NO_CANDIDATES
    assert "person_inactive" in codes(plan.response.skipped[0].reasons)
    # Nobody can come: the police are told to expect the 24/7 line.
    assert plan.expectation.mode == "phone" and plan.expectation.phone == "+318002000"


def test_easter_monday_office_hours_closed_after_hours_rule_applies() -> None:
    plan = pair(incident(GV), SNAP, local(2026, 4, 6, 11, 0))
    assert plan.response is not None and plan.response.rule == "gv-piket"


def test_unknown_area_gets_national_fallback_with_reason() -> None:
    plan = pair(incident("nergens", "GM9999"), SNAP, local(2026, 3, 10, 12, 0))
    assert plan.status == STATUS_FALLBACK
    assert "area_unknown" in codes(plan.reasons)
    assert plan.expectation.phone == "0800-2000"
    assert "0800-2000" in plan.expectation.text


def test_no_area_at_all_gets_fallback() -> None:
    plan = pair(incident(None, None), SNAP, local(2026, 3, 10, 12, 0))
    assert plan.status == STATUS_FALLBACK and "area_missing" in codes(plan.reasons)


def test_partner_reachable_until_22() -> None:
    before = pair(incident(), SNAP, local(2026, 3, 10, 21, 59))
    after = pair(incident(), SNAP, local(2026, 3, 10, 22, 0))
    assert [p.team for p in before.partners] == ["om-zsm"]
    assert after.partners == ()


def test_case_type_not_covered() -> None:
    cfg = CONFIG.model_copy(
        update={
            "rules": tuple(
                r.model_copy(update={"case_types": (CaseType.HG,)}) if r.id == "ken-crisis" else r
                for r in CONFIG.rules
            )
        }
    )
    plan = pair(incident(IJMOND, case=CaseType.KM), ConfigSnapshot(cfg), local(2026, 3, 10, 3))
    crisis = next(ev for ev in plan.rules if ev.rule == "ken-crisis")
    assert not crisis.matched and "case_type_excluded" in codes(crisis.reasons)


def test_plan_serialises_with_reasons_as_code_and_text() -> None:
    data = pair(incident(), SNAP, local(2026, 3, 10, 13, 0)).to_dict()
    assert data["status"] == "paired"
    first = data["response"]["candidates"][0]
    assert first["person"] == "anna"
    assert all(set(r) == {"code", "text"} for r in first["reasons"])
    assert data["at"] == "2026-03-10T12:00:00+00:00"


# --- properties --------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
areas = st.sampled_from(
    [(WM, None), (None, "GM1883"), (IJMOND, None), (GV, "GM0402"), ("onbekend", None)]
)
people = st.lists(
    st.tuples(
        st.sampled_from([r.value for r in PersonRole]), st.one_of(st.none(), st.integers(0, 100))
    ),
    max_size=4,
)
flag_sets = st.frozensets(st.sampled_from(list(Flag)))


@settings(max_examples=300, deadline=None)
@given(
    at=instants, area=areas, persons=people, flags=flag_sets, case=st.sampled_from(list(CaseType))
)
def test_every_candidate_is_in_scope_and_on_call(
    at: datetime,
    area: tuple[str | None, str | None],
    persons: list[tuple[str, int | None]],
    flags: frozenset[Flag],
    case: CaseType,
) -> None:
    inc = incident(area[0], area[1], case=case, persons=tuple(persons), flags=tuple(flags))
    plan = pair(inc, SNAP, at)
    for resp in (plan.response, *plan.alternatives):
        if resp is None:
            continue
        rule = next(r for r in CONFIG.rules if r.id == resp.rule)
        ev = evaluate_rule(
            rule,
            inc,
            at,
            office_hours=SNAP.office_hours(rule.team),
            basisteam_municipalities=SNAP.basisteam_municipalities,
            municipality_basisteams=SNAP.municipality_basisteams,
        )
        assert ev.matched
        on_call = {e.person for e in SNAP.on_call(resp.team, at).entries}
        for cand in resp.candidates:
            assert cand.person in on_call
            person = SNAP.people[cand.person]
            assert person.active and person.phones
        if resp.consult:
            consult_on_call = {e.person for e in SNAP.on_call(resp.consult.team, at).entries}
            assert {c.person for c in resp.consult.candidates} <= consult_on_call
    # Same inputs, same plan.
    assert pair(inc, SNAP, at).to_dict() == plan.to_dict()
    # A fresh snapshot of the same configuration gives the same plan too.
    assert pair(inc, ConfigSnapshot(CONFIG, version=1), at).to_dict() == plan.to_dict()

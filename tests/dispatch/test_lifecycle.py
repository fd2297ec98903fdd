"""The joint-response rules without a database: every action, by every role, in every stage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch.lifecycle import (
    ACTIONS,
    ALL_CHECKLIST_ITEMS,
    ALLOWED_ROLES,
    EVALUATION_MAX,
    OUTCOMES,
    ROLES,
    STAGES,
    Facts,
    TransitionError,
    decide,
)

NOW = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
AGREEMENTS = {
    "first_contact": "Veilig Thuis",
    "informs": [{"who": "politie", "whom": "school"}],
    "measures": [{"measure": "huisverbod", "by": "politie", "until": None, "note": None}],
    "reassess_at": "2026-03-11T09:00:00Z",
}
HANDOVER = {"target": "zsm", "note": None}
DATA: dict[str, dict[str, Any]] = {
    "onderweg": {"eta_minutes": 20},
    "eta": {"eta_minutes": 10},
    "veiligheidsmaatregelen": {"agreements": AGREEMENTS},
    "overgedragen": {"handover": HANDOVER},
    "consult": {"kind": "phone"},
    "close": {"outcome": "no_consult"},
    "checklist": {"item": "kindcheck", "done": True, "by": "account:meldkamer"},
}
WORKER = Facts(stage="accepted", paging_state="accepted", has_assignments=True,
               any_accepted=True, assignment_status="accepted")  # fmt: skip


def act(action: str, facts: Facts, role: str = "control_room", **data: Any) -> Any:
    return decide(action, facts, role, data or DATA.get(action, {}), NOW)


def refused(action: str, facts: Facts, role: str = "control_room", **data: Any) -> TransitionError:
    with pytest.raises(TransitionError) as info:
        act(action, facts, role, **data)
    return info.value


# --- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_each_action_is_refused_to_roles_that_may_not_make_it(action: str, role: str) -> None:
    facts = replace(WORKER, stage="ter_plaatse", arrived=True, enroute=True)
    if role in ALLOWED_ROLES[action]:
        try:
            act(action, facts, role)
        except TransitionError as exc:
            assert exc.code != "forbidden_role", exc.message
        return
    error = refused(action, facts, role)
    assert error.code == "forbidden_role"
    assert f"'{action}'" in error.message and role in error.message


def test_the_role_table() -> None:
    assert ALLOWED_ROLES["onderweg"] == ALLOWED_ROLES["eta"] == ALLOWED_ROLES["ter_plaatse"]
    assert ALLOWED_ROLES["ter_plaatse"] == {"worker"}
    for action in ("safe_to_enter", "police_left", "cancel"):
        assert ALLOWED_ROLES[action] == {"control_room"}
    for action in ("motorkapoverleg", "onderzoek", "veiligheidsmaatregelen", "overgedragen"):
        assert ALLOWED_ROLES[action] == {"worker", "control_room"}
    assert ALLOWED_ROLES["consult"] == ALLOWED_ROLES["close"] == {"worker", "control_room"}
    assert ALLOWED_ROLES["paging"] == ALLOWED_ROLES["accepted"] == {"system"}
    assert ALLOWED_ROLES["checklist"] == {"control_room"}


@pytest.mark.parametrize("status", ["declined", "cancelled", "unreached", "paging", None])
def test_only_an_accepted_worker_reports_steps(status: str | None) -> None:
    error = refused("onderweg", replace(WORKER, assignment_status=status), "worker")
    assert error.code == "forbidden_role"
    assert "accepted" in error.message


def test_only_the_control_room_cancels_even_through_close() -> None:
    error = refused("close", WORKER, "worker", outcome="cancelled")
    assert error.code == "forbidden_role" and "only the control room may cancel" in error.message
    change = act("close", WORKER, outcome="cancelled")
    assert change.stage == "closed" and change.dispatch["outcome"] == "cancelled"


def test_an_unknown_action_is_invalid_data() -> None:
    assert refused("teleport", WORKER).code == "invalid_data"


# --- system: paging and the first acceptance -------------------------------------------


def test_paging_begins_from_melding_once() -> None:
    change = act("paging", Facts(stage="melding"), "system")
    assert change.changed and change.stage == "paging"
    assert change.dispatch == {"stage": "paging", "stage_at": NOW}
    assert not act("paging", Facts(stage="paging"), "system").changed
    assert refused("paging", Facts(stage="accepted"), "system").code == "invalid_transition"


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_first_acceptance_moves_the_stage(stage: str) -> None:
    change = act("accepted", Facts(stage=stage), "system")
    if stage in ("melding", "paging"):
        assert change.changed and change.stage == "accepted"
    else:
        assert not change.changed and change.stage == stage


# --- worker: onderweg, eta, ter plaatse ------------------------------------------------


def test_onderweg_sets_the_eta_and_moves_the_stage() -> None:
    change = act("onderweg", WORKER, "worker", eta_minutes=25)
    assert change.stage == "onderweg"
    assert change.assignment == {"eta_at": NOW + timedelta(minutes=25), "enroute_at": NOW}
    assert change.record["eta_minutes"] == 25


def test_onderweg_of_a_second_worker_leaves_a_later_stage_alone() -> None:
    change = act("onderweg", replace(WORKER, stage="motorkapoverleg"), "worker", eta_minutes=5)
    assert change.changed and change.stage == "motorkapoverleg"
    assert "stage" not in change.dispatch


@pytest.mark.parametrize("minutes", [0, 601, None, "10", True])
def test_onderweg_needs_an_eta_from_1_to_600_minutes(minutes: Any) -> None:
    error = refused("onderweg", WORKER, "worker", eta_minutes=minutes)
    assert error.code == "invalid_data" and "eta_minutes" in error.message


def test_onderweg_twice_is_a_repeat_and_after_arrival_an_error() -> None:
    enroute = replace(WORKER, stage="onderweg", enroute=True, eta_at=NOW)
    assert not act("onderweg", enroute, "worker").changed
    arrived = replace(enroute, assignment_arrived=True, arrived=True, stage="ter_plaatse")
    assert "already arrived" in refused("onderweg", arrived, "worker").message


def test_eta_updates_only_while_onderweg() -> None:
    assert "while this worker is onderweg" in refused("eta", WORKER, "worker").message
    enroute = replace(WORKER, stage="onderweg", enroute=True, eta_at=NOW + timedelta(minutes=20))
    change = act("eta", enroute, "worker", eta_minutes=5)
    assert change.changed and change.assignment == {"eta_at": NOW + timedelta(minutes=5)}
    assert change.stage == "onderweg" and not change.dispatch
    assert not act("eta", enroute, "worker", eta_minutes=20).changed  # a retried request
    arrived = replace(enroute, assignment_arrived=True)
    assert refused("eta", arrived, "worker").code == "invalid_transition"


def test_ter_plaatse_needs_onderweg_first() -> None:
    error = refused("ter_plaatse", WORKER, "worker")
    assert error.code == "invalid_transition" and "onderweg first" in error.message


def test_ter_plaatse_sets_the_first_arrival_once() -> None:
    enroute = replace(WORKER, stage="onderweg", enroute=True)
    change = act("ter_plaatse", enroute, "worker")
    assert change.stage == "ter_plaatse"
    assert change.dispatch == {"arrived_at": NOW, "stage": "ter_plaatse", "stage_at": NOW}
    assert change.assignment == {"arrived_at": NOW}
    second = act("ter_plaatse", replace(enroute, arrived=True, stage="motorkapoverleg"), "worker")
    assert second.dispatch == {} and second.assignment == {"arrived_at": NOW}
    again = replace(enroute, arrived=True, assignment_arrived=True, stage="ter_plaatse")
    assert not act("ter_plaatse", again, "worker").changed


# --- the five steps --------------------------------------------------------------------

ORDER = {
    "motorkapoverleg": {"ter_plaatse"},
    "onderzoek": {"motorkapoverleg"},
    "veiligheidsmaatregelen": {"motorkapoverleg", "onderzoek"},
    "overgedragen": {"motorkapoverleg", "onderzoek", "veiligheidsmaatregelen"},
}


@pytest.mark.parametrize("role", ["worker", "control_room"])
@pytest.mark.parametrize("action", list(ORDER))
@pytest.mark.parametrize("stage", STAGES)
def test_the_steps_follow_in_order(action: str, stage: str, role: str) -> None:
    facts = replace(WORKER, stage=stage)
    if stage in ORDER[action]:
        change = act(action, facts, role)
        assert change.changed and change.stage == action
        assert change.dispatch["stage"] == action and change.dispatch["stage_at"] == NOW
    elif stage == action:
        assert not act(
            action, replace(facts, agreements=AGREEMENTS, handover=HANDOVER), role
        ).changed
    else:
        error = refused(action, facts, role)
        assert error.code == "invalid_transition"
        assert error.action == action and error.stage == stage
        assert action in error.message or "closed" in error.message


@pytest.mark.parametrize("stage", ["paging", "accepted", "onderweg"])
def test_motorkapoverleg_before_arrival_only_after_a_consult(stage: str) -> None:
    facts = replace(WORKER, stage=stage)
    error = refused("motorkapoverleg", facts)
    assert "worker ter plaatse, or a phone or video consult" in error.message
    assert act("motorkapoverleg", replace(facts, consult_kind="video")).stage == "motorkapoverleg"


def test_agreements_are_recorded_and_may_be_amended_in_their_step() -> None:
    facts = replace(WORKER, stage="onderzoek")
    change = act("veiligheidsmaatregelen", facts)
    assert change.dispatch["agreements"] == AGREEMENTS
    assert change.record == {"agreements": AGREEMENTS}
    held = replace(facts, stage="veiligheidsmaatregelen", agreements=AGREEMENTS)
    assert not act("veiligheidsmaatregelen", held).changed
    amended = {**AGREEMENTS, "first_contact": "politie"}
    change = act("veiligheidsmaatregelen", held, agreements=amended)
    assert change.changed and change.dispatch == {"agreements": amended}


def test_agreements_and_handover_are_required() -> None:
    facts = replace(WORKER, stage="onderzoek")
    assert refused("veiligheidsmaatregelen", facts, agreements=None).code == "invalid_data"
    assert refused("overgedragen", facts, handover=None).code == "invalid_data"


def test_handover_is_recorded() -> None:
    change = act("overgedragen", replace(WORKER, stage="veiligheidsmaatregelen"))
    assert change.stage == "overgedragen" and change.dispatch["handover"] == HANDOVER
    held = replace(WORKER, stage="overgedragen", handover=HANDOVER)
    assert not act("overgedragen", held).changed
    other = act("overgedragen", held, handover={"target": "mda_plus_plus", "note": "x"})
    assert other.changed and other.stage == "overgedragen"


# --- consult ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_a_consult_can_be_recorded_until_close(stage: str) -> None:
    facts = replace(WORKER, stage=stage)
    if stage == "closed":
        assert "closed" in refused("consult", facts).message
        return
    change = act("consult", facts, kind="video")
    assert change.dispatch == {"consult_kind": "video", "consult_at": NOW}
    assert change.stage == stage


def test_the_same_consult_twice_is_a_repeat() -> None:
    facts = replace(WORKER, consult_kind="phone")
    assert not act("consult", facts, kind="phone").changed
    assert act("consult", facts, kind="video").changed
    assert refused("consult", facts, kind="fax").code == "invalid_data"


# --- the rules of the first hour -------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_safe_to_enter_from_accepted_until_close(stage: str) -> None:
    facts = replace(WORKER, stage=stage)
    if stage in ("melding", "paging", "closed"):
        assert refused("safe_to_enter", facts).code == "invalid_transition"
    else:
        change = act("safe_to_enter", facts)
        assert change.dispatch == {"safe_at": NOW} and change.stage == stage
        assert not act("safe_to_enter", replace(facts, safe=True)).changed


def test_police_cannot_leave_before_arrival_without_a_consult() -> None:
    facts = replace(WORKER, stage="onderweg")
    error = refused("police_left", facts)
    assert error.code == "invalid_transition"
    assert error.message == (
        "police cannot leave before the worker arrives unless a phone or video consult "
        "has been recorded"
    )
    assert act("police_left", replace(facts, consult_kind="phone")).dispatch == {
        "police_left_at": NOW
    }
    assert act("police_left", replace(facts, arrived=True)).changed
    assert not act("police_left", replace(facts, arrived=True, police_left=True)).changed


# --- close -----------------------------------------------------------------------------


def test_joint_on_scene_needs_an_arrival() -> None:
    error = refused("close", WORKER, outcome="joint_on_scene")
    assert "joint_on_scene needs a worker who arrived" in error.message
    change = act("close", replace(WORKER, arrived=True), "worker", outcome="joint_on_scene")
    assert change.stage == "closed" and change.stop_paging
    assert change.dispatch == {
        "outcome": "joint_on_scene",
        "closed_at": NOW,
        "closed_by": "worker",
        "stage": "closed",
        "stage_at": NOW,
    }


@pytest.mark.parametrize("outcome", ["phone_consult", "video_consult"])
def test_a_consult_outcome_needs_a_consult_or_an_accepted_worker(outcome: str) -> None:
    kind = outcome.removesuffix("_consult")
    nobody = Facts(stage="paging", paging_state="respond", has_assignments=True)
    assert (
        "needs a consult recorded or an accepted worker"
        in refused("close", nobody, outcome=outcome).message
    )
    recorded = act("close", replace(nobody, consult_kind=kind), outcome=outcome)
    assert "consult_kind" not in recorded.dispatch
    with_worker = act("close", WORKER, outcome=outcome)  # the consult is recorded with it
    assert with_worker.dispatch["consult_kind"] == kind
    assert with_worker.dispatch["consult_at"] == NOW
    assert with_worker.record == {"outcome": outcome, "consult_kind": kind}
    other = "video" if kind == "phone" else "phone"
    assert (
        "does not match"
        in refused("close", replace(WORKER, consult_kind=other), outcome=outcome).message
    )


def test_no_responder_only_when_nobody_answered_or_nobody_was_asked() -> None:
    error = refused("close", WORKER, outcome="no_responder")
    assert "only when paging found no responder" in error.message
    gave_up = Facts(stage="paging", paging_state="no_responder", has_assignments=True)
    assert act("close", gave_up, outcome="no_responder").stage == "closed"
    nobody = Facts(stage="melding", paging_state="no_responder")
    assert act("close", nobody, outcome="no_responder").changed
    assert act("close", replace(nobody, paging_state="respond"), outcome="no_responder").changed


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "closed"])
def test_no_consult_closes_from_any_open_stage(stage: str) -> None:
    change = act("close", replace(WORKER, stage=stage), outcome="no_consult")
    assert change.stage == "closed" and change.stop_paging


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_closing_twice(outcome: str) -> None:
    closed = replace(WORKER, stage="closed", outcome=outcome)
    assert not act("close", closed, outcome=outcome).changed
    other = "no_consult" if outcome != "no_consult" else "phone_consult"
    assert "already closed with outcome" in refused("close", closed, outcome=other).message


def test_cancel() -> None:
    change = act("cancel", Facts(stage="paging", paging_state="respond", has_assignments=True))
    assert change.stage == "closed" and change.dispatch["outcome"] == "cancelled"
    assert change.stop_paging and change.dispatch["closed_by"] == "control_room"
    closed = replace(WORKER, stage="closed", outcome="cancelled")
    assert not act("cancel", closed).changed
    error = refused("cancel", replace(closed, outcome="no_consult"))
    assert "already closed with outcome no_consult" in error.message


@pytest.mark.parametrize("action", [a for a in ACTIONS if a not in ("paging", "accepted")])
def test_nothing_changes_after_close(action: str) -> None:
    closed = replace(WORKER, stage="closed", outcome="no_consult", enroute=True)
    role = "worker" if "worker" in ALLOWED_ROLES[action] else "control_room"
    if action == "close":
        assert not act(action, closed, role).changed
        return
    error = refused(action, closed, role)
    assert error.code == "invalid_transition" and "closed" in error.message


# --- the pocket card "Veiligheid voorop" ------------------------------------------------


@pytest.mark.parametrize("item", ALL_CHECKLIST_ITEMS)
def test_a_tick_and_an_untick_each_change_once(item: str) -> None:
    facts = Facts(stage="paging", paging_state="respond", has_assignments=True)
    change = act("checklist", facts, item=item, done=True, by="account:meldkamer")
    assert change.changed and change.stage == "paging"  # no stage moves
    assert change.dispatch == {
        "checklist": {item: {"at": NOW.isoformat(), "by": "account:meldkamer"}}
    }
    assert change.record == {"item": item, "done": True}
    ticked = replace(facts, checklist=change.dispatch["checklist"])
    assert not act("checklist", ticked, item=item, done=True).changed
    untick = act("checklist", ticked, item=item, done=False)
    assert untick.changed and untick.dispatch == {"checklist": {}}
    assert untick.record == {"item": item, "done": False}
    assert not act("checklist", facts, item=item, done=False).changed


def test_an_untick_leaves_the_other_ticks() -> None:
    ticks = {"kindcheck": {"at": "x", "by": "a"}, "bewijs": {"at": "y", "by": "b"}}
    change = act("checklist", replace(WORKER, checklist=ticks), item="bewijs", done=False)
    assert change.dispatch == {"checklist": {"kindcheck": {"at": "x", "by": "a"}}}
    assert ticks["bewijs"] == {"at": "y", "by": "b"}  # the facts are not changed in place


@pytest.mark.parametrize(
    "data",
    [{"item": "teleport", "done": True}, {"item": "kindcheck", "done": "yes"}, {"item": "bewijs"}],
)
def test_a_tick_needs_a_known_item_and_a_boolean(data: dict[str, Any]) -> None:
    assert refused("checklist", WORKER, **data).code == "invalid_data"


def test_the_worker_does_not_tick_the_police_card() -> None:
    assert refused("checklist", WORKER, "worker", item="kindcheck", done=True).code == (
        "forbidden_role"
    )


# --- the evaluation note at closing -----------------------------------------------------

NOTE = {"helped": "  de registratie hielp ", "missing": "schoolgegevens"}


def test_close_keeps_the_note_out_of_the_record() -> None:
    change = act("close", WORKER, outcome="no_consult", evaluation_note=NOTE)
    assert change.dispatch["evaluation_note"] == {
        "control_room": {"helped": "de registratie hielp", "missing": "schoolgegevens",
                         "at": NOW.isoformat()}
    }  # fmt: skip
    assert change.record == {"outcome": "no_consult", "evaluation_noted": True}
    blank = act("close", WORKER, outcome="no_consult", evaluation_note={"helped": " "})
    assert "evaluation_note" not in blank.dispatch and blank.record == {"outcome": "no_consult"}


def test_a_note_after_the_other_side_closed_is_kept_once() -> None:
    closed = replace(WORKER, stage="closed", outcome="phone_consult")
    change = act("close", closed, "worker", outcome="phone_consult", evaluation_note=NOTE)
    assert change.changed and change.action == "evaluation_note" and change.stage == "closed"
    assert set(change.dispatch) == {"evaluation_note"} and "stage" not in change.dispatch
    assert set(change.dispatch["evaluation_note"]) == {"worker"}
    noted = replace(closed, evaluation_note=change.dispatch["evaluation_note"])
    assert not act("close", noted, "worker", outcome="phone_consult", evaluation_note=NOTE).changed
    both = act("close", noted, outcome="phone_consult", evaluation_note={"missing": "niets"})
    assert set(both.dispatch["evaluation_note"]) == {"worker", "control_room"}
    error = refused("close", noted, "worker", outcome="no_consult", evaluation_note=NOTE)
    assert "already closed" in error.message


@pytest.mark.parametrize(
    "note",
    [
        {"helped": "x" * (EVALUATION_MAX + 1)},
        {"missing": 12},
        {"helped": "a", "who": "b"},
        "tekst",
    ],
)
def test_a_bad_note_is_invalid_data(note: Any) -> None:
    error = refused("close", WORKER, outcome="no_consult", evaluation_note=note)
    assert error.code == "invalid_data" and "evaluation_note" in error.message

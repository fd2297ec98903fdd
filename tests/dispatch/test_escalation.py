"""The pure escalation rules: slot order, who to start next, attempt timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from dispatch.escalation import AssignmentView, attempt, next_slots, slots
from oncall.schemas import (
    DEFAULT_ESCALATION,
    ChannelStep,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
)

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def a(id_: int, layer: str, status: str = "planned", person: str | None = None) -> AssignmentView:
    return AssignmentView(
        id=id_,
        position=id_,
        purpose="respond",
        person=person if person is not None else (None if layer == "team_line" else f"p{id_}"),
        phone=f"+316000000{id_:02d}",
        layer=layer,
        status=status,
    )


PEOPLE = [a(1, "primary"), a(2, "backup"), a(3, "coordinator"), a(4, "team_line")]


def order(policy: EscalationPolicy, people: list[AssignmentView]) -> list[tuple[int, int]]:
    return [(s.assignment_id, s.round) for s in slots(people, policy)]


def test_default_policy_pages_on_call_twice_then_backup_coordinator_line() -> None:
    assert order(DEFAULT_ESCALATION, PEOPLE) == [(1, 0), (1, 1), (2, 0), (3, 0), (4, 0)]


def test_repeat_goes_round_all_people_of_a_step_before_asking_again() -> None:
    people = [a(1, "primary"), a(2, "primary"), a(3, "backup")]
    policy = EscalationPolicy(
        steps=(
            EscalationStep(target=EscalationTarget.ON_CALL, repeat=1),
            EscalationStep(target=EscalationTarget.BACKUP),
        )
    )
    assert order(policy, people) == [(1, 0), (2, 0), (1, 1), (2, 1), (3, 0)]


def test_a_layer_the_policy_leaves_out_is_never_paged() -> None:
    policy = EscalationPolicy(steps=(EscalationStep(target=EscalationTarget.ON_CALL),))
    assert order(policy, PEOPLE) == [(1, 0)]


def test_policy_must_start_from_on_call_and_name_each_target_once() -> None:
    with pytest.raises(ValidationError, match="on_call"):
        EscalationPolicy(steps=(EscalationStep(target=EscalationTarget.BACKUP),))
    with pytest.raises(ValidationError, match="once"):
        EscalationPolicy(
            steps=(
                EscalationStep(target=EscalationTarget.ON_CALL),
                EscalationStep(target=EscalationTarget.ON_CALL),
            )
        )
    with pytest.raises(ValidationError, match="channel"):
        EscalationStep(target=EscalationTarget.ON_CALL, channels=())
    with pytest.raises(ValidationError, match="wait"):
        EscalationStep(target=EscalationTarget.ON_CALL, wait=1)


def test_next_starts_the_first_untried_slot_only() -> None:
    queue = slots(PEOPLE, DEFAULT_ESCALATION)
    first = next_slots(queue, PEOPLE, attempted=[], open_attempts=[], needed=1)
    assert [(s.assignment_id, s.round) for s in first.start] == [(1, 0)]
    # while (1, 0) is open nothing else starts
    busy = next_slots(queue, PEOPLE, attempted=[(1, 0)], open_attempts=[1], needed=1)
    assert busy.start == () and not busy.exhausted and not busy.done
    # (1, 0) unreached: the same person again (repeat), then the backup
    again = next_slots(queue, PEOPLE, attempted=[(1, 0)], open_attempts=[], needed=1)
    assert [(s.assignment_id, s.round) for s in again.start] == [(1, 1)]
    later = next_slots(queue, PEOPLE, attempted=[(1, 0), (1, 1)], open_attempts=[], needed=1)
    assert [(s.assignment_id, s.round) for s in later.start] == [(2, 0)]


def test_a_decline_is_never_asked_again_even_in_another_layer() -> None:
    people = [
        a(1, "primary", "declined", person="x"),
        a(2, "coordinator", person="x"),
        a(3, "backup"),
    ]
    queue = slots(people, DEFAULT_ESCALATION)
    nxt = next_slots(queue, people, attempted=[(1, 0)], open_attempts=[], needed=1)
    assert [s.assignment_id for s in nxt.start] == [3]


def test_two_people_page_two_at_once_and_keep_going_until_two_accept() -> None:
    people = [a(1, "primary"), a(2, "primary"), a(3, "backup")]
    queue = slots(people, DEFAULT_ESCALATION)
    nxt = next_slots(queue, people, attempted=[], open_attempts=[], needed=2)
    assert sorted(s.assignment_id for s in nxt.start) == [1, 2]
    one_yes = [a(1, "primary", "accepted"), a(2, "primary", "declined"), a(3, "backup")]
    nxt = next_slots(queue, one_yes, attempted=[(1, 0), (2, 0)], open_attempts=[], needed=2)
    assert [s.assignment_id for s in nxt.start] == [3]
    both = [a(1, "primary", "accepted"), a(2, "primary", "declined"), a(3, "backup", "accepted")]
    assert next_slots(
        queue, both, attempted=[(1, 0), (2, 0), (3, 0)], open_attempts=[], needed=2
    ).done


def test_exhausted_when_nobody_is_left_and_nothing_is_open() -> None:
    people = [a(1, "primary", "unreached")]
    queue = slots(people, DEFAULT_ESCALATION)
    nxt = next_slots(queue, people, attempted=[(1, 0), (1, 1)], open_attempts=[], needed=1)
    assert nxt.exhausted and nxt.start == ()
    assert next_slots([], [], attempted=[], open_attempts=[], needed=1).exhausted


def test_attempt_timing_channels_deadline_and_sms_validity() -> None:
    [slot] = [s for s in slots(PEOPLE, DEFAULT_ESCALATION) if s.assignment_id == 2]
    plan = attempt(slot, T0)
    assert [(t.channel, t.due_at - T0) for t in plan.pages] == [
        ("voice", timedelta(0)),
        ("sms", timedelta(seconds=60)),
    ]
    assert plan.deadline_at == T0 + timedelta(seconds=60 + 90)
    # the SMS is dropped by the carrier no later than the attempt runs out
    sms = plan.pages[1]
    assert sms.due_at + timedelta(seconds=sms.validity_seconds) == plan.deadline_at


def test_team_line_gets_voice_only() -> None:
    step = EscalationStep(
        target=EscalationTarget.ON_CALL,
        channels=(ChannelStep(channel="sms", after=0), ChannelStep(channel="voice", after=30)),
        wait=30,
    )
    [slot] = slots([a(1, "primary")], EscalationPolicy(steps=(step,)))
    plan = attempt(slot, T0, channels=("voice",))
    assert [(t.channel, t.due_at) for t in plan.pages] == [("voice", T0 + timedelta(seconds=30))]
    assert plan.deadline_at == T0 + timedelta(seconds=60)

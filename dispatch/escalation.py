"""Escalation decisions, pure: who to page next, by which channel, until when.

A dispatch is paged in phases: first the consult that must agree (if the plan has
one, one acceptance is enough), then the response (as many acceptances as the plan
needs people). Within a phase the team's policy orders its assignments into *slots*:
step by step (on call, backup, coordinator, team line), round by round (``repeat``),
assignment by assignment. An *attempt* is one slot being paged: its channels go out
at their offsets and it ends when the person answers, every channel failed, or its
deadline passes.

Nothing here reads the clock or the database: ``paging`` feeds the current state in
and applies what comes out, so the rules are easy to test on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.states import AssignmentStatus
from oncall.schemas import EscalationPolicy, EscalationStep, EscalationTarget

TARGET_LAYER = {
    EscalationTarget.ON_CALL: "primary",
    EscalationTarget.BACKUP: "backup",
    EscalationTarget.COORDINATOR: "coordinator",
    EscalationTarget.TEAM_LINE: "team_line",
}
# An assignment in one of these states is not asked (again) in its phase.
SETTLED = frozenset(
    {AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED, AssignmentStatus.CANCELLED}
)


@dataclass(frozen=True)
class AssignmentView:
    id: int
    position: int
    purpose: str
    person: str | None
    phone: str | None
    layer: str
    status: str

    @property
    def who(self) -> str:
        """The same person (or line) may sit in two layers; they answer once."""
        return self.person or f"line:{self.phone}"


@dataclass(frozen=True)
class Slot:
    assignment_id: int
    round: int
    step: EscalationStep


@dataclass(frozen=True)
class Timing:
    channel: str
    due_at: datetime
    validity_seconds: int


@dataclass(frozen=True)
class Attempt:
    slot: Slot
    pages: tuple[Timing, ...]
    deadline_at: datetime


@dataclass(frozen=True)
class Next:
    start: tuple[Slot, ...]
    done: bool  # enough people accepted in this phase
    exhausted: bool  # nobody left to ask and nothing open: fewer accepted than needed


def slots(assignments: Sequence[AssignmentView], policy: EscalationPolicy) -> list[Slot]:
    """The order a phase pages in: step by step, round by round, assignment by assignment.

    Assignments in a layer no step names are not paged (the planner left them out).
    """
    out: list[Slot] = []
    for step in policy.steps:
        layer = TARGET_LAYER[step.target]
        members = [a for a in assignments if a.layer == layer]
        for round_ in range(step.repeat + 1):
            out.extend(Slot(a.id, round_, step) for a in members)
    return out


def next_slots(
    queue: Sequence[Slot],
    assignments: Sequence[AssignmentView],
    attempted: Iterable[tuple[int, int]],
    open_attempts: Iterable[int],
    needed: int,
) -> Next:
    """Which slots to start now so that ``needed`` people are being asked or have said yes.

    ``attempted`` holds (assignment id, round) of every attempt made so far,
    ``open_attempts`` the assignment ids being paged right now.
    """
    by_id = {a.id: a for a in assignments}
    accepted = [a for a in assignments if a.status == AssignmentStatus.ACCEPTED]
    if len(accepted) >= needed:
        return Next(start=(), done=True, exhausted=False)
    tried = set(attempted)
    busy = set(open_attempts)
    settled_people = {a.who for a in assignments if a.status in SETTLED}
    busy_people = {by_id[i].who for i in busy if i in by_id}
    free = needed - len(accepted) - len(busy)
    start: list[Slot] = []
    for slot in queue:
        if free <= 0:
            break
        a = by_id.get(slot.assignment_id)
        if a is None or (a.id, slot.round) in tried or a.status in SETTLED or a.id in busy:
            continue
        if a.who in settled_people or a.who in busy_people:
            continue
        start.append(slot)
        busy.add(a.id)
        busy_people.add(a.who)
        free -= 1
    return Next(start=tuple(start), done=False, exhausted=not start and not busy)


def attempt(slot: Slot, start_at: datetime, channels: Iterable[str] | None = None) -> Attempt:
    """When each channel of an attempt goes out, and when the attempt runs out.

    ``channels`` limits the step's channels to those the assignment can receive
    (a team line takes no SMS).
    """
    allowed = set(channels) if channels is not None else None
    steps = [c for c in slot.step.channels if allowed is None or c.channel in allowed]
    if not steps:
        steps = [slot.step.channels[0]]
    last = max(c.after for c in steps)
    deadline = start_at + timedelta(seconds=last + slot.step.wait)
    pages = tuple(
        Timing(
            channel=c.channel,
            due_at=start_at + timedelta(seconds=c.after),
            validity_seconds=max(15, last - c.after + slot.step.wait),
        )
        for c in steps
    )
    return Attempt(slot=slot, pages=pages, deadline_at=deadline)

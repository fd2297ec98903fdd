"""Attempts as rows: what a dispatch pages by (frozen at intake), the pages one attempt
sends, and the first attempts of a new dispatch written with its own rows.

``paging`` decides when an attempt starts; here is what starting one writes: a page row
per channel, due at the channel's offset, all with the attempt's deadline, and one
``attempt.started`` event. Intake starts the first attempts from the rows it has just
built (``fresh_start``), so the hot path neither locks nor reads back the dispatch it
inserted a moment ago; anything unusual (nobody to page) goes through ``paging.begin``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from dispatch import events
from dispatch.escalation import AssignmentView, Slot, attempt, next_slots, slots
from dispatch.models import Assignment, Page
from dispatch.states import AssignmentStatus, Channel, PageStatus, PagingState, Purpose
from dispatch.wake import Wake
from oncall.schemas import EscalationPolicy

_PAGES = cast(Table, Page.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)


def paging_spec(
    *,
    consult_policy: EscalationPolicy | None,
    respond_policy: EscalationPolicy,
    staff: int,
    info: dict[str, Any],
    consult_providers: tuple[str, ...] | None = None,
    respond_providers: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """What a dispatch pages by, frozen at intake (a later config change does not alter
    it): per phase the policy, the people needed and the team's own providers, if any."""
    phases: list[dict[str, Any]] = []
    if consult_policy is not None:
        phases.append(
            {
                "purpose": PagingState.CONSULT.value,
                "needed": 1,
                "policy": consult_policy.model_dump(mode="json"),
            }
        )
        if consult_providers:
            phases[-1]["providers"] = list(consult_providers)
    phases.append(
        {
            "purpose": PagingState.RESPOND.value,
            "needed": max(1, staff),
            "policy": respond_policy.model_dump(mode="json"),
        }
    )
    if respond_providers:
        phases[-1]["providers"] = list(respond_providers)
    return {"phases": phases, "info": info}


def phase_of_purpose(purpose: str) -> PagingState:
    return PagingState.CONSULT if purpose == Purpose.CONSULT else PagingState.RESPOND


@dataclass(frozen=True)
class Asked:
    """Who an attempt asks: the assignment's id and what the page rows need of it."""

    id: int
    dispatch_id: str
    position: int
    purpose: str
    person: str | None
    team: str
    layer: str
    phone: str | None


def write_attempt(session: Session, asked: Asked, slot: Slot, now: datetime) -> Wake:
    """Start one attempt: its page rows and its ``attempt.started`` event."""
    channels = (Channel.VOICE,) if asked.layer == "team_line" else None
    plan = attempt(slot, now, channels)
    ids = [str(uuid.uuid4()) for _ in plan.pages]
    rows = [
        {
            "id": ids[i],
            "dispatch_id": asked.dispatch_id,
            "assignment_id": asked.id,
            "round": slot.round,
            "channel": t.channel,
            "seq": i,
            "phone": asked.phone,
            "status": PageStatus.SCHEDULED,
            "due_at": t.due_at,
            "deadline_at": plan.deadline_at,
            "validity_seconds": t.validity_seconds,
            "tries": 0,
            "created_at": now,
        }
        for i, t in enumerate(plan.pages)
    ]
    session.execute(insert(_PAGES), rows)
    started = {
        "assignment": asked.position,
        "purpose": asked.purpose,
        "person": asked.person,
        "team": asked.team,
        "layer": asked.layer,
        "round": slot.round,
        "channels": [t.channel for t in plan.pages],
        "deadline_at": plan.deadline_at.isoformat(),
    }
    events.append(session, asked.dispatch_id, now, [("attempt.started", started)])
    return Wake(
        due=[(ids[i], t.due_at) for i, t in enumerate(plan.pages)],
        deadlines=[(ids[0], plan.deadline_at)],
    )


@dataclass(frozen=True)
class FreshStart:
    """The first phase of a new dispatch and the slots it starts with."""

    state: PagingState
    slots: tuple[Slot, ...]


def plan_fresh_start(
    rows: Sequence[Mapping[str, Any]],
    policies: Mapping[PagingState, EscalationPolicy],
    needed: Mapping[PagingState, int],
) -> FreshStart | None:
    """The first attempts of a dispatch nobody has answered yet (pure; the slots name
    assignments by position, as the rows have no ids yet). None when there is nobody
    to page in the first phase: ``paging.begin`` handles that case."""
    purposes = {phase_of_purpose(str(r["purpose"])) for r in rows}
    consult = PagingState.CONSULT in purposes and PagingState.CONSULT in policies
    state = PagingState.CONSULT if consult else PagingState.RESPOND
    policy = policies.get(state)
    if policy is None:
        return None
    views = [
        AssignmentView(
            id=int(r["position"]),
            position=int(r["position"]),
            purpose=str(r["purpose"]),
            person=r["person_id"],
            phone=r["phone"],
            layer=str(r["layer"]),
            status=AssignmentStatus.PLANNED,
        )
        for r in rows
        if phase_of_purpose(str(r["purpose"])) == state
    ]
    nxt = next_slots(slots(views, policy), views, (), (), needed.get(state, 1))
    if nxt.done or not nxt.start:
        return None
    return FreshStart(state, nxt.start)


def fresh_start(
    session: Session,
    dispatch_id: str,
    rows: list[dict[str, Any]],
    start: FreshStart,
    now: datetime,
) -> Wake:
    """Insert the assignments (``rows``, with the started ones already ``paging``) and
    the first attempts' pages, with the events ``paging.begin`` would have written."""
    ids = {
        position: id_
        for id_, position in session.execute(
            insert(_ASSIGNMENTS).returning(
                _ASSIGNMENTS.c.id, _ASSIGNMENTS.c.position, sort_by_parameter_order=True
            ),
            rows,
        )
    }
    by_position = {int(r["position"]): r for r in rows}
    events.append(session, dispatch_id, now, [("paging.started", {"phase": start.state.value})])
    wake = Wake()
    for slot in start.slots:
        row = by_position[slot.assignment_id]
        asked = Asked(
            id=ids[slot.assignment_id],
            dispatch_id=dispatch_id,
            position=slot.assignment_id,
            purpose=str(row["purpose"]),
            person=row["person_id"],
            team=str(row["team_id"]),
            layer=str(row["layer"]),
            phone=row["phone"],
        )
        real = Slot(asked.id, slot.round, slot.step)
        wake.extend(write_attempt(session, asked, real, now))
    return wake

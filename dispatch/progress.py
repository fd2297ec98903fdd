"""The joint response in the database: apply a lifecycle action under the dispatch lock.

``act`` locks the dispatch (lock order everywhere: dispatch, then pages, then the event
log), asks ``dispatch.lifecycle`` whether the action is allowed and what it changes,
applies that and writes one ``lifecycle.<action>`` event, all in the caller's
transaction. A repeat of the action that produced the current state changes nothing
and writes nothing. The caller commits, then arms the returned ``Wake`` (closing stops
paging, which may mean hanging up calls still ringing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from dispatch import alarms, events, paging
from dispatch.lifecycle import Change, Facts, TransitionError, decide
from dispatch.models import Assignment, Dispatch
from dispatch.paging import Wake
from dispatch.states import AlarmKind, AssignmentStatus, PagingState, Stage

__all__ = ["ActResult", "TransitionError", "accepted", "act", "facts_of", "intake_stage"]


@dataclass
class ActResult:
    dispatch: Dispatch
    changed: bool
    wake: Wake = field(default_factory=Wake)


def facts_of(dispatch: Dispatch, assignment: Assignment | None = None) -> Facts:
    responders = [a for a in dispatch.assignments if paging.phase_of(a) == PagingState.RESPOND]
    return Facts(
        stage=dispatch.stage,
        paging_state=dispatch.paging_state,
        outcome=dispatch.outcome,
        has_assignments=bool(dispatch.assignments),
        any_accepted=any(a.status == AssignmentStatus.ACCEPTED for a in responders),
        arrived=dispatch.arrived_at is not None,
        safe=dispatch.safe_at is not None,
        consult_kind=dispatch.consult_kind,
        police_left=dispatch.police_left_at is not None,
        half_staffed_decision=dispatch.half_staffed_decision,
        agreements=dispatch.agreements,
        handover=dispatch.handover,
        checklist=dispatch.checklist,
        evaluation_note=dispatch.evaluation_note,
        assignment_status=assignment.status if assignment is not None else None,
        enroute=assignment is not None and assignment.enroute_at is not None,
        assignment_arrived=assignment is not None and assignment.arrived_at is not None,
        eta_at=assignment.eta_at if assignment is not None else None,
    )


def act(
    session: Session,
    *,
    dispatch_id: str,
    action: str,
    role: str,
    assignment_id: int | None,
    data: Mapping[str, Any],
    now: datetime,
    by: str | None = None,
) -> ActResult:
    """Apply ``action`` by ``role``; raises ``TransitionError`` (nothing changed) or
    ``LookupError`` (no such dispatch or assignment)."""
    try:
        dispatch = paging.lock(session, dispatch_id)
    except NoResultFound:
        raise LookupError(f"no dispatch '{dispatch_id}'") from None
    assignment = None
    if assignment_id is not None:
        assignment = next((a for a in dispatch.assignments if a.id == assignment_id), None)
        if assignment is None:
            raise LookupError(f"assignment {assignment_id} is not part of this dispatch")
    change = decide(action, facts_of(dispatch, assignment), role, data, now)
    if not change.changed:
        return ActResult(dispatch, False)
    wake = _apply(session, dispatch, assignment, change, now)
    _record(session, dispatch, assignment, change, role, now, by)
    if change.action == "half_staffed":
        alarms.clear_alarm(
            session, dispatch.id, AlarmKind.HALF_STAFFED, now, reason=str(data["decision"])
        )
    return ActResult(dispatch, True, wake)


def _apply(
    session: Session,
    dispatch: Dispatch,
    assignment: Assignment | None,
    change: Change,
    now: datetime,
) -> Wake:
    for column, value in change.dispatch.items():
        setattr(dispatch, column, value)
    if change.assignment:
        if assignment is None:
            raise ValueError(f"{change.action} changes an assignment, and none was given")
        for column, value in change.assignment.items():
            setattr(assignment, column, value)
    dispatch.updated_at = now
    if not change.stop_paging:
        return Wake()
    # Closed: nobody else is asked; calls still ringing are ended after commit; no alarm
    # stays up.
    dispatch.accept_alarm_at = None
    alarms.clear_all(session, dispatch.id, now, reason="closed")
    pages = paging.pages_of(session, dispatch.id)
    return paging._cancel_open(session, dispatch, pages, list(dispatch.assignments), now)


def _record(
    session: Session,
    dispatch: Dispatch,
    assignment: Assignment | None,
    change: Change,
    role: str,
    now: datetime,
    by: str | None,
) -> None:
    payload: dict[str, Any] = {
        "stage": change.stage,
        "actor": role,
        "assignment": assignment.position if assignment is not None else None,
        **change.record,
    }
    if by:
        payload["by"] = by
    events.append(session, dispatch.id, now, [(f"lifecycle.{change.action}", payload)])


def intake_stage(has_assignments: bool, now: datetime) -> tuple[dict[str, Any], list[Any]]:
    """The stage a new dispatch starts in, and its event: paging when there is anyone to
    page, melding otherwise (intake inserts the row itself, on its hot path)."""
    if not has_assignments:
        return {"stage": Stage.MELDING, "stage_at": now}, []
    change = decide("paging", Facts(stage=Stage.MELDING), "system", {}, now)
    payload = {"stage": change.stage, "actor": "system", "assignment": None}
    return dict(change.dispatch), [("lifecycle.paging", payload)]


def accepted(session: Session, dispatch: Dispatch, assignment: Assignment, now: datetime) -> None:
    """A responder accepted (the dispatch is locked): the first one moves the response to
    accepted; each gets the police unit's callback number, and the control room theirs."""
    if paging.phase_of(assignment) != PagingState.RESPOND:
        return
    change = decide("accepted", facts_of(dispatch, assignment), "system", {}, now)
    if change.changed:
        _apply(session, dispatch, None, change, now)
        _record(session, dispatch, assignment, change, "system", now, None)
    events.append(
        session,
        dispatch.id,
        now,
        [
            (
                "contact.exchanged",
                {
                    "assignment": assignment.position,
                    "worker_phone": assignment.phone,
                    "police_unit": dispatch.incident.police_unit,
                    "police_callback": dispatch.incident.police_callback,
                },
            )
        ],
    )

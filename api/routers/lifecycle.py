"""The joint response through the API: the control room and the accepted worker record
each step (see ``dispatch.lifecycle`` for the rules) and get the live summary back.

Errors name the rule: 403 when the role may never do this, 409 when it is not allowed
now, 422 when a field is missing or invalid (the field is named). Repeating the action
that produced the current state answers 200 with the current state and writes nothing.

The evaluation note sent with a close is read back only by the planners (and admins) of
the incident's region, from its own route: it is in no summary, event or audit detail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.orm import Session

from api import audit, auth, scope
from api.bounds import DispatchId, LinkToken
from api.deps import AppClock, ControlRoom, DbSession, Planner, State
from api.state import AppState
from dispatch import flows, live, progress, service
from dispatch.lifecycle import TransitionError
from dispatch.models import Assignment
from dispatch.schemas import ActionIn, action_data
from notifications import links

router = APIRouter(tags=["lifecycle"])

_STATUS = {
    "forbidden_role": status.HTTP_403_FORBIDDEN,
    "invalid_transition": status.HTTP_409_CONFLICT,
    "invalid_data": 422,
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "This role may not record this action (the rule is named)"},
    409: {
        "description": "Not allowed in the current stage or with the facts recorded: "
        '{"detail": {"error": "invalid_transition", "action", "stage", "message"}}'
    },
    422: {"description": "Invalid body; each bad field is named"},
}


def _act(
    session: Session,
    state: AppState,
    *,
    dispatch_id: str,
    body: Any,
    role: str,
    assignment_id: int | None,
    by: str | None,
    note: Callable[[Session], object],
) -> dict[str, Any]:
    now = state.clock.now()

    data = action_data(body)
    if body.action == "checklist":
        data["by"] = by  # a tick is kept with who ticked it

    def act(s: Session) -> Any:
        done = progress.act(
            s,
            dispatch_id=dispatch_id,
            action=body.action,
            role=role,
            assignment_id=assignment_id,
            data=data,
            now=now,
            by=by,
        )
        note(s)  # the audit row commits with the step, or not at all
        return done  # what to wake (the gate arms it after the commit)

    try:
        flows.run_in(state.paging, session, act)
    except TransitionError as exc:
        detail: dict[str, Any] = {
            "error": exc.code,
            "action": exc.action,
            "stage": exc.stage,
            "message": exc.message,
        }
        if exc.code == "forbidden_role":
            detail["role"] = role
        raise HTTPException(_STATUS.get(exc.code, 409), detail=detail) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return live.summaries(session, [dispatch_id], state.clock.now())[dispatch_id]


@router.post(
    "/api/v1/incidents/{dispatch_id}/actions",
    summary="Record a step of the joint response (control room)",
    responses={404: {"description": "No such incident or dispatch"}, **_ERRORS},
)
def incident_action(
    dispatch_id: DispatchId,
    body: ActionIn,
    session: DbSession,
    state: State,
    clock: AppClock,
    caller: ControlRoom,
    request: Request,
) -> dict[str, Any]:
    """Look up by dispatch id, incident id or reference. Answers the live summary."""
    dispatch = scope.visible_dispatch(
        caller, service.get_dispatch(session=session, dispatch_id=dispatch_id), dispatch_id
    )
    return _act(
        session,
        state,
        dispatch_id=dispatch.id,
        body=body,
        role="control_room",
        assignment_id=None,
        by=caller.actor,
        note=lambda s: audit.note(
            s,
            request,
            caller,
            f"incident.{body.action}",
            "dispatch",
            dispatch.id,
            region=dispatch.region_id,
        ),
    )


@router.post(
    "/w/{token}/actions",
    dependencies=[auth.public("the worker's signed, expiring link is the credential")],
    summary="Record a step of the joint response (the accepted worker, by its link)",
    responses={
        404: {"description": "Unknown link"},
        410: {"description": "The link has expired"},
        **_ERRORS,
    },
)
def worker_action(
    token: LinkToken, body: ActionIn, session: DbSession, state: State, request: Request
) -> dict[str, Any]:
    """The worker's own assignment comes from the token; the summary leaves out other
    workers' phone numbers."""
    try:
        assignment_id = links.verify_worker(token, state.clock.now(), state.settings.link_secret)
    except links.WorkerLinkExpired as exc:
        raise HTTPException(status.HTTP_410_GONE, detail="this link has expired") from exc
    except links.LinkInvalid as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown link") from exc
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown link")
    position = assignment.position
    summary = _act(
        session,
        state,
        dispatch_id=assignment.dispatch_id,
        body=body,
        role="worker",
        assignment_id=assignment_id,
        by=f"assignment:{assignment_id}",
        note=lambda s: audit.add(
            s,
            now=state.clock.now(),
            actor=f"worker:assignment:{assignment_id}",
            actor_kind="worker",
            actor_role="worker",
            action=f"incident.{body.action}",
            object_type="dispatch",
            object_id=assignment.dispatch_id,
            source=audit.source_address(request),
        ),
    )
    return live.for_role(summary, "worker", position)


@router.get(
    "/api/v1/incidents/{dispatch_id}/evaluation-note",
    summary="The evaluation notes written at closing (planners and admins of its region)",
    responses={404: {"description": "No such incident, or not in the caller's regions"}},
)
def evaluation_note(
    dispatch_id: DispatchId, session: DbSession, caller: Planner, request: Request
) -> dict[str, Any]:
    """Which information helped and what was missing, per side that closed (control room,
    worker). The read is audited like every read of incident details."""
    dispatch = service.get_dispatch(session=session, dispatch_id=dispatch_id)
    if dispatch is None or not (
        caller.unbounded or (dispatch.region_id is not None and caller.plans(dispatch.region_id))
    ):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no incident or dispatch '{dispatch_id}'"
        )
    stored = dispatch.evaluation_note or {}
    notes = [
        {
            "by": role,
            "helped": note.get("helped", ""),
            "missing": note.get("missing", ""),
            "at": note.get("at"),
        }
        for role, note in sorted(stored.items())
        if isinstance(note, dict)
    ]
    audit.note(
        session,
        request,
        caller,
        "incident.evaluation_note.read",
        "dispatch",
        dispatch.id,
        region=dispatch.region_id,
    )
    session.commit()
    return {
        "id": dispatch.id,
        "reference": dispatch.reference,
        "region": dispatch.region_id,
        "outcome": dispatch.outcome,
        "closed_at": dispatch.closed_at.isoformat() if dispatch.closed_at else None,
        "notes": notes,
    }

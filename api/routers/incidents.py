"""Incident intake from the police feed and the stored plan."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session

from access.principal import Role
from api import audit, scope
from api.bounds import DispatchId, RegionId
from api.deps import AppClock, AppSettings, DbSession, IncidentReader, Intake, Snapshot, State
from core import metrics
from dispatch import flows, service
from dispatch.schemas import DispatchRead, IncidentCreate

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

_CONFLICT = {"description": "Same source and external_id, different content"}


@router.post(
    "",
    response_model=DispatchRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A retry: the dispatch made the first time", "model": DispatchRead},
        409: _CONFLICT,
        401: {"description": "Missing or unknown API key"},
        403: {"description": "A source or area outside this key's scope (the field is named)"},
        422: {"description": "Invalid input; each bad field is named"},
    },
    summary="Receive an incident from the police feed and pair it",
)
def create_incident(
    data: IncidentCreate,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
    settings: AppSettings,
    caller: Intake,
    state: State,
    request: Request,
) -> Response:
    """Idempotent on (source, external_id): a retry returns the same dispatch with 200.

    An incident outside every configured area is still accepted; its plan points the
    police to the national Veilig Thuis line with the reason.
    """
    started = time.perf_counter()
    scope.check_intake(caller, snapshot, data)
    now = clock.now()

    def intake(s: Session) -> service.IntakeResult:
        result = service.intake(
            session=s,
            data=data,
            snapshot=snapshot,
            now=now,
            national=(settings.national_fallback_name, settings.national_fallback_phone),
            actor=caller.actor,
            no_accept_after=timedelta(minutes=settings.no_accept_alarm_minutes),
        )
        if result.created:  # in the same transaction as the incident
            audit.note_now(
                s,
                request,
                caller,
                "incident.create",
                "dispatch",
                result.read.id,
                region=result.read.region,
            )
        return result

    try:
        result = flows.run_in(state.paging, session, intake)
    except service.IdempotencyConflict as exc:
        metrics.observe_intake(started, "conflict")
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    metrics.observe_intake(started, "created" if result.created else "replayed")
    # Serialised once by pydantic's JSON encoder; the response model above documents it.
    return Response(
        content=result.read.model_dump_json(),
        media_type="application/json",
        status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@router.get(
    "/{dispatch_id}",
    response_model=DispatchRead,
    summary="A dispatch with its plan",
    responses={404: {"description": "No such incident or dispatch"}},
)
def get_incident(
    dispatch_id: DispatchId,
    session: DbSession,
    clock: AppClock,
    caller: IncidentReader,
    request: Request,
) -> DispatchRead:
    """Look up by dispatch id, incident id or reference (e.g. SO-7KQ2MZ). Reads are
    audit-logged. A feed reads only what it sent; others only their regions' incidents."""
    dispatch = scope.visible_dispatch(
        caller, service.get_dispatch(session=session, dispatch_id=dispatch_id), dispatch_id
    )
    audit.note(
        session,
        request,
        caller,
        "incident.read",
        "dispatch",
        dispatch.id,
        region=dispatch.region_id,
    )
    session.commit()
    return service.to_read(dispatch)


@router.get("", response_model=list[DispatchRead], summary="Most recent dispatches")
def list_incidents(
    session: DbSession,
    caller: IncidentReader,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: Annotated[
        Literal["paired", "no_candidates", "fallback", "police_call"] | None,
        Query(description="Plan status"),
    ] = None,
    region: RegionId = None,
) -> list[DispatchRead]:
    found = service.list_dispatches(
        session=session,
        limit=limit,
        status=status,
        region=region,
        regions=None if caller.unbounded else caller.regions or frozenset(),
        basisteams=None if caller.unbounded else caller.basisteams,
        created_by=caller.actor if caller.role is Role.FEED else None,
    )
    if found:  # a list carries incident details: one row naming what was read
        audit.note(
            session,
            request,
            caller,
            "incident.list",
            "dispatch",
            f"{len(found)} incidents",
            detail={"ids": [d.id for d in found][:500]},
        )
        session.commit()
    return [service.to_read(d) for d in found]

"""Intake: store the incident, pair it, store the plan and its events, in one transaction."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.models import Assignment, AuditLog, Dispatch, Event, Incident
from dispatch.pairing import Plan, pair
from dispatch.schemas import DispatchRead, IncidentCreate
from oncall.facts import IncidentFacts, PersonFacts
from oncall.snapshot import ConfigSnapshot

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


class IdempotencyConflict(Exception):
    """The same (source, external_id) came back with different content."""

    def __init__(self, source: str, external_id: str, dispatch_id: str) -> None:
        super().__init__(
            f"external_id '{external_id}' from source '{source}' was already received with "
            f"different content (dispatch {dispatch_id}); send a new external_id for a new incident"
        )
        self.dispatch_id = dispatch_id


@dataclass(frozen=True)
class IntakeResult:
    dispatch: Dispatch
    created: bool


def request_hash(data: IncidentCreate) -> str:
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


def new_reference() -> str:
    return "SO-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def resolve_area(
    snapshot: ConfigSnapshot, basisteam: str | None, municipality: str | None
) -> tuple[str | None, str | None]:
    """Accept ids, CBS codes or names as the feed types them; unknown values pass through."""
    if basisteam and basisteam not in snapshot.basisteams:
        wanted = basisteam.casefold()
        basisteam = next(
            (
                b.id
                for b in snapshot.config.basisteams
                if b.name.casefold() == wanted or b.id.casefold() == wanted
            ),
            basisteam,
        )
    if municipality and municipality not in snapshot.municipalities:
        wanted = municipality.casefold()
        municipality = next(
            (
                x.code
                for x in snapshot.config.municipalities
                if x.name.casefold() == wanted or x.code.casefold() == wanted
            ),
            municipality,
        )
    return basisteam, municipality


def facts_from(
    data: IncidentCreate, basisteam: str | None, municipality: str | None
) -> IncidentFacts:
    return IncidentFacts(
        case_type=data.case_type,
        basisteam=basisteam,
        municipality=municipality,
        persons=tuple(PersonFacts(role=p.role, age=p.age) for p in data.persons),
        flags=frozenset(data.flags),
    )


def _find(session: Session, source: str, external_id: str) -> Dispatch | None:
    return session.scalar(
        select(Dispatch)
        .join(Incident)
        .where(Incident.source == source, Incident.external_id == external_id)
    )


def _assignments(plan: Plan) -> list[Assignment]:
    rows: list[Assignment] = []
    response = plan.response
    if response is None:
        return rows
    if response.consult is not None:
        for c in response.consult.candidates:
            rows.append(
                Assignment(
                    purpose="consult",
                    team_id=c.team,
                    person_id=c.person,
                    phone=c.phones[0],
                    mode="phone",
                    layer=c.layer,
                    reasons=[r.as_dict() for r in c.reasons],
                )
            )
    for c in response.candidates:
        rows.append(
            Assignment(
                purpose="respond",
                team_id=c.team,
                person_id=c.person,
                phone=c.phones[0],
                mode=response.mode,
                layer=c.layer,
                reasons=[r.as_dict() for r in c.reasons],
            )
        )
    if response.team_line:
        rows.append(
            Assignment(
                purpose="team_line",
                team_id=response.team,
                person_id=None,
                phone=response.team_line,
                mode="phone",
                layer="team_line",
                reasons=[],
            )
        )
    for i, row in enumerate(rows, start=1):
        row.position = i
        row.status = "planned"
    return rows


def intake(
    *,
    session: Session,
    data: IncidentCreate,
    snapshot: ConfigSnapshot,
    now: datetime,
    national: tuple[str, str],
) -> IntakeResult:
    """Store and pair one incident; a retry of the same request returns the first dispatch.

    The caller commits. On a concurrent duplicate the unique constraint decides and
    the loser gets the winner's dispatch.
    """
    digest = request_hash(data)
    existing = _find(session, data.source, data.external_id)
    if existing is not None:
        return _replay(existing, data, digest)

    basisteam, municipality = resolve_area(snapshot, data.basisteam, data.municipality)
    plan = pair(
        facts_from(data, basisteam, municipality), snapshot, data.reported_at, national=national
    )
    plan_dict = plan.to_dict()
    incident = Incident(
        id=str(uuid.uuid4()),
        source=data.source,
        external_id=data.external_id,
        request_hash=digest,
        reported_at=data.reported_at,
        received_at=now,
        basisteam_id=basisteam,
        municipality_code=municipality,
        case_type=data.case_type.value,
        persons=[p.model_dump(mode="json") for p in data.persons],
        flags=[f.value for f in data.flags],
        police_unit=data.police_unit,
        police_callback=data.police_callback,
    )
    response = plan.response
    dispatch = Dispatch(
        id=str(uuid.uuid4()),
        incident=incident,
        reference=new_reference(),
        status=plan.status,
        region_id=plan.region,
        team_id=response.team if response else None,
        mode=response.mode if response else plan.expectation.mode,
        staff_needed=response.staff if response else 0,
        config_version=snapshot.version,
        planned_at=plan.at,
        plan=plan_dict,
        created_at=now,
        updated_at=now,
        assignments=_assignments(plan),
    )
    session.add(dispatch)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request with the same (source, external_id) committed first.
        session.rollback()
        winner = _find(session, data.source, data.external_id)
        if winner is None:
            raise
        return _replay(winner, data, digest)
    summary = {
        "reference": dispatch.reference,
        "status": dispatch.status,
        "region": dispatch.region_id,
        "team": dispatch.team_id,
        "mode": dispatch.mode,
    }
    session.add_all(
        [
            Event(
                dispatch_id=dispatch.id,
                type="incident.received",
                created_at=now,
                payload={
                    "incident_id": incident.id,
                    "source": data.source,
                    "basisteam": basisteam,
                    "municipality": municipality,
                    "case_type": data.case_type.value,
                },
            ),
            Event(
                dispatch_id=dispatch.id, type="dispatch.planned", created_at=now, payload=summary
            ),
        ]
    )
    return IntakeResult(dispatch=dispatch, created=True)


def _replay(existing: Dispatch, data: IncidentCreate, digest: str) -> IntakeResult:
    if existing.incident.request_hash != digest:
        raise IdempotencyConflict(data.source, data.external_id, existing.id)
    return IntakeResult(dispatch=existing, created=False)


def get_dispatch(*, session: Session, dispatch_id: str) -> Dispatch | None:
    dispatch = session.get(Dispatch, dispatch_id)
    if dispatch is None:
        dispatch = session.scalar(select(Dispatch).where(Dispatch.incident_id == dispatch_id))
    if dispatch is None:
        dispatch = session.scalar(select(Dispatch).where(Dispatch.reference == dispatch_id.upper()))
    return dispatch


def list_dispatches(*, session: Session, limit: int = 50) -> list[Dispatch]:
    return list(session.scalars(select(Dispatch).order_by(Dispatch.created_at.desc()).limit(limit)))


def audit(
    *,
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: str | None = None,
) -> None:
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )
    )


def to_read(dispatch: Dispatch) -> DispatchRead:
    incident = dispatch.incident
    return DispatchRead(
        id=dispatch.id,
        reference=dispatch.reference,
        incident_id=incident.id,
        source=incident.source,
        external_id=incident.external_id,
        status=dispatch.status,
        region=dispatch.region_id,
        team=dispatch.team_id,
        mode=dispatch.mode,
        staff_needed=dispatch.staff_needed,
        reported_at=incident.reported_at,
        received_at=incident.received_at,
        planned_at=dispatch.planned_at,
        config_version=dispatch.config_version,
        plan=dispatch.plan,
        assignments=[_assignment_dict(a) for a in dispatch.assignments],
    )


def _assignment_dict(a: Assignment) -> dict[str, Any]:
    return {
        "position": a.position,
        "purpose": a.purpose,
        "team": a.team_id,
        "person": a.person_id,
        "phone": a.phone,
        "mode": a.mode,
        "layer": a.layer,
        "status": a.status,
        "reasons": a.reasons,
    }

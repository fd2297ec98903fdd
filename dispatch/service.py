"""Intake: store the incident, pair it, store the plan and its events, in one transaction."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import attempts, events, paging, progress
from dispatch.delivery import page_info
from dispatch.models import Assignment, AuditLog, Dispatch, Incident, Page
from dispatch.paging import Wake
from dispatch.pairing import Plan, pair
from dispatch.schemas import DispatchRead, IncidentCreate
from dispatch.states import AssignmentStatus, PageStatus, PagingState, Purpose
from notifications.messages import PageInfo
from oncall.facts import IncidentFacts, PersonFacts
from oncall.schemas import DEFAULT_ESCALATION, EscalationPolicy
from oncall.snapshot import ConfigSnapshot

# Core tables for the hot path: plain INSERTs without the ORM's unit of work.
_INCIDENTS = cast(Table, Incident.__table__)
_DISPATCHES = cast(Table, Dispatch.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
# "Nog niemand aangenomen" this long after the report, unless the region says otherwise.
NO_ACCEPT_AFTER = timedelta(minutes=3)
# A call may read its page while the page still asks (an uncertain send's call too).
_SCRIPTED = (
    PageStatus.SCHEDULED,
    PageStatus.SENDING,
    PageStatus.SENT,
    PageStatus.ANSWERED,
    PageStatus.DELIVERED,
)


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
    dispatch_id: str
    read: DispatchRead
    created: bool
    wake: Wake = field(default_factory=Wake)


def request_hash(data: IncidentCreate) -> str:
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


def new_reference() -> str:
    return "SO-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def resolve_area(
    snapshot: ConfigSnapshot, basisteam: str | None, municipality: str | None
) -> tuple[str | None, str | None]:
    """Accept ids, CBS codes or names as the feed types them; unknown values pass through."""
    if basisteam:
        basisteam = snapshot.basisteam_by_name.get(basisteam.casefold(), basisteam)
    if municipality:
        municipality = snapshot.municipality_by_name.get(municipality.casefold(), municipality)
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


def _assignment_rows(
    plan: Plan, dispatch_id: str, snapshot: ConfigSnapshot
) -> list[dict[str, Any]]:
    """The queue escalation walks: consult first, then responders, coordinators, team line.

    Coordinators are not on the roster: they are the team's members with role
    ``coordinator``, asked when on call and backup did not answer (if the team's
    escalation policy has that step).
    """
    rows: list[dict[str, Any]] = []
    response = plan.response
    if response is None or plan.police_call is not None:  # the police call the line
        return rows

    def add(
        purpose: str,
        team: str,
        person: str | None,
        phone: str,
        mode: str,
        layer: str,
        reasons: list[dict[str, str]],
    ) -> None:
        rows.append(
            {
                "dispatch_id": dispatch_id,
                "position": len(rows) + 1,
                "purpose": purpose,
                "team_id": team,
                "person_id": person,
                "phone": phone,
                "mode": mode,
                "layer": layer,
                "status": AssignmentStatus.PLANNED,
                "reasons": reasons,
            }
        )

    consult = response.consult
    if consult is not None:
        for c in consult.candidates:
            add(
                "consult",
                c.team,
                c.person,
                c.phones[0],
                "phone",
                c.layer,
                [r.as_dict() for r in c.reasons],
            )
        for person, phone in _coordinators(snapshot, consult.team, consult.candidates):
            add("consult", consult.team, person, phone, "phone", "coordinator", [_COORDINATOR])
        if consult.team_line:
            add("consult", consult.team, None, consult.team_line, "phone", "team_line", [])
    for c in response.candidates:
        add(
            "respond",
            c.team,
            c.person,
            c.phones[0],
            response.mode,
            c.layer,
            [r.as_dict() for r in c.reasons],
        )
    for person, phone in _coordinators(snapshot, response.team, response.candidates):
        add("respond", response.team, person, phone, response.mode, "coordinator", [_COORDINATOR])
    if response.team_line:
        add("team_line", response.team, None, response.team_line, "phone", "team_line", [])
    return rows


_COORDINATOR = {"code": "coordinator", "text": "coördinator van het team"}


def _coordinators(
    snapshot: ConfigSnapshot, team: str, candidates: tuple[Any, ...]
) -> list[tuple[str, str]]:
    """Active coordinators of ``team`` with a phone, not already on the list."""
    listed = {c.person for c in candidates}
    out = []
    for person_id, role in snapshot.members.get(team, {}).items():
        person = snapshot.people.get(person_id)
        if role != "coordinator" or person is None or person_id in listed:
            continue
        if person.active and person.phones:
            out.append((person_id, person.phones[0]))
    return out


def _paging_spec(
    plan: Plan, snapshot: ConfigSnapshot, data: IncidentCreate, municipality: str | None
) -> tuple[dict[str, Any] | None, dict[PagingState, EscalationPolicy], dict[PagingState, int]]:
    """The paging spec frozen on the dispatch, and the policies and people needed per
    phase (as objects: the first attempts start from them without reading the spec)."""
    response = plan.response
    if response is None or plan.police_call is not None:
        return None, {}, {}
    team = snapshot.teams.get(response.team)
    consult_team = snapshot.teams.get(response.consult.team) if response.consult else None
    place = snapshot.municipalities.get(municipality) if municipality else None
    respond_policy = team.policy if team else DEFAULT_ESCALATION
    policies = {PagingState.RESPOND: respond_policy}
    needed = {PagingState.RESPOND: max(1, response.staff), PagingState.CONSULT: 1}
    if consult_team is not None:
        policies[PagingState.CONSULT] = consult_team.policy
    spec = attempts.paging_spec(
        consult_policy=consult_team.policy if consult_team else None,
        respond_policy=respond_policy,
        consult_providers=consult_team.providers if consult_team else None,
        respond_providers=team.providers if team else None,
        staff=response.staff,
        info={
            "municipality": place.name if place else None,
            "case_type": data.case_type.value,
            "mode": response.mode,
            "staff": response.staff,
        },
    )
    return spec, policies, needed


def _existing(session: Session, source: str, external_id: str) -> tuple[str, str] | None:
    """(dispatch id, request hash) of an incident already received, by one indexed read."""
    row = session.execute(
        select(Dispatch.id, Incident.request_hash)
        .join(Incident, Dispatch.incident_id == Incident.id)
        .where(Incident.source == source, Incident.external_id == external_id)
    ).first()
    return None if row is None else (row[0], row[1])


def intake(
    *,
    session: Session,
    data: IncidentCreate,
    snapshot: ConfigSnapshot,
    now: datetime,
    national: tuple[str, str],
    actor: str = "system",
    no_accept_after: timedelta = NO_ACCEPT_AFTER,
) -> IntakeResult:
    """Store and pair one incident; a retry of the same request returns the first dispatch.

    Rows are written with Core inserts (this is the hot path of the service). The
    caller commits. On a concurrent duplicate the unique constraint decides and the
    loser gets the winner's dispatch.
    """
    digest = request_hash(data)
    incident: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "source": data.source,
        "external_id": data.external_id,
        "request_hash": digest,
        "reported_at": data.reported_at,
        "received_at": now,
        "basisteam_id": None,
        "municipality_code": None,
        "case_type": data.case_type.value,
        "persons": [{"role": p.role.value, "age": p.age} for p in data.persons],
        "flags": [f.value for f in data.flags],
        "police_unit": data.police_unit,
        "police_callback": data.police_callback,
        "created_by": actor,
    }
    basisteam, municipality = resolve_area(snapshot, data.basisteam, data.municipality)
    incident["basisteam_id"], incident["municipality_code"] = basisteam, municipality
    if basisteam is None and municipality is not None:
        # Only a municipality was given: file the incident under its basisteam when it
        # has exactly one, so dashboards and streams filtered by basisteam see it. (The
        # pairing facts keep what the feed said; the rules already match municipalities.)
        teams = snapshot.municipality_basisteams.get(municipality, frozenset())
        if len(teams) == 1:
            incident["basisteam_id"] = next(iter(teams))
    try:
        # Insert first: the unique (source, external_id) constraint is the idempotency
        # check, so the common case costs no extra read.
        session.execute(insert(_INCIDENTS), [incident])
    except IntegrityError:
        session.rollback()
        found = _existing(session, data.source, data.external_id)
        if found is None:
            raise
        return _replay(session, found, data, digest)
    plan = pair(
        facts_from(data, basisteam, municipality),
        snapshot,
        data.reported_at,
        national=national,
        time_read=data.time_read,
    )
    response = plan.response
    dispatch: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "incident_id": incident["id"],
        "reference": new_reference(),
        "status": plan.status,
        "region_id": plan.region,
        "team_id": response.team if response else None,
        "mode": response.mode if response else plan.expectation.mode,
        "staff_needed": response.staff if response else 0,
        "config_version": snapshot.version,
        "planned_at": plan.at,
        "plan": plan.to_dict(),
        "outcome": None,
        "paging_state": PagingState.PENDING,
        "paging": None,
        "created_at": now,
        "updated_at": now,
        "accept_alarm_at": None,
    }
    if plan.police_call is not None:
        dispatch["paging_state"] = PagingState.POLICE_CALL
    dispatch["paging"], policies, needed = _paging_spec(plan, snapshot, data, municipality)
    assignments = _assignment_rows(plan, dispatch["id"], snapshot)
    # The first attempts, decided from these rows (pure): the started assignments and
    # the phase go in with the rows, so nothing is read back or updated after.
    start = attempts.plan_fresh_start(assignments, policies, needed)
    if start is not None:
        dispatch["paging_state"] = start.state
        started = {slot.assignment_id for slot in start.slots}
        for a in assignments:
            if a["position"] in started:
                a["status"] = AssignmentStatus.PAGING
    if any(a["purpose"] != Purpose.CONSULT for a in assignments):
        region = snapshot.regions.get(plan.region) if plan.region else None
        minutes = region.no_accept_alarm_minutes if region is not None else None
        after = timedelta(minutes=minutes) if minutes else no_accept_after
        dispatch["accept_alarm_at"] = now + after
    stage, stage_events = progress.intake_stage(bool(assignments), now)
    dispatch.update(stage)
    session.execute(insert(_DISPATCHES), [dispatch])
    if assignments and start is None:
        session.execute(insert(_ASSIGNMENTS), assignments)
    summary = {
        key: dispatch[k]
        for key, k in (
            ("reference", "reference"),
            ("status", "status"),
            ("region", "region_id"),
            ("team", "team_id"),
            ("mode", "mode"),
        )
    }
    events.append(
        session,
        dispatch["id"],
        now,
        [
            (
                "incident.received",
                {
                    "incident_id": incident["id"],
                    "source": data.source,
                    "by": actor,
                    "basisteam": basisteam,
                    "municipality": municipality,
                    "case_type": data.case_type.value,
                    "reported_at": data.reported_at.isoformat(),
                },
            ),
            ("dispatch.planned", summary),
            *stage_events,
        ],
    )
    if start is not None:
        wake = attempts.fresh_start(session, dispatch["id"], assignments, start, now)
    elif plan.police_call is not None:
        # Nobody is paged, by the rule's own say: not "no responder", no alarm.
        wake = _police_call(session, dispatch, plan, now)
    else:  # nobody to page in the first phase: the state machine says what that means
        wake = paging.begin(session, dispatch["id"], now)
        stored = session.get(Dispatch, dispatch["id"])
        if stored is None:
            raise LookupError(f"dispatch {dispatch['id']} vanished during intake")
        dispatch["paging_state"] = stored.paging_state
        status = {a.position: a.status for a in stored.assignments}
        for a in assignments:
            a["status"] = status.get(a["position"], a["status"])
    read = _read(incident, dispatch, assignments)
    return IntakeResult(dispatch_id=dispatch["id"], read=read, created=True, wake=wake)


def _police_call(session: Session, dispatch: dict[str, Any], plan: Plan, now: datetime) -> Wake:
    """The rule that applies says the police call the line themselves: nobody is paged.
    The dispatch says so (its paging state, one event with the number); it was inserted
    with that state, so nothing is read back."""
    call = plan.police_call
    assert call is not None
    events.append(
        session,
        dispatch["id"],
        now,
        [
            (
                "dispatch.police_call",
                {
                    "team": call.team,
                    "number": call.number,
                    "note": call.note,
                    "rule": call.rule,
                    "text": plan.expectation.text,
                },
            )
        ],
    )
    return Wake()


def _replay(
    session: Session, found: tuple[str, str], data: IncidentCreate, digest: str
) -> IntakeResult:
    dispatch_id, stored_hash = found
    if stored_hash != digest:
        raise IdempotencyConflict(data.source, data.external_id, dispatch_id)
    dispatch = session.get(Dispatch, dispatch_id)
    if dispatch is None:
        raise LookupError(f"dispatch {dispatch_id} of a repeated intake is gone")
    return IntakeResult(dispatch_id=dispatch_id, read=to_read(dispatch), created=False)


def _read(
    incident: dict[str, Any], dispatch: dict[str, Any], assignments: list[dict[str, Any]]
) -> DispatchRead:
    return DispatchRead(
        id=dispatch["id"],
        reference=dispatch["reference"],
        incident_id=incident["id"],
        source=incident["source"],
        external_id=incident["external_id"],
        status=dispatch["status"],
        region=dispatch["region_id"],
        team=dispatch["team_id"],
        mode=dispatch["mode"],
        staff_needed=dispatch["staff_needed"],
        reported_at=incident["reported_at"],
        received_at=incident["received_at"],
        planned_at=dispatch["planned_at"],
        config_version=dispatch["config_version"],
        plan=dispatch["plan"],
        police_call=(dispatch["plan"] or {}).get("police_call"),
        paging_state=dispatch["paging_state"],
        assignments=[
            {
                "position": a["position"],
                "purpose": a["purpose"],
                "team": a["team_id"],
                "person": a["person_id"],
                "phone": a["phone"],
                "mode": a["mode"],
                "layer": a["layer"],
                "status": a["status"],
                "reasons": a["reasons"],
                "answered_at": a.get("answered_at"),
                "answered_via": a.get("answered_via"),
            }
            for a in assignments
        ],
    )


def get_dispatch(*, session: Session, dispatch_id: str) -> Dispatch | None:
    dispatch = session.get(Dispatch, dispatch_id)
    if dispatch is None:
        dispatch = session.scalar(select(Dispatch).where(Dispatch.incident_id == dispatch_id))
    if dispatch is None:
        dispatch = session.scalar(select(Dispatch).where(Dispatch.reference == dispatch_id.upper()))
    return dispatch


def list_dispatches(
    *,
    session: Session,
    limit: int = 50,
    status: str | None = None,
    region: str | None = None,
    regions: Collection[str] | None = None,
    basisteams: Collection[str] | None = None,
    created_by: str | None = None,
) -> list[Dispatch]:
    """The newest dispatches; ``regions``/``basisteams`` (when not None) bound them to a
    caller's area, ``created_by`` to what one feed sent."""
    query = select(Dispatch).order_by(Dispatch.created_at.desc()).limit(limit)
    if regions is not None or basisteams is not None or created_by is not None:
        query = query.join(Incident, Incident.id == Dispatch.incident_id)
    if regions is not None or basisteams is not None:
        query = query.where(
            or_(
                Dispatch.region_id.in_(list(regions or ())),
                Incident.basisteam_id.in_(list(basisteams or ())),
            )
        )
    if created_by is not None:
        query = query.where(Incident.created_by == created_by)
    if status is not None:
        query = query.where(Dispatch.status == status)
    if region is not None:
        query = query.where(Dispatch.region_id == region)
    return list(session.scalars(query))


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


def _columns(row: Incident | Dispatch | Assignment) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def to_read(dispatch: Dispatch) -> DispatchRead:
    """The API view of a stored dispatch: the same shape intake answers with."""
    return _read(
        _columns(dispatch.incident),
        _columns(dispatch),
        [_columns(a) for a in dispatch.assignments],
    )


def call_script_info(*, session: Session, page_id: str) -> PageInfo | None:
    """What a page's call says when picked up, or None when the page no longer asks."""
    page = session.get(Page, page_id)
    if page is None or page.status not in _SCRIPTED:
        return None
    dispatch = session.get(Dispatch, page.dispatch_id)
    assignment = session.get(Assignment, page.assignment_id)
    if dispatch is None or assignment is None:
        return None
    return page_info(dispatch, assignment)


def assignment_at(*, session: Session, dispatch_id: str, position: int) -> int | None:
    """The id of the assignment at ``position`` in a dispatch's queue."""
    return session.scalar(
        select(Assignment.id).where(
            Assignment.dispatch_id == dispatch_id, Assignment.position == position
        )
    )


def pages_of(*, session: Session, dispatch: Dispatch) -> list[tuple[Page, int]]:
    """Every page of a dispatch with its assignment's position, in the order they were
    made (a confirmation after the pages of its moment)."""
    positions = {a.id: a.position for a in dispatch.assignments}
    rows = session.scalars(
        select(Page)
        .where(Page.dispatch_id == dispatch.id)
        .order_by(Page.created_at, Page.kind.desc(), Page.assignment_id, Page.round, Page.seq)
    )
    return [(p, positions.get(p.assignment_id, 0)) for p in rows]

"""Live summaries of dispatches: what the dashboard, the worker page and the stream show.

One summary per dispatch, JSON-ready (datetimes as ISO strings in UTC). It carries the
household facts the police gave (roles, ages, flags: never more, no names exist), the
control room's ticks on the pocket card "Veiligheid voorop" and whether it must prompt
for a forensic doctor, and what the plan says about the first hour (the police calling
a line themselves, how a local time was read, the team's mandate). An evaluation note
is never in it (it streams to every viewer): only which sides wrote one. The number of
queries is the same however many dispatches are asked for: dispatches with their
incidents, their assignments, the pages that may raise an alarm, the time paging gave
up, and the names of the teams and people involved, each in one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.texts import ALARM_NL, FLAG_NL, MANDATE_NL, ROLE_NL
from dispatch import alarms as raised_alarms
from dispatch.lifecycle import forensic_prompt
from dispatch.models import Alarm, Assignment, Dispatch, Event, Incident, Page
from dispatch.states import ACTIVE_PAGING, OUT_PAGE, PageKind, PagingState, Stage
from oncall.models import Person, Team

UNANSWERED_AFTER = timedelta(minutes=3)
RECENTLY_CLOSED = timedelta(hours=2)
_WAITING = tuple(OUT_PAGE)  # out to the phone, no answer yet
_PAGING = tuple(ACTIVE_PAGING)


@dataclass
class EventRow:
    """One event as the live stream sends it, with where its dispatch is."""

    id: int
    dispatch_id: str | None
    type: str
    at: datetime
    payload: dict[str, Any]
    region: str | None
    basisteam: str | None

    def event(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "at": self.at.isoformat(),
            "dispatch_id": self.dispatch_id,
            "payload": self.payload,
        }


def read_events(
    session: Session,
    after: int,
    limit: int,
    *,
    incident: str | None = None,
    regions: Collection[str] = (),
    basisteams: Collection[str] = (),
) -> list[EventRow]:
    """Events after ``after`` in id order (ids are handed out in commit order, so reading
    "after the last id" never skips one), optionally of one incident or area."""
    query = (
        select(
            Event.id,
            Event.dispatch_id,
            Event.type,
            Event.created_at,
            Event.payload,
            Dispatch.region_id,
            Incident.basisteam_id,
        )
        .outerjoin(Dispatch, Dispatch.id == Event.dispatch_id)
        .outerjoin(Incident, Incident.id == Dispatch.incident_id)
        .where(Event.id > after)
        .order_by(Event.id)
    )
    if incident is not None:
        query = query.where(Event.dispatch_id == incident)
    if regions:
        query = query.where(Dispatch.region_id.in_(sorted(regions)))
    if basisteams:
        query = query.where(Incident.basisteam_id.in_(sorted(basisteams)))
    return [EventRow(*r) for r in session.execute(query.limit(limit))]


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def summaries(session: Session, dispatch_ids: Sequence[str], now: datetime) -> dict[str, dict]:
    """Summaries by dispatch id; ids not found are left out."""
    ids = list(dict.fromkeys(dispatch_ids))
    if not ids:
        return {}
    session.flush()  # the caller's own changes first: the reads below refresh from the rows
    rows = session.execute(
        select(Dispatch, Incident)
        .join(Incident, Dispatch.incident_id == Incident.id)
        .where(Dispatch.id.in_(ids))
        .execution_options(populate_existing=True)
    ).all()
    if not rows:
        return {}
    found = [d.id for d, _ in rows]
    assignments: dict[str, list[Assignment]] = defaultdict(list)
    for a in session.scalars(
        select(Assignment)
        .where(Assignment.dispatch_id.in_(found))
        .order_by(Assignment.dispatch_id, Assignment.position)
        .execution_options(populate_existing=True)
    ):
        assignments[a.dispatch_id].append(a)
    waiting = _waiting_pages(session, [d.id for d, _ in rows if d.paging_state in _PAGING], now)
    raised = raised_alarms.active(session, [d.id for d, _ in rows if d.stage != Stage.CLOSED])
    gave_up = _gave_up(
        session, [d.id for d, _ in rows if d.paging_state == PagingState.NO_RESPONDER]
    )
    names = _names(session, [a for group in assignments.values() for a in group])
    out: dict[str, dict] = {}
    for dispatch, incident in rows:
        out[dispatch.id] = _summary(
            dispatch,
            incident,
            assignments.get(dispatch.id, []),
            waiting.get(dispatch.id, {}),
            gave_up.get(dispatch.id),
            names,
            now,
            raised.get(dispatch.id, []),
        )
    return out


def open_summaries(
    session: Session,
    *,
    region_ids: set[str] | None,
    basisteam_ids: set[str] | None,
    limit: int = 200,
    now: datetime,
) -> list[dict]:
    """Open dispatches (and those closed in the last two hours), newest first.

    ``None`` means no filter on that field; with both given, a dispatch in either the
    regions or the basisteams is included.
    """
    query = (
        select(Dispatch.id)
        .join(Incident, Dispatch.incident_id == Incident.id)
        .where(or_(Dispatch.stage != Stage.CLOSED, Dispatch.closed_at >= now - RECENTLY_CLOSED))
        .order_by(Dispatch.created_at.desc(), Dispatch.id.desc())
        .limit(limit)
    )
    area = []
    if region_ids is not None:
        area.append(Dispatch.region_id.in_(sorted(region_ids)))
    if basisteam_ids is not None:
        area.append(Incident.basisteam_id.in_(sorted(basisteam_ids)))
    if area:
        query = query.where(or_(*area))
    ids = list(session.scalars(query))
    found = summaries(session, ids, now)
    return [found[i] for i in ids if i in found]


def for_role(summary: dict, role: str, assignment_position: int | None) -> dict:
    """The view a role may see: a worker does not get other workers' phone numbers."""
    if role != "worker":
        return summary
    view = dict(summary)
    view["assignments"] = [
        a if a["position"] == assignment_position else {**a, "phone": None}
        for a in summary["assignments"]
    ]
    return view


def _waiting_pages(
    session: Session, dispatch_ids: list[str], now: datetime
) -> dict[str, dict[int, datetime]]:
    """Per dispatch, per assignment id: since when a page has waited for an answer."""
    out: dict[str, dict[int, datetime]] = defaultdict(dict)
    if not dispatch_ids:
        return out
    rows = session.execute(
        select(Page.dispatch_id, Page.assignment_id, func.min(Page.sent_at))
        .where(
            Page.dispatch_id.in_(dispatch_ids),
            Page.kind == PageKind.PAGE,  # not the confirmation SMS after an accept
            Page.status.in_(_WAITING),
            Page.sent_at <= now,
        )
        .group_by(Page.dispatch_id, Page.assignment_id)
    ).all()
    for dispatch_id, assignment_id, since in rows:
        if since is not None:
            out[dispatch_id][assignment_id] = since
    return out


def _gave_up(session: Session, dispatch_ids: list[str]) -> dict[str, datetime]:
    """When paging found nobody, per dispatch."""
    if not dispatch_ids:
        return {}
    rows = session.execute(
        select(Event.dispatch_id, func.max(Event.created_at))
        .where(Event.dispatch_id.in_(dispatch_ids), Event.type == "dispatch.no_responder")
        .group_by(Event.dispatch_id)
    ).all()
    return {dispatch_id: at for dispatch_id, at in rows if dispatch_id is not None}


def _names(session: Session, assignments: list[Assignment]) -> dict[tuple[str, str], str]:
    teams = {a.team_id for a in assignments}
    people = {a.person_id for a in assignments if a.person_id}
    out: dict[tuple[str, str], str] = {}
    if teams:
        for id_, name in session.execute(select(Team.id, Team.name).where(Team.id.in_(teams))):
            out[("team", id_)] = name
    if people:
        for id_, name in session.execute(
            select(Person.id, Person.name).where(Person.id.in_(people))
        ):
            out[("person", id_)] = name
    return out


def household(persons: Sequence[dict[str, Any]] | None, flags: Sequence[str] | None) -> dict:
    """The household as the police gave it, with its Dutch words: "kind (6)", "letsel"."""
    people = []
    for person in persons or []:
        role, age = person.get("role"), person.get("age")
        words = ROLE_NL.get(str(role), str(role))
        people.append(
            {"role": role, "age": age, "text": words if age is None else f"{words} ({age})"}
        )
    return {
        "persons": people,
        "flags": [{"flag": f, "text": FLAG_NL.get(f, f)} for f in flags or []],
    }


def first_hour(plan: dict[str, Any]) -> dict[str, Any]:
    """What the plan says about the first hour: the line the police call themselves (no
    one is paged), how a local time was read around a clock change, the team's mandate."""
    mandate = plan.get("mandate") or None
    if mandate:
        mandate = {
            "may": [{"key": m, "text": MANDATE_NL.get(m, m)} for m in mandate.get("may") or ()],
            "note": mandate.get("note"),
        }
    return {
        "police_call": plan.get("police_call") or None,
        "time_read": plan.get("time_read") or None,
        "mandate": mandate,
    }


def _summary(
    d: Dispatch,
    incident: Incident,
    assignments: list[Assignment],
    waiting: dict[int, datetime],
    gave_up: datetime | None,
    names: dict[tuple[str, str], str],
    now: datetime,
    raised: list[Alarm],
) -> dict[str, Any]:
    alarms: list[dict[str, Any]] = [
        {**a.detail, "kind": a.kind, "since": _iso(a.raised_at)} for a in raised
    ]
    if d.stage != Stage.CLOSED:
        if d.paging_state == PagingState.NO_RESPONDER:
            expectation = (d.plan or {}).get("expectation") or {}
            alarms.append(
                {
                    "kind": "no_responder",
                    "since": _iso(gave_up or d.updated_at),
                    "message": (
                        ALARM_NL["no_responder_expect"].format(expectation=expectation["text"])
                        if expectation.get("text")
                        else ALARM_NL["no_responder"]
                    ),
                }
            )
        if d.paging_state in _PAGING:
            for a in assignments:
                since = waiting.get(a.id)
                if since is None or now - since < UNANSWERED_AFTER:
                    continue
                who = names.get(("person", a.person_id or "")) or names.get(
                    ("team", a.team_id), a.team_id
                )
                minutes = int((now - since).total_seconds() // 60)
                alarms.append(
                    {
                        "kind": "unanswered",
                        "since": _iso(since),
                        "assignment": a.position,
                        "message": ALARM_NL["unanswered"].format(who=who, minutes=minutes),
                    }
                )
    return {
        "id": d.id,
        "reference": d.reference,
        "region": d.region_id,
        "basisteam": incident.basisteam_id,
        "municipality": incident.municipality_code,
        "case_type": incident.case_type,
        "mode": d.mode,
        "status": d.status,
        "paging_state": d.paging_state,
        "stage": d.stage,
        "outcome": d.outcome,
        "reported_at": _iso(incident.reported_at),
        "received_at": _iso(incident.received_at),
        "stage_at": _iso(d.stage_at),
        "safe_at": _iso(d.safe_at),
        "half_staffed_decision": d.half_staffed_decision,
        "consult_kind": d.consult_kind,
        "consult_at": _iso(d.consult_at),
        "arrived_at": _iso(d.arrived_at),
        "police_left_at": _iso(d.police_left_at),
        "closed_at": _iso(d.closed_at),
        "agreements": d.agreements,
        "handover": d.handover,
        "police_unit": incident.police_unit,
        "police_callback": incident.police_callback,
        "household": household(incident.persons, incident.flags),
        "forensic": forensic_prompt(incident.persons or [], incident.flags or []),
        "checklist": d.checklist or {},
        "evaluation_noted": sorted(d.evaluation_note or {}),
        **first_hour(d.plan or {}),
        "assignments": [
            {
                "position": a.position,
                "purpose": a.purpose,
                "team": a.team_id,
                "team_name": names.get(("team", a.team_id)),
                "person": a.person_id,
                "person_name": names.get(("person", a.person_id)) if a.person_id else None,
                "phone": a.phone,
                "status": a.status,
                "answered_at": _iso(a.answered_at),
                "answered_via": a.answered_via,
                "eta_at": _iso(a.eta_at),
                "enroute_at": _iso(a.enroute_at),
                "arrived_at": _iso(a.arrived_at),
                # A page out to this phone without an answer since then (the dashboard
                # raises the "unanswered" alarm itself when no event comes in between).
                "waiting_since": _iso(waiting.get(a.id)) if d.paging_state in _PAGING else None,
            }
            for a in assignments
        ],
        "unanswered_after_seconds": int(UNANSWERED_AFTER.total_seconds()),
        "alarms": alarms,
    }

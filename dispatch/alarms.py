"""Alarms the control room acts on, raised and cleared under the dispatch lock.

Each alarm is a row per (dispatch, kind), raised and cleared in place, and every change
writes an ``alarm.raised`` or ``alarm.cleared`` event in the same transaction, so the
alarm streams to the dashboards, survives a reconnect (``after=``) and stays in the
history. The live summary lists the alarms that are up.

Some are raised by a transition itself (half staffed, when escalation runs out with
one of two); the others by the clock, from the sweeper (``due``): nobody accepted
minutes after the report, and pages that could not be sent for a while.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from phonenumbers import NumberParseException
from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session

from core.texts import ALARM_NL
from dispatch import events
from dispatch.models import Alarm, Assignment, Dispatch, Page
from dispatch.states import (
    AlarmKind,
    AssignmentStatus,
    PageKind,
    PageStatus,
    PagingState,
    Purpose,
    Stage,
)
from oncall.models import Person, Team
from oncall.phones import display_phone

NUMBERS_SHOWN = 6


def _row(session: Session, dispatch_id: str, kind: AlarmKind) -> Alarm | None:
    return session.scalars(
        select(Alarm)
        .where(Alarm.dispatch_id == dispatch_id, Alarm.kind == kind)
        .execution_options(populate_existing=True)
    ).one_or_none()


def raise_alarm(
    session: Session,
    dispatch_id: str,
    kind: AlarmKind,
    now: datetime,
    *,
    message: str,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Raise ``kind`` (the dispatch is locked); False when it is already up."""
    found = _row(session, dispatch_id, kind)
    detail = {"message": message, **(detail or {})}
    if found is not None and found.cleared_at is None:
        return False
    if found is None:
        session.add(
            Alarm(dispatch_id=dispatch_id, kind=kind, raised_at=now, cleared_at=None, detail=detail)
        )
    else:
        found.raised_at, found.cleared_at, found.detail = now, None, detail
    events.append(session, dispatch_id, now, [("alarm.raised", {"kind": str(kind), **detail})])
    return True


def clear_alarm(
    session: Session, dispatch_id: str, kind: AlarmKind, now: datetime, *, reason: str
) -> bool:
    """Clear ``kind`` if it is up (the dispatch is locked); False when it was not."""
    found = _row(session, dispatch_id, kind)
    if found is None or found.cleared_at is not None:
        return False
    found.cleared_at = now
    events.append(
        session, dispatch_id, now, [("alarm.cleared", {"kind": str(kind), "reason": reason})]
    )
    return True


def clear_all(session: Session, dispatch_id: str, now: datetime, *, reason: str) -> None:
    """The dispatch is closed: no alarm on it stays up."""
    for kind in session.scalars(
        select(Alarm.kind).where(Alarm.dispatch_id == dispatch_id, Alarm.cleared_at.is_(None))
    ).all():
        clear_alarm(session, dispatch_id, AlarmKind(kind), now, reason=reason)


def active(session: Session, dispatch_ids: Iterable[str]) -> dict[str, list[Alarm]]:
    """The alarms up per dispatch, oldest first."""
    ids = list(dispatch_ids)
    out: dict[str, list[Alarm]] = {}
    if not ids:
        return out
    for alarm in session.scalars(
        select(Alarm)
        .where(Alarm.dispatch_id.in_(ids), Alarm.cleared_at.is_(None))
        .order_by(Alarm.raised_at, Alarm.id)
    ):
        out.setdefault(alarm.dispatch_id, []).append(alarm)
    return out


def is_up(session: Session, dispatch_id: str, kind: AlarmKind) -> bool:
    found = _row(session, dispatch_id, kind)
    return found is not None and found.cleared_at is None


# --- raised by the clock ---------------------------------------------------------------


def accept_alarms_due(session: Session, now: datetime, limit: int = 200) -> list[str]:
    """Dispatches whose "Nog niemand aangenomen" moment has come."""
    return list(session.scalars(accept_alarms_query(now, limit)))


def accept_alarms_query(now: Any, limit: int = 200) -> Select[Any]:
    """``now`` a moment or a bound parameter (the sweep builds its statement once)."""
    return (
        select(Dispatch.id)
        .where(Dispatch.accept_alarm_at.is_not(None), Dispatch.accept_alarm_at <= now)
        .limit(limit)
    )


def no_accept(session: Session, dispatch: Dispatch, now: datetime) -> bool:
    """The moment came (the dispatch is locked): raise the alarm when no responder
    accepted, however many pages or steps there were. Asked once per dispatch."""
    due = dispatch.accept_alarm_at
    if due is None or due > now:
        return False
    dispatch.accept_alarm_at = None
    responders = [a for a in dispatch.assignments if a.purpose != Purpose.CONSULT]
    if dispatch.stage == Stage.CLOSED or any(
        a.status == AssignmentStatus.ACCEPTED for a in responders
    ):
        return False
    if dispatch.paging_state == PagingState.NO_RESPONDER:
        return False  # "Niemand bereikt" is up already, and says more
    minutes = max(1, round((now - dispatch.incident.received_at).total_seconds() / 60))
    return raise_alarm(
        session,
        dispatch.id,
        AlarmKind.NO_ACCEPT,
        now,
        message=ALARM_NL["no_accept"].format(minutes=minutes),
        detail={"minutes": minutes},
    )


def failing_dispatches(session: Session, cutoff: datetime, limit: int = 200) -> list[str]:
    """Dispatches with a page that could not be sent since ``cutoff`` or longer, whose
    outage alarm is not up yet."""
    return list(session.scalars(failing_query(cutoff, limit)))


def failing_query(cutoff: Any, limit: int = 200) -> Select[Any]:
    """``cutoff`` a moment or a bound parameter (the sweep builds its statement once)."""
    up = exists().where(
        and_(
            Alarm.dispatch_id == Page.dispatch_id,
            Alarm.kind == AlarmKind.SEND_FAILING,
            Alarm.cleared_at.is_(None),
        )
    )
    return (
        select(Page.dispatch_id)
        .where(
            Page.failing_since.is_not(None),
            Page.failing_since <= cutoff,
            Page.kind == PageKind.PAGE,
            Page.status.in_((PageStatus.SCHEDULED, PageStatus.SENDING)),
            ~up,
        )
        .distinct()
        .limit(limit)
    )


def still_failing(session: Session, dispatch_id: str) -> bool:
    return (
        session.scalar(
            select(Page.id)
            .where(
                Page.dispatch_id == dispatch_id,
                Page.failing_since.is_not(None),
                Page.kind == PageKind.PAGE,
                Page.status.in_((PageStatus.SCHEDULED, PageStatus.SENDING)),
            )
            .limit(1)
        )
        is not None
    )


def send_failing(session: Session, dispatch: Dispatch, now: datetime, after: timedelta) -> bool:
    """Pages of this dispatch could not be sent for ``after`` (the dispatch is locked):
    tell the control room to phone the people on call itself, with their numbers."""
    if dispatch.stage == Stage.CLOSED or dispatch.paging_state not in (
        PagingState.CONSULT,
        PagingState.RESPOND,
    ):
        return False
    if not still_failing(session, dispatch.id):
        return False
    since = session.scalar(
        select(Page.failing_since)
        .where(Page.dispatch_id == dispatch.id, Page.failing_since.is_not(None))
        .order_by(Page.failing_since)
        .limit(1)
    )
    if since is None or now - since < after:
        return False
    numbers = on_call_numbers(session, dispatch)
    text = (
        ALARM_NL["send_failing"].format(numbers=", ".join(n["text"] for n in numbers))
        if numbers
        else ALARM_NL["send_failing_nobody"]
    )
    return raise_alarm(
        session,
        dispatch.id,
        AlarmKind.SEND_FAILING,
        now,
        message=text,
        detail={
            "numbers": numbers,
            "since": since.isoformat(),
            # the message without its numbers, for pages that show them as links
            "lead": ALARM_NL["send_failing"].format(numbers="").rstrip(),
        },
    )


def on_call_numbers(session: Session, dispatch: Dispatch) -> list[dict[str, Any]]:
    """Whom the control room can phone itself: the people (and the team line) paging
    would ask, those being paged first, in the plan's order; never those who declined."""
    phase = "consult" if dispatch.paging_state == PagingState.CONSULT else "respond"
    wanted = (AssignmentStatus.PAGING, AssignmentStatus.PLANNED, AssignmentStatus.UNREACHED)
    members = [
        a
        for a in dispatch.assignments
        if (a.purpose == Purpose.CONSULT) == (phase == "consult") and a.status in wanted and a.phone
    ]
    members.sort(key=lambda a: (a.status != AssignmentStatus.PAGING, a.position))
    names = _names(session, members)
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for a in members:
        number = a.phone or ""
        if number in seen:
            continue
        seen.add(number)
        who = names.get(a.person_id or "") or names.get(f"team:{a.team_id}", a.team_id)
        phone = display(number)
        out.append(
            {
                "assignment": a.position,
                "who": who,
                "phone": phone,  # as people read it
                "tel": number,  # as a phone dials it
                "text": ALARM_NL["number"].format(who=who, phone=phone),
            }
        )
        if len(out) >= NUMBERS_SHOWN:
            break
    return out


def on_call_names(session: Session, members: list[Assignment]) -> dict[int, str]:
    """The name to show for each assignment (by position): the person's, else the team's."""
    names = _names(session, members)
    return {
        a.position: names.get(a.person_id or "") or names.get(f"team:{a.team_id}", a.team_id)
        for a in members
    }


def _names(session: Session, members: list[Assignment]) -> dict[str, str]:
    people = {a.person_id for a in members if a.person_id}
    teams = {a.team_id for a in members}
    out: dict[str, str] = {}
    if people:
        for id_, name in session.execute(
            select(Person.id, Person.name).where(Person.id.in_(people))
        ):
            out[id_] = name
    if teams:
        for id_, name in session.execute(select(Team.id, Team.name).where(Team.id.in_(teams))):
            out[f"team:{id_}"] = name
    return out


def display(phone: str) -> str:
    """A phone number as people read it (E.164 when it cannot be formatted)."""
    try:
        return display_phone(phone)
    except NumberParseException:
        return phone


def half_staffed(
    session: Session, dispatch_id: str, accepted: list[Assignment], needed: int, now: datetime
) -> None:
    """A call-out for two (or more) found fewer: ask the control room whether the one
    who accepted goes alone."""
    names = on_call_names(session, accepted)
    who = " en ".join(names.get(a.position, a.team_id) for a in accepted)
    raise_alarm(
        session,
        dispatch_id,
        AlarmKind.HALF_STAFFED,
        now,
        message=ALARM_NL["half_staffed"].format(accepted=len(accepted), needed=needed, who=who),
        detail={
            "accepted": len(accepted),
            "needed": needed,
            "assignments": [a.position for a in accepted],
            "who": who,
        },
    )

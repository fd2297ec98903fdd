"""Paging state in the database: start the escalation, record answers, move on.

Every function here takes the caller's session, changes rows under a lock on the
dispatch (so a key press, an SMS reply and a deadline for the same dispatch never
decide at the same time), writes events in the same transaction, and returns a
``Wake``: the pages and deadlines the caller must arm after it commits. The queue
only wakes work that these rows already describe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core import metrics
from core.texts import reason
from dispatch import alarms, contact, events
from dispatch.attempts import Asked, paging_spec, write_attempt
from dispatch.escalation import AssignmentView, next_slots, slots
from dispatch.locks import lock, locked_page, page_payload, pages_of
from dispatch.models import Assignment, Dispatch, Page
from dispatch.states import (
    ACTIVE_PAGING,
    OPEN_PAGE,
    OUT_PAGE,
    AlarmKind,
    AssignmentStatus,
    Channel,
    PageKind,
    PageStatus,
    PagingState,
    Purpose,
    Stage,
)
from dispatch.wake import Hangup, Wake
from oncall.schemas import EscalationPolicy

OPEN = tuple(OPEN_PAGE)
OUT = tuple(OUT_PAGE)

__all__ = [
    "Answer",
    "Hangup",
    "Wake",
    "lock",
    "locked_page",
    "page_payload",
    "pages_of",
    "paging_spec",
]


@dataclass(frozen=True)
class Answer:
    """How an answer landed: accepted, declined, already (same answer twice), closed."""

    result: str
    dispatch_id: str
    reference: str
    wake: Wake


def _phase(dispatch: Dispatch, purpose: str) -> dict[str, Any] | None:
    for phase in (dispatch.paging or {}).get("phases", ()):
        if phase["purpose"] == purpose:
            return cast(dict[str, Any], phase)
    return None


def phase_of(assignment: Assignment) -> PagingState:
    return PagingState.CONSULT if assignment.purpose == Purpose.CONSULT else PagingState.RESPOND


def _view(a: Assignment) -> AssignmentView:
    return AssignmentView(
        id=a.id,
        position=a.position,
        purpose=a.purpose,
        person=a.person_id,
        phone=a.phone,
        layer=a.layer,
        status=a.status,
    )


def begin(session: Session, dispatch_id: str, now: datetime) -> Wake:
    """Start paging a freshly planned dispatch (in the intake transaction)."""
    dispatch = lock(session, dispatch_id)
    purposes = {phase_of(a) for a in dispatch.assignments}
    if PagingState.CONSULT in purposes and _phase(dispatch, PagingState.CONSULT) is not None:
        dispatch.paging_state = PagingState.CONSULT
    else:
        dispatch.paging_state = PagingState.RESPOND
    events.append(session, dispatch.id, now, [("paging.started", {"phase": dispatch.paging_state})])
    return advance(session, dispatch, now)


def advance(session: Session, dispatch: Dispatch, now: datetime) -> Wake:
    """Start whatever the policy says comes next, or end the phase (the dispatch is locked)."""
    wake = Wake()
    while dispatch.paging_state in ACTIVE_PAGING:
        state = PagingState(dispatch.paging_state)
        phase = _phase(dispatch, state)
        members = [a for a in dispatch.assignments if phase_of(a) == state]
        if phase is None:
            members = []
        policy = EscalationPolicy.model_validate(phase["policy"]) if phase else None
        needed = int(phase["needed"]) if phase else 1
        pages = pages_of(session, dispatch.id)
        mine = {a.id for a in members}
        views = [_view(a) for a in members]
        queue = slots(views, policy) if policy else []
        attempted = [(p.assignment_id, p.round) for p in pages if p.assignment_id in mine]
        open_ = {p.assignment_id for p in pages if p.assignment_id in mine and p.status in OPEN}
        nxt = next_slots(queue, views, attempted, open_, needed)
        if nxt.done:
            wake.extend(_cancel_open(session, dispatch, pages, members, now))
            accepted = [a for a in members if a.status == AssignmentStatus.ACCEPTED]
            if state == PagingState.CONSULT:
                events.append(
                    session,
                    dispatch.id,
                    now,
                    [("consult.agreed", {"assignment": accepted[0].position})],
                )
                dispatch.paging_state = PagingState.RESPOND
                continue
            dispatch.paging_state = PagingState.ACCEPTED
            alarms.clear_alarm(session, dispatch.id, AlarmKind.HALF_STAFFED, now, reason="staffed")
            events.append(
                session,
                dispatch.id,
                now,
                [
                    (
                        "dispatch.accepted",
                        {
                            "assignments": [a.position for a in accepted],
                            "people": [a.person_id for a in accepted],
                        },
                    )
                ],
            )
            break
        if nxt.exhausted:
            accepted = [a for a in members if a.status == AssignmentStatus.ACCEPTED]
            _settle_unasked(members)
            if state == PagingState.RESPOND and accepted:
                dispatch.paging_state = PagingState.PARTIAL
                r = reason("paging_partial", accepted=len(accepted), needed=needed)
                events.append(
                    session,
                    dispatch.id,
                    now,
                    [("dispatch.partial", {"accepted": len(accepted), "needed": needed, **_r(r)})],
                )
                alarms.half_staffed(session, dispatch.id, accepted, needed, now)
            else:
                dispatch.paging_state = PagingState.NO_RESPONDER
                # "Niemand bereikt" says more than "nog niemand aangenomen": one alarm
                dispatch.accept_alarm_at = None
                alarms.clear_alarm(
                    session, dispatch.id, AlarmKind.NO_ACCEPT, now, reason="no_responder"
                )
                code = (
                    "paging_no_consult" if state == PagingState.CONSULT else "paging_no_responder"
                )
                r = reason(code)
                expectation = dict(dispatch.plan.get("expectation") or {})
                events.append(
                    session,
                    dispatch.id,
                    now,
                    [
                        (
                            "dispatch.no_responder",
                            {"phase": state, "expectation": expectation, **_r(r)},
                        )
                    ],
                )
            break
        by_id = {a.id: a for a in members}
        for slot in nxt.start:
            wake.extend(_start(session, dispatch, by_id[slot.assignment_id], slot, now))
        break
    dispatch.updated_at = now
    return wake


def _r(r: Any) -> dict[str, str]:
    return {"reason": r.code, "text": r.text}


def _settle_unasked(members: Iterable[Assignment]) -> None:
    """Nobody is left to ask: whoever was still being paged was not reached."""
    for a in members:
        if a.status == AssignmentStatus.PAGING:
            a.status = AssignmentStatus.UNREACHED


def _start(
    session: Session, dispatch: Dispatch, assignment: Assignment, slot: Any, now: datetime
) -> Wake:
    assignment.status = AssignmentStatus.PAGING
    asked = Asked(
        id=assignment.id,
        dispatch_id=dispatch.id,
        position=assignment.position,
        purpose=assignment.purpose,
        person=assignment.person_id,
        team=assignment.team_id,
        layer=assignment.layer,
        phone=assignment.phone,
    )
    return write_attempt(session, asked, slot, now)


def _close_pages(
    pages: Iterable[Page], status: PageStatus, now: datetime, *, keep_call: str | None = None
) -> Wake:
    """Close the open pages; every call of theirs that may still ring (or be listened
    to) is ended, except ``keep_call``: the call whose key press is being answered."""
    wake = Wake()
    for p in pages:
        if p.status not in OPEN:
            continue
        if p.channel == Channel.VOICE and p.provider_id and p.provider_id != keep_call:
            wake.hangups.append((p.provider, p.provider_id))
        p.status = status
        p.closed_at = now
    return wake


def _cancel_open(
    session: Session,
    dispatch: Dispatch,
    pages: list[Page],
    members: list[Assignment],
    now: datetime,
) -> Wake:
    """The phase has what it needs: stop paging everyone else in it."""
    ids = {a.id for a in members}
    wake = _close_pages((p for p in pages if p.assignment_id in ids), PageStatus.CANCELLED, now)
    for a in members:
        if a.status in (AssignmentStatus.PLANNED, AssignmentStatus.PAGING):
            a.status = AssignmentStatus.CANCELLED
    return wake


def _attempt_pages(pages: list[Page], page: Page) -> list[Page]:
    return [p for p in pages if p.assignment_id == page.assignment_id and p.round == page.round]


def _end_attempt_if_silent(
    session: Session,
    dispatch: Dispatch,
    assignment: Assignment,
    siblings: list[Page],
    now: datetime,
) -> Wake:
    """Every channel of the attempt failed: the person was not reached; move on now."""
    if any(p.status in OPEN for p in siblings):
        return Wake()
    if assignment.status == AssignmentStatus.PAGING:
        assignment.status = AssignmentStatus.UNREACHED
        events.append(
            session,
            dispatch.id,
            now,
            [
                (
                    "assignment.unreached",
                    {"assignment": assignment.position, "round": siblings[0].round},
                )
            ],
        )
    return advance(session, dispatch, now)


def page_failed(
    session: Session, page_id: str, now: datetime, *, error: str, status: str | None = None
) -> Wake:
    """A channel did not reach the person: try the next channel now, or the next person."""
    page = session.get(Page, page_id)
    if page is None:
        return Wake()
    dispatch = lock(session, page.dispatch_id)
    if page.kind != PageKind.PAGE:  # a confirmation: nothing to escalate
        contact.failed(session, page_id, now, error=error, status=status)
        return Wake()
    pages = pages_of(session, dispatch.id)
    page = next(p for p in pages if p.id == page_id)
    if page.status not in OPEN:
        return Wake()
    wake = _close_pages([page], PageStatus.FAILED, now)
    page.error = error[:200]
    if status:
        page.provider_status = status
    assignment = _assignment(dispatch, page.assignment_id)
    events.append(
        session,
        dispatch.id,
        now,
        [("page.failed", {**page_payload(page, assignment), "error": page.error})],
    )
    siblings = _attempt_pages(pages, page)
    later = sorted(
        (p for p in siblings if p.status == PageStatus.SCHEDULED and p.due_at > now),
        key=lambda p: p.due_at,
    )
    if later:
        later[0].due_at = now
        wake.due.append((later[0].id, now))
        return wake
    return wake.extend(_end_attempt_if_silent(session, dispatch, assignment, siblings, now))


def _assignment(dispatch: Dispatch, assignment_id: int) -> Assignment:
    return next(a for a in dispatch.assignments if a.id == assignment_id)


def overdue_dispatches(session: Session, cutoff: datetime, limit: int = 200) -> list[str]:
    """Dispatches with an attempt whose deadline passed by ``cutoff``.

    Only attempts of which a page is out at the phone count: the wait for an answer
    starts when a provider took a page, so an attempt nothing could be sent for (an
    outage) does not run out; the person was not asked yet. Each dispatch is then
    closed in a transaction of its own (``expire_dispatch``): holding one dispatch's
    lock and the event log's while waiting for another's could deadlock.
    """
    return list(session.scalars(overdue_query(cutoff, limit)))


def overdue_query(cutoff: Any, limit: int = 200) -> Select[Any]:
    """``cutoff`` a moment or a bound parameter (the sweep builds its statement once)."""
    return (
        select(Page.dispatch_id)
        .where(Page.status.in_(OUT), Page.deadline_at <= cutoff, Page.kind == PageKind.PAGE)
        .distinct()
        .limit(limit)
    )


def expire_dispatch(session: Session, dispatch_id: str, now: datetime) -> tuple[Wake, int]:
    """Close the attempts whose deadline passed while a page of theirs was out."""
    dispatch = lock(session, dispatch_id)
    pages = pages_of(session, dispatch_id)
    attempts = sorted(
        {(p.assignment_id, p.round) for p in pages if p.status in OUT and p.deadline_at <= now}
    )
    if not attempts:
        return Wake(), 0
    late = [p for p in pages if (p.assignment_id, p.round) in attempts and p.status in OPEN]
    lateness = metrics.current().deadline_lateness_seconds
    for attempt_key in attempts:
        deadline = min(
            p.deadline_at
            for p in pages
            if (p.assignment_id, p.round) == attempt_key and p.status in OUT
        )
        lateness.observe(max(0.0, (now - deadline).total_seconds()))
    wake = _close_pages(late, PageStatus.EXPIRED, now)
    for assignment_id, round_ in attempts:
        assignment = _assignment(dispatch, assignment_id)
        if assignment.status == AssignmentStatus.PAGING:
            assignment.status = AssignmentStatus.UNREACHED
        events.append(
            session,
            dispatch_id,
            now,
            [("attempt.expired", {"assignment": assignment.position, "round": round_})],
        )
    return wake.extend(advance(session, dispatch, now)), len(attempts)


def answer(
    session: Session,
    *,
    page_id: str | None = None,
    assignment_id: int | None = None,
    accept: bool,
    via: str,
    now: datetime,
    by: str | None = None,
    call_id: str | None = None,
    confirm_by_sms: bool = False,
) -> Answer:
    """A worker (or the control room for them) accepts or declines; applied once.

    The answer is the person's, whichever channel carried it: every open page of the
    assignment closes and every call of it that may still ring is ended, except the
    call the key was pressed on (``call_id``), which reads out whom to call. An accept
    by SMS is confirmed in the reply to it, unless ``confirm_by_sms`` (a provider that
    cannot reply inside its webhook): then by a confirmation SMS, like other accepts.
    """
    if page_id is not None:
        page = session.get(Page, page_id)
        if page is None:
            raise LookupError(f"page {page_id} not found")
        dispatch_id, found_assignment = page.dispatch_id, page.assignment_id
    elif assignment_id is not None:
        found = session.get(Assignment, assignment_id)
        if found is None:
            raise LookupError(f"assignment {assignment_id} not found")
        dispatch_id, found_assignment = found.dispatch_id, found.id
    else:
        raise ValueError("answer needs a page_id or an assignment_id")
    dispatch = lock(session, dispatch_id)
    assignment = _assignment(dispatch, found_assignment)
    wanted = AssignmentStatus.ACCEPTED if accept else AssignmentStatus.DECLINED

    def result(kind: str, wake: Wake | None = None) -> Answer:
        return Answer(kind, dispatch.id, dispatch.reference, wake or Wake())

    if assignment.status == wanted:
        return result("already")
    settled = (AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED, AssignmentStatus.CANCELLED)
    if assignment.status in settled or dispatch.stage == Stage.CLOSED:
        return result("closed")
    phase = phase_of(assignment)
    state = dispatch.paging_state
    late = state in (PagingState.NO_RESPONDER, PagingState.PARTIAL) and accept
    if not (state == phase or late):
        return result("closed")
    if late:
        # Someone answers after everybody was tried: take them, and say so.
        dispatch.paging_state = phase
    pages = pages_of(session, dispatch.id)
    mine = [p for p in pages if p.assignment_id == assignment.id]
    answered = _answering_page(mine, page_id, via)
    if answered is not None and answered.status in OPEN:
        answered.status = PageStatus.ACCEPTED if accept else PageStatus.DECLINED
        answered.closed_at = now
    keep = call_id if via == Channel.VOICE else None
    wake = _close_pages(mine, PageStatus.CANCELLED, now, keep_call=keep)
    assignment.status = wanted
    assignment.answered_at = now
    assignment.answered_via = via
    payload = {
        "assignment": assignment.position,
        "purpose": assignment.purpose,
        "person": assignment.person_id,
        "team": assignment.team_id,
        "via": via,
        "late": late,
    }
    if by:
        payload["by"] = by
    events.append(session, dispatch.id, now, [(f"assignment.{wanted}", payload)])
    if accept:
        from dispatch import progress  # imported here: progress builds on this module

        progress.accepted(session, dispatch, assignment, now)
        if phase == PagingState.RESPOND:
            dispatch.accept_alarm_at = None
            alarms.clear_alarm(session, dispatch.id, AlarmKind.NO_ACCEPT, now, reason="accepted")
    wake.due.extend(
        contact.accepted(
            session, dispatch, assignment, via=via, now=now, reply_carries=not confirm_by_sms
        )
    )
    wake.extend(advance(session, dispatch, now))
    return result(wanted, wake)


def _answering_page(mine: list[Page], page_id: str | None, via: str) -> Page | None:
    """The page that carried the answer: the one named, but for an answer by SMS or by
    the SMS's link, the SMS of that attempt that reached the phone (never its call: the
    call is then ended like every other page of the person)."""
    named = next((p for p in mine if p.id == page_id), None)
    if named is None or via not in ("sms", "link") or named.channel == Channel.SMS:
        return named
    sms = [
        p
        for p in mine
        if p.channel == Channel.SMS and p.round == named.round and p.status in OUT_PAGE
    ]
    return sms[0] if sms else None

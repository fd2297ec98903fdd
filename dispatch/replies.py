"""SMS replies from workers' phones: accept, decline, or a helpful answer; rate-limited
so that a phone stuck in a loop (or someone texting our number) costs little, and never
at the price of a real answer.

Every reply from one number is handled under a lock on that number (PostgreSQL: a
transaction-scoped advisory lock; SQLite has one writer at a time), so "count, then
record" is atomic: a burst cannot slip past the limit. A reply that answers an open
page of that number (JA/NEE/1/2, with or without the code) is never limited and does
not count; only help, unknown texts and answers to nothing count and are limited. The
first text over the limit is answered once ("too many messages") and the control room
is told (``sms_limited`` on the dispatches that paged that number, or an event of its
own when none is open); later ones are recorded and left unanswered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.texts import ALARM_NL
from dispatch import alarms, contact, events, paging
from dispatch.models import Assignment, Dispatch, InboundSms, Page
from dispatch.paging import Wake
from dispatch.states import ANSWERABLE, AlarmKind, AssignmentStatus, PageKind, PageStatus, Stage
from notifications import messages, webhooks
from notifications.replies import Reply, parse_reply

RATE_WINDOW = timedelta(minutes=10)
RECENT = timedelta(hours=2)  # a page this recent makes its dispatch "about" the number
# Results of texts that answered an open page: never limited, never counted.
ANSWERING = frozenset({"accepted", "declined", "ambiguous"})
WorkerLink = Callable[[int, datetime], str]  # (assignment id, accepted at) -> step page


@dataclass(frozen=True)
class SmsAnswer:
    text: str | None  # what to send back (None: nothing)
    result: str
    wake: Wake


def _lock_number(session: Session, phone: str) -> None:
    """One reply per number at a time (until commit)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already lets one writer at a time
    key = int.from_bytes(hashlib.sha256(f"sms:{phone}".encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def inbound(
    session: Session,
    sms: webhooks.InboundSms,
    now: datetime,
    *,
    per_10min: int,
    worker_link: WorkerLink,
    inline_reply: bool = True,
    provider: str | None = None,
) -> SmsAnswer:
    """A reply from a worker's phone (through ``provider``, when the webhook says).

    An accept answered inline carries whom to call and the link to the worker's step
    page, so no confirmation SMS follows it; without an inline reply
    (``inline_reply=False``) the confirmation SMS carries them."""
    _lock_number(session, sms.from_number)
    if session.get(InboundSms, sms.provider_id) is not None:
        return SmsAnswer(None, "duplicate", Wake())  # the same message delivered again
    reply = parse_reply(sms.body)
    open_ = open_pages_for(session, sms.from_number)
    if _answers_open(reply, open_):
        answer = _interpret(session, sms, reply, open_, now, worker_link, inline_reply)
    else:
        recent = session.scalar(
            select(func.count())
            .select_from(InboundSms)
            .where(
                InboundSms.phone == sms.from_number,
                InboundSms.received_at > now - RATE_WINDOW,
                InboundSms.result.notin_(tuple(ANSWERING)),
            )
        )
        if (recent or 0) >= per_10min:
            first = recent == per_10min
            answer = SmsAnswer(
                messages.reply_text("rate_limited") if first else None, "rate_limited", Wake()
            )
            if first:
                _tell_control_room(session, sms.from_number, now, provider)
        else:
            answer = _interpret(session, sms, reply, open_, now, worker_link, inline_reply)
    session.add(
        InboundSms(
            provider_id=sms.provider_id,
            phone=sms.from_number,
            received_at=now,
            body=sms.body[:320],
            result=answer.result,
        )
    )
    return answer


def _answers_open(reply: Reply, open_: list[tuple[Page, Dispatch]]) -> bool:
    if reply.kind not in ("accept", "decline") or not open_:
        return False
    if reply.code is None:
        return True
    return any(d.reference == f"SO-{reply.code}" for _, d in open_)


def _interpret(
    session: Session,
    sms: webhooks.InboundSms,
    reply: Reply,
    open_: list[tuple[Page, Dispatch]],
    now: datetime,
    worker_link: WorkerLink,
    inline_reply: bool,
) -> SmsAnswer:
    codes = [d.reference.removeprefix("SO-") for _, d in open_]
    if reply.kind == "help":
        return SmsAnswer(
            messages.reply_text("help", code=codes[0] if codes else None), "help", Wake()
        )
    if reply.kind == "unknown":
        return SmsAnswer(messages.reply_text("unknown"), "unknown", Wake())
    if reply.code is not None:
        chosen = [(p, d) for p, d in open_ if d.reference == f"SO-{reply.code}"]
        if not chosen:
            return _answered_before(session, sms, reply.code, codes)
    elif len(open_) > 1:
        return SmsAnswer(messages.reply_text("ambiguous", codes=codes), "ambiguous", Wake())
    else:
        chosen = open_
    if not chosen:
        return _nothing_open(session, sms, now)
    page, dispatch = chosen[0]
    result = paging.answer(
        session,
        page_id=page.id,
        accept=reply.kind == "accept",
        via="sms",
        now=now,
        confirm_by_sms=not inline_reply,
    )
    if result.result in ("accepted", "declined"):
        # The number is heard again (the dispatch is locked by the answer).
        alarms.clear_alarm(session, dispatch.id, AlarmKind.SMS_LIMITED, now, reason="answered")
    kind = {
        "accepted": "accepted",
        "declined": "declined",
        "already": "already_answered",
    }.get(result.result, "closed")
    text = messages.reply_text(kind, reference=dispatch.reference)  # type: ignore[arg-type]
    if result.result == "accepted" and inline_reply:
        assignment = session.get(Assignment, page.assignment_id)
        if assignment is not None and assignment.answered_at is not None:
            link = worker_link(assignment.id, assignment.answered_at)
            text = contact.reply(dispatch, assignment, link) or text
    return SmsAnswer(text, result.result, result.wake)


def _nothing_open(session: Session, sms: webhooks.InboundSms, now: datetime) -> SmsAnswer:
    """No open page: if this phone answered one lately, say so rather than 'nothing'."""
    row = session.execute(
        select(Dispatch.reference, Assignment.status)
        .join(Page, Page.dispatch_id == Dispatch.id)
        .join(Assignment, Page.assignment_id == Assignment.id)
        .where(
            Page.phone == sms.from_number,
            Page.kind == PageKind.PAGE,
            Page.created_at > now - RECENT,
        )
        .order_by(Page.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return SmsAnswer(messages.reply_text("no_open"), "no_open", Wake())
    reference, status = row
    if status in (AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED):
        text = messages.reply_text("already_answered", reference=reference)
        return SmsAnswer(text, "already_answered", Wake())
    return SmsAnswer(messages.reply_text("closed", reference=reference), "closed", Wake())


def _answered_before(
    session: Session, sms: webhooks.InboundSms, code: str, codes: list[str]
) -> SmsAnswer:
    """A code that is not open for this phone: closed, or never theirs."""
    reference = f"SO-{code}"
    known = session.scalar(
        select(Page.id)
        .join(Dispatch, Page.dispatch_id == Dispatch.id)
        .where(
            Dispatch.reference == reference,
            Page.phone == sms.from_number,
            Page.kind == PageKind.PAGE,
        )
        .limit(1)
    )
    if known is not None:
        return SmsAnswer(messages.reply_text("closed", reference=reference), "closed", Wake())
    if codes:
        text = messages.reply_text("unknown_code", code=code, codes=codes)
        return SmsAnswer(text, "unknown_code", Wake())
    return SmsAnswer(messages.reply_text("no_open"), "no_open", Wake())


def _recent_dispatches(session: Session, phone: str, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Page.dispatch_id)
            .join(Dispatch, Page.dispatch_id == Dispatch.id)
            .where(
                Page.phone == phone,
                Page.kind == PageKind.PAGE,
                Page.created_at > now - RECENT,
                Dispatch.stage != Stage.CLOSED,
            )
            .distinct()
        )
    )


def _tell_control_room(session: Session, phone: str, now: datetime, provider: str | None) -> None:
    """The number just went over the limit: the control room sees it (and can call)."""
    shown = alarms.display(phone)
    message = ALARM_NL["sms_limited"].format(phone=shown)
    related = _recent_dispatches(session, phone, now)
    for dispatch_id in sorted(related):  # one lock order everywhere
        paging.lock(session, dispatch_id)
        alarms.raise_alarm(
            session,
            dispatch_id,
            AlarmKind.SMS_LIMITED,
            now,
            message=message,
            detail={"phone": shown, "provider": provider},
        )
    if not related:
        payload = {"phone": shown, "provider": provider}
        events.append(session, None, now, [("sms.rate_limited", payload)])


def open_pages_for(session: Session, phone: str) -> list[tuple[Page, Dispatch]]:
    """Pages to this number that an SMS reply could answer, newest first."""
    rows = session.execute(
        select(Page, Dispatch)
        .join(Dispatch, Page.dispatch_id == Dispatch.id)
        .join(Assignment, Page.assignment_id == Assignment.id)
        .where(
            Page.phone == phone,
            Page.kind == PageKind.PAGE,
            Page.status.notin_((PageStatus.SCHEDULED, PageStatus.CANCELLED)),
            Assignment.status.in_((AssignmentStatus.PAGING, AssignmentStatus.UNREACHED)),
            Dispatch.paging_state.in_(tuple(ANSWERABLE)),
        )
        .order_by(Page.created_at.desc(), Page.round.desc(), Page.seq.desc())
    ).all()
    seen: set[str] = set()
    out: list[tuple[Page, Dispatch]] = []
    for page, dispatch in rows:
        if dispatch.id in seen:
            continue
        seen.add(dispatch.id)
        out.append((page, dispatch))
    return out

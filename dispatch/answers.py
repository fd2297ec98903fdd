"""What the phone said back, and what it means for the page.

``notifications`` parses a webhook into a typed result (a call status, a voicemail, a
key, an SMS reply); here that result becomes a paging transition. Each function runs
in the caller's transaction and returns a ``Wake`` for after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch import contact, paging
from dispatch.delivery import page_info
from dispatch.models import Assignment, Dispatch, InboundSms, Page
from dispatch.paging import Answer, Wake
from notifications import messages, webhooks
from notifications.replies import parse_reply

RATE_WINDOW = timedelta(minutes=10)


def _page(session: Session, page_id: str) -> Page | None:
    return paging.locked_page(session, page_id)


def _remember_provider(page: Page, provider_id: str) -> None:
    """A callback can beat the sender's own write: keep the provider id either way."""
    if not page.provider_id:
        page.provider_id = provider_id


def _progress(
    session: Session, page_id: str, provider_id: str, provider_status: str, status: str | None
) -> Wake:
    """Progress (ringing, delivered, a person answered) changes no escalation decision:
    one UPDATE of the page row, without the dispatch lock (it waits for nothing else, so
    it cannot deadlock) and without reloading the dispatch."""
    values: dict[str, object] = {
        "provider_status": provider_status,
        "provider_id": func.coalesce(Page.provider_id, provider_id),
    }
    if status is not None:
        values["status"] = status
    session.execute(
        update(Page).where(Page.id == page_id, Page.status.in_(paging.OPEN)).values(**values)
    )
    return Wake()


def call_status(session: Session, page_id: str, status: webhooks.CallStatus, now: datetime) -> Wake:
    if status.outcome == "progress":
        return _progress(session, page_id, status.provider_id, status.status, None)
    page = _page(session, page_id)
    if page is None:
        return Wake()
    _remember_provider(page, status.provider_id)
    if status.outcome == "not_reached":
        return paging.page_failed(
            session, page_id, now, error=f"call {status.status}", status=status.status
        )
    # Completed: if no key settled the page, nobody was reached.
    return paging.page_failed(
        session, page_id, now, error="call ended without a key press", status=status.status
    )


def amd(session: Session, page_id: str, result: webhooks.AmdResult, now: datetime) -> Wake:
    if not result.is_machine:
        return _progress(session, page_id, result.provider_id, "answered-human", "answered")
    page = _page(session, page_id)
    if page is None:
        return Wake()
    _remember_provider(page, result.provider_id)
    wake = paging.page_failed(
        session, page_id, now, error=f"voicemail ({result.answered_by})", status="machine"
    )
    wake.hangups.append(result.provider_id)
    return wake


KeyOutcome = Literal["accepted", "declined", "repeat", "invalid", "closed"]


@dataclass(frozen=True)
class KeyReply:
    outcome: KeyOutcome
    info: messages.PageInfo | None
    wake: Wake
    # After an accept: the police's callback number, read out before the call ends.
    callback: messages.Callback | None = None


def key(session: Session, page_id: str, press: webhooks.KeyPress, now: datetime) -> KeyReply:
    page = _page(session, page_id)
    if page is None:
        return KeyReply("closed", None, Wake())
    dispatch = session.get(Dispatch, page.dispatch_id)
    assignment = session.get(Assignment, page.assignment_id)
    assert dispatch is not None and assignment is not None
    info = page_info(dispatch, assignment)
    if press.action in ("repeat", "invalid"):
        return KeyReply(press.action, info, Wake())
    result = paging.answer(
        session, page_id=page_id, accept=press.action == "accept", via="voice", now=now
    )
    outcome = _key_outcome(result, press.action == "accept")
    callback = None
    if outcome == "accepted" and contact.wanted(assignment):
        callback = contact.callback(dispatch)
    return KeyReply(outcome, info, result.wake, callback)


def _key_outcome(result: Answer, accept: bool) -> KeyOutcome:
    if result.result == "already":
        return "accepted" if accept else "declined"
    if result.result in ("accepted", "declined"):
        return "accepted" if result.result == "accepted" else "declined"
    return "closed"


def sms_status(session: Session, page_id: str, status: webhooks.SmsStatus, now: datetime) -> Wake:
    if status.outcome != "not_reached":
        delivered = "delivered" if status.outcome == "delivered" else None
        return _progress(session, page_id, status.provider_id, status.status, delivered)
    page = _page(session, page_id)
    if page is None:
        return Wake()
    _remember_provider(page, status.provider_id)
    detail = status.error_text or status.status
    code = f" {status.error_code}" if status.error_code else ""
    return paging.page_failed(
        session, page_id, now, error=f"sms {status.status}{code}: {detail}", status=status.status
    )


@dataclass(frozen=True)
class SmsAnswer:
    text: str | None  # what to send back (None: nothing)
    result: str
    wake: Wake


WorkerLink = Callable[[int, datetime], str]  # (assignment id, accepted at) -> step page


def inbound_sms(
    session: Session,
    sms: webhooks.InboundSms,
    now: datetime,
    *,
    per_10min: int,
    worker_link: WorkerLink,
) -> SmsAnswer:
    """A reply from a worker's phone: accept, decline, or a helpful answer.

    An accept is answered with whom to call and the link to the worker's step page
    (``worker_link``), so no confirmation SMS follows it."""
    recent = session.scalar(
        select(func.count())
        .select_from(InboundSms)
        .where(InboundSms.phone == sms.from_number, InboundSms.received_at > now - RATE_WINDOW)
    )
    if (recent or 0) >= per_10min:
        # Past the limit we answer once more (so the worker knows), then stay silent.
        quiet = (recent or 0) > per_10min
        answer = SmsAnswer(
            None if quiet else messages.reply_text("rate_limited"), "rate_limited", Wake()
        )
        _record(session, sms, now, answer.result)
        return answer
    answer = _interpret(session, sms, now, worker_link)
    _record(session, sms, now, answer.result)
    return answer


def _record(session: Session, sms: webhooks.InboundSms, now: datetime, result: str) -> None:
    session.add(
        InboundSms(
            provider_id=sms.provider_id,
            phone=sms.from_number,
            received_at=now,
            body=sms.body[:320],
            result=result,
        )
    )


def _interpret(
    session: Session, sms: webhooks.InboundSms, now: datetime, worker_link: WorkerLink
) -> SmsAnswer:
    reply = parse_reply(sms.body)
    open_ = paging.open_pages_for_phone(session, sms.from_number)
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
        session, page_id=page.id, accept=reply.kind == "accept", via="sms", now=now
    )
    kind = {
        "accepted": "accepted",
        "declined": "declined",
        "already": "already_answered",
    }.get(result.result, "closed")
    text = messages.reply_text(kind, reference=dispatch.reference)  # type: ignore[arg-type]
    if result.result == "accepted":
        assignment = session.get(Assignment, page.assignment_id)
        assert assignment is not None and assignment.answered_at is not None
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
            Page.kind == contact.PAGE,
            Page.created_at > now - timedelta(hours=2),
        )
        .order_by(Page.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return SmsAnswer(messages.reply_text("no_open"), "no_open", Wake())
    reference, status = row
    if status in ("accepted", "declined"):
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
            Page.kind == contact.PAGE,
        )
        .limit(1)
    )
    if known is not None:
        return SmsAnswer(messages.reply_text("closed", reference=reference), "closed", Wake())
    if codes:
        text = messages.reply_text("unknown_code", code=code, codes=codes)
        return SmsAnswer(text, "unknown_code", Wake())
    return SmsAnswer(messages.reply_text("no_open"), "no_open", Wake())

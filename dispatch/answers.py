"""What the phone said back, and what it means for the page.

``notifications`` parses a webhook into a typed result (a call status, a voicemail, a
key, an SMS reply); here that result becomes a paging transition. Each function runs
in the caller's transaction and returns a ``Wake`` for after the commit.

A callback belongs to the call or message it names, not only to the page in its URL:
one whose provider id is not the page's (an orphan call of an earlier, lost create; a
callback for another call) is recorded and otherwise ignored, and a call found that
way is ended, so it can neither fail a page nor end the call a worker listens to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from dispatch import contact, events, paging, replies
from dispatch.delivery import page_info
from dispatch.models import Assignment, Dispatch, Page
from dispatch.paging import Answer, Wake
from dispatch.states import FINAL_PAGE, Channel, PageStatus
from notifications import messages, webhooks

__all__ = [
    "KeyReply",
    "SmsAnswer",
    "amd",
    "call_status",
    "inbound_sms",
    "is_progress",
    "key",
    "sms_status",
]

SmsAnswer = replies.SmsAnswer
WorkerLink = replies.WorkerLink
# Pages whose status a progress callback may move on (a scheduled page whose send is
# uncertain only learns its provider id: it is recorded as sent by its next claim).
_PROGRESSING = (PageStatus.SENDING, PageStatus.SENT, PageStatus.DELIVERED, PageStatus.ANSWERED)


def is_progress(result: object) -> bool:
    """Whether a parsed callback only reports progress (ringing, answered by a person,
    delivered): applying it twice changes nothing, so no receipt is kept for it."""
    if isinstance(result, webhooks.CallStatus):
        return result.outcome == "progress"
    if isinstance(result, webhooks.AmdResult):
        return not result.is_machine
    if isinstance(result, webhooks.SmsStatus):
        return result.outcome != "not_reached"
    return False


def _bind(page: Page, provider: str | None, provider_id: str) -> bool:
    """Whether a callback naming ``provider_id`` at ``provider`` (None: the webhook does
    not say) is about this page's own call or message (the dispatch is locked). A page
    being sent, or whose send was uncertain or overtaken, learns its id from the first
    callback that names it."""
    foreign_provider = provider is not None and page.provider not in (None, provider)
    if foreign_provider and page.provider_id:
        return False
    if page.provider_id is not None:
        return page.provider_id == provider_id
    unsent = page.status == PageStatus.SENDING or page.uncertain_since is not None
    overtaken = page.status in FINAL_PAGE and page.claimed_at is not None
    if not (unsent or overtaken):
        return False
    page.provider_id = provider_id
    page.provider = provider or page.provider
    return True


def _foreign(
    session: Session,
    page: Page,
    provider: str | None,
    provider_id: str,
    status: str,
    now: datetime,
    *,
    live: bool,
) -> Wake:
    """A callback for another call than the page's: record it; end the call when it may
    still ring and no page owns it (an orphan of a lost create)."""
    owner = session.scalar(
        select(Page.id).where(Page.provider_id == provider_id, Page.id != page.id).limit(1)
    )
    ended = live and owner is None and page.channel == Channel.VOICE
    events.append(
        session,
        page.dispatch_id,
        now,
        [
            (
                "page.foreign_callback",
                {
                    "page": page.id,
                    "provider": provider,
                    "provider_id": provider_id,
                    "status": status,
                    "hung_up": ended,
                },
            )
        ],
    )
    return Wake(hangups=[(provider, provider_id)]) if ended else Wake()


def _progress(
    session: Session,
    page_id: str,
    provider: str | None,
    provider_id: str,
    provider_status: str,
    status: PageStatus | None,
    now: datetime,
) -> Wake:
    """Progress (ringing, delivered, a person answered) changes no escalation decision:
    one UPDATE of the page row, without the dispatch lock (it waits for nothing else, so
    it cannot deadlock). Only when that finds nothing to update is the page read under
    its lock: the callback may be for another call, or for a page already closed."""
    values: dict[str, object] = {
        "provider_status": provider_status,
        # A callback can beat the sender's own write: a page being sent learns its id.
        "provider_id": func.coalesce(Page.provider_id, provider_id),
    }
    same_provider = or_(Page.provider.is_(None), Page.provider == provider)
    if provider is not None:
        values["provider"] = func.coalesce(Page.provider, provider)
    if status is not None:
        values["status"] = status
    done = session.execute(
        update(Page)
        .where(
            Page.id == page_id,
            Page.status.in_(_PROGRESSING),
            or_(
                Page.provider_id == provider_id,
                and_(Page.provider_id.is_(None), Page.status == PageStatus.SENDING),
            ),
            same_provider if provider is not None else true(),
        )
        .values(**values)
    )
    if getattr(done, "rowcount", 0):
        return Wake()
    page = paging.locked_page(session, page_id)
    if page is None:
        return Wake()
    if not _bind(page, provider, provider_id):
        return _foreign(session, page, provider, provider_id, provider_status, now, live=True)
    if page.status in _PROGRESSING:
        page.provider_status = provider_status
        if status is not None:
            page.status = status
        return Wake()
    if page.status in FINAL_PAGE and page.channel == Channel.VOICE and status is not None:
        # The page closed while its call was being placed: the call rings for nothing.
        return Wake(hangups=[(provider, provider_id)])
    return Wake()


def call_status(
    session: Session,
    page_id: str,
    status: webhooks.CallStatus,
    now: datetime,
    *,
    provider: str | None = None,
) -> Wake:
    if status.outcome == "progress":
        return _progress(session, page_id, provider, status.provider_id, status.status, None, now)
    page = paging.locked_page(session, page_id)
    if page is None:
        return Wake()
    if not _bind(page, provider, status.provider_id):
        return _foreign(session, page, provider, status.provider_id, status.status, now, live=False)
    if status.outcome == "not_reached":
        return paging.page_failed(
            session, page_id, now, error=f"call {status.status}", status=status.status
        )
    # Completed: if no key settled the page, nobody was reached.
    return paging.page_failed(
        session, page_id, now, error="call ended without a key press", status=status.status
    )


def amd(
    session: Session,
    page_id: str,
    result: webhooks.AmdResult,
    now: datetime,
    *,
    provider: str | None = None,
) -> Wake:
    if not result.is_machine:
        return _progress(
            session,
            page_id,
            provider,
            result.provider_id,
            "answered-human",
            PageStatus.ANSWERED,
            now,
        )
    page = paging.locked_page(session, page_id)
    if page is None:
        return Wake()
    if not _bind(page, provider, result.provider_id):
        return _foreign(session, page, provider, result.provider_id, "machine", now, live=True)
    wake = paging.page_failed(
        session, page_id, now, error=f"voicemail ({result.answered_by})", status="machine"
    )
    wake.hangups.append((provider, result.provider_id))
    return wake


KeyOutcome = Literal["accepted", "declined", "repeat", "invalid", "closed"]


@dataclass(frozen=True)
class KeyReply:
    outcome: KeyOutcome
    info: messages.PageInfo | None
    wake: Wake
    # After an accept: the police's callback number, read out before the call ends.
    callback: messages.Callback | None = None


def key(
    session: Session,
    page_id: str,
    press: webhooks.KeyPress,
    now: datetime,
    *,
    provider: str | None = None,
) -> KeyReply:
    """A key pressed on a page's call. The person heard this page's script, on a call
    to their phone, so the answer counts even on a call the page lost track of (an
    orphan of a lost create); their other calls for it are ended, this one not."""
    page = paging.locked_page(session, page_id)
    if page is None:
        return KeyReply("closed", None, Wake())
    dispatch = session.get(Dispatch, page.dispatch_id)
    assignment = session.get(Assignment, page.assignment_id)
    if dispatch is None or assignment is None:
        return KeyReply("closed", None, Wake())
    _bind(page, provider, press.provider_id)
    info = page_info(dispatch, assignment)
    if press.action in ("repeat", "invalid"):
        return KeyReply(press.action, info, Wake())
    result = paging.answer(
        session,
        page_id=page_id,
        accept=press.action == "accept",
        via="voice",
        now=now,
        call_id=press.provider_id,
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


def sms_status(
    session: Session,
    page_id: str,
    status: webhooks.SmsStatus,
    now: datetime,
    *,
    provider: str | None = None,
) -> Wake:
    if status.reference == page_id:
        # A part of this page's own message (a long SMS has an id per part): read as
        # the page's message, whichever part it is.
        recorded = session.scalar(select(Page.provider_id).where(Page.id == page_id))
        if recorded:
            status = replace(status, provider_id=recorded)
    if status.outcome != "not_reached":
        delivered = PageStatus.DELIVERED if status.outcome == "delivered" else None
        return _progress(
            session, page_id, provider, status.provider_id, status.status, delivered, now
        )
    page = paging.locked_page(session, page_id)
    if page is None:
        return Wake()
    if not _bind(page, provider, status.provider_id):
        return _foreign(session, page, provider, status.provider_id, status.status, now, live=False)
    detail = status.error_text or status.status
    code = f" {status.error_code}" if status.error_code else ""
    return paging.page_failed(
        session, page_id, now, error=f"sms {status.status}{code}: {detail}", status=status.status
    )


def inbound_sms(
    session: Session,
    sms: webhooks.InboundSms,
    now: datetime,
    *,
    per_10min: int,
    worker_link: Callable[[int, datetime], str],
    inline_reply: bool = True,
    provider: str | None = None,
) -> SmsAnswer:
    """A reply from a worker's phone: accept, decline, or a helpful answer (see
    ``dispatch.replies``); ``inline_reply`` False when the provider cannot answer in
    the webhook's response (the accept is then confirmed by a confirmation SMS)."""
    return replies.inbound(
        session,
        sms,
        now,
        per_10min=per_10min,
        worker_link=worker_link,
        inline_reply=inline_reply,
        provider=provider,
    )

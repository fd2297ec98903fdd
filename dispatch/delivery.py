"""Send one page: claim it, ask the provider, record what happened.

At least once underneath, once as the worker sees it. The claim (``scheduled ->
sending`` with a lease) is committed before the provider is called, so a crash
leaves a ``sending`` row whose lease runs out. Whoever picks it up next first asks
the provider what already went out to that number since the claim, and only sends
when nothing did. The SMS body carries the page's signed link (the same on every
try), so a message is recognised by its body; a call by number and time, minus the
calls other pages already own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from dispatch import contact, events
from dispatch.models import Assignment, Dispatch, Page
from dispatch.paging import Wake, locked_page, page_failed, page_payload
from notifications import links, messages
from notifications.provider import (
    CallRequest,
    DeliveryRejected,
    Provider,
    ProviderUnavailable,
    Sent,
    SmsRequest,
)

log = logging.getLogger("samenop.delivery")

LEASE = timedelta(seconds=8)  # longer than the provider's HTTP timeout (5 s)
# What a provider receipt may move a page to while its sender still holds it.
# Statuses a claimed page can be moved to by others (a receipt, an answer, a deadline)
# while its sender still holds the claim: anything but scheduled and sending.
NOT_SENDING = ("scheduled", "sending")
MAX_TRIES = 5
RING_SECONDS = 30


class Waker(Protocol):
    """Arms what a committed transaction asked for: sends, deadlines, hang-ups."""

    def arm(self, wake: Wake) -> None: ...


@dataclass
class PagingContext:
    """Everything delivery needs, built once per process."""

    sessions: sessionmaker[Session]
    provider: Provider
    clock: Clock
    public_base_url: str
    link_secret: str
    link_ttl: timedelta
    waker: Waker
    worker_link_ttl: timedelta = timedelta(hours=12)

    def url(self, path: str) -> str:
        return f"{self.public_base_url}{path}"

    def link(self, page: Page) -> str:
        token = links.sign(page.id, page.created_at + self.link_ttl, self.link_secret)
        return links.link_url(self.public_base_url, token)

    def worker_link(self, assignment_id: int, accepted_at: datetime) -> str:
        """The step page of an accepted assignment; the same for the same accept."""
        expires = accepted_at + self.worker_link_ttl
        return links.worker_url(
            self.public_base_url, links.sign_worker(assignment_id, expires, self.link_secret)
        )

    def commit(self, work: Callable[[Session], Wake]) -> Wake:
        """Run ``work`` in its own transaction, then arm what it returned."""
        with self.sessions() as session, session.begin():
            wake = work(session)
        if wake:
            self.waker.arm(wake)
        return wake


def page_info(dispatch: Dispatch, assignment: Assignment) -> messages.PageInfo:
    info = (dispatch.paging or {}).get("info", {})
    mode = assignment.mode if assignment.purpose != "consult" else "phone"
    return messages.PageInfo(
        reference=dispatch.reference,
        code=dispatch.reference.removeprefix("SO-"),
        municipality=info.get("municipality"),
        case_type=info.get("case_type", "HG"),
        mode=cast(messages.Mode, mode),
        purpose=cast(messages.Purpose, assignment.purpose),
        staff=min(2, max(1, int(info.get("staff", 1)))),
    )


@dataclass(frozen=True)
class _Claim:
    page_id: str
    channel: str
    phone: str
    validity_seconds: int
    recovering_since: datetime | None


def _claim(session: Session, page_id: str, now: datetime) -> _Claim | None:
    page = session.get(Page, page_id)
    if page is None:
        return None
    due = page.status == "scheduled" and page.due_at <= now
    stale = page.status == "sending" and page.lease_until is not None and page.lease_until < now
    if not (due or stale):
        return None
    recovering = page.claimed_at if stale else None
    claimed = session.execute(
        update(Page)
        .where(Page.id == page_id, Page.status == page.status, Page.tries == page.tries)
        .values(status="sending", lease_until=now + LEASE, claimed_at=now, tries=page.tries + 1)
    )
    if not getattr(claimed, "rowcount", 0):
        return None  # someone else claimed it between our read and our write
    return _Claim(
        page_id=page.id,
        channel=page.channel,
        phone=page.phone,
        validity_seconds=page.validity_seconds,
        recovering_since=recovering,
    )


def deliver(ctx: PagingContext, page_id: str) -> Wake:
    """Send one due page (or finish a crashed send); safe to call any number of times."""
    now = ctx.clock.now()
    with ctx.sessions() as session, session.begin():
        claim = _claim(session, page_id, now)
        if claim is None:
            _record_receipted(session, ctx, page_id, now)
            return Wake()
        page = session.get(Page, page_id)
        assert page is not None
        dispatch = session.get(Dispatch, page.dispatch_id)
        assignment = session.get(Assignment, page.assignment_id)
        assert dispatch is not None and assignment is not None
        body: str | None
        if page.kind == contact.CONFIRMATION:  # its token is the marker on a re-drive
            link = ctx.worker_link(assignment.id, page.created_at)
            body = contact.sms(dispatch, link)
        else:
            link = ctx.link(page)
            info = page_info(dispatch, assignment)
            body = messages.sms_body(info, link) if page.channel == "sms" else None
        known: set[str] = set()
        if claim.recovering_since is not None:  # only a re-drive needs to know these
            others = session.scalars(
                select(Page.provider_id).where(
                    Page.phone == page.phone,
                    Page.provider_id.is_not(None),
                    Page.id != page.id,
                    Page.created_at >= now - timedelta(hours=2),
                )
            )
            known = {sid for sid in others if sid}
    if claim.recovering_since is not None:
        found = _already_sent(ctx, claim, link, known)
        if found is not None:
            log.warning("page %s: found %s already sent, not sending again", page_id, found)
            return ctx.commit(lambda s: _record_sent(s, ctx, page_id, found, recovered=True))
    try:
        sent = _send(ctx, claim, body)
    except DeliveryRejected as exc:
        error = f"rejected {exc.code}: {exc.message}"
        return ctx.commit(lambda s: page_failed(s, page_id, ctx.clock.now(), error=error))
    except ProviderUnavailable as exc:
        reason = str(exc) or type(exc).__name__
        return ctx.commit(lambda s: _retry_later(s, page_id, ctx.clock.now(), reason))
    return ctx.commit(lambda s: _record_sent(s, ctx, page_id, sent, recovered=False))


def _send(ctx: PagingContext, claim: _Claim, body: str | None) -> Sent:
    pid = claim.page_id
    if claim.channel == "voice":
        return ctx.provider.place_call(
            CallRequest(
                page_id=pid,
                to=claim.phone,
                callback_base=ctx.public_base_url,
                ring_seconds=RING_SECONDS,
            )
        )
    assert body is not None
    return ctx.provider.send_sms(
        SmsRequest(
            page_id=pid,
            to=claim.phone,
            body=body,
            callback_base=ctx.public_base_url,
            validity_seconds=claim.validity_seconds,
        )
    )


def _already_sent(ctx: PagingContext, claim: _Claim, link: str, known: set[str]) -> Sent | None:
    """After a crash mid-send: did the provider take the page before we died?"""
    assert claim.recovering_since is not None
    since = claim.recovering_since - timedelta(seconds=2)
    # The token alone: the public base URL in front of it may have changed since.
    marker = link.rsplit("/", 1)[-1] if claim.channel == "sms" else None
    found = ctx.provider.find_sent(
        channel="voice" if claim.channel == "voice" else "sms",
        to=claim.phone,
        since=since,
        marker=marker,
    )
    for sent in found:
        if sent.provider_id not in known:
            return sent
    return None


def _record_sent(
    session: Session, ctx: PagingContext, page_id: str, sent: Sent, *, recovered: bool
) -> Wake:
    now = ctx.clock.now()
    page = locked_page(session, page_id)
    if page is None:
        return Wake()
    # A status callback may have landed first (delivered, busy, ...): keep its status.
    # Decided in the statement, on the row as it is then: callbacks update the page row
    # without the dispatch lock, so the row read above may already be out of date.
    still_sending = Page.status == "sending"
    session.execute(
        update(Page)
        .where(Page.id == page_id)
        .values(
            provider=ctx.provider.name,
            provider_id=sent.provider_id,
            provider_status=case((still_sending, sent.status), else_=Page.provider_status),
            sent_at=now,
            lease_until=None,
            status=case((still_sending, "sent"), else_=Page.status),
        )
    )
    session.refresh(page)
    assignment = session.get(Assignment, page.assignment_id)
    assert assignment is not None
    payload = {**page_payload(page, assignment), "provider_id": sent.provider_id}
    if recovered:
        payload["recovered"] = True
    kind = "confirmation.sent" if page.kind == contact.CONFIRMATION else "page.sent"
    events.append(session, page.dispatch_id, now, [(kind, payload)])
    wake = Wake()
    if page.status in ("cancelled", "expired") and page.channel == "voice":
        wake.hangups.append(sent.provider_id)  # answered elsewhere while we were dialling
    return wake


def _record_receipted(session: Session, ctx: PagingContext, page_id: str, now: datetime) -> None:
    """A receipt (delivered, answered, failed) or an answer or a deadline moved the page on
    while its sender held it, and the sender died before recording the send. The provider
    has the page, under the id the receipt left: record it once (never send it again), so
    the books say it went out; its status stays what the others made it."""

    def orphaned(page: Page | None) -> bool:
        return (
            page is not None
            and page.status not in NOT_SENDING
            and page.lease_until is not None
            and page.lease_until < now
        )

    if not orphaned(session.get(Page, page_id)):
        return
    page = locked_page(session, page_id)  # then read again: another sweeper may have been first
    if page is None or not orphaned(page):
        return
    if not page.provider_id:
        page.lease_until = None  # nothing to record; never pick it up again
        return
    log.warning(
        "page %s: %s by receipt %s, recording it as sent", page_id, page.status, page.provider_id
    )
    sent = Sent(provider_id=page.provider_id, status=page.provider_status or page.status)
    _record_sent(session, ctx, page_id, sent, recovered=True)


def _retry_later(session: Session, page_id: str, now: datetime, error: str) -> Wake:
    page = locked_page(session, page_id)
    if page is None or page.status != "sending":
        return Wake()
    if page.tries >= MAX_TRIES:
        return page_failed(session, page_id, now, error=f"provider unavailable: {error}")
    retry_at = now + timedelta(seconds=min(30, 2**page.tries))
    page.status = "scheduled"
    page.lease_until = None
    page.due_at = retry_at
    page.error = f"retrying: {error}"[:200]
    return Wake(due=[(page.id, retry_at)])


def due_page_ids(
    session: Session, now: datetime, *, grace: timedelta, limit: int = 500
) -> list[str]:
    """Pages due (by at least ``grace``) that nobody sent, and claims whose lease ran out
    (also those a receipt moved on before their sender recorded them)."""
    cutoff = now - grace
    return list(
        session.scalars(
            select(Page.id)
            .where(
                or_(
                    and_(Page.status == "scheduled", Page.due_at <= cutoff),
                    # claims whose lease ran out, also those moved on by a receipt meanwhile
                    and_(Page.status != "scheduled", Page.lease_until < now),
                )
            )
            .order_by(Page.due_at)
            .limit(limit)
        )
    )

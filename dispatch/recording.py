"""What a send came to, written down: sent (and since when the person is waiting), or
not taken (retry, and ask first when it may have gone out).

``record_sent`` is on every page's path, so its common case is one ``UPDATE ...
RETURNING`` of the page row plus the event: no dispatch lock, no read-back. The status
is decided inside the statement, on the row as it is then (a receipt, an answer or a
deadline may have moved the page on meanwhile; row locks make that exact on
PostgreSQL). Only the rare cases take the dispatch lock (the order every writer
follows: dispatch, pages, event log): a send that starts the person's wait late (the
attempt's deadline moves), the first send after an outage (its alarm clears), a send
found after a crash, or a page a callback had bound to another call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from dispatch import alarms, events
from dispatch.locks import locked_page, page_payload
from dispatch.models import Assignment, Page
from dispatch.states import OPEN_PAGE, AlarmKind, Channel, PageKind, PageStatus
from dispatch.wake import Wake
from notifications.provider import ProviderUnavailable, Sent

log = logging.getLogger("samenop.delivery")

LEASE = timedelta(seconds=8)  # longer than the provider's HTTP timeout (5 s)
RETRY_MAX = timedelta(seconds=5)  # the longest wait between tries while no provider answers
RECONCILE_AFTER = timedelta(seconds=2)  # an uncertain send is looked up this long after
# A send that starts its attempt's wait this much later than planned moves the attempt's
# deadline (and its later channels) on; smaller delays are not worth the writes.
LATE_START = timedelta(seconds=1)
_CLOSED = (PageStatus.CANCELLED, PageStatus.EXPIRED, PageStatus.FAILED)


@dataclass(frozen=True)
class Claim:
    """A page claimed for sending, with what its outcome needs to be recorded."""

    page_id: str
    dispatch_id: str
    kind: str
    channel: str
    phone: str
    validity_seconds: int
    deadline_at: datetime
    claimed_at: datetime
    failing: bool  # earlier tries found no provider (an outage alarm may be up)
    # For the page's events (assignment position, purpose, person, team, round ...).
    payload: dict[str, Any] = field(default_factory=dict)
    # Set when something may already have gone out: since when, through which provider
    # (None: any), and the provider id a callback bound to the page meanwhile.
    recovering_since: datetime | None = None
    provider: str | None = None
    bound_id: str | None = None
    # For logs and metrics: the dispatch's reference, and its intake time when this
    # page is the first channel of an attempt made at intake (time to first call).
    reference: str = ""
    intake_at: datetime | None = None


def record_sent(
    session: Session, claim: Claim, sent: Sent, now: datetime, *, default_provider: str
) -> Wake:
    """A provider took the claimed page: record it (one statement in the common case)."""
    provider = sent.provider or default_provider
    late = claim.kind == PageKind.PAGE and (
        now + timedelta(seconds=claim.validity_seconds) - claim.deadline_at >= LATE_START
    )
    if late or claim.failing or claim.recovering_since is not None:
        return record_sent_locked(
            session, claim.page_id, sent, now, default_provider=default_provider, recovered=False
        )
    still_sending = Page.status == PageStatus.SENDING
    status = session.execute(
        update(Page)
        .where(
            Page.id == claim.page_id,
            # a callback may have named the call first; another id is the rare path
            or_(Page.provider_id.is_(None), Page.provider_id == sent.provider_id),
        )
        .values(
            provider=provider,
            provider_id=sent.provider_id,
            provider_status=case((still_sending, sent.status), else_=Page.provider_status),
            sent_at=now,
            lease_until=None,
            status=case((still_sending, PageStatus.SENT), else_=Page.status),
        )
        .returning(Page.status)
    ).scalar_one_or_none()
    if status is None:
        return record_sent_locked(
            session, claim.page_id, sent, now, default_provider=default_provider, recovered=False
        )
    payload = {**claim.payload, "provider": provider, "provider_id": sent.provider_id}
    kind = "confirmation.sent" if claim.kind == PageKind.CONFIRMATION else "page.sent"
    events.append(session, claim.dispatch_id, now, [(kind, payload)])
    if status in _CLOSED and claim.channel == Channel.VOICE:
        return Wake(hangups=[(provider, sent.provider_id)])  # not needed any more: end it
    return Wake()


def record_sent_locked(
    session: Session,
    page_id: str,
    sent: Sent,
    now: datetime,
    *,
    default_provider: str,
    recovered: bool,
) -> Wake:
    """``record_sent`` under the dispatch lock, for the cases that need more than the
    page row: a late start, an outage's end, a recovery, a callback's other call."""
    page = locked_page(session, page_id)
    if page is None:
        return Wake()
    provider = sent.provider or page.provider or default_provider
    wake = Wake()
    if page.provider_id and page.provider_id != sent.provider_id:
        # A callback bound another call of this page while this one was being placed
        # (its create had been lost): keep the call that rings already, end this one.
        log.warning("page %s: second call %s ended", page_id, sent.provider_id)
        events.append(
            session,
            page.dispatch_id,
            now,
            [("page.duplicate_ended", {"page": page.id, "provider_id": sent.provider_id})],
        )
        if page.channel == Channel.VOICE:
            wake.hangups.append((provider, sent.provider_id))
        sent = Sent(page.provider_id, page.provider_status or "sent", provider=page.provider)
        provider = page.provider or provider
    sent_at = now
    if recovered and sent.created_at is not None:
        sent_at = min(now, sent.created_at)
    failing = page.failing_since is not None
    still_sending = Page.status == PageStatus.SENDING
    session.execute(
        update(Page)
        .where(Page.id == page_id)
        .values(
            provider=provider,
            provider_id=sent.provider_id,
            provider_status=case((still_sending, sent.status), else_=Page.provider_status),
            sent_at=sent_at,
            lease_until=None,
            uncertain_since=None,
            failing_since=None,
            status=case((still_sending, PageStatus.SENT), else_=Page.status),
        )
    )
    session.refresh(page)
    assignment = session.get(Assignment, page.assignment_id)
    if assignment is None:
        raise LookupError(f"page {page.id} has no assignment")
    payload: dict[str, Any] = {
        **page_payload(page, assignment),
        "provider": provider,
        "provider_id": sent.provider_id,
    }
    if recovered:
        payload["recovered"] = True
    kind = "confirmation.sent" if page.kind == PageKind.CONFIRMATION else "page.sent"
    events.append(session, page.dispatch_id, now, [(kind, payload)])
    if page.kind == PageKind.PAGE:
        wake.extend(_started_waiting(session, page, sent_at))
        if failing and not alarms.still_failing(session, page.dispatch_id):
            alarms.clear_alarm(
                session, page.dispatch_id, AlarmKind.SEND_FAILING, now, reason="sent"
            )
    if page.status in _CLOSED and page.channel == Channel.VOICE:
        wake.hangups.append((provider, sent.provider_id))  # not needed any more: end it
    return wake


def _started_waiting(session: Session, page: Page, sent_at: datetime) -> Wake:
    """The attempt's wait starts when a provider took its page: when that happened later
    than planned (an outage, retries), its deadline and its later channels move on by as
    much, so the person gets the whole wait (the dispatch is locked)."""
    wake = Wake()
    deadline = sent_at + timedelta(seconds=page.validity_seconds)
    if deadline - page.deadline_at < LATE_START:
        return wake
    siblings = session.scalars(
        select(Page)
        .where(
            Page.assignment_id == page.assignment_id,
            Page.round == page.round,
            Page.kind == PageKind.PAGE,
        )
        .execution_options(populate_existing=True)
    )
    for sibling in siblings:
        if sibling.status not in OPEN_PAGE:
            continue
        sibling.deadline_at = max(sibling.deadline_at, deadline)
        later = sibling.seq > page.seq and sibling.status == PageStatus.SCHEDULED
        if later and sibling.failing_since is None:
            offset = timedelta(seconds=page.validity_seconds - sibling.validity_seconds)
            due = max(sibling.due_at, sent_at + offset)
            if due != sibling.due_at:
                sibling.due_at = due
                wake.due.append((sibling.id, due))
    wake.deadlines.append((page.id, deadline))
    events.append(
        session,
        page.dispatch_id,
        sent_at,
        [("attempt.deadline_moved", {"page": page.id, "deadline_at": deadline.isoformat()})],
    )
    return wake


def unavailable(session: Session, claim: Claim, exc: ProviderUnavailable, now: datetime) -> Wake:
    """No provider took the page (or nobody can say whether one did): try again soon,
    asking first when it may have gone out. The person is not "not reached" for it."""
    page = locked_page(session, claim.page_id)
    if page is None or page.status != PageStatus.SENDING or page.claimed_at != claim.claimed_at:
        return Wake()  # moved on meanwhile (answered, cancelled, re-claimed)
    first_failure = page.failing_since is None
    page.status = PageStatus.SCHEDULED
    page.lease_until = None
    page.failing_since = page.failing_since or claim.claimed_at
    if exc.maybe_sent:
        # Looked up (never sent blindly) from RECONCILE_AFTER after the try began.
        page.uncertain_since = page.uncertain_since or claim.claimed_at
        page.provider = exc.provider or claim.provider or page.provider
        retry_at = claim.claimed_at + RECONCILE_AFTER
    else:
        backoff = timedelta(seconds=2 ** max(0, page.tries - 1))
        retry_at = claim.claimed_at + min(RETRY_MAX, backoff)
    retry_at = max(retry_at, now)
    page.due_at = retry_at
    reason = str(exc) or type(exc).__name__
    page.error = f"retrying: {reason}"[:200]
    if first_failure and page.kind == PageKind.PAGE:
        payload = {**claim.payload, "error": page.error, "maybe_sent": exc.maybe_sent}
        events.append(session, page.dispatch_id, now, [("page.unavailable", payload)])
    return Wake(due=[(page.id, retry_at)])


def record_receipted(
    session: Session, page_id: str, now: datetime, *, default_provider: str
) -> Wake:
    """A receipt (delivered, answered, failed) or an answer or a deadline moved the page on
    while its sender held it, and the sender died before recording the send. The provider
    has the page, under the id the receipt left: record it once (never send it again), so
    the books say it went out; its status stays what the others made it."""

    def orphaned(page: Page | None) -> bool:
        return (
            page is not None
            and page.status not in (PageStatus.SCHEDULED, PageStatus.SENDING)
            and page.lease_until is not None
            and page.lease_until < now
        )

    if not orphaned(session.get(Page, page_id)):
        return Wake()
    page = locked_page(session, page_id)  # then read again: another sweeper may have been first
    if page is None or not orphaned(page):
        return Wake()
    if not page.provider_id:
        page.lease_until = None  # nothing to record; never pick it up again
        return Wake()
    log.warning(
        "page %s: %s by receipt %s, recording it as sent", page_id, page.status, page.provider_id
    )
    sent = Sent(
        provider_id=page.provider_id,
        status=page.provider_status or page.status,
        provider=page.provider,
    )
    return record_sent_locked(
        session, page_id, sent, now, default_provider=default_provider, recovered=True
    )

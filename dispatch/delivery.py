"""Send one page: claim it, ask the provider, record what happened.

At least once underneath, once as the worker sees it. The claim (``scheduled ->
sending`` with a lease) is committed before the provider is called, so a crash
leaves a ``sending`` row whose lease runs out. A send whose outcome is unknown (a
timeout, a connection cut after the request went out, a 5xx that may follow a
carried-out request) is treated the same way: the page goes back to ``scheduled``
marked ``uncertain_since``. Whoever picks either up next first asks the provider
(``find_sent``) what already went out to that number since then, and only sends
when nothing did. A callback naming the page settles it sooner: its provider id is
bound to the page, and the page is recorded as sent without asking.

When no provider can be reached the page is retried (at most ``RETRY_MAX`` apart)
for as long as it is wanted, with ``failing_since`` set: the person is not "not
reached" while nothing could be sent to them, the attempt's wait only starts when a
provider took a page (``_started_waiting``), and the sweeper raises the outage alarm
from ``failing_since`` (``dispatch.alarms``).

The SMS body carries the page's signed link (the same on every try), so a message is
recognised by its body; a call by number and time, minus the calls other pages own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from dispatch import alarms, contact, events, flows
from dispatch.flows import Waker
from dispatch.models import Assignment, Dispatch, Page
from dispatch.paging import Wake, locked_page, page_failed, page_payload, phase_of
from dispatch.states import OPEN_PAGE, AlarmKind, Channel, PageKind, PageStatus, Purpose
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

__all__ = ["PagingContext", "Waker", "deliver", "due_page_ids", "page_info"]

LEASE = timedelta(seconds=8)  # longer than the provider's HTTP timeout (5 s)
RETRY_MAX = timedelta(seconds=5)  # the longest wait between tries while no provider answers
RECONCILE_AFTER = timedelta(seconds=2)  # an uncertain send is looked up this long after
RING_SECONDS = 30
# A send that starts its attempt's wait this much later than planned moves the attempt's
# deadline (and its later channels) on; smaller delays are not worth the writes.
LATE_START = timedelta(seconds=1)


@dataclass
class PagingContext:
    """Everything delivery needs, built once per process."""

    sessions: sessionmaker[Session]
    provider: Provider  # sends: one provider, or a failover over several
    clock: Clock
    public_base_url: str
    link_secret: str
    link_ttl: timedelta
    waker: Waker
    worker_link_ttl: timedelta = timedelta(hours=12)
    # Each configured provider by name: hang-ups, replies and look-ups go to the one
    # that carried a page.
    providers: dict[str, Provider] = field(default_factory=dict)
    # An uncertain send its provider cannot be asked about is given up on this late.
    uncertain_grace: timedelta = timedelta(seconds=15)
    # Pages of a dispatch unsent this long raise "Oproepen lukken niet — bel zelf".
    send_failing_after: timedelta = timedelta(seconds=10)

    def provider_named(self, name: str | None) -> Provider:
        if name is not None and name in self.providers:
            return self.providers[name]
        return self.provider

    def link(self, page: Page) -> str:
        token = links.sign(page.id, page.created_at + self.link_ttl, self.link_secret)
        return links.link_url(self.public_base_url, token)

    def worker_link(self, assignment_id: int, accepted_at: datetime) -> str:
        """The step page of an accepted assignment; the same for the same accept."""
        expires = accepted_at + self.worker_link_ttl
        return links.worker_url(
            self.public_base_url, links.sign_worker(assignment_id, expires, self.link_secret)
        )


def page_info(dispatch: Dispatch, assignment: Assignment) -> messages.PageInfo:
    info = (dispatch.paging or {}).get("info", {})
    mode = assignment.mode if assignment.purpose != Purpose.CONSULT else "phone"
    return messages.PageInfo(
        reference=dispatch.reference,
        code=dispatch.reference.removeprefix("SO-"),
        municipality=info.get("municipality"),
        case_type=info.get("case_type", "HG"),
        mode=cast(messages.Mode, mode),
        purpose=cast(messages.Purpose, assignment.purpose),
        staff=min(2, max(1, int(info.get("staff", 1)))),
    )


def route_of(dispatch: Dispatch, assignment: Assignment) -> tuple[str, ...] | None:
    """The providers the team wants its pages sent through, primary first (or None)."""
    for phase in (dispatch.paging or {}).get("phases", ()):
        if phase.get("purpose") == phase_of(assignment) and phase.get("providers"):
            return tuple(phase["providers"])
    return None


@dataclass(frozen=True)
class _Claim:
    page_id: str
    channel: str
    phone: str
    validity_seconds: int
    claimed_at: datetime
    # Set when something may already have gone out: since when, through which provider
    # (None: any), and the provider id a callback bound to the page meanwhile.
    recovering_since: datetime | None = None
    provider: str | None = None
    bound_id: str | None = None


def _claim(session: Session, page_id: str, now: datetime) -> _Claim | None:
    page = session.get(Page, page_id)
    if page is None:
        return None
    due = page.status == PageStatus.SCHEDULED and page.due_at <= now
    stale = (
        page.status == PageStatus.SENDING
        and page.lease_until is not None
        and page.lease_until < now
    )
    if not (due or stale):
        return None
    recovering = page.claimed_at if stale else page.uncertain_since
    if stale and page.uncertain_since is not None and page.claimed_at is not None:
        recovering = min(page.uncertain_since, page.claimed_at)
    claimed = session.execute(
        update(Page)
        .where(Page.id == page_id, Page.status == page.status, Page.tries == page.tries)
        .values(
            status=PageStatus.SENDING,
            lease_until=now + LEASE,
            claimed_at=now,
            tries=page.tries + 1,
        )
    )
    if not getattr(claimed, "rowcount", 0):
        return None  # someone else claimed it between our read and our write
    return _Claim(
        page_id=page.id,
        channel=page.channel,
        phone=page.phone,
        validity_seconds=page.validity_seconds,
        claimed_at=now,
        recovering_since=recovering,
        # A crashed sender's provider is not known: every provider is asked then.
        provider=page.provider if page.uncertain_since is not None else None,
        bound_id=page.provider_id if recovering is not None else None,
    )


@dataclass(frozen=True)
class _Message:
    body: str | None
    link: str
    route: tuple[str, ...] | None
    known: frozenset[str]  # provider ids other pages to this phone own (re-drives only)


def _message(session: Session, ctx: PagingContext, claim: _Claim, now: datetime) -> _Message:
    page = session.get(Page, claim.page_id)
    if page is None:
        raise LookupError(f"page {claim.page_id} vanished while claimed")
    dispatch = session.get(Dispatch, page.dispatch_id)
    assignment = session.get(Assignment, page.assignment_id)
    if dispatch is None or assignment is None:
        raise LookupError(f"page {page.id} has no dispatch or assignment")
    body: str | None
    if page.kind == PageKind.CONFIRMATION:  # its token is the marker on a re-drive
        link = ctx.worker_link(assignment.id, page.created_at)
        body = contact.sms(dispatch, link)
    else:
        link = ctx.link(page)
        body = (
            messages.sms_body(page_info(dispatch, assignment), link)
            if page.channel == Channel.SMS
            else None
        )
    known: frozenset[str] = frozenset()
    if claim.recovering_since is not None:  # only a re-drive needs to know these
        others = session.scalars(
            select(Page.provider_id).where(
                Page.phone == page.phone,
                Page.provider_id.is_not(None),
                Page.id != page.id,
                Page.created_at >= now - timedelta(hours=2),
            )
        )
        known = frozenset(sid for sid in others if sid)
    return _Message(body, link, route_of(dispatch, assignment), known)


@dataclass(frozen=True)
class _Started:
    claim: _Claim | None
    message: _Message | None
    wake: Wake


def deliver(ctx: PagingContext, page_id: str) -> Wake:
    """Send one due page (or finish a crashed or uncertain send); safe to call any number
    of times."""

    def start(session: Session) -> _Started:
        now = ctx.clock.now()
        claim = _claim(session, page_id, now)
        if claim is None:
            return _Started(None, None, _record_receipted(session, ctx, page_id, now))
        return _Started(claim, _message(session, ctx, claim, now), Wake())

    started = flows.run(ctx, start)
    claim, message = started.claim, started.message
    if claim is None or message is None:
        return started.wake
    if claim.recovering_since is not None:
        found, reachable = _already_sent(ctx, claim, message)
        if found is not None:
            log.warning("page %s: found %s already sent, not sending again", page_id, found)
            return flows.run(ctx, lambda s: _record_sent(s, ctx, page_id, found, recovered=True))
        waited = ctx.clock.now() - claim.recovering_since
        if not reachable and waited < ctx.uncertain_grace:
            # Maybe it went out; nobody can say yet. Sending again could ring twice.
            unknown = ProviderUnavailable("cannot ask what went out", maybe_sent=True)
            return flows.run(ctx, lambda s: _unavailable(s, ctx, page_id, claim, unknown))
        if not reachable:
            log.warning(
                "page %s: no sign of the uncertain send after %s; sending it", page_id, waited
            )
    try:
        sent = _send(ctx, claim, message)
    except DeliveryRejected as exc:
        error = f"rejected {exc.code}: {exc.message}"
        return flows.run(ctx, lambda s: page_failed(s, page_id, ctx.clock.now(), error=error))
    except ProviderUnavailable as exc:
        failure = exc
        return flows.run(ctx, lambda s: _unavailable(s, ctx, page_id, claim, failure))
    return flows.run(ctx, lambda s: _record_sent(s, ctx, page_id, sent, recovered=False))


def _send(ctx: PagingContext, claim: _Claim, message: _Message) -> Sent:
    base = ctx.public_base_url
    if claim.channel == Channel.VOICE:
        return ctx.provider.place_call(
            CallRequest(
                page_id=claim.page_id,
                to=claim.phone,
                callback_base=base,
                ring_seconds=RING_SECONDS,
                route=message.route,
            )
        )
    if message.body is None:
        raise ValueError(f"page {claim.page_id}: an SMS needs a body")
    return ctx.provider.send_sms(
        SmsRequest(
            page_id=claim.page_id,
            to=claim.phone,
            body=message.body,
            callback_base=base,
            validity_seconds=claim.validity_seconds,
            route=message.route,
        )
    )


def _already_sent(ctx: PagingContext, claim: _Claim, message: _Message) -> tuple[Sent | None, bool]:
    """After a crash or an uncertain send: did a provider take the page? Returns what
    it took (or None) and whether the provider(s) could be asked at all."""
    if claim.recovering_since is None:
        return None, True
    if claim.bound_id:  # a callback named the page: it went out, under this id
        return Sent(claim.bound_id, "sent", provider=claim.provider), True
    since = claim.recovering_since - timedelta(seconds=2)
    # The token alone: the public base URL in front of it may have changed since.
    marker = message.link.rsplit("/", 1)[-1] if claim.channel == Channel.SMS else None
    provider = ctx.provider_named(claim.provider)
    try:
        found = provider.find_sent(
            channel="voice" if claim.channel == Channel.VOICE else "sms",
            to=claim.phone,
            since=since,
            marker=marker,
            page_id=claim.page_id,
        )
    except ProviderUnavailable as exc:
        log.warning("page %s: cannot ask what went out (%s)", claim.page_id, exc)
        return None, False
    mine = [s for s in found if s.provider_id not in message.known]
    if not mine:
        return None, True
    # The one closest after the claim: a later one may be another page's, in flight.
    mine.sort(key=lambda s: s.created_at or since)
    return mine[0], True


def _record_sent(
    session: Session, ctx: PagingContext, page_id: str, sent: Sent, *, recovered: bool
) -> Wake:
    now = ctx.clock.now()
    page = locked_page(session, page_id)
    if page is None:
        return Wake()
    provider = sent.provider or page.provider or ctx.provider.name
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
    # A status callback may have landed first (delivered, busy, ...): keep its status.
    # Decided in the statement, on the row as it is then: callbacks update the page row
    # without the dispatch lock, so the row read above may already be out of date.
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
        if alarms.is_up(session, page.dispatch_id, AlarmKind.SEND_FAILING) and not (
            alarms.still_failing(session, page.dispatch_id)
        ):
            alarms.clear_alarm(
                session, page.dispatch_id, AlarmKind.SEND_FAILING, now, reason="sent"
            )
    closed_meanwhile = page.status in (
        PageStatus.CANCELLED,
        PageStatus.EXPIRED,
        PageStatus.FAILED,
    )
    if closed_meanwhile and page.channel == Channel.VOICE:
        wake.hangups.append((provider, sent.provider_id))  # not needed any more: end it
    return wake


def _started_waiting(session: Session, page: Page, sent_at: datetime) -> Wake:
    """The attempt's wait starts when a provider took its page: when that happened later
    than planned (an outage, retries), its deadline and its later channels move on by as
    much, so the person gets the whole wait (the dispatch is locked)."""
    siblings = list(
        session.scalars(
            select(Page)
            .where(
                Page.assignment_id == page.assignment_id,
                Page.round == page.round,
                Page.kind == PageKind.PAGE,
            )
            .execution_options(populate_existing=True)
        )
    )
    wake = Wake()
    deadline = sent_at + timedelta(seconds=page.validity_seconds)
    if deadline - page.deadline_at < LATE_START:
        return wake
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


def _unavailable(
    session: Session, ctx: PagingContext, page_id: str, claim: _Claim, exc: ProviderUnavailable
) -> Wake:
    """No provider took the page (or nobody can say whether one did): try again soon,
    asking first when it may have gone out. The person is not "not reached" for it."""
    now = ctx.clock.now()
    page = locked_page(session, page_id)
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
        assignment = session.get(Assignment, page.assignment_id)
        if assignment is not None:
            payload = {
                **page_payload(page, assignment),
                "error": page.error,
                "maybe_sent": exc.maybe_sent,
            }
            events.append(session, page.dispatch_id, now, [("page.unavailable", payload)])
    return Wake(due=[(page.id, retry_at)])


def _record_receipted(session: Session, ctx: PagingContext, page_id: str, now: datetime) -> Wake:
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
    return _record_sent(session, ctx, page_id, sent, recovered=True)


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
                    and_(Page.status == PageStatus.SCHEDULED, Page.due_at <= cutoff),
                    # claims whose lease ran out, also those moved on by a receipt meanwhile
                    and_(Page.status != PageStatus.SCHEDULED, Page.lease_until < now),
                )
            )
            .order_by(Page.due_at)
            .limit(limit)
        )
    )

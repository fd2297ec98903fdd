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

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import metrics
from core.clock import Clock
from dispatch import contact, flows
from dispatch.attempts import phase_of_purpose
from dispatch.flows import Waker
from dispatch.models import Assignment, Dispatch, Page
from dispatch.paging import Wake, page_failed
from dispatch.recording import (
    LEASE,
    Claim,
    record_receipted,
    record_sent,
    record_sent_locked,
    unavailable,
)
from dispatch.states import Channel, PageKind, PageStatus, Purpose
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

RING_SECONDS = 30


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
    return _page_info(dispatch.reference, dispatch.paging, assignment.mode, assignment.purpose)


def _page_info(
    reference: str, spec: dict[str, Any] | None, mode: str, purpose: str
) -> messages.PageInfo:
    info = (spec or {}).get("info", {})
    return messages.PageInfo(
        reference=reference,
        code=reference.removeprefix("SO-"),
        municipality=info.get("municipality"),
        case_type=info.get("case_type", "HG"),
        mode=cast(messages.Mode, mode if purpose != Purpose.CONSULT else "phone"),
        purpose=cast(messages.Purpose, purpose),
        staff=min(2, max(1, int(info.get("staff", 1)))),
    )


def route_of(spec: dict[str, Any] | None, purpose: str) -> tuple[str, ...] | None:
    """The providers the team wants its pages sent through, primary first (or None)."""
    for phase in (spec or {}).get("phases", ()):
        if phase.get("purpose") == phase_of_purpose(purpose) and phase.get("providers"):
            return tuple(phase["providers"])
    return None


@dataclass(frozen=True)
class _Message:
    body: str | None
    link: str
    route: tuple[str, ...] | None
    known: frozenset[str]  # provider ids other pages to this phone own (re-drives only)


def _claim(
    session: Session, ctx: PagingContext, page_id: str, now: datetime
) -> tuple[Claim, _Message] | None:
    """Claim a due page (or one whose sender's lease ran out) and build its message,
    reading the page, its dispatch and its assignment in one query."""
    row = session.execute(
        select(
            Page,
            Dispatch.reference,
            Dispatch.paging,
            Dispatch.created_at,
            Assignment.position,
            Assignment.purpose,
            Assignment.person_id,
            Assignment.team_id,
            Assignment.mode,
        )
        .join(Dispatch, Dispatch.id == Page.dispatch_id)
        .join(Assignment, Assignment.id == Page.assignment_id)
        .where(Page.id == page_id)
    ).first()
    if row is None:
        return None
    page, reference, spec, intake_at, position, purpose, person, team, mode = row
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
    claim = Claim(
        page_id=page.id,
        dispatch_id=page.dispatch_id,
        kind=page.kind,
        channel=page.channel,
        phone=page.phone,
        validity_seconds=page.validity_seconds,
        deadline_at=page.deadline_at,
        claimed_at=now,
        failing=page.failing_since is not None,
        payload={
            "page": page.id,
            "assignment": position,
            "purpose": purpose,
            "person": person,
            "team": team,
            "channel": page.channel,
            "round": page.round,
        },
        recovering_since=recovering,
        # A crashed sender's provider is not known: every provider is asked then.
        provider=page.provider if page.uncertain_since is not None else None,
        bound_id=page.provider_id if recovering is not None else None,
        reference=reference,
        intake_at=intake_at if _first_wave(page, intake_at) else None,
    )
    body: str | None
    if page.kind == PageKind.CONFIRMATION:  # its token is the marker on a re-drive
        dispatch = session.get(Dispatch, page.dispatch_id)
        if dispatch is None:
            raise LookupError(f"page {page.id} has no dispatch")
        link = ctx.worker_link(page.assignment_id, page.created_at)
        body = contact.sms(dispatch, link)
    else:
        link = ctx.link(page)
        body = None
        if page.channel == Channel.SMS:
            body = messages.sms_body(_page_info(reference, spec, mode, purpose), link)
    known: frozenset[str] = frozenset()
    if recovering is not None:  # only a re-drive needs to know these
        others = session.scalars(
            select(Page.provider_id).where(
                Page.phone == page.phone,
                Page.provider_id.is_not(None),
                Page.id != page.id,
                Page.created_at >= now - timedelta(hours=2),
            )
        )
        known = frozenset(sid for sid in others if sid)
    return claim, _Message(body, link, route_of(spec, purpose), known)


@dataclass(frozen=True)
class _Started:
    claimed: tuple[Claim, _Message] | None
    wake: Wake


def _first_wave(page: Page, intake_at: datetime) -> bool:
    """The first channel of an attempt made at intake: its send ends the time to first call."""
    return page.kind == PageKind.PAGE and page.seq == 0 and page.created_at == intake_at


def deliver(ctx: PagingContext, page_id: str) -> Wake:
    """Send one due page (or finish a crashed or uncertain send); safe to call any number
    of times."""
    default = ctx.provider.name

    def start(session: Session) -> _Started:
        now = ctx.clock.now()
        claimed = _claim(session, ctx, page_id, now)
        if claimed is None:
            return _Started(None, record_receipted(session, page_id, now, default_provider=default))
        return _Started(claimed, Wake())

    started = flows.run(ctx, start)
    if started.claimed is None:
        return started.wake
    claim, message = started.claimed
    if claim.recovering_since is not None:
        found, reachable = _already_sent(ctx, claim, message)
        if found is not None:
            log.warning(
                "page %s: found %s already sent, not sending again",
                page_id,
                found.provider_id,
                extra={"reference": claim.reference},
            )
            return flows.run(
                ctx,
                lambda s: record_sent_locked(
                    s, page_id, found, ctx.clock.now(), default_provider=default, recovered=True
                ),
            )
        waited = ctx.clock.now() - claim.recovering_since
        if not reachable and waited < ctx.uncertain_grace:
            # Maybe it went out; nobody can say yet. Sending again could ring twice.
            unknown = ProviderUnavailable("cannot ask what went out", maybe_sent=True)
            return flows.run(ctx, lambda s: unavailable(s, claim, unknown, ctx.clock.now()))
        if not reachable:
            log.warning(
                "page %s: no sign of the uncertain send after %s; sending it",
                page_id,
                waited,
                extra={"reference": claim.reference},
            )
    try:
        sent = _send(ctx, claim, message)
    except DeliveryRejected as exc:
        error = f"rejected {exc.code}: {exc.message}"
        return flows.run(ctx, lambda s: page_failed(s, page_id, ctx.clock.now(), error=error))
    except ProviderUnavailable as exc:
        failure = exc
        return flows.run(ctx, lambda s: unavailable(s, claim, failure, ctx.clock.now()))
    wake = flows.run(
        ctx, lambda s: record_sent(s, claim, sent, ctx.clock.now(), default_provider=default)
    )
    if claim.intake_at is not None and claim.recovering_since is None:
        metrics.current().time_to_first_call_seconds.labels(
            provider=sent.provider or default, channel=claim.channel
        ).observe(max(0.0, (ctx.clock.now() - claim.intake_at).total_seconds()))
    return wake


def _send(ctx: PagingContext, claim: Claim, message: _Message) -> Sent:
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


def _already_sent(ctx: PagingContext, claim: Claim, message: _Message) -> tuple[Sent | None, bool]:
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
        log.warning(
            "page %s: cannot ask what went out (%s)",
            claim.page_id,
            exc,
            extra={"reference": claim.reference},
        )
        return None, False
    mine = [s for s in found if s.provider_id not in message.known]
    if not mine:
        return None, True
    # The one closest after the claim: a later one may be another page's, in flight.
    mine.sort(key=lambda s: s.created_at or since)
    return mine[0], True


def due_page_ids(
    session: Session,
    now: datetime,
    *,
    grace: timedelta,
    limit: int = 500,
    scheduled: bool = True,
) -> list[str]:
    """Pages due (by at least ``grace``) that nobody sent (unless ``scheduled`` is
    False), and claims whose lease ran out (also those a receipt moved on before their
    sender recorded them)."""
    return list(session.scalars(due_query(now, grace=grace, limit=limit, scheduled=scheduled)))


def due_query(
    now: Any,
    *,
    grace: timedelta | None = None,
    cutoff: Any = None,
    limit: int = 500,
    scheduled: bool = True,
) -> Select[Any]:
    """The ids ``due_page_ids`` returns; ``now`` and ``cutoff`` (due by then: ``now`` less
    ``grace``) may be bound parameters, so the sweep builds its statement once."""
    # claims whose lease ran out, also those moved on by a receipt meanwhile
    stale = and_(Page.status != PageStatus.SCHEDULED, Page.lease_until < now)
    if scheduled:
        if cutoff is None:
            cutoff = now - (grace or timedelta(0))
        due = and_(Page.status == PageStatus.SCHEDULED, Page.due_at <= cutoff)
        wanted = or_(due, stale)
    else:
        wanted = stale
    return select(Page.id).where(wanted).order_by(Page.due_at).limit(limit)

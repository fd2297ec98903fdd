"""The outbox for SMS about the roster: reminders, change notices and swap notices.

Delivered the way pages are (``dispatch.delivery``), because a worker must never get
the same reminder twice and must not miss one when a process dies:

- a row per message, inserted in the transaction that decides it (its ``key`` is
  unique: one reminder per person and shift start, one change notice per person and
  version, one swap notice per swap, state and recipient);
- claimed in one ``UPDATE`` (``scheduled -> sending``, a lease, ``uncertain_since``
  set) committed before the provider is asked: from then on the message counts as
  possibly sent;
- a re-drive (a lapsed lease after a crash, or a send whose outcome was unknown) first
  asks the provider (``find_sent``) for an SMS to that number whose body carries the
  message's link token, and records that instead of sending again;
- a provider that did not take the request (refused, 503) leaves it ``scheduled`` for
  a retry with back-off; one that refused the number for good marks it ``failed``.

The body is stored without its link; the link (``/s/<token>``, the worker's shifts
page) is signed from the message id and its creation time, so every try sends the
same text and the token is the marker ``find_sent`` looks for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Select, Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.timeutil import ensure_utc
from dispatch import flows
from dispatch.delivery import PagingContext
from dispatch.roster_models import RosterMessage, Swap
from notifications.provider import DeliveryRejected, ProviderUnavailable, Sent, SmsRequest

log = logging.getLogger("samenop.roster_sms")

LEASE = timedelta(seconds=8)  # longer than the provider's HTTP timeout
RECONCILE_AFTER = timedelta(seconds=2)
RETRY_MAX = timedelta(minutes=2)
VALIDITY_SECONDS = 4 * 3600  # a roster SMS arriving hours late is still of use
LINK_TTL = timedelta(days=21)  # the shifts page from an SMS: the notice's 14 days and some


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # the provider refused the number for good
    CANCELLED = "cancelled"  # no longer true when it came due (a reminder for a moved shift)


class MessageKind(StrEnum):
    REMINDER = "reminder"
    CHANGE = "change"
    SWAP = "swap"


# --- the link in every roster SMS -------------------------------------------------------
#
# The same construction as a page's link (``notifications.links``) with a MAC domain of
# its own: message id (16 bytes) and expiry (4 bytes), 12 bytes of HMAC-SHA256.

_PAYLOAD = struct.Struct(">16sI")
_MAC_BYTES = 12
_DOMAIN = b"samenop/roster-link/v1\x00"
TOKEN_CHARS = ((_PAYLOAD.size + _MAC_BYTES) * 8 + 5) // 6
_TOKEN_RE = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_CHARS}}}$")


class RosterLinkInvalid(Exception):
    """Garbled, forged or expired: the page says the link does not work (any more)."""


def _mac(payload: bytes, secret: str) -> bytes:
    if not secret:
        raise ValueError("a link secret is required")
    return hmac.new(secret.encode(), _DOMAIN + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign(message_id: str, expires_at: datetime, secret: str) -> str:
    seconds = int(ensure_utc(expires_at).timestamp())
    payload = _PAYLOAD.pack(uuid.UUID(message_id).bytes, seconds)
    return _b64(payload + _mac(payload, secret))


def verify(token: str, now: datetime, secret: str) -> str:
    """The message id a roster link was made for; ``RosterLinkInvalid`` otherwise."""
    if not isinstance(token, str) or not _TOKEN_RE.match(token):
        raise RosterLinkInvalid("malformed roster link")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise RosterLinkInvalid("malformed roster link") from exc
    if len(raw) != _PAYLOAD.size + _MAC_BYTES or _b64(raw) != token:
        raise RosterLinkInvalid("malformed roster link")
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if not hmac.compare_digest(mac, _mac(payload, secret)):
        raise RosterLinkInvalid("roster link signature does not match")
    message, seconds = _PAYLOAD.unpack(payload)
    if ensure_utc(now) >= datetime.fromtimestamp(seconds, UTC):
        raise RosterLinkInvalid("roster link expired")
    return str(uuid.UUID(bytes=message))


def token_of(message: RosterMessage, secret: str) -> str:
    return sign(message.id, message.created_at + LINK_TTL, secret)


def link_of(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{token}"


# --- writing messages -------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    key: str,
    kind: MessageKind,
    phone: str,
    body: str,
    due_at: datetime,
    now: datetime,
    person_id: str | None = None,
    team_id: str | None = None,
    shift_start: datetime | None = None,
    swap_id: int | None = None,
) -> bool:
    """Insert a message unless one with ``key`` exists (then nothing happens); True when
    this call made it. The caller commits, so it goes out exactly when that commits."""
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "key": key[:200],
        "kind": kind.value,
        "person_id": person_id,
        "team_id": team_id,
        "shift_start": shift_start,
        "swap_id": swap_id,
        "phone": phone,
        "body": body,
        "status": MessageStatus.SCHEDULED.value,
        "due_at": due_at,
        "tries": 0,
        "created_at": now,
    }
    table = cast(Table, RosterMessage.__table__)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        statement: Any = (
            postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=["key"])
        )
    else:
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    result = session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


# --- the sweep's question -----------------------------------------------------------------


def due_query(now: Any, *, cutoff: Any = None, scheduled: bool = True) -> Select[Any]:
    """Messages due by ``cutoff`` (``now`` less the sweeper's grace) and claims whose lease
    ran out; ``now`` and ``cutoff`` may be bound parameters."""
    stale = and_(RosterMessage.status == MessageStatus.SENDING, RosterMessage.lease_until < now)
    wanted: Any = stale
    if scheduled:
        due = and_(
            RosterMessage.status == MessageStatus.SCHEDULED,
            RosterMessage.due_at <= (now if cutoff is None else cutoff),
        )
        wanted = or_(due, stale)
    return select(RosterMessage.id).where(wanted).order_by(RosterMessage.due_at).limit(200)


def due_ids(session: Session, now: datetime) -> list[str]:
    return list(session.scalars(due_query(now)))


# --- delivering one --------------------------------------------------------------------

# Says why a message due now is no longer true (then it is cancelled, not sent).
Check = Callable[[Session, RosterMessage, datetime], str | None]


@dataclass(frozen=True)
class _Claim:
    id: str
    phone: str
    text: str
    claimed_at: datetime
    recovering_since: datetime | None  # something may have gone out since then
    provider: str | None


def _claim(
    session: Session, ctx: PagingContext, message_id: str, now: datetime, check: Check | None
) -> _Claim | None:
    row = session.get(RosterMessage, message_id)
    if row is None:
        return None
    due = row.status == MessageStatus.SCHEDULED and row.due_at <= now
    stale = (
        row.status == MessageStatus.SENDING
        and row.lease_until is not None
        and row.lease_until < now
    )
    if not (due or stale):
        return None
    recovering = row.uncertain_since
    if due and row.tries == 0 and check is not None:
        why = check(session, row, now)
        if why is not None:
            session.execute(
                update(RosterMessage)
                .where(RosterMessage.id == row.id, RosterMessage.status == row.status)
                .values(status=MessageStatus.CANCELLED, error=why[:200])
            )
            return None
    claimed = session.execute(
        update(RosterMessage)
        .where(
            RosterMessage.id == row.id,
            RosterMessage.status == row.status,
            RosterMessage.tries == row.tries,
        )
        .values(
            status=MessageStatus.SENDING,
            lease_until=now + LEASE,
            claimed_at=now,
            tries=row.tries + 1,
            # From here on it may have gone out: whoever finds it next asks first.
            uncertain_since=row.uncertain_since or now,
        )
    )
    if not getattr(claimed, "rowcount", 0):
        return None  # another sender was first
    link = link_of(ctx.public_base_url, token_of(row, ctx.link_secret))
    return _Claim(
        id=row.id,
        phone=row.phone,
        text=f"{row.body} {link}",
        claimed_at=now,
        recovering_since=recovering,
        provider=row.provider,
    )


def deliver(ctx: PagingContext, message_id: str, check: Check | None = None) -> str | None:
    """Send one due message (or settle a crashed or uncertain send); safe to call any
    number of times, from any process. Returns its status afterwards (None: not ours)."""
    claim = flows.run(ctx, lambda s: _claim(s, ctx, message_id, ctx.clock.now(), check))
    if claim is None:
        return None
    if claim.recovering_since is not None:
        found, reachable = _already_sent(ctx, claim)
        if found is not None:
            log.warning("roster message %s: already sent as %s", claim.id, found.provider_id)
            return flows.run(ctx, lambda s: _record_sent(s, claim, found, ctx))
        waited = ctx.clock.now() - claim.recovering_since
        if not reachable and waited < ctx.uncertain_grace:
            unknown = ProviderUnavailable("cannot ask what went out", maybe_sent=True)
            return flows.run(ctx, lambda s: _not_taken(s, claim, unknown, ctx.clock.now()))
    try:
        sent = ctx.provider.send_sms(
            SmsRequest(
                page_id=claim.id,
                to=claim.phone,
                body=claim.text,
                callback_base=ctx.public_base_url,
                validity_seconds=VALIDITY_SECONDS,
            )
        )
    except DeliveryRejected as exc:
        error = f"rejected {exc.code}: {exc.message}"
        return flows.run(ctx, lambda s: _failed(s, claim, error))
    except ProviderUnavailable as exc:
        failure = exc
        return flows.run(ctx, lambda s: _not_taken(s, claim, failure, ctx.clock.now()))
    return flows.run(ctx, lambda s: _record_sent(s, claim, sent, ctx))


def _already_sent(ctx: PagingContext, claim: _Claim) -> tuple[Sent | None, bool]:
    """Did a provider take this message already? (what, and whether it could be asked)"""
    assert claim.recovering_since is not None
    marker = claim.text.rsplit("/", 1)[-1]
    try:
        found = ctx.provider_named(claim.provider).find_sent(
            channel="sms",
            to=claim.phone,
            since=claim.recovering_since - timedelta(seconds=2),
            marker=marker,
            page_id=claim.id,
        )
    except ProviderUnavailable as exc:
        log.warning("roster message %s: cannot ask what went out (%s)", claim.id, exc)
        return None, False
    if not found:
        return None, True
    found.sort(key=lambda s: s.created_at or claim.recovering_since or ctx.clock.now())
    return found[0], True


def _ours(claim: _Claim) -> Any:
    return and_(
        RosterMessage.id == claim.id,
        RosterMessage.status == MessageStatus.SENDING,
        RosterMessage.claimed_at == claim.claimed_at,
    )


def _record_sent(session: Session, claim: _Claim, sent: Sent, ctx: PagingContext) -> str:
    session.execute(
        update(RosterMessage)
        .where(_ours(claim))
        .values(
            status=MessageStatus.SENT,
            provider=sent.provider or ctx.provider.name,
            provider_id=sent.provider_id,
            sent_at=ctx.clock.now(),
            lease_until=None,
            uncertain_since=None,
            error=None,
        )
    )
    return MessageStatus.SENT.value


def _failed(session: Session, claim: _Claim, error: str) -> str:
    session.execute(
        update(RosterMessage)
        .where(_ours(claim))
        .values(
            status=MessageStatus.FAILED, lease_until=None, uncertain_since=None, error=error[:200]
        )
    )
    return MessageStatus.FAILED.value


def _not_taken(session: Session, claim: _Claim, exc: ProviderUnavailable, now: datetime) -> str:
    """Try again later; when it may have gone out, ask before anything is sent again."""
    row = session.get(RosterMessage, claim.id)
    if row is None or row.status != MessageStatus.SENDING or row.claimed_at != claim.claimed_at:
        return row.status if row is not None else MessageStatus.CANCELLED.value
    if exc.maybe_sent:
        row.uncertain_since = claim.recovering_since or claim.claimed_at
        row.provider = exc.provider or claim.provider or row.provider
        retry_at = claim.claimed_at + RECONCILE_AFTER
    else:
        # Not taken: nothing of this try is out there (an earlier uncertain try may be).
        row.uncertain_since = claim.recovering_since
        retry_at = claim.claimed_at + min(RETRY_MAX, timedelta(seconds=2 ** max(0, row.tries)))
    row.status = MessageStatus.SCHEDULED
    row.lease_until = None
    row.due_at = max(retry_at, now)
    row.error = f"retrying: {exc or type(exc).__name__}"[:200]
    return MessageStatus.SCHEDULED.value


def wake(ctx: PagingContext, message_ids: list[str]) -> None:
    """After the commit that made roster messages: send them now (the embedded loop's
    poke, or RQ jobs); without a waker that knows them, the sweep finds them."""
    arm = getattr(ctx.waker, "arm_roster", None)
    if arm is not None and message_ids:
        arm(message_ids)


def ids_of_swap(session: Session, swap_id: int) -> list[str]:
    """The messages of a swap still waiting to go (to wake after its transition)."""
    return list(
        session.scalars(
            select(RosterMessage.id).where(
                RosterMessage.swap_id == swap_id,
                RosterMessage.status == MessageStatus.SCHEDULED,
            )
        )
    )


def purge(session: Session, before: datetime) -> None:
    """Retention (``dispatch.retention``): roster SMS settled before ``before`` go (they
    hold a phone number and colleagues' names); swaps whose period ended before it keep
    their ids and states (the planners' history) but lose their free text."""
    settled = (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.CANCELLED)
    session.execute(
        delete(RosterMessage).where(
            RosterMessage.created_at < before, RosterMessage.status.in_(settled)
        )
    )
    session.execute(
        update(Swap)
        .where(Swap.end < before, or_(Swap.note.is_not(None), Swap.reason.is_not(None)))
        .values(note=None, reason=None)
    )

"""Tables for the planners' calendar feeds (iCal) and the daily digest, with the small
service that makes, finds and revokes a feed's secret.

A feed URL is its own credential (calendar apps cannot send a header), so only the
SHA-256 digest of its token is stored, like API keys: a leaked database does not open
any feed, and revoking a feed is one row update.

A digest is claimed with a row whose key is (region, local day) before anything is sent;
the unique key is what makes "exactly once per region per day" hold across processes and
restarts (see ``dispatch.digest``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

TOKEN_BYTES = 32
TOKEN_LENGTH = 43  # len(secrets.token_urlsafe(32)): every token has exactly this length
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
FEED_KINDS = ("person", "team")


class CalendarFeed(Base):
    """A secret, revocable calendar URL for one person's or one team's on-call blocks."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists, never enough to use
    kind: Mapped[str] = mapped_column(String(8))  # person | team
    target: Mapped[str] = mapped_column(String(64), index=True)  # the person or team id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DigestSend(Base):
    """One region's digest of one local day: claimed before sending, never sent twice.

    ``state``: ``sending`` (claimed; the mail may be on its way), ``sent``, ``failed``
    (the mail server refused it or could not be reached: nothing went out, a later
    round may try again), ``uncertain`` (the process stopped or the connection broke
    while sending: it may have gone out, so it is never sent again), ``empty`` (the
    region has nobody to send it to).
    """

    __tablename__ = "digest_sends"
    __table_args__ = (UniqueConstraint("region", "day", name="uq_digest_sends_region_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class DigestSubscription(Base):
    """An every-region planner or an admin who asked for a region's digest (a planner
    bound to regions gets the digest of each of its regions without asking)."""

    __tablename__ = "digest_subscriptions"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(64), primary_key=True)


# --- feeds -----------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_feed(
    session: Session, *, kind: str, target: str, now: datetime, by: str
) -> tuple[str, CalendarFeed]:
    """A new feed; its token is returned once (the caller shows it as a URL)."""
    if kind not in FEED_KINDS:
        raise ValueError(f"kind: one of {', '.join(FEED_KINDS)}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = CalendarFeed(
        digest=token_digest(token),
        prefix=token[:8],
        kind=kind,
        target=target,
        created_at=now,
        created_by=by[:128],
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_feed(session: Session, token: str) -> CalendarFeed | None:
    """The live feed a token opens; None for a malformed, unknown or revoked one."""
    if not TOKEN_PATTERN.match(token):
        return None
    row = session.scalar(select(CalendarFeed).where(CalendarFeed.digest == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def live_feeds(session: Session, *, kind: str, target: str) -> list[CalendarFeed]:
    return list(
        session.scalars(
            select(CalendarFeed)
            .where(
                CalendarFeed.kind == kind,
                CalendarFeed.target == target,
                CalendarFeed.revoked_at.is_(None),
            )
            .order_by(CalendarFeed.id)
            .limit(100)
        )
    )


def revoke_feed(session: Session, row: CalendarFeed, *, now: datetime, by: str) -> None:
    if row.revoked_at is None:
        row.revoked_at = now
        row.revoked_by = by[:128]

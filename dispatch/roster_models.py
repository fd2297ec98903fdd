"""Shift swaps and the roster's own SMS (reminders, change notices, swap notices).

Apart from ``dispatch.models`` because nothing here is about an incident: a swap is a
worker's request to change the roster, a roster message an SMS about the roster. Both
are delivered and swept by the same loop as pages (``dispatch.driver``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class Swap(Base):
    """A worker offers a period of their on-call block; a colleague takes it; where the
    team wants it, a planner approves. The roster changes only at ``done`` (an override,
    ``override_id``, in configuration version ``config_version``)."""

    __tablename__ = "swaps"
    __table_args__ = (
        # The sweeper's question (offers nobody took in time): state first, then time.
        Index("ix_swaps_state_expires_at", "state", "expires_at"),
        Index("ix_swaps_region_state", "region_id", "state"),
        Index("ix_swaps_team_state", "team_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    layer: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    offerer_id: Mapped[str] = mapped_column(String(64), index=True)
    taker_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # offered, taken, approved, refused, done, cancelled, expired (dispatch.swaps)
    state: Mapped[str] = mapped_column(String(16))
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # When an offer nobody took goes to the planners (the team's swap_offer_hours before).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set while the offer is open, NULL once it ended: the same period offered twice at
    # once (a retried request) finds the first one instead of making a second.
    open_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    offered_by: Mapped[str] = mapped_column(String(128))
    taken_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    override_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    config_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RosterMessage(Base):
    """One SMS about the roster to one phone, delivered like a page: claimed with a
    lease, marked uncertain before the provider is asked, looked up (by the link token
    in its body) before any retry. ``key`` makes it exactly once: a reminder per
    (person, shift start), a change notice per (person, version), a swap notice per
    (swap, state, recipient)."""

    __tablename__ = "roster_messages"
    __table_args__ = (
        UniqueConstraint("key", name="uq_roster_messages_key"),
        Index("ix_roster_messages_status_due_at", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # reminder | change | swap
    person_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    team_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    shift_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    swap_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    # scheduled, sending, sent, failed, cancelled
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    uncertain_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider: Mapped[str | None] = mapped_column(String(16), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RosterCursor(Base):
    """How far the roster's messages have been planned: the configuration version whose
    changes were told (``changes``), and until when reminders were made (``reminders``).
    The sweep compares them with ``config_state`` and the clock in its one query."""

    __tablename__ = "roster_cursors"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

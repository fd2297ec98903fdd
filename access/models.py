"""Tables for accounts, their sign-in sessions, API keys and websocket tickets.

Secrets are never stored: passwords as argon2 hashes, session tokens, API keys and
tickets as SHA-256 digests (they are long random strings, so a fast digest is enough
and a lookup stays one indexed query).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Where a planner's daily digest of coverage gaps goes; none: no digest.
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # argon2id; NULL for an account that signs in only through the identity provider.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    # NULL: every region (admin, or a national operator); else a list of region ids.
    regions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    basisteams: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A worker account sees its own shifts: the person id in the configuration.
    person_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The identity provider's subject (OIDC "sub"), when the account may sign in there.
    oidc_subject: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))


class WebSession(Base):
    """A signed-in browser. The cookie holds the token; the row holds its digest."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute limit
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    remote: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiKey(Base):
    """A machine's key: named, scoped to a role and regions, rotatable and revocable."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists, never enough to use
    role: Mapped[str] = mapped_column(String(16))
    regions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    basisteams: Mapped[list[str]] = mapped_column(JSON, default=list)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    # Rotation: the old key keeps working until expires_at (the overlap).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StreamTicket(Base):
    """A short-lived, single-use ticket to open the websocket (no secret in its URL)."""

    __tablename__ = "stream_tickets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the ticket
    principal: Mapped[dict[str, object]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginAttempt(Base):
    """Failed sign-ins, for the per-address rate limit (rows older than the window go)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    remote: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

"""Accounts, sign-in sessions, API keys and stream tickets: creating, checking, ending.

Functions take a SQLAlchemy session and the time; the caller commits. Nothing here
knows about HTTP: ``api.auth`` turns requests into calls and answers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from access.models import Account, ApiKey, LoginAttempt, StreamTicket, WebSession
from access.principal import Principal, Role

_HASHER = PasswordHasher()  # argon2id with the library's current recommended cost
# Checked against when the username is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 256


class AccessError(ValueError):
    """A request this module refuses; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def validate_scope(
    role: Role, regions: Iterable[str] | None, basisteams: Iterable[str] | None
) -> tuple[list[str] | None, list[str]]:
    return _scope(role, regions, basisteams)


def _scope(
    role: Role, regions: Iterable[str] | None, basisteams: Iterable[str] | None
) -> tuple[list[str] | None, list[str]]:
    region_list = None if regions is None else sorted(set(regions))
    team_list = sorted(set(basisteams or ()))
    if (
        role in (Role.OPERATOR, Role.PLANNER)
        and region_list is not None
        and not (region_list or team_list)
    ):
        raise AccessError("regions", "give at least one region or basisteam, or none for all")
    if role is Role.PLANNER and team_list:
        raise AccessError("basisteams", "a planner is bound to regions, not basisteams")
    return region_list, team_list


# --- accounts -----------------------------------------------------------------------


def check_password_rule(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccessError("password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccessError("password", f"at most {MAX_PASSWORD} characters")


def create_account(
    session: Session,
    *,
    username: str,
    role: Role,
    password: str | None,
    now: datetime,
    by: str,
    regions: Iterable[str] | None = None,
    basisteams: Iterable[str] | None = None,
    display_name: str = "",
    person_id: str | None = None,
    oidc_subject: str | None = None,
) -> Account:
    if not USERNAME.match(username):
        raise AccessError(
            "username", "2-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise AccessError("username", f"'{username}' already exists")
    if password is None and oidc_subject is None:
        raise AccessError(
            "password", "needed unless the account signs in through the identity provider"
        )
    if password is not None:
        check_password_rule(password)
    region_list, team_list = _scope(role, regions, basisteams)
    account = Account(
        username=username,
        display_name=display_name[:200],
        password_hash=None if password is None else _HASHER.hash(password),
        role=role.value,
        regions=region_list,
        basisteams=team_list,
        person_id=person_id,
        oidc_subject=oidc_subject,
        active=True,
        failed_logins=0,
        created_at=now,
        created_by=by,
    )
    session.add(account)
    session.flush()
    return account


def set_password(session: Session, account: Account, password: str) -> None:
    check_password_rule(password)
    account.password_hash = _HASHER.hash(password)
    account.failed_logins = 0
    account.locked_until = None


@dataclass(frozen=True)
class LoginRules:
    max_failures: int  # per account, then locked
    lockout: timedelta
    per_remote: int  # failed attempts per address in the window
    window: timedelta


class LoginRefused(Exception):
    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # bad_credentials | locked | rate_limited
        self.retry_after = retry_after


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    remote: str,
    now: datetime,
    rules: LoginRules,
) -> Account:
    """The account, or LoginRefused. Failures are counted per account (lockout) and per
    address (rate limit); the caller commits either way."""
    since = now - rules.window
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < since))
    recent = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.remote == remote)
    )
    if (recent or 0) >= rules.per_remote:
        raise LoginRefused("rate_limited", int(rules.window.total_seconds()))
    account = session.scalar(select(Account).where(Account.username == username.lower()))
    if account is not None and account.locked_until is not None and account.locked_until > now:
        session.add(LoginAttempt(remote=remote, username=username[:64], at=now))
        raise LoginRefused("locked", int((account.locked_until - now).total_seconds()) + 1)
    ok = False
    try:
        ok = _HASHER.verify(
            account.password_hash if account and account.password_hash else _DUMMY_HASH,
            password,
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if account is None or not ok or not account.active or account.password_hash is None:
        session.add(LoginAttempt(remote=remote, username=username[:64], at=now))
        if account is not None:
            account.failed_logins += 1
            if account.failed_logins >= rules.max_failures:
                account.locked_until = now + rules.lockout
                account.failed_logins = 0
        raise LoginRefused("bad_credentials")
    account.failed_logins = 0
    account.locked_until = None
    if _HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = _HASHER.hash(password)
    return account


def account_principal(account: Account, session_id: str | None = None) -> Principal:
    return Principal(
        kind="account",
        name=account.username,
        role=Role(account.role),
        regions=None if account.regions is None else frozenset(account.regions),
        basisteams=frozenset(account.basisteams or ()),
        account_id=account.id,
        session_id=session_id,
    )


# --- sign-in sessions ---------------------------------------------------------------


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    absolute: timedelta
    touch_every: timedelta = timedelta(minutes=1)


def start_session(
    session: Session, account: Account, *, now: datetime, limits: SessionLimits, remote: str
) -> tuple[str, WebSession]:
    """A new session; returns the cookie's token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=digest(token),
        account_id=account.id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + limits.absolute,
        remote=remote[:64],
    )
    session.add(row)
    return token, row


def resolve_session(
    session: Session, token: str, *, now: datetime, limits: SessionLimits
) -> tuple[Account, WebSession] | None:
    """The live session behind a cookie token, touched at most once a minute."""
    if not token or len(token) > 128:
        return None
    row = session.get(WebSession, digest(token))
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= limits.idle:
        row.ended_at = now
        row.ended_by = "expired"
        return None
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        return None
    if now - row.last_seen_at >= limits.touch_every:
        row.last_seen_at = now
    return account, row


def end_session(session: Session, session_id: str, *, now: datetime, by: str) -> bool:
    result = session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
        .values(ended_at=now, ended_by=by)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_sessions_of(session: Session, account_id: int, *, now: datetime, by: str) -> int:
    result = session.execute(
        update(WebSession)
        .where(WebSession.account_id == account_id, WebSession.ended_at.is_(None))
        .values(ended_at=now, ended_by=by)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- API keys -----------------------------------------------------------------------

KEY_PREFIX = "sk_"


def _new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    now: datetime,
    by: str,
    regions: Iterable[str] | None = None,
    basisteams: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
) -> tuple[str, ApiKey]:
    """A new key; returns the secret (shown once) and the row."""
    if not KEY_NAME.match(name):
        raise AccessError("name", "1-64 of A-Z, a-z, 0-9, '.', '_' or '-'")
    if role is Role.WORKER:
        raise AccessError("role", "a worker signs in with its link or an account, not a key")
    live = session.scalar(select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if live is not None:
        raise AccessError("name", f"a key named '{name}' exists; rotate or revoke it")
    region_list, team_list = _scope(role, regions, basisteams)
    secret = _new_secret()
    row = ApiKey(
        name=name,
        digest=digest(secret),
        prefix=secret[:8],
        role=role.value,
        regions=region_list,
        basisteams=team_list,
        sources=sorted(set(sources or ())),
        created_at=now,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return secret, row


def live_keys(session: Session, name: str, now: datetime) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
    )


def rotate_key(
    session: Session, *, name: str, overlap: timedelta, now: datetime, by: str
) -> tuple[str, ApiKey]:
    """A new secret for a key, same scope; the old one works for ``overlap`` more."""
    current = [k for k in live_keys(session, name, now) if k.expires_at is None]
    if not current:
        raise AccessError("name", f"no live key named '{name}'")
    old = current[-1]
    old.expires_at = now + overlap
    if overlap <= timedelta(0):
        old.revoked_at = now
    secret = _new_secret()
    row = ApiKey(
        name=old.name,
        digest=digest(secret),
        prefix=secret[:8],
        role=old.role,
        regions=old.regions,
        basisteams=list(old.basisteams or ()),
        sources=list(old.sources or ()),
        created_at=now,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return secret, row


def revoke_key(session: Session, *, name: str, now: datetime) -> int:
    rows = live_keys(session, name, now)
    for row in rows:
        row.revoked_at = now
    if not rows:
        raise AccessError("name", f"no live key named '{name}'")
    return len(rows)


def key_principal(row: ApiKey) -> Principal:
    return Principal(
        kind="key",
        name=row.name,
        role=Role(row.role),
        regions=None if row.regions is None else frozenset(row.regions),
        basisteams=frozenset(row.basisteams or ()),
        sources=frozenset(row.sources or ()),
        key_id=row.id,
    )


def resolve_key(session: Session, secret: str, now: datetime) -> ApiKey | None:
    if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.digest == digest(secret)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and now >= row.expires_at:
        return None
    return row


# --- websocket tickets --------------------------------------------------------------


def principal_to_json(p: Principal) -> dict[str, Any]:
    return {
        "kind": p.kind,
        "name": p.name,
        "role": p.role.value,
        "regions": None if p.regions is None else sorted(p.regions),
        "basisteams": sorted(p.basisteams),
        "sources": sorted(p.sources),
        "account_id": p.account_id,
        "key_id": p.key_id,
        "session_id": p.session_id,
    }


def principal_from_json(data: dict[str, Any]) -> Principal:
    regions = data.get("regions")
    return Principal(
        kind=str(data["kind"]),
        name=str(data["name"]),
        role=Role(data["role"]),
        regions=None if regions is None else frozenset(regions),
        basisteams=frozenset(data.get("basisteams") or ()),
        sources=frozenset(data.get("sources") or ()),
        account_id=data.get("account_id"),
        key_id=data.get("key_id"),
        session_id=data.get("session_id"),
    )


def issue_ticket(session: Session, principal: Principal, *, now: datetime, ttl: timedelta) -> str:
    session.execute(delete(StreamTicket).where(StreamTicket.expires_at < now - timedelta(hours=1)))
    ticket = secrets.token_urlsafe(24)
    session.add(
        StreamTicket(
            id=digest(ticket), principal=principal_to_json(principal), expires_at=now + ttl
        )
    )
    return ticket


def redeem_ticket(session: Session, ticket: str, now: datetime) -> Principal | None:
    """The ticket's principal, once: a second use, or a late one, gets None."""
    if not ticket or len(ticket) > 128:
        return None
    result = session.execute(
        update(StreamTicket)
        .where(
            StreamTicket.id == digest(ticket),
            StreamTicket.used_at.is_(None),
            StreamTicket.expires_at > now,
        )
        .values(used_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    row = session.get(StreamTicket, digest(ticket))
    return None if row is None else principal_from_json(row.principal)

"""Accounts, sign-in sessions, API keys (admin), websocket tickets and "who am I"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy import select

from access import service as access
from access.models import Account, ApiKey, WebSession
from access.principal import Principal, Role
from api import audit, auth
from api.deps import Admin, AppClock, DbSession, Snapshot, Staff, State, Worker
from api.errors import InvalidInput
from notifications.mail import check_address
from oncall.personal import person_periods

router = APIRouter(prefix="/api/v1", tags=["access"])

Username = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")]
KeyName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=200)]


class Scope(BaseModel):
    regions: Ids | None = Field(default=None, description="Region ids; null: every region")
    basisteams: Ids = Field(default_factory=list)


class AccountIn(Scope):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")
    role: Role
    password: str | None = Field(default=None, min_length=12, max_length=256)
    display_name: str = Field(default="", max_length=200)
    person_id: str | None = Field(default=None, min_length=1, max_length=64)
    oidc_subject: str | None = Field(default=None, min_length=1, max_length=255)
    email: str | None = Field(
        default=None, max_length=254, description="Where the planners' daily digest goes"
    )


class AccountPatch(BaseModel):
    role: Role | None = None
    regions: Ids | None = None
    all_regions: StrictBool = Field(default=False, description="Set regions to every region")
    basisteams: Ids | None = None
    active: StrictBool | None = None  # true/false, as documented (not 0 or "yes")
    password: str | None = Field(default=None, min_length=12, max_length=256)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(
        default=None, max_length=254, description="The digest's address; empty: removed"
    )


class AccountRead(BaseModel):
    username: str
    display_name: str
    email: str | None = None
    role: str
    regions: list[str] | None
    basisteams: list[str]
    active: bool
    locked_until: datetime | None
    oidc: bool
    created_at: datetime
    created_by: str


class KeyIn(Scope):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    role: Role
    sources: Ids = Field(default_factory=list, description="Police sources a feed may use")


class KeyRead(BaseModel):
    name: str
    prefix: str
    role: str
    regions: list[str] | None
    basisteams: list[str]
    sources: list[str]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyRead):
    secret: str = Field(description="Shown once; store it now")


class SessionRead(BaseModel):
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    remote: str | None


class TicketRead(BaseModel):
    ticket: str
    expires_at: datetime
    url: str


class Me(BaseModel):
    actor: str
    role: str
    regions: list[str] | None
    basisteams: list[str]


def _account_read(a: Account) -> AccountRead:
    return AccountRead(
        username=a.username,
        display_name=a.display_name,
        email=a.email,
        role=a.role,
        regions=a.regions,
        basisteams=list(a.basisteams or ()),
        active=a.active,
        locked_until=a.locked_until,
        oidc=a.oidc_subject is not None,
        created_at=a.created_at,
        created_by=a.created_by,
    )


def _key_read(k: ApiKey) -> dict[str, Any]:
    return {
        "name": k.name,
        "prefix": k.prefix,
        "role": k.role,
        "regions": k.regions,
        "basisteams": list(k.basisteams or ()),
        "sources": list(k.sources or ()),
        "created_at": k.created_at,
        "created_by": k.created_by,
        "expires_at": k.expires_at,
        "revoked_at": k.revoked_at,
        "last_used_at": k.last_used_at,
    }


def _refused(exc: access.AccessError) -> HTTPException:
    return HTTPException(
        422,
        detail={
            "message": str(exc),
            "errors": [{"field": exc.field, "rule": exc.message, "type": "value_error"}],
        },
    )


def _audit(
    session: Any, request: Request, who: Principal, action: str, kind: str, oid: str
) -> None:
    """Who (and in which role), from where: in the same transaction as the change."""
    audit.note(session, request, who, action, kind, oid)


def _email(value: str) -> str | None:
    """An address as stored ("" removes it); 422 naming the field otherwise."""
    if value == "":
        return None
    try:
        return check_address(value)
    except ValueError as exc:
        raise InvalidInput("email", str(exc)) from exc


def _get_account(session: Any, username: str) -> Account:
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no account '{username}'")
    return account


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
def me(caller: Staff) -> Me:
    return Me(
        actor=caller.actor,
        role=caller.role.value,
        regions=None if caller.regions is None else sorted(caller.regions),
        basisteams=sorted(caller.basisteams),
    )


class ShiftRead(BaseModel):
    team: str
    team_name: str
    layer: str
    start: datetime
    end: datetime


@router.get(
    "/me/shifts",
    response_model=list[ShiftRead],
    summary="A worker's own on-call periods (a worker account linked to a person)",
    responses={404: {"description": "The account is not linked to a person on a roster"}},
)
def my_shifts(
    caller: Worker,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
    days: Annotated[int, Query(ge=1, le=28, description="How many days ahead")] = 14,
) -> list[ShiftRead]:
    account = session.get(Account, caller.account_id) if caller.account_id else None
    if account is None or account.person_id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="this account is not linked to a person on a roster"
        )
    now = clock.now()
    periods = person_periods(snapshot, account.person_id, now, now + timedelta(days=days))
    return [
        ShiftRead(
            team=p.team,
            team_name=snapshot.teams[p.team].name,
            layer=p.layer,
            start=p.start,
            end=p.end,
        )
        for p in periods
    ]


@router.post(
    "/stream/tickets",
    response_model=TicketRead,
    status_code=201,
    summary="A single-use ticket to open the websocket (/ws?ticket=...) within seconds",
)
def stream_ticket(caller: Staff, session: DbSession, state: State, clock: AppClock) -> TicketRead:
    """The websocket never takes an API key in its URL (URLs end up in access logs)."""
    now = clock.now()
    ttl = timedelta(seconds=state.settings.stream_ticket_seconds)
    ticket = access.issue_ticket(session, caller, now=now, ttl=ttl)
    session.commit()
    return TicketRead(ticket=ticket, expires_at=now + ttl, url=f"/ws?ticket={ticket}")


@router.get("/accounts", response_model=list[AccountRead], summary="Accounts (admin)")
def list_accounts(caller: Admin, session: DbSession) -> list[AccountRead]:
    rows = session.scalars(select(Account).order_by(Account.username).limit(10_000))
    return [_account_read(a) for a in rows]


@router.post(
    "/accounts",
    response_model=AccountRead,
    status_code=201,
    summary="Make an account (admin)",
    responses={409: {"description": "An account with this username exists"}},
)
def create_account(
    body: AccountIn,
    caller: Admin,
    session: DbSession,
    clock: AppClock,
    request: Request,
) -> AccountRead:
    now = clock.now()
    email = _email(body.email) if body.email is not None else None
    try:
        account = access.create_account(
            session,
            username=body.username,
            role=body.role,
            password=body.password,
            now=now,
            by=caller.actor,
            regions=body.regions,
            basisteams=body.basisteams,
            display_name=body.display_name,
            person_id=body.person_id,
            oidc_subject=body.oidc_subject,
        )
    except access.AccessError as exc:
        session.rollback()
        code = 409 if "already exists" in exc.message else 422
        if code == 409:
            raise HTTPException(409, detail=str(exc)) from exc
        raise _refused(exc) from exc
    account.email = email
    _audit(session, request, caller, "account.create", "account", account.username)
    session.commit()
    return _account_read(account)


@router.patch("/accounts/{username}", response_model=AccountRead, summary="Change an account")
def update_account(
    username: Username,
    body: AccountPatch,
    caller: Admin,
    session: DbSession,
    clock: AppClock,
    request: Request,
) -> AccountRead:
    now = clock.now()
    account = _get_account(session, username)
    try:
        if body.password is not None:
            access.set_password(session, account, body.password)
        role = Role(body.role or account.role)
        regions = (
            None
            if body.all_regions
            else (body.regions if body.regions is not None else account.regions)
        )
        basisteams = body.basisteams if body.basisteams is not None else account.basisteams
        account.regions, account.basisteams = access.validate_scope(role, regions, basisteams)
        account.role = role.value
    except access.AccessError as exc:
        session.rollback()
        raise _refused(exc) from exc
    if body.display_name is not None:
        account.display_name = body.display_name
    if body.email is not None:
        account.email = _email(body.email)
    if body.active is not None:
        account.active = body.active
    if (
        body.active is False
        or body.role is not None
        or body.password is not None
        or (body.regions is not None or body.all_regions or body.basisteams is not None)
    ):
        # New rights (or none) take effect at once: signed-in browsers sign in again.
        access.end_sessions_of(session, account.id, now=now, by=caller.actor)
    _audit(session, request, caller, "account.update", "account", account.username)
    session.commit()
    return _account_read(account)


@router.get("/sessions", response_model=list[SessionRead], summary="Live sign-in sessions")
def list_sessions(caller: Admin, session: DbSession, clock: AppClock) -> list[SessionRead]:
    now = clock.now()
    rows = session.execute(
        select(WebSession, Account.username)
        .join(Account, Account.id == WebSession.account_id)
        .where(WebSession.ended_at.is_(None), WebSession.expires_at > now)
        .order_by(WebSession.created_at.desc())
        .limit(1000)
    )
    return [
        SessionRead(
            username=username,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            remote=row.remote,
        )
        for row, username in rows
    ]


@router.post(
    "/accounts/{username}/sessions/end",
    summary="End every sign-in session of an account (admin)",
)
def end_account_sessions(
    username: Username,
    caller: Admin,
    session: DbSession,
    clock: AppClock,
    request: Request,
) -> dict[str, int]:
    now = clock.now()
    account = _get_account(session, username)
    ended = access.end_sessions_of(session, account.id, now=now, by=caller.actor)
    _audit(session, request, caller, "session.end_all", "account", account.username)
    session.commit()
    return {"ended": ended}


@router.get("/keys", response_model=list[KeyRead], summary="API keys (admin; never the secret)")
def list_keys(
    caller: Admin,
    session: DbSession,
    revoked: Annotated[bool, Query(description="Include revoked keys")] = False,
) -> list[dict[str, Any]]:
    query = select(ApiKey).order_by(ApiKey.name, ApiKey.id).limit(10_000)
    if not revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_key_read(k) for k in session.scalars(query)]


@router.post(
    "/keys",
    response_model=KeyCreated,
    status_code=201,
    summary="Make an API key",
    responses={409: {"description": "A key with this name exists"}},
)
def create_key(
    body: KeyIn, caller: Admin, session: DbSession, clock: AppClock, request: Request
) -> dict[str, Any]:
    now = clock.now()
    try:
        secret, row = access.create_key(
            session,
            name=body.name,
            role=body.role,
            now=now,
            by=caller.actor,
            regions=body.regions,
            basisteams=body.basisteams,
            sources=body.sources,
        )
    except access.AccessError as exc:
        session.rollback()
        if "exists" in exc.message:
            raise HTTPException(409, detail=str(exc)) from exc
        raise _refused(exc) from exc
    _audit(session, request, caller, "key.create", "key", row.name)
    session.commit()
    return {**_key_read(row), "secret": secret}


@router.post(
    "/keys/{name}/rotate",
    response_model=KeyCreated,
    summary="A new secret for a key; the old one works for the overlap (hours) more",
)
def rotate_key(
    name: KeyName,
    caller: Admin,
    session: DbSession,
    clock: AppClock,
    state: State,
    request: Request,
    overlap_hours: Annotated[float | None, Query(ge=0, le=24 * 90)] = None,
) -> dict[str, Any]:
    now = clock.now()
    hours = state.settings.key_rotation_overlap_hours if overlap_hours is None else overlap_hours
    try:
        secret, row = access.rotate_key(
            session, name=name, overlap=timedelta(hours=hours), now=now, by=caller.actor
        )
    except access.AccessError as exc:
        session.rollback()
        raise HTTPException(404, detail=str(exc)) from exc
    _audit(session, request, caller, "key.rotate", "key", name)
    session.commit()
    auth.forget_keys(state)
    return {**_key_read(row), "secret": secret}


@router.post("/keys/{name}/revoke", summary="Revoke a key (every secret of that name)")
def revoke_key(
    name: KeyName,
    caller: Admin,
    session: DbSession,
    clock: AppClock,
    state: State,
    request: Request,
) -> dict[str, int]:
    now = clock.now()
    try:
        count = access.revoke_key(session, name=name, now=now)
    except access.AccessError as exc:
        session.rollback()
        raise HTTPException(404, detail=str(exc)) from exc
    _audit(session, request, caller, "key.revoke", "key", name)
    session.commit()
    auth.forget_keys(state)
    return {"revoked": count}

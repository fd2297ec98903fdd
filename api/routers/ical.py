"""Calendar feeds: secret, revocable iCal URLs of a person's or a team's on-call blocks,
and the planners' choice of which regions' daily digest they receive.

``GET /ical/{token}.ics`` is public because the URL is the credential (calendar apps
send no header); only the token's digest is stored, a wrong, unknown or revoked token is
a 404, and the feed carries rosters only (no incident data). A planner makes and revokes
feeds for the teams (and the people on the teams) of its regions; a worker account for
itself. The feed is built from the current configuration snapshot, cached per version
and local day, so an override or a swap shows at the calendar's next refresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from access.models import Account
from access.principal import Principal, Role
from api import audit, auth
from api.bounds import INT32_MAX, SlugPath
from api.deps import AppClock, AppSettings, DbSession, Planner, Snapshot, State
from api.errors import InvalidInput
from core.lru import Lru
from core.timeutil import AMS
from dispatch import digest
from dispatch import feed_models as feeds
from oncall import ical
from oncall.calendar import Block, team_blocks, teams_of_person
from oncall.snapshot import ConfigSnapshot

router = APIRouter(tags=["oncall"])

FeedToken = Annotated[str, Path(min_length=1, max_length=64, description="The feed's secret")]
FeedId = Annotated[int, Path(ge=1, le=INT32_MAX, description="The feed's id")]
Ids = Annotated[
    list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]], Field(max_length=200)
]
USED_EVERY = timedelta(minutes=5)  # last_used_at is written at most this often
ICS = "text/calendar; charset=utf-8"


class FeedRead(BaseModel):
    id: int
    kind: str
    target: str
    prefix: str = Field(description="The first characters of the secret, to tell feeds apart")
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class FeedCreated(FeedRead):
    url: str = Field(description="The calendar URL with its secret: shown once, store it now")


class DigestRegions(BaseModel):
    regions: Ids = Field(description="Regions whose daily digest this account receives")


def _read(row: feeds.CalendarFeed) -> FeedRead:
    return FeedRead(
        id=row.id,
        kind=row.kind,
        target=row.target,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


# --- the feed itself -----------------------------------------------------------------


# Built feeds by (configuration version, kind, target, local day): a calendar app
# polling every few minutes costs a dictionary lookup until the roster changes.
CACHE: Lru[tuple[int, str, str, str], tuple[bytes, str]] = Lru(512)
# A team's blocks by (version, team, from, to): after a change, the first feed of a team
# walks its roster and every other person of the team reuses that walk.
TEAM_BLOCKS: Lru[tuple[int, str, datetime, datetime], tuple[Block, ...]] = Lru(256)


def cached_team_blocks(
    snapshot: ConfigSnapshot, team: str, start: datetime, end: datetime
) -> tuple[Block, ...]:
    key = (snapshot.version, team, start, end)
    found = TEAM_BLOCKS.get(key)
    if found is None:
        found = team_blocks(snapshot, team, start, end)
        TEAM_BLOCKS.put(key, found)
    return found


def build_feed(snapshot: ConfigSnapshot, kind: str, target: str, now: datetime) -> bytes:
    """The feed's bytes (KeyError when its person or team left the configuration)."""
    if kind == "person":
        return ical.person_feed(snapshot, target, now, cached_team_blocks)
    return ical.team_feed(snapshot, target, now, cached_team_blocks)


def cached_feed(
    snapshot: ConfigSnapshot, kind: str, target: str, now: datetime
) -> tuple[bytes, str]:
    day = now.astimezone(AMS).date().isoformat()
    key = (snapshot.version, kind, target, day)
    found = CACHE.get(key)
    if found is None:
        body = build_feed(snapshot, kind, target, now)
        found = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        CACHE.put(key, found)
    return found


@router.get(
    "/ical/{token}.ics",
    response_class=Response,
    summary="A calendar feed (iCal) of on-call blocks; the URL's secret is the credential",
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The VCALENDAR"},
        304: {"description": "Not changed since the ETag sent in If-None-Match"},
        404: {"description": "No such feed (unknown, revoked, or its person or team is gone)"},
    },
    dependencies=[auth.public("the feed's secret URL is its credential (calendar apps)")],
)
def feed(
    token: FeedToken, request: Request, session: DbSession, snapshot: Snapshot, clock: AppClock
) -> Response:
    row = feeds.resolve_feed(session, token)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such calendar feed")
    now = clock.now()
    try:
        body, etag = cached_feed(snapshot, row.kind, row.target, now)
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such calendar feed") from exc
    if row.last_used_at is None or now - row.last_used_at > USED_EVERY:
        row.last_used_at = now
        session.commit()
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=60",
        "Content-Disposition": 'inline; filename="piket.ics"',
        "Referrer-Policy": "no-referrer",
    }
    wanted = request.headers.get("if-none-match", "")
    if etag in [t.strip() for t in wanted.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ICS, headers=headers)


# --- making and revoking feeds ----------------------------------------------------------


def _url(settings: AppSettings, token: str) -> str:
    return f"{settings.public_base_url}/ical/{token}.ics"


def _team_or_404(snapshot: ConfigSnapshot, team: str) -> None:
    if team not in snapshot.teams:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no team '{team}'")


def _plans_team(principal: Principal, snapshot: ConfigSnapshot, team: str) -> bool:
    if principal.role is Role.ADMIN or principal.regions is None:
        return principal.role in (Role.ADMIN, Role.PLANNER)
    region = snapshot.teams[team].region
    return region is not None and principal.plans(region)


def _check_team(principal: Principal, snapshot: ConfigSnapshot, team: str) -> None:
    _team_or_404(snapshot, team)
    if not _plans_team(principal, snapshot, team):
        raise auth.denied(principal, f"team '{team}'")


def _check_person(principal: Principal, snapshot: ConfigSnapshot, person: str) -> None:
    """A planner manages the feed of a person on a team of its regions."""
    if person not in snapshot.people:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no person '{person}'")
    teams = teams_of_person(snapshot, person)
    if principal.role is Role.ADMIN or principal.regions is None:
        return
    if not any(_plans_team(principal, snapshot, t) for t in teams):
        raise auth.denied(principal, f"person '{person}'")


def _hidden(check: Callable[[], None], missing: str) -> None:
    """A read of another region's object answers 404, as if it did not exist."""
    try:
        check()
    except HTTPException as exc:
        if exc.status_code == status.HTTP_403_FORBIDDEN:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=missing) from exc
        raise


def _region_of(snapshot: ConfigSnapshot, kind: str, target: str) -> str | None:
    if kind == "team":
        found = snapshot.teams.get(target)
        return found.region if found else None
    for team in teams_of_person(snapshot, target) if target in snapshot.people else []:
        region = snapshot.teams[team].region
        if region:
            return region
    return None


def _create(
    session: Session,
    request: Request,
    principal: Principal,
    snapshot: ConfigSnapshot,
    settings: AppSettings,
    now: datetime,
    kind: str,
    target: str,
) -> FeedCreated:
    token, row = feeds.create_feed(session, kind=kind, target=target, now=now, by=principal.actor)
    audit.note(
        session,
        request,
        principal,
        "ical.create",
        f"ical_{kind}",
        target,
        {"feed": row.id},
        region=_region_of(snapshot, kind, target),
    )
    session.commit()
    return FeedCreated(**_read(row).model_dump(), url=_url(settings, token))


@router.post(
    "/api/v1/feeds/teams/{team}",
    response_model=FeedCreated,
    status_code=201,
    summary="A new calendar feed of a team's on-call blocks (a planner of its region)",
)
def create_team_feed(
    team: SlugPath,
    caller: Planner,
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    settings: AppSettings,
    clock: AppClock,
) -> FeedCreated:
    _check_team(caller, snapshot, team)
    return _create(session, request, caller, snapshot, settings, clock.now(), "team", team)


@router.get(
    "/api/v1/feeds/teams/{team}",
    response_model=list[FeedRead],
    summary="A team's live calendar feeds (never their secret)",
)
def list_team_feeds(
    team: SlugPath, caller: Planner, session: DbSession, snapshot: Snapshot
) -> list[FeedRead]:
    _hidden(lambda: _check_team(caller, snapshot, team), f"no team '{team}'")
    return [_read(r) for r in feeds.live_feeds(session, kind="team", target=team)]


@router.post(
    "/api/v1/feeds/people/{person}",
    response_model=FeedCreated,
    status_code=201,
    summary="A new calendar feed of a person's on-call blocks (a planner of their team)",
)
def create_person_feed(
    person: SlugPath,
    caller: Planner,
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    settings: AppSettings,
    clock: AppClock,
) -> FeedCreated:
    _check_person(caller, snapshot, person)
    return _create(session, request, caller, snapshot, settings, clock.now(), "person", person)


@router.get(
    "/api/v1/feeds/people/{person}",
    response_model=list[FeedRead],
    summary="A person's live calendar feeds (never their secret)",
)
def list_person_feeds(
    person: SlugPath, caller: Planner, session: DbSession, snapshot: Snapshot
) -> list[FeedRead]:
    _hidden(lambda: _check_person(caller, snapshot, person), f"no person '{person}'")
    return [_read(r) for r in feeds.live_feeds(session, kind="person", target=person)]


def _own_person(caller: Principal, session: Session) -> str:
    account = session.get(Account, caller.account_id) if caller.account_id else None
    if account is None or account.person_id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="this account is not linked to a person on a roster"
        )
    return account.person_id


WorkerOrPlanner = Annotated[Principal, auth.allow(Role.WORKER, Role.PLANNER)]
OwnFeed = Annotated[Principal, auth.allow(Role.WORKER)]


@router.post(
    "/api/v1/me/feeds",
    response_model=FeedCreated,
    status_code=201,
    summary="A new calendar feed of my own on-call blocks (a worker account)",
    responses={404: {"description": "The account is not linked to a person on a roster"}},
)
def create_own_feed(
    caller: OwnFeed,
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    settings: AppSettings,
    clock: AppClock,
) -> FeedCreated:
    person = _own_person(caller, session)
    return _create(session, request, caller, snapshot, settings, clock.now(), "person", person)


@router.get(
    "/api/v1/me/feeds",
    response_model=list[FeedRead],
    summary="My live calendar feeds (never their secret)",
    responses={404: {"description": "The account is not linked to a person on a roster"}},
)
def list_own_feeds(caller: OwnFeed, session: DbSession) -> list[FeedRead]:
    person = _own_person(caller, session)
    return [_read(r) for r in feeds.live_feeds(session, kind="person", target=person)]


@router.post(
    "/api/v1/feeds/{feed_id}/revoke",
    response_model=FeedRead,
    summary="Revoke a calendar feed: its URL answers 404 from now on",
    responses={404: {"description": "No such feed, or not one the caller may see"}},
)
def revoke_feed(
    feed_id: FeedId,
    caller: WorkerOrPlanner,
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
    clock: AppClock,
) -> FeedRead:
    row = session.get(feeds.CalendarFeed, feed_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no calendar feed {feed_id}")
    if caller.role is Role.WORKER:
        if row.kind != "person" or row.target != _own_person(caller, session):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no calendar feed {feed_id}")
    elif row.kind == "team":
        if row.target in snapshot.teams:
            _check_team(caller, snapshot, row.target)
        elif caller.role is not Role.ADMIN and caller.regions is not None:
            raise auth.denied(caller, f"feed {feed_id}")
    elif row.target in snapshot.people:
        _check_person(caller, snapshot, row.target)
    elif caller.role is not Role.ADMIN and caller.regions is not None:
        raise auth.denied(caller, f"feed {feed_id}")
    feeds.revoke_feed(session, row, now=clock.now(), by=caller.actor)
    audit.note(
        session,
        request,
        caller,
        "ical.revoke",
        f"ical_{row.kind}",
        row.target,
        {"feed": row.id},
        region=_region_of(snapshot, row.kind, row.target),
    )
    session.commit()
    return _read(row)


# --- which regions' digest an account receives -----------------------------------------


@router.get(
    "/api/v1/me/digest",
    response_model=DigestRegions,
    summary="The regions whose daily digest I receive by e-mail",
)
def my_digest(caller: Planner, session: DbSession, state: State) -> DigestRegions:
    if caller.account_id is None:
        return DigestRegions(regions=[])
    regions = digest.regions_of_account(
        session, caller.account_id, state.snapshots.get(session=session)
    )
    return DigestRegions(regions=regions)


@router.put(
    "/api/v1/me/digest",
    response_model=DigestRegions,
    summary="Receive the daily digest of these regions (an every-region planner or admin "
    "chooses; a planner bound to regions receives those of its regions)",
    responses={422: {"description": "An unknown region, or one outside the caller's"}},
)
def set_my_digest(
    body: DigestRegions,
    caller: Planner,
    request: Request,
    session: DbSession,
    snapshot: Snapshot,
) -> DigestRegions:
    if caller.account_id is None:
        raise InvalidInput("regions", "only an account (not a key) receives the digest")
    wanted = sorted(set(body.regions))
    for index, region in enumerate(body.regions):
        if region not in snapshot.regions or not caller.plans(region):
            raise InvalidInput(
                f"regions[{index}]", f"'{region}' is not a region of the configuration you plan"
            )
    session.execute(
        delete(feeds.DigestSubscription).where(
            feeds.DigestSubscription.account_id == caller.account_id
        )
    )
    for region in wanted:
        session.add(feeds.DigestSubscription(account_id=caller.account_id, region=region))
    audit.note(
        session, request, caller, "digest.subscribe", "account", caller.name, {"regions": wanted}
    )
    session.commit()
    subscribed = session.scalars(
        select(feeds.DigestSubscription.region).where(
            feeds.DigestSubscription.account_id == caller.account_id
        )
    )
    return DigestRegions(regions=sorted(subscribed))

"""Who is on call, and the configuration behind it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from access.principal import Principal
from api import config_writes, scope, work
from api.apidocs import CONFIG_BODY
from api.bounds import Instant, RegionQuery, SlugPath, TeamQuery
from api.deps import (
    Admin,
    AppClock,
    AppSettings,
    DbReader,
    DbSession,
    Planner,
    RosterReader,
    Snapshot,
)
from api.errors import InvalidInput
from core.timeutil import ensure_utc
from oncall import service as oncall_service
from oncall.gaps import find_gaps
from oncall.loader import ConfigError, ConfigIssue, validate_references
from oncall.schemas import SLUG, ConfigSet, Override, parse_local_datetime
from oncall.snapshot import ConfigSnapshot
from oncall.upload import load_upload

router = APIRouter(prefix="/api/v1", tags=["oncall"])


class OnCallPerson(BaseModel):
    person: str
    name: str
    phones: list[str]
    layer: str
    source: str
    since: datetime | None
    until: datetime | None
    reasons: list[dict[str, str]]


class OnCallTeam(BaseModel):
    team: str
    team_name: str
    kind: str
    team_line: str | None
    at: datetime
    on_call: list[OnCallPerson]
    removed: list[dict[str, Any]]


def _team_on_call(snapshot: ConfigSnapshot, team_id: str, at: datetime) -> OnCallTeam:
    team = snapshot.teams[team_id]
    oc = snapshot.on_call(team_id, at)
    people = []
    for e in oc.entries:
        p = snapshot.people.get(e.person)
        people.append(
            OnCallPerson(
                person=e.person,
                name=p.name if p else e.person,
                phones=list(p.phones) if p else [],
                layer=e.layer.value,
                source=e.source,
                since=e.since,
                until=e.until,
                reasons=[r.as_dict() for r in e.reasons],
            )
        )
    return OnCallTeam(
        team=team.id,
        team_name=team.name,
        kind=team.kind.value,
        team_line=team.phone,
        at=at,
        on_call=people,
        removed=[{"person": pid, "reason": r.as_dict()} for pid, r in oc.removed],
    )


def _instant(name: str, text: str | None, default: datetime) -> datetime:
    """A query parameter's instant (Amsterdam time without an offset); 422 naming it."""
    if text is None:
        return default
    try:
        return ensure_utc(parse_local_datetime(text))
    except ValueError as exc:
        raise InvalidInput(name, str(exc)) from exc


def _select_teams(
    snapshot: ConfigSnapshot, team: list[str] | None, region: str | None, caller: Principal
) -> list[str]:
    """The teams asked for (all the caller may see, or of one region); 404 naming what is
    unknown, 403 naming a team or region outside the caller's regions."""
    if region is not None and region not in snapshot.regions:
        raise HTTPException(status_code=404, detail=f"unknown region '{region}'")
    mine = scope.visible_regions(caller, snapshot)
    if region is not None and mine is not None and region not in mine:
        raise HTTPException(
            status_code=403, detail=f"region: '{region}' is outside the regions of {caller.actor}"
        )
    teams = team or [
        t.id
        for t in snapshot.config.teams
        if (region is None or t.region == region)
        and (mine is None or t.region is None or t.region in mine)
    ]
    unknown = [t for t in teams if t not in snapshot.teams]
    if unknown:
        raise HTTPException(status_code=404, detail=f"unknown team(s): {', '.join(unknown)}")
    if mine is not None:
        foreign = [t for t in teams if snapshot.teams[t].region not in (None, *mine)]
        if foreign:
            raise HTTPException(
                status_code=403,
                detail=f"team: {', '.join(foreign)} outside the regions of {caller.actor}",
            )
    return teams


@router.get(
    "/oncall",
    response_model=list[OnCallTeam],
    summary="Who is on call",
    responses={404: {"description": "Unknown team or region"}},
)
def who_is_on_call(
    snapshot: Snapshot,
    clock: AppClock,
    caller: RosterReader,
    team: TeamQuery = None,
    region: RegionQuery = None,
    at: Annotated[
        Instant | None,
        Query(description="ISO instant; without offset Amsterdam time; default now"),
    ] = None,
) -> list[OnCallTeam]:
    instant = _instant("at", at, clock.now())
    teams = _select_teams(snapshot, team, region, caller)
    return [_team_on_call(snapshot, t, instant) for t in teams]


@router.get("/config", summary="The active configuration", response_model=None)
def get_config(snapshot: Snapshot, caller: Planner) -> dict[str, Any]:
    data: dict[str, Any] = snapshot.config.model_dump(mode="json", exclude_none=True)
    data["version"] = snapshot.version
    return data


def _rejected(issues: list[ConfigIssue] | tuple[ConfigIssue, ...]) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail={
            "message": "configuration rejected; nothing was changed",
            "issues": [{"path": i.path, "rule": i.message, "line": i.line} for i in issues],
        },
    )


async def _parse_body(request: Request) -> ConfigSet:
    """JSON or YAML (``oncall.upload``), checked by the same loader as the files under
    regions/, off the event loop and within the time limit (``api.work``)."""
    body = await request.body()
    is_yaml = "yaml" in request.headers.get("content-type", "")
    settings = request.app.state.samenop.settings

    def job(deadline: work.Deadline) -> ConfigSet:
        try:
            config, origins = load_upload(
                body, yaml=is_yaml, max_entries=settings.max_config_entries
            )
        except ConfigError as exc:
            raise _rejected(exc.issues) from exc
        deadline.check()
        issues = validate_references(config, origins)
        if issues:
            raise _rejected(issues)
        return config

    return await work.run(
        job, seconds=settings.work_timeout_seconds, what="checking the configuration"
    )


@router.put(
    "/config",
    summary="Replace the whole configuration (JSON or YAML)",
    responses=config_writes.CONFIRMATION_RESPONSES,
    openapi_extra=CONFIG_BODY,
)
async def put_config(
    request: Request,
    session: DbSession,
    clock: AppClock,
    caller: Admin,
    confirm: config_writes.Confirm = False,
) -> dict[str, Any]:
    """Validated as a whole first; on any error nothing changes (422 lists every issue).
    Removing a region, a team with open incidents or many people needs confirm=true."""
    config = await _parse_body(request)

    def job(deadline: work.Deadline) -> int:
        version = config_writes.write(
            session, request, caller, config, action="config.replace", confirm=confirm
        )
        deadline.check()
        session.commit()
        return version

    seconds = request.app.state.samenop.settings.work_timeout_seconds
    version = await work.run(job, seconds=seconds, what="the configuration write")
    return {"version": version, "counts": {k: len(getattr(config, k)) for k in ConfigSet.SECTIONS}}


@router.post(
    "/config/validate",
    summary="Check a configuration without storing it",
    openapi_extra=CONFIG_BODY,
)
async def validate_config(request: Request, caller: Planner) -> dict[str, Any]:
    config = await _parse_body(request)
    return {"valid": True, "counts": {k: len(getattr(config, k)) for k in ConfigSet.SECTIONS}}


@router.get("/overrides", response_model=list[Override], summary="Roster overrides")
def list_overrides(
    snapshot: Snapshot,
    caller: RosterReader,
    team: Annotated[str | None, Query(pattern=SLUG, description="Only this team")] = None,
) -> list[Override]:
    visible = set(_select_teams(snapshot, None, None, caller))
    return [
        o
        for o in snapshot.config.overrides
        if (team is None or o.team == team) and o.team in visible
    ]


@router.post(
    "/overrides",
    status_code=201,
    summary="Add an override (replace, add or remove someone for an interval)",
    responses={
        409: {"description": "An override with this id exists"},
        422: {"description": "Invalid override; the field and rule are named"},
    },
)
def create_override(
    override: Override,
    request: Request,
    session: DbSession,
    clock: AppClock,
    caller: Planner,
    snapshot: Snapshot,
) -> dict[str, Any]:
    """Takes effect for the next incident in every process (the configuration version moves)."""
    scope.check_team(caller, snapshot, override.team)
    try:
        version = oncall_service.add_override(
            session=session,
            override=override,
            now=clock.now(),
            source=f"api by {caller.actor}",
            author=caller.actor,
        )
    except oncall_service.ConfigRejected as exc:
        session.rollback()
        code = 409 if exc.field == "id" else 422
        raise HTTPException(
            status_code=code,
            detail={"message": str(exc), "errors": [{"field": exc.field, "rule": exc.rule}]},
        ) from exc
    region = next(iter(scope.team_regions(snapshot, override.team)), None)
    config_writes.noted_override(
        session,
        request,
        caller,
        "override.create",
        override.id,
        version,
        team=override.team,
        region=region,
    )
    session.commit()
    return {"version": version, "override": override.model_dump(mode="json")}


@router.delete(
    "/overrides/{override_id}",
    summary="Withdraw an override",
    responses={404: {"description": "No such override"}},
)
def delete_override(
    override_id: SlugPath,
    request: Request,
    session: DbSession,
    clock: AppClock,
    caller: Planner,
    snapshot: Snapshot,
) -> dict[str, Any]:
    existing = next((o for o in snapshot.config.overrides if o.id == override_id), None)
    if existing is not None:
        scope.check_team(caller, snapshot, existing.team)
    try:
        version = oncall_service.remove_override(
            session=session,
            override_id=override_id,
            now=clock.now(),
            source=f"api by {caller.actor}",
            author=caller.actor,
        )
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=f"no override '{override_id}'") from exc
    team = existing.team if existing is not None else None
    region = next(iter(scope.team_regions(snapshot, team)), None) if team else None
    config_writes.noted_override(
        session,
        request,
        caller,
        "override.delete",
        override_id,
        version,
        team=team,
        region=region,
    )
    session.commit()
    return {"version": version}


class GapRead(BaseModel):
    team: str
    team_name: str
    rules: list[str]
    start: datetime
    end: datetime
    minutes: int
    needed: int = 1  # reachable people the rules need at once (staff)
    available: int = 0  # reachable people on call in the gap


@router.get(
    "/coverage/gaps",
    response_model=list[GapRead],
    summary="When a team should answer but fewer reachable people are on call than it needs",
    responses={404: {"description": "Unknown team or region"}},
)
async def coverage_gaps(
    snapshot: Snapshot,
    session: DbReader,
    clock: AppClock,
    settings: AppSettings,
    caller: RosterReader,
    team: TeamQuery = None,
    region: RegionQuery = None,
    start: Annotated[
        Instant | None,
        Query(alias="from", description="ISO instant; without offset Amsterdam time; default now"),
    ] = None,
    end: Annotated[
        Instant | None,
        Query(
            alias="to",
            description="Default 7 days after 'from'; at most SAMENOP_MAX_GAP_DAYS (56) after it",
        ),
    ] = None,
) -> list[GapRead]:
    """Computed off the event loop within the time limit (503 past it)."""
    lo = _instant("from", start, clock.now())
    hi = _instant("to", end, lo + timedelta(days=7))
    if hi <= lo:
        raise InvalidInput("to", "must be after 'from'")
    days = settings.max_gap_days
    if hi - lo > timedelta(days=days):
        raise InvalidInput("to", f"at most {days} days after 'from' (SAMENOP_MAX_GAP_DAYS)")
    teams = _select_teams(snapshot, team, region, caller)
    # The snapshot is in memory: let go of the database before the long computation (on
    # SQLite an open transaction holds the write lock every other request waits for).
    session.close()

    def job(deadline: work.Deadline) -> list[GapRead]:
        out: list[GapRead] = []
        for team_id in teams:
            out.extend(
                GapRead(
                    team=g.team,
                    team_name=snapshot.teams[g.team].name,
                    rules=list(g.rules),
                    start=g.start,
                    end=g.end,
                    minutes=g.minutes,
                    needed=g.needed,
                    available=g.available,
                )
                for g in find_gaps(snapshot, team_id, lo, hi, check=deadline.check)
            )
        return out

    return await work.run(
        job, seconds=settings.work_timeout_seconds, what="computing coverage gaps"
    )

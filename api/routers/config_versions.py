"""Configuration versions (list, read, compare, roll back) and a region's own part.

Every write is a version (``oncall.versions``); a rollback writes a new version equal
to an older one, by whoever rolled back. A planner writes only their regions' part:
``PUT /config/regions/{id}`` takes that region's slice and merges it into the current
configuration, refusing (403, naming it) anything of another region. Parsing, merging
and writing run off the event loop within the time limit (``api.work``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from api import config_writes, work
from api.config_writes import CONFIRMATION_RESPONSES, Confirm
from api.deps import Admin, DbReader, DbSession, Planner
from oncall import changes, versions
from oncall import service as oncall_service
from oncall.loader import ConfigError, ConfigIssue, validate_references
from oncall.models import ConfigState
from oncall.schemas import SLUG, ConfigSet
from oncall.upload import load_upload

router = APIRouter(prefix="/api/v1/config", tags=["oncall"])

INT32_MAX = 2**31 - 1
VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="Configuration version")]
RegionId = Annotated[str, Path(pattern=SLUG, max_length=64, description="Region id")]
_SLICE_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        }
    }
}


# Per section, only the kinds that occur: {"people": {"changed": 2, "added": 1}}.
SectionCounts = dict[str, int]
# Per section: {"added": [ids], "removed": [ids], "changed": {id: [fields]}}.
SectionChanges = dict[str, Any]


class VersionListed(BaseModel):
    version: int
    at: datetime
    author: str = Field(description="Who wrote it: account:<name>, key:<name> or cli:<user>")
    source: str | None
    rollback_of: int | None = Field(description="The version this one restored, if any")
    changes: dict[str, SectionCounts] = Field(description="Counts per section")


class VersionRead(VersionListed):
    diff: dict[str, SectionChanges] = Field(description="Against the version before")
    configuration: dict[str, Any] = Field(description="The whole configuration of this version")


class VersionDiff(BaseModel):
    from_version: int
    to_version: int
    changes: dict[str, SectionChanges]


class Written(BaseModel):
    version: int
    rollback_of: int | None = None
    region: str | None = None
    changes: dict[str, SectionChanges]


def _listed(row: versions.Listed) -> VersionListed:
    return VersionListed(
        version=row.version,
        at=row.at,
        author=row.author,
        source=row.source,
        rollback_of=row.rollback_of,
        changes=row.summary,
    )


@router.get(
    "/versions", response_model=list[VersionListed], summary="Configuration versions, newest first"
)
def list_versions(
    session: DbReader,
    caller: Planner,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=INT32_MAX, description="Older than this version (paging)")
    ] = None,
) -> list[VersionListed]:
    return [_listed(r) for r in versions.listing(session, limit=limit, before=before)]


@router.get(
    "/versions/{version}",
    response_model=VersionRead,
    summary="One version: who, when, what changed, and the whole configuration",
    responses={404: {"description": "No such version"}},
)
def get_version(version: VersionNumber, session: DbReader, caller: Planner) -> VersionRead:
    row = versions.get(session, version)
    if row is None:
        raise HTTPException(404, detail=f"no configuration version {version}")
    return VersionRead(
        version=row.version,
        at=row.at,
        author=row.author,
        source=row.source,
        rollback_of=row.rollback_of,
        changes=row.summary,
        diff=row.diff,
        configuration=row.document,
    )


@router.get(
    "/versions/{a}/diff/{b}",
    response_model=VersionDiff,
    summary="What changed from version a to version b",
    responses={404: {"description": "No such version"}},
)
def diff_versions(
    a: VersionNumber, b: VersionNumber, session: DbReader, caller: Planner
) -> VersionDiff:
    try:
        found = versions.compare(session, a, b)
    except LookupError as exc:
        raise HTTPException(404, detail=f"no configuration version {exc.args[0]}") from exc
    return VersionDiff(from_version=a, to_version=b, changes=found)


@router.post(
    "/versions/{version}/rollback",
    response_model=Written,
    summary="Make an older version the current one again (a new version, by you)",
    responses={404: {"description": "No such version"}, **CONFIRMATION_RESPONSES},
)
async def rollback(
    version: VersionNumber,
    request: Request,
    session: DbSession,
    caller: Admin,
    confirm: Confirm = False,
) -> Written:
    """The whole configuration of ``version`` is written as a new version; a rollback
    that removes a region, a busy team or many people needs ``confirm=true``."""

    def job(deadline: work.Deadline) -> Written:
        row = versions.get(session, version)
        if row is None:
            raise HTTPException(404, detail=f"no configuration version {version}")
        config = versions.config_of(row)
        written = config_writes.write(
            session,
            request,
            caller,
            config,
            action="config.rollback",
            confirm=confirm,
            rollback_of=version,
        )
        deadline.check()
        session.commit()
        return _written(session, written, rollback_of=version)

    return await work.run(job, seconds=_limit(request), what="the rollback")


def _limit(request: Request) -> float:
    seconds: float = request.app.state.samenop.settings.work_timeout_seconds
    return seconds


def _written(
    session: Any, version: int, *, rollback_of: int | None = None, region: str | None = None
) -> Written:
    row = versions.get(session, version)
    return Written(
        version=version,
        rollback_of=rollback_of,
        region=region,
        changes=row.diff if row is not None else {},
    )


@router.get(
    "/regions/{region_id}",
    response_model=None,
    summary="One region's part of the configuration (to edit and PUT back)",
    responses={404: {"description": "No such region"}},
)
def get_region(region_id: RegionId, session: DbReader, caller: Planner) -> dict[str, Any]:
    config = oncall_service.read_config(session=session)
    if all(r.id != region_id for r in config.regions):
        raise HTTPException(404, detail=f"unknown region '{region_id}'")
    data = changes.document(changes.region_slice(config, region_id))
    data["version"] = oncall_service.get_version(session=session)
    return data


def _rejected(issues: list[ConfigIssue] | tuple[ConfigIssue, ...]) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail={
            "message": "configuration rejected; nothing was changed",
            "issues": [{"path": i.path, "rule": i.message, "line": i.line} for i in issues],
        },
    )


def _parse_slice(body: bytes, is_yaml: bool, max_entries: int) -> ConfigSet:
    """JSON or YAML in the shape of a whole configuration (only the region's part),
    read like any upload (``oncall.upload``); references are checked after the merge."""
    try:
        config, _origins = load_upload(body, yaml=is_yaml, max_entries=max_entries)
    except ConfigError as exc:
        raise _rejected(exc.issues) from exc
    return config


@router.put(
    "/regions/{region_id}",
    response_model=Written,
    summary="Replace one region's part of the configuration (planners: their own regions)",
    responses={
        403: {"description": "The region, or an object in the part, is another region's"},
        404: {"description": "No such region"},
        **CONFIRMATION_RESPONSES,
    },
    openapi_extra=_SLICE_BODY,
)
async def put_region(
    region_id: RegionId,
    request: Request,
    session: DbSession,
    caller: Planner,
    confirm: Confirm = False,
) -> Written:
    """The part holds the region, its basisteams, its teams, their people, rotations,
    shifts, overrides and rules (as ``GET /config/regions/{id}`` gives them). What the
    part leaves out of the region is removed; anything of another region is refused
    (403 naming it); the merged configuration is checked as a whole (422)."""
    if not caller.plans(region_id):
        raise HTTPException(
            403, detail=f"region: '{region_id}' is outside the regions of {caller.actor}"
        )
    body = await request.body()
    is_yaml = "yaml" in request.headers.get("content-type", "")
    settings = request.app.state.samenop.settings

    def job(deadline: work.Deadline) -> Written:
        part = _parse_slice(body, is_yaml, settings.max_config_entries)
        deadline.check()
        session.get(ConfigState, 1, with_for_update=True)  # no write in between
        current = oncall_service.read_config(session=session)
        known = any(r.id == region_id for r in (*current.regions, *part.regions))
        if not known:
            raise HTTPException(404, detail=f"unknown region '{region_id}'")
        try:
            merged = changes.merge_region(current, region_id, part, caller.plans)
        except changes.Outside as exc:
            raise config_writes.outside(exc, caller) from exc
        except changes.SliceRejected as exc:
            issue = ConfigIssue(file="request", path=exc.path, message=exc.rule)
            raise _rejected([issue]) from exc
        issues = validate_references(merged)
        if issues:
            raise _rejected(issues)
        deadline.check()
        written = config_writes.write(
            session,
            request,
            caller,
            merged,
            action="config.region",
            confirm=confirm,
            region=region_id,
        )
        deadline.check()
        session.commit()
        return _written(session, written, region=region_id)

    return await work.run(job, seconds=_limit(request), what="the configuration write")

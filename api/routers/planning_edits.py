"""The planner's edits: people, rotations, shifts and overrides, one at a time, with undo.

Every write can be a dry run (``dry_run=true``) or a save, and both answer the same
way: the diff the change makes to the team's calendar (blocks added and removed over
the affected period), the rest and fairness warnings, and for a save the new
configuration version. A save with warnings needs ``accept_warnings=true`` (else 409
listing them, nothing written); the accepted warnings are recorded with the version
and in the audit row.

Speed: the change is checked against the cached snapshot of the current version (no
read of the whole configuration), its calendar diff and rest rules are computed over
the touched teams only (``oncall.edits.team_slice``), and the write touches only the
rows of the edited object (``oncall.service.write_touched``). A save does all of it in
one transaction under the configuration's write lock, so nothing can move in between;
a dry run lets go of the database before computing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.principal import Principal
from api import audit
from api.bounds import INT32_MAX, SlugPath
from api.deps import DbSession, Planner
from core.timeutil import ensure_utc
from dispatch.models import Assignment
from dispatch.states import AssignmentStatus
from oncall import calendar, changes, csv_import, edits, fairness, versions
from oncall import service as oncall_service
from oncall.models import ConfigVersion
from oncall.schemas import ConfigSet, Override, Person, Rotation, Shift
from oncall.snapshot import ConfigSnapshot

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])

DryRun = Annotated[bool, Query(description="Check and show the effect only; nothing is written")]
AcceptWarnings = Annotated[
    bool,
    Query(description="Save even with rest or fairness warnings (they are recorded)"),
]
ShiftKey = Annotated[
    str,
    Query(
        min_length=5,
        max_length=200,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}/[a-z0-9][a-z0-9_.-]{0,63}/[0-9T:+.-]{16,40}$",
        description="The shift as team/person/start (start as the calendar shows it)",
    ),
]
# Undo looks at most this many later versions for a change to the same objects.
UNDO_LOOKAHEAD = 5000

EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The object (before or after) belongs to another region"},
    404: {"description": "No such object"},
    409: {"description": "Warnings not accepted, or the id exists; nothing written"},
    422: {"description": "Invalid; the field and the rule are named"},
}


class CalendarBlock(BaseModel):
    team: str
    person: str
    name: str
    layer: str
    start: datetime
    end: datetime
    source: str
    source_id: str | None
    reachable: bool


class CalendarDiff(BaseModel):
    team: str
    start: datetime
    end: datetime
    added: list[CalendarBlock]
    removed: list[CalendarBlock]
    gaps_before: int = Field(description="Gaps in the period before the change")
    gaps_after: int = Field(description="Gaps in the period after the change")


class EditResult(BaseModel):
    dry_run: bool
    saved: bool
    version: int | None = Field(description="The new configuration version (a save)")
    based_on: int = Field(description="The version the change was checked against")
    changes: dict[str, Any] = Field(description="Per section: added, removed, changed")
    calendar: list[CalendarDiff]
    warnings: list[dict[str, Any]] = Field(description="Rest and fairness warnings (Dutch)")
    warnings_accepted: bool = False
    undo: str | None = Field(default=None, description="POST here to undo the saved change")


# --- preparing a change ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Prepared:
    version: int
    before: ConfigSet
    applied: edits.Applied
    calendar: list[CalendarDiff]
    warnings: list[dict[str, Any]]


def _block(b: calendar.Block, names: dict[str, str]) -> CalendarBlock:
    return CalendarBlock(
        team=b.team,
        person=b.person,
        name=names.get(b.person, b.person),
        layer=b.layer,
        start=b.start,
        end=b.end,
        source=b.source,
        source_id=b.source_id,
        reachable=b.reachable,
    )


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = ensure_utc(start), ensure_utc(end)
    return start, min(end, start + calendar.MAX_SPAN)


def calendar_diff(
    before: ConfigSnapshot,
    after: ConfigSnapshot,
    teams: Iterable[str],
    start: datetime,
    end: datetime,
) -> list[CalendarDiff]:
    """Blocks added and removed per team over [start, end) (at most 92 days)."""
    start, end = _window(start, end)
    names = {p.id: p.name for p in (*before.config.people, *after.config.people)}
    out = []
    for team in teams:
        if team not in before.teams and team not in after.teams:
            continue
        old = calendar.team_calendar(before, team, start, end) if team in before.teams else None
        new = calendar.team_calendar(after, team, start, end) if team in after.teams else None
        old_blocks = set(old.blocks if old else ())
        new_blocks = set(new.blocks if new else ())
        out.append(
            CalendarDiff(
                team=team,
                start=start,
                end=end,
                added=[_block(b, names) for b in sorted(new_blocks - old_blocks, key=_order)],
                removed=[_block(b, names) for b in sorted(old_blocks - new_blocks, key=_order)],
                gaps_before=len(old.gaps) if old else 0,
                gaps_after=len(new.gaps) if new else 0,
            )
        )
    return out


def _order(b: calendar.Block) -> tuple[datetime, str, str]:
    return (b.start, b.layer, b.person)


def fairness_warnings(
    before: ConfigSnapshot,
    after: ConfigSnapshot,
    teams: Iterable[str],
    start: datetime,
    end: datetime,
    callouts: Sequence[tuple[str, datetime]] = (),
) -> list[dict[str, Any]]:
    """The breaches of the teams' rest and fairness rules that the change introduces."""
    start, end = _window(start, end)
    out: list[dict[str, Any]] = []
    for team in teams:
        if team not in after.teams or team not in before.teams:
            continue
        for breach in fairness.check(before, after, team, start, end, callouts):
            out.append(
                {
                    "code": breach.code,
                    "team": breach.team,
                    "person": breach.person,
                    "rule": breach.rule,
                    "text": breach.text,
                    "start": breach.start.isoformat() if breach.start else None,
                }
            )
    return out


def prepare(
    config: ConfigSet,
    version: int,
    applied: edits.Applied,
    callouts: Sequence[tuple[str, datetime]],
) -> Prepared:
    teams = applied.teams
    before = ConfigSnapshot(edits.team_slice(config, teams), version)
    after = ConfigSnapshot(edits.team_slice(applied.config, teams), version + 1)
    diff = calendar_diff(before, after, teams, applied.start, applied.end)
    warnings = fairness_warnings(before, after, teams, applied.start, applied.end, callouts)
    return Prepared(version, config, applied, diff, warnings)


def night_callouts(
    session: Session, teams: Iterable[str], start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """Accepted call-outs of the teams' people around the period (the rest rule after a
    night call-out looks back at them)."""
    lo = ensure_utc(start) - fairness.FOUR_WEEKS
    hi = ensure_utc(end) + timedelta(days=1)
    rows = session.execute(
        select(Assignment.person_id, Assignment.answered_at).where(
            Assignment.team_id.in_(list(teams)),
            Assignment.status == AssignmentStatus.ACCEPTED.value,
            Assignment.person_id.is_not(None),
            Assignment.answered_at >= lo,
            Assignment.answered_at < hi,
        )
    )
    return [
        (str(p), at) for p, at in rows if p is not None and at is not None and fairness.is_night(at)
    ]


def _rejected(exc: edits.EditRejected) -> HTTPException:
    code = exc.status
    if code == 422 and exc.field == "id" and "already exists" in exc.rule:
        code = 409
    return HTTPException(
        code,
        detail={
            "message": f"{exc}; nothing was changed",
            "errors": [{"field": exc.field, "rule": exc.rule}],
        },
    )


def check_regions(caller: Principal, before: ConfigSet, applied: edits.Applied) -> str | None:
    """403 when any touched object is (or becomes) another region's; the region to
    record in the audit row otherwise."""
    owners = edits.owners(before, applied.config, applied.touched)
    for owner in sorted(owners, key=lambda o: (o is None, o or "")):
        if owner is None and caller.role.value != "admin":
            raise HTTPException(
                403,
                detail="an object outside every region (national) is changed by an admin only; "
                "nothing was changed",
            )
        if owner is not None and not caller.plans(owner):
            raise HTTPException(
                403,
                detail=f"region: '{owner}' is outside the regions of {caller.actor}; "
                "nothing was changed",
            )
    regions = sorted(o for o in owners if o is not None)
    return regions[0] if regions else None


def _current(request: Request, session: Session) -> ConfigSnapshot:
    snapshot: ConfigSnapshot = request.app.state.samenop.snapshots.get(session=session)
    return snapshot


def run_edit(
    request: Request,
    session: Session,
    caller: Principal,
    edit_of: Callable[[ConfigSet], edits.Applied],
    *,
    action: str,
    object_type: str,
    dry_run: bool,
    accept_warnings: bool,
    undo_of: int | None = None,
    locked_check: Callable[[Session], None] | None = None,
) -> EditResult:
    """Check, show and (unless a dry run) save one change; see the module docstring."""
    state = request.app.state.samenop

    def prepared_on(snapshot: ConfigSnapshot, reading: Session) -> Prepared:
        try:
            applied = edit_of(snapshot.config)
        except edits.EditRejected as exc:
            raise _rejected(exc) from exc
        callouts = night_callouts(reading, applied.teams, applied.start, applied.end)
        return prepare(snapshot.config, snapshot.version, applied, callouts)

    # Prepared on the current version without the database's write lock (on SQLite the
    # incidents queue for it), then checked under the lock: when another save came in
    # between, it is prepared again on what that one wrote.
    with state.readers() as reading:
        snapshot = state.snapshots.get(session=reading)
        prepared = prepared_on(snapshot, reading)
    if not dry_run:
        locked = oncall_service.lock_state(session=session)
        if locked != snapshot.version:
            snapshot = _current(request, session)
            if snapshot.version != locked:  # the cache lags another process
                config = oncall_service.read_config(session=session)
                snapshot = ConfigSnapshot(config, locked)
            prepared = prepared_on(snapshot, session)
    region = check_regions(caller, prepared.before, prepared.applied)
    diff = edits.diff_of(prepared.applied.touched)
    result = EditResult(
        dry_run=dry_run,
        saved=False,
        version=None,
        based_on=prepared.version,
        changes=diff,
        calendar=prepared.calendar,
        warnings=prepared.warnings,
    )
    if dry_run or not prepared.applied.touched:
        session.rollback()
        return result
    if prepared.warnings and not accept_warnings:
        raise HTTPException(
            409,
            detail={
                "message": "the change breaks rest or fairness rules; nothing was changed. "
                "Send it again with accept_warnings=true to save it anyway.",
                "error": "warnings_not_accepted",
                "errors": [
                    {"field": f"warnings[{i}]", "rule": w["text"], "type": w["code"]}
                    for i, w in enumerate(prepared.warnings)
                ],
            },
        )
    if locked_check is not None:
        locked_check(session)  # what must still hold, now that nothing can move
    source = f"planner by {caller.actor}"
    if prepared.warnings:
        rules = sorted({str(w["code"]) for w in prepared.warnings})
        source += f"; warnings accepted: {', '.join(rules)}"
    if undo_of is not None:
        source += f"; undo of version {undo_of}"
    version, document = oncall_service.write_touched(
        session=session,
        previous=prepared.before,
        previous_version=prepared.version,
        current=prepared.applied.config,
        touched=prepared.applied.touched,
        diff=diff,
        now=state.clock.now(),
        source=source,
        author=caller.actor,
    )
    detail: dict[str, Any] = {
        "version": version,
        "changes": changes.summary(diff),
        "objects": prepared.applied.keys,
    }
    if undo_of is not None:
        detail["undo_of"] = undo_of
    if prepared.warnings:
        detail["warnings_accepted"] = prepared.warnings
    key = next(iter(next(iter(prepared.applied.keys.values()), [])), "")
    audit.note(session, request, caller, action, object_type, key, detail, region=region)
    base, config = snapshot, prepared.applied.config
    changed = edits.changed_teams(prepared.applied.touched)
    with state.snapshots.committing(version, lambda: base.evolved(config, version, changed)):
        session.commit()
        oncall_service.DOCUMENTS.put(version, prepared.applied.config, document)
    return result.model_copy(
        update={
            "saved": True,
            "version": version,
            "warnings_accepted": bool(prepared.warnings),
            "undo": f"/api/v1/planning/changes/{version}/undo",
        }
    )


def _edit(
    section: str, op: edits.Op, key: str | None, value: BaseModel | None, now: datetime
) -> Callable[[ConfigSet], edits.Applied]:
    def edit_of(config: ConfigSet) -> edits.Applied:
        return edits.apply(config, edits.Edit(section, op, key, value), now=now)

    return edit_of


def _save(
    request: Request,
    session: Session,
    caller: Principal,
    section: str,
    op: edits.Op,
    key: str | None,
    value: BaseModel | None,
    dry_run: bool,
    accept_warnings: bool,
) -> EditResult:
    now = request.app.state.samenop.clock.now()
    singular = {"people": "person", "rotations": "rotation", "shifts": "shift"}.get(
        section, "override"
    )
    return run_edit(
        request,
        session,
        caller,
        _edit(section, op, key, value, now),
        action=f"planning.{singular}.{op.value}",
        object_type=singular,
        dry_run=dry_run,
        accept_warnings=accept_warnings,
    )


def _same_key(path_id: str, value: BaseModel) -> None:
    if getattr(value, "id", path_id) != path_id:
        raise HTTPException(
            422,
            detail={
                "message": "id: differs from the id in the path; nothing was changed",
                "errors": [{"field": "id", "rule": "must equal the id in the path"}],
            },
        )


# --- people ----------------------------------------------------------------------------


class PersonIn(Person):
    """A person as the API takes one: ``active`` is true or false only (0 is not false)."""

    active: StrictBool = True

    def person(self) -> Person:
        return Person.model_validate(self.model_dump())


@router.post("/people", response_model=EditResult, responses=EDIT_RESPONSES, summary="Add a person")
def create_person(
    person: PersonIn,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "people",
        edits.Op.CREATE,
        None,
        person.person(),
        dry_run,
        accept_warnings,
    )


@router.put(
    "/people/{person_id}",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Change a person (name, phones, active, teams and roles)",
)
def update_person(
    person_id: SlugPath,
    person: PersonIn,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    _same_key(person_id, person)
    return _save(
        request,
        session,
        caller,
        "people",
        edits.Op.UPDATE,
        person_id,
        person.person(),
        dry_run,
        accept_warnings,
    )


@router.delete(
    "/people/{person_id}",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Remove a person",
)
def delete_person(
    person_id: SlugPath,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "people",
        edits.Op.DELETE,
        person_id,
        None,
        dry_run,
        accept_warnings,
    )


# --- rotations -------------------------------------------------------------------------


@router.post(
    "/rotations", response_model=EditResult, responses=EDIT_RESPONSES, summary="Add a rotation"
)
def create_rotation(
    rotation: Rotation,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "rotations",
        edits.Op.CREATE,
        None,
        rotation,
        dry_run,
        accept_warnings,
    )


@router.put(
    "/rotations/{rotation_id}",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Change a rotation",
)
def update_rotation(
    rotation_id: SlugPath,
    rotation: Rotation,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    _same_key(rotation_id, rotation)
    return _save(
        request,
        session,
        caller,
        "rotations",
        edits.Op.UPDATE,
        rotation_id,
        rotation,
        dry_run,
        accept_warnings,
    )


@router.delete(
    "/rotations/{rotation_id}",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Remove a rotation",
)
def delete_rotation(
    rotation_id: SlugPath,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "rotations",
        edits.Op.DELETE,
        rotation_id,
        None,
        dry_run,
        accept_warnings,
    )


# --- explicit shifts (named team/person/start) ------------------------------------------


@router.post(
    "/shifts", response_model=EditResult, responses=EDIT_RESPONSES, summary="Add an explicit shift"
)
def create_shift(
    shift: Shift,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request, session, caller, "shifts", edits.Op.CREATE, None, shift, dry_run, accept_warnings
    )


@router.put(
    "/shifts",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Change an explicit shift (named by key=team/person/start)",
)
def update_shift(
    key: ShiftKey,
    shift: Shift,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "shifts",
        edits.Op.UPDATE,
        _shift_key(key),
        shift,
        dry_run,
        accept_warnings,
    )


@router.delete(
    "/shifts",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Remove an explicit shift (named by key=team/person/start)",
)
def delete_shift(
    key: ShiftKey,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "shifts",
        edits.Op.DELETE,
        _shift_key(key),
        None,
        dry_run,
        accept_warnings,
    )


def _shift_key(key: str) -> str:
    """The key as ``oncall.changes.key_of`` writes it (start as Amsterdam time with its
    offset), whatever offset the caller wrote the same instant with."""
    team, person, start = key.split("/", 2)
    try:
        instant = datetime.fromisoformat(start)
    except ValueError as exc:
        raise HTTPException(
            422,
            detail={
                "message": "key: the start is not an ISO date-time",
                "errors": [{"field": "key", "rule": "team/person/start with an ISO start"}],
            },
        ) from exc
    shift = Shift(team=team, person=person, start=instant, end=instant + timedelta(minutes=1))
    return edits.key_of("shifts", shift)


# --- overrides -------------------------------------------------------------------------


@router.post(
    "/overrides",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Add an override (replace, add or remove someone for an interval)",
)
def create_override(
    override: Override,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "overrides",
        edits.Op.CREATE,
        None,
        override,
        dry_run,
        accept_warnings,
    )


@router.put(
    "/overrides/{override_id}",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Change an override",
)
def update_override(
    override_id: SlugPath,
    override: Override,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    _same_key(override_id, override)
    return _save(
        request,
        session,
        caller,
        "overrides",
        edits.Op.UPDATE,
        override_id,
        override,
        dry_run,
        accept_warnings,
    )


@router.delete(
    "/overrides/{override_id}",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Remove an override",
)
def delete_override(
    override_id: SlugPath,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    return _save(
        request,
        session,
        caller,
        "overrides",
        edits.Op.DELETE,
        override_id,
        None,
        dry_run,
        accept_warnings,
    )


# --- undo ------------------------------------------------------------------------------


def _undo_of(
    session: Session, version: int, now: datetime
) -> tuple[Callable[[ConfigSet], edits.Applied], dict[str, set[str]]]:
    """What undoing ``version`` touches: read before the change is prepared (the stored
    versions never change once written)."""
    row = versions.get(session, version)
    if row is None:
        raise HTTPException(404, detail=f"no configuration version {version}")
    undone = edits.diff_keys(row.diff)
    if not undone:
        raise HTTPException(422, detail=f"version {version} changed nothing to undo")
    unsupported = sorted(set(undone) - oncall_service.INCREMENTAL_SECTIONS)
    if unsupported:
        raise HTTPException(
            422,
            detail={
                "message": f"version {version} changed {', '.join(unsupported)}: roll back the "
                "whole configuration instead (POST /api/v1/config/versions/{n}/rollback)",
                "errors": [{"field": "version", "rule": "only planner changes can be undone"}],
            },
        )
    previous = versions.get(session, version - 1) if version > 1 else None
    previous_doc: dict[str, Any] = previous.document if previous is not None else {}
    changed_since(session, version, undone)

    def edit_of(config: ConfigSet) -> edits.Applied:
        touched = edits.revert(config, undone, previous_doc)
        return edits.applied(config, touched, now)

    return edit_of, undone


def changed_since(session: Session, version: int, undone: dict[str, set[str]]) -> None:
    """409 naming the later versions that changed any object ``version`` changed."""
    later = list(
        session.execute(
            select(ConfigVersion.version, ConfigVersion.diff)
            .where(ConfigVersion.version > version)
            .order_by(ConfigVersion.version)
            .limit(UNDO_LOOKAHEAD)
        )
    )
    clash = edits.conflicts(undone, [(v, d) for v, d in later])
    if clash:
        named = "; ".join(
            f"version {c['version']}: "
            + ", ".join(f"{s} {', '.join(k)}" for s, k in c["objects"].items())
            for c in clash
        )
        raise HTTPException(
            409,
            detail={
                "message": f"changed again since version {version} ({named}); nothing was changed",
                "error": "changed_since",
                "errors": [
                    {
                        "field": f"version {c['version']}",
                        "rule": "; ".join(f"{s} {', '.join(k)}" for s, k in c["objects"].items()),
                        "type": "changed_since",
                    }
                    for c in clash
                ],
            },
        )


@router.post(
    "/changes/{version}/undo",
    response_model=EditResult,
    responses=EDIT_RESPONSES,
    summary="Undo one saved change (a new version), if nothing later changed the same objects",
)
def undo_change(
    version: Annotated[int, PathParam(ge=1, le=INT32_MAX, description="The version to undo")],
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = False,
    accept_warnings: AcceptWarnings = False,
) -> EditResult:
    edit_of, undone = _undo_of(session, version, request.app.state.samenop.clock.now())
    return run_edit(
        request,
        session,
        caller,
        edit_of,
        action="planning.undo",
        object_type="config_version",
        dry_run=dry_run,
        accept_warnings=accept_warnings,
        undo_of=version,
        locked_check=lambda locked: changed_since(locked, version, undone),
    )


# --- CSV import ------------------------------------------------------------------------


class ImportError_(BaseModel):
    row: int = Field(description="Line in the file (the header is 1; 0: the file itself)")
    column: str = Field(description="The column as the file names it (Dutch)")
    field: str = Field(description="The field it fills (English)")
    rule: str
    regel: str = Field(description="The rule in Dutch")


class ImportResult(EditResult):
    team: str
    errors: list[ImportError_]
    counts: dict[str, int]


_CSV_BODY = {"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.post(
    "/teams/{team}/import",
    response_model=ImportResult,
    responses={
        **EDIT_RESPONSES,
        413: {"description": "The file is larger than the limit"},
    },
    summary="Import a team's roster from CSV (persoon;begin;eind;laag[;telefoon;naam])",
    openapi_extra=_CSV_BODY,
)
async def import_roster(
    team: SlugPath,
    request: Request,
    session: DbSession,
    caller: Planner,
    dry_run: DryRun = True,
    accept_warnings: AcceptWarnings = False,
) -> ImportResult:
    """Every row is checked; the dry run (the default) lists every error as row, column
    and rule and shows the calendar diff of the rows that are fine. A save happens only
    without errors, as one version (new people and shifts together)."""
    body = await request.body()
    if len(body) > csv_import.MAX_BYTES:
        raise HTTPException(413, detail=f"body: larger than {csv_import.MAX_BYTES // 1024} KiB")
    return await asyncio.to_thread(
        _import, team, body, request, session, caller, dry_run, accept_warnings
    )


def _import(
    team: str,
    body: bytes,
    request: Request,
    session: Session,
    caller: Principal,
    dry_run: bool,
    accept_warnings: bool,
) -> ImportResult:
    snapshot = _current(request, session)
    if team not in snapshot.teams:
        raise HTTPException(404, detail=f"unknown team '{team}'")
    region = snapshot.teams[team].region
    if region is None and caller.role.value != "admin":
        raise HTTPException(403, detail=f"team: '{team}' is national; an admin imports it")
    if region is not None and not caller.plans(region):
        raise HTTPException(403, detail=f"team: '{team}' is outside the regions of {caller.actor}")
    now = request.app.state.samenop.clock.now()
    found: list[csv_import.ImportPlan] = []

    def edit_of(config: ConfigSet) -> edits.Applied:
        plan = csv_import.plan_import(config, team, body)
        found.append(plan)
        if plan.errors and not dry_run:
            first = plan.errors[0]
            raise edits.EditRejected(
                f"row {first.row}: {first.column}", f"{first.rule} ({len(plan.errors)} errors)"
            )
        return edits.applied(config, tuple(plan.touched), now)

    try:
        result = run_edit(
            request,
            session,
            caller,
            edit_of,
            action="planning.import",
            object_type="team",
            dry_run=dry_run,
            accept_warnings=accept_warnings,
        )
    except HTTPException as exc:
        if exc.status_code == 422 and found and found[-1].errors:
            raise HTTPException(
                422,
                detail={
                    "message": f"{len(found[-1].errors)} errors in the file; nothing was saved",
                    "errors": [
                        {"field": f"row {e.row}: {e.column} ({e.field})", "rule": e.rule}
                        for e in found[-1].errors
                    ],
                },
            ) from exc
        raise
    plan = found[-1]
    return ImportResult(
        **result.model_dump(),
        team=team,
        errors=[ImportError_(**e.as_dict()) for e in plan.errors],
        counts=plan.counts(),
    )

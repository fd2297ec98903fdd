"""Shift swaps (``/api/v1/swaps``) and the worker's shifts page (``/shifts``, and
``/s/{token}`` from a link in a roster SMS).

A worker (an account with role ``worker`` linked to a person) offers a period of their
own on-call block, takes a colleague's offer in their team, or withdraws their offer;
a planner approves or refuses a swap of their regions where the team wants that, and
sees what nobody took. The transitions are ``dispatch.swaps``; here are who may do
what, the audit rows (same transaction), and the wake-up of the SMS they made.

Scope: a worker sees the offers of their own teams and their own swaps; a planner the
swaps of their regions. A swap outside the caller's sight answers 404; a planner's
approval of another region's swap 403.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.models import Account
from access.principal import Principal, Role
from api import audit, auth, config_writes
from api.bounds import LinkToken
from api.deps import AppClock, DbReader, DbSession, Planner, Snapshot, State
from api.errors import InvalidInput
from api.routers.pages import Viewer, templates
from core import texts
from dispatch import roster_sms, swaps
from dispatch.roster_models import RosterMessage, Swap
from dispatch.swaps import SwapRefused
from oncall import calendar
from oncall.schemas import parse_local_datetime
from oncall.snapshot import ConfigSnapshot

router = APIRouter(prefix="/api/v1/swaps", tags=["swaps"])
pages = APIRouter(include_in_schema=False)

SwapId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Swap id")]
SwapReader = Annotated[Principal, auth.allow(Role.WORKER, Role.PLANNER)]
WorkerOnly = Annotated[Principal, auth.allow(Role.WORKER)]
SHIFT_DAYS = 28  # the shifts page looks this far ahead
LIST_MAX = 200

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such swap (or not yours to see), or no person linked"},
    409: {"description": "The swap's state or the roster does not allow it (why, in Dutch)"},
}


class OfferIn(BaseModel):
    team: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    layer: Literal["primary", "backup"] = "primary"
    start: datetime = Field(description="Whole quarter hour; without offset: Amsterdam time")
    end: datetime = Field(description="Whole quarter hour, at most 14 days after start")
    note: str | None = Field(default=None, max_length=200)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _local(cls, value: object) -> object:
        if isinstance(value, str) and len(value) > 40:
            raise ValueError("at most 40 characters")
        return parse_local_datetime(value)


class RefuseIn(BaseModel):
    reason: str | None = Field(default=None, max_length=200)


class SwapRead(BaseModel):
    id: int
    team: str
    team_name: str
    region: str | None
    layer: str
    start: datetime
    end: datetime
    offerer: str
    offerer_name: str
    taker: str | None
    taker_name: str | None
    state: str
    state_nl: str
    needs_approval: bool
    expires_at: datetime
    override_id: str | None
    config_version: int | None
    note: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


def read(snapshot: ConfigSnapshot, swap: Swap) -> SwapRead:
    def name(person: str | None) -> str | None:
        row = snapshot.people.get(person or "")
        return row.name if row is not None else person

    team = snapshot.teams.get(swap.team_id)
    return SwapRead(
        id=swap.id,
        team=swap.team_id,
        team_name=team.name if team is not None else swap.team_id,
        region=swap.region_id,
        layer=swap.layer,
        start=swap.start,
        end=swap.end,
        offerer=swap.offerer_id,
        offerer_name=name(swap.offerer_id) or swap.offerer_id,
        taker=swap.taker_id,
        taker_name=name(swap.taker_id),
        state=swap.state,
        state_nl=texts.SWAP_STATE_NL.get(swap.state, swap.state),
        needs_approval=swap.needs_approval,
        expires_at=swap.expires_at,
        override_id=swap.override_id,
        config_version=swap.config_version,
        note=swap.note,
        reason=swap.reason,
        created_at=swap.created_at,
        updated_at=swap.updated_at,
    )


# --- who is asking -----------------------------------------------------------------------


def person_of(session: Session, caller: Principal) -> str:
    """The person on the roster a worker account stands for (404 when none)."""
    account = session.get(Account, caller.account_id) if caller.account_id else None
    if account is None or account.person_id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="this account is not linked to a person on a roster"
        )
    return account.person_id


def teams_of(snapshot: ConfigSnapshot, person: str) -> set[str]:
    row = snapshot.people.get(person)
    return {m.team for m in row.memberships} if row is not None else set()


def planner_regions(caller: Principal) -> set[str] | None:
    return None if caller.role is Role.ADMIN or caller.regions is None else set(caller.regions)


def refused(exc: SwapRefused) -> Exception:
    """422 naming the field when the input is at fault (as request validation answers);
    409 when the swap's state or the roster refuses it."""
    if exc.field is not None:
        return InvalidInput(exc.field, exc.detail, exc.code)
    return HTTPException(
        status.HTTP_409_CONFLICT, detail={"message": exc.detail, "error": exc.code}
    )


def visible(session: Session, snapshot: ConfigSnapshot, caller: Principal, swap_id: int) -> Swap:
    """The swap, if the caller may see it: a planner's regions, a worker's teams."""
    swap = session.get(Swap, swap_id)
    if swap is not None:
        if caller.role is Role.WORKER:
            person = person_of(session, caller)
            mine = person in (swap.offerer_id, swap.taker_id)
            if mine or swap.team_id in teams_of(snapshot, person):
                return swap
        else:
            regions = planner_regions(caller)
            if regions is None or swap.region_id in regions:
                return swap
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no swap {swap_id}")


def planners_to_tell(
    session: Session, snapshot: ConfigSnapshot, region: str | None
) -> list[swaps.Recipient]:
    """The region's planners with a phone on the roster (for a swap to approve)."""
    out = []
    rows = session.scalars(
        select(Account).where(
            Account.role == Role.PLANNER.value,
            Account.active.is_(True),
            Account.person_id.is_not(None),
        )
    )
    for account in rows:
        if account.regions is not None and region not in account.regions:
            continue
        phone = swaps.reachable(snapshot, account.person_id or "")
        if phone is not None:
            out.append(swaps.Recipient(account.username, phone))
    return out


def snapshot_region(snapshot: ConfigSnapshot, team: str) -> str | None:
    row = snapshot.teams.get(team)
    return row.region if row is not None else None


def _wake(state: Any, session: Session, swap_id: int) -> None:
    roster_sms.wake(state.paging, roster_sms.ids_of_swap(session, swap_id))


def _note(session: Session, request: Request, caller: Principal, action: str, swap: Swap) -> None:
    audit.note(
        session,
        request,
        caller,
        action,
        "swap",
        str(swap.id),
        {"state": swap.state, "team": swap.team_id},
        region=swap.region_id,
    )
    if swap.state == "done" and swap.override_id and swap.config_version:
        config_writes.noted_override(
            session,
            request,
            caller,
            "override.create",
            swap.override_id,
            swap.config_version,
            team=swap.team_id,
            region=swap.region_id,
        )


# --- transitions, shared by the API and the link ---------------------------------------------


def do_offer(
    session: Session,
    request: Request,
    state: Any,
    snapshot: ConfigSnapshot,
    caller: Principal,
    person: str,
    body: OfferIn,
) -> tuple[Swap, bool]:
    now = state.clock.now()
    try:
        swap, created = swaps.offer(
            session,
            snapshot,
            person=person,
            team=body.team,
            layer=body.layer,
            start=body.start,
            end=body.end,
            now=now,
            actor=caller.actor,
            note=body.note,
            planners=planners_to_tell(session, snapshot, snapshot_region(snapshot, body.team)),
        )
    except SwapRefused as exc:
        session.rollback()
        raise refused(exc) from exc
    if created:
        _note(session, request, caller, "swap.offer", swap)
    session.commit()
    _wake(state, session, swap.id)
    return swap, created


def do_take(
    session: Session,
    request: Request,
    state: Any,
    snapshot: ConfigSnapshot,
    caller: Principal,
    person: str,
    swap_id: int,
) -> Swap:
    existing = session.get(Swap, swap_id)
    region = existing.region_id if existing is not None else None
    try:
        before = existing.state if existing is not None else None
        swap = swaps.take(
            session,
            snapshot,
            swap_id,
            person=person,
            now=state.clock.now(),
            actor=caller.actor,
            planners=planners_to_tell(session, snapshot, region),
        )
    except SwapRefused as exc:
        session.rollback()
        raise refused(exc) from exc
    if swap.state != before:
        _note(session, request, caller, "swap.take", swap)
    session.commit()
    _wake(state, session, swap.id)
    return swap


def do_cancel(
    session: Session, request: Request, state: Any, caller: Principal, person: str, swap_id: int
) -> Swap:
    try:
        swap, moved = swaps.cancel(session, swap_id, person=person, now=state.clock.now())
    except SwapRefused as exc:
        session.rollback()
        raise refused(exc) from exc
    if moved:
        snapshot = state.snapshots.get(session=session)
        swaps.cancelled(session, snapshot, swap, state.clock.now())
        _note(session, request, caller, "swap.cancel", swap)
    session.commit()
    _wake(state, session, swap.id)
    return swap


# --- the API -------------------------------------------------------------------------------


@router.get("", response_model=list[SwapRead], summary="Swaps a worker or planner may see")
def list_swaps(
    caller: SwapReader,
    session: DbReader,
    snapshot: Snapshot,
    clock: AppClock,
    state_: Annotated[
        list[Literal["offered", "taken", "approved", "refused", "done", "cancelled", "expired"]]
        | None,
        Query(alias="state", max_length=7, description="Only these states"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_MAX)] = 100,
) -> list[SwapRead]:
    """A worker: the open offers of their teams and their own swaps. A planner: every
    swap of their regions whose period has not ended."""
    now = clock.now()
    if caller.role is Role.WORKER:
        person = person_of(session, caller)
        open_offers = swaps.listing(
            session, teams=teams_of(snapshot, person), states=["offered"], since=now, limit=limit
        )
        own = swaps.listing(session, person=person, since=now - timedelta(days=7), limit=limit)
        found = {s.id: s for s in [*open_offers, *own]}
        rows = sorted(found.values(), key=lambda s: (s.start, s.id))
        if state_:
            rows = [s for s in rows if s.state in state_]
        return [read(snapshot, s) for s in rows[:limit]]
    rows = swaps.listing(
        session, regions=planner_regions(caller), states=state_, since=now, limit=limit
    )
    return [read(snapshot, s) for s in rows]


class ProblemRead(BaseModel):
    swap: SwapRead
    label: str


@router.get(
    "/problems",
    response_model=list[ProblemRead],
    summary="Swaps a planner must act on: offers nobody took, swaps waiting for approval",
)
def problems(
    caller: Planner,
    session: DbReader,
    snapshot: Snapshot,
    clock: AppClock,
    region: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] = None,
) -> list[ProblemRead]:
    regions = planner_regions(caller)
    if region is not None and regions is not None and region not in regions:
        raise auth.denied(caller, f"region: '{region}'")
    wanted = (
        [region] if region is not None else (sorted(regions) if regions is not None else [None])
    )
    out = []
    for r in wanted:
        for problem in swaps.open_problems(session, r, clock.now()):
            swap = session.get(Swap, problem.swap_id)
            if swap is not None:
                out.append(ProblemRead(swap=read(snapshot, swap), label=problem.label))
    return out


@router.post(
    "",
    response_model=SwapRead,
    status_code=201,
    summary="Offer a period of one of your own shifts (a retry returns the same offer, 200)",
    responses={**RESPONSES, 200: {"description": "This offer was already made"}},
)
def offer(
    body: OfferIn,
    request: Request,
    response: Response,
    caller: WorkerOnly,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
) -> SwapRead:
    person = person_of(session, caller)
    swap, created = do_offer(session, request, state, snapshot, caller, person, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return read(snapshot, swap)


@router.post(
    "/{swap_id}/take", response_model=SwapRead, responses=RESPONSES, summary="Take an offer"
)
def take(
    swap_id: SwapId,
    request: Request,
    caller: WorkerOnly,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
) -> SwapRead:
    person = person_of(session, caller)
    visible(session, snapshot, caller, swap_id)
    swap = do_take(session, request, state, snapshot, caller, person, swap_id)
    return read(state.snapshots.get(session=session), swap)


@router.post(
    "/{swap_id}/cancel", response_model=SwapRead, responses=RESPONSES, summary="Withdraw your offer"
)
def cancel(
    swap_id: SwapId,
    request: Request,
    caller: WorkerOnly,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
) -> SwapRead:
    person = person_of(session, caller)
    visible(session, snapshot, caller, swap_id)
    return read(snapshot, do_cancel(session, request, state, caller, person, swap_id))


def _planned(session: Session, snapshot: ConfigSnapshot, caller: Principal, swap_id: int) -> Swap:
    """A swap the planner may decide: 404 when unknown, 403 outside their regions."""
    swap = session.get(Swap, swap_id)
    if swap is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no swap {swap_id}")
    if not caller.plans(swap.region_id or ""):
        raise auth.denied(caller, f"swap {swap_id} of team '{swap.team_id}'")
    return swap


@router.post(
    "/{swap_id}/approve",
    response_model=SwapRead,
    responses={**RESPONSES, 403: {"description": "Another region's swap"}},
    summary="Approve a swap that waits for a planner: the roster changes now",
)
def approve(
    swap_id: SwapId,
    request: Request,
    caller: Planner,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
) -> SwapRead:
    _planned(session, snapshot, caller, swap_id)
    try:
        swap, moved = swaps.approve(
            session, snapshot, swap_id, now=state.clock.now(), actor=caller.actor
        )
    except SwapRefused as exc:
        session.rollback()
        raise refused(exc) from exc
    if moved:
        _note(session, request, caller, "swap.approve", swap)
    session.commit()
    _wake(state, session, swap.id)
    return read(state.snapshots.get(session=session), swap)


@router.post(
    "/{swap_id}/refuse",
    response_model=SwapRead,
    responses={**RESPONSES, 403: {"description": "Another region's swap"}},
    summary="Refuse a swap that waits for a planner: the roster stays",
)
def refuse(
    swap_id: SwapId,
    request: Request,
    caller: Planner,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
    body: RefuseIn | None = None,
) -> SwapRead:
    _planned(session, snapshot, caller, swap_id)
    try:
        swap, moved = swaps.refuse(
            session,
            snapshot,
            swap_id,
            now=state.clock.now(),
            actor=caller.actor,
            reason=body.reason if body is not None else None,
        )
    except SwapRefused as exc:
        session.rollback()
        raise refused(exc) from exc
    if moved:
        _note(session, request, caller, "swap.refuse", swap)
    session.commit()
    _wake(state, session, swap.id)
    return read(snapshot, swap)


# --- the link in a roster SMS ----------------------------------------------------------------

link_router = APIRouter(
    prefix="/api/v1/swaps/link/{token}",
    tags=["swaps"],
    dependencies=[auth.public("the signed, expiring link in a roster SMS is the credential")],
)


def link_person(state: Any, session: Session, token: str) -> tuple[str, RosterMessage]:
    """The person a roster link was sent to (404 for a bad or expired link)."""
    try:
        message_id = roster_sms.verify(token, state.clock.now(), state.settings.link_secret)
    except roster_sms.RosterLinkInvalid as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown or expired link") from exc
    message = session.get(RosterMessage, message_id)
    if message is None or message.person_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown or expired link")
    return message.person_id, message


def link_principal(person: str) -> Principal:
    return Principal(kind="link", name=f"person:{person}", role=Role.WORKER)


@link_router.post(
    "/offer",
    response_model=SwapRead,
    status_code=201,
    responses={**RESPONSES, 200: {"description": "This offer was already made"}},
    summary="Offer a period of your shift from the link in a roster SMS",
)
def link_offer(
    token: LinkToken,
    body: OfferIn,
    request: Request,
    response: Response,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
) -> SwapRead:
    person, _ = link_person(state, session, token)
    caller = link_principal(person)
    swap, created = do_offer(session, request, state, snapshot, caller, person, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return read(snapshot, swap)


@link_router.post(
    "/take/{swap_id}",
    response_model=SwapRead,
    responses=RESPONSES,
    summary="Take a colleague's offer from the link in a roster SMS",
)
def link_take(
    token: LinkToken,
    swap_id: SwapId,
    request: Request,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
) -> SwapRead:
    person, _ = link_person(state, session, token)
    swap = session.get(Swap, swap_id)
    if swap is None or swap.team_id not in teams_of(snapshot, person):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no swap {swap_id}")
    taken = do_take(session, request, state, snapshot, link_principal(person), person, swap_id)
    return read(state.snapshots.get(session=session), taken)


@link_router.post(
    "/cancel/{swap_id}",
    response_model=SwapRead,
    responses=RESPONSES,
    summary="Withdraw your offer from the link in a roster SMS",
)
def link_cancel(
    token: LinkToken,
    swap_id: SwapId,
    request: Request,
    session: DbSession,
    state: State,
) -> SwapRead:
    person, _ = link_person(state, session, token)
    swap = session.get(Swap, swap_id)
    if swap is None or swap.offerer_id != person:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no swap {swap_id}")
    snapshot = state.snapshots.get(session=session)
    return read(
        snapshot, do_cancel(session, request, state, link_principal(person), person, swap_id)
    )


# --- the shifts page -----------------------------------------------------------------------


def page_data(
    session: Session, snapshot: ConfigSnapshot, person: str, now: datetime, base: str
) -> dict[str, Any]:
    """What the page shows: the person's blocks (28 days), their team's open offers,
    their own swaps; ``base`` is where the page posts (the API or the link)."""
    # An ongoing block can be offered from the next quarter hour on.
    soon = now.replace(second=0, microsecond=0) + timedelta(minutes=15 - now.minute % 15)
    periods = calendar.person_blocks(snapshot, person, soon, soon + timedelta(days=SHIFT_DAYS))
    teams = teams_of(snapshot, person)
    offers = swaps.listing(session, teams=teams, states=["offered"], since=now, limit=LIST_MAX)
    own = swaps.listing(session, person=person, since=now - timedelta(days=7), limit=LIST_MAX)
    return {
        "base": base,
        "person": person,
        "labels": {
            **texts.SHIFTS_PAGE_NL,
            "layer": texts.LAYER_NL,
            "refused": texts.SWAP_REFUSED_NL,
        },
        "shifts": [
            {
                "team": p.team,
                "team_name": snapshot.teams[p.team].name,
                "layer": p.layer,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "when": texts.roster_period(p.start, p.end),
                # Offers close the team's swap_offer_hours before the shift.
                "closed": p.start
                - timedelta(hours=swaps.planning_of(snapshot, p.team).swap_offer_hours)
                <= now,
                "offered": any(
                    s.offerer_id == person
                    and s.team_id == p.team
                    and s.state in ("offered", "taken")
                    and s.start < p.end
                    and s.end > p.start
                    for s in own
                ),
            }
            for p in periods
        ],
        "offers": [
            {
                **read(snapshot, s).model_dump(mode="json"),
                "when": texts.roster_period(s.start, s.end),
            }
            for s in offers
            if s.offerer_id != person
        ],
        "mine": [
            {
                **read(snapshot, s).model_dump(mode="json"),
                "when": texts.roster_period(s.start, s.end),
            }
            for s in own
        ],
    }


def _page(request: Request, data: dict[str, Any], csrf: str, viewer: Any) -> Response:
    response = templates.TemplateResponse(
        request,
        "shifts.html",
        {"page_data": data, "csrf": csrf, "viewer": viewer, "labels": texts.SHIFTS_PAGE_NL},
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.get("/shifts", response_class=HTMLResponse, dependencies=[auth.page_roles(Role.WORKER)])
def shifts_page(
    request: Request, session: DbSession, snapshot: Snapshot, clock: AppClock, viewer: Viewer
) -> Response:
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    principal = viewer.principal
    if principal.role is not Role.WORKER:
        return templates.TemplateResponse(
            request, "refused.html", {"viewer": viewer, "csrf": viewer.csrf}, status_code=403
        )
    person = person_of(session, principal)
    data = page_data(session, snapshot, person, clock.now(), "/api/v1/swaps")
    return _page(request, data, viewer.csrf, viewer)


@pages.get(
    "/s/{token}",
    response_class=HTMLResponse,
    dependencies=[auth.public("the signed, expiring link in a roster SMS is the credential")],
)
def shifts_by_link(
    token: LinkToken,
    request: Request,
    session: DbSession,
    state: State,
    snapshot: Snapshot,
    clock: AppClock,
) -> Response:
    try:
        person, _ = link_person(state, session, token)
    except HTTPException:
        response = templates.TemplateResponse(
            request,
            "shifts.html",
            {"page_data": None, "csrf": "", "viewer": None, "labels": texts.SHIFTS_PAGE_NL},
            status_code=404,
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    data = page_data(session, snapshot, person, clock.now(), f"/api/v1/swaps/link/{token}")
    return _page(request, data, "", None)

"""Shift swaps: a worker offers a period of their on-call block, a colleague of the same
team takes it, and where the team wants it a planner approves; the roster changes only
when the swap is done.

Two halves. ``decide`` is the state machine, a pure function of the swap's state and
an action: every (state, action) pair is either a move, a repeat of what already
happened (a retried request: nothing is done twice) or a refusal with a reason. The
rest applies a decision to the database in the caller's transaction, after checking it
against the roster as it is now (the offerer must still be on call for the whole
period, the taker free for all of it), and tells everybody involved through the roster
outbox (``dispatch.roster_sms``). Done means an override (``kind: replace``: the taker
in the offerer's place, for exactly that period and layer), written as a configuration
version by ``swap:<id>`` through ``oncall.service.add_override``.

An offer nobody took ``swap_offer_hours`` before the shift expires (the sweeper,
``expire``) and goes to the region's planners: an SMS written with the offer and due
when it expires (sent only if the offer is still open then), and ``open_problems``,
which lists it with the swaps waiting for their approval (the planners' list and the
daily digest read it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, cast, or_, select
from sqlalchemy import String as SqlString
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import texts
from core.timeutil import ensure_utc
from dispatch.models import AuditLog
from dispatch.roster_models import Swap
from dispatch.roster_sms import MessageKind, enqueue
from oncall import calendar
from oncall import service as oncall_service
from oncall.schemas import Layer, Override, OverrideKind, Planning
from oncall.snapshot import ConfigSnapshot

log = logging.getLogger("samenop.swaps")

STEP = timedelta(minutes=15)  # rosters change on the quarter hour or coarser
LONGEST = timedelta(days=14)  # the longest period one offer may cover
AHEAD = timedelta(days=90)  # how far ahead a period may be offered


class SwapState(StrEnum):
    OFFERED = "offered"
    TAKEN = "taken"  # a colleague took it; waits for a planner where the team wants one
    APPROVED = "approved"  # a planner agreed (passed through on the way to done)
    REFUSED = "refused"
    DONE = "done"  # the roster changed
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # nobody took it in time: the planners' problem now


OPEN = frozenset({SwapState.OFFERED, SwapState.TAKEN, SwapState.APPROVED})
FINAL = frozenset(set(SwapState) - OPEN)


class SwapAction(StrEnum):
    TAKE = "take"
    CANCEL = "cancel"
    APPROVE = "approve"
    REFUSE = "refuse"
    EXPIRE = "expire"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Facts:
    """What the state machine needs to know about a swap."""

    state: SwapState
    needs_approval: bool
    offerer: str
    taker: str | None = None


@dataclass(frozen=True)
class Decision:
    """``move`` to ``state``; ``repeat``: already so (nothing to do); ``refuse``."""

    kind: str  # move | repeat | refuse
    state: SwapState
    reason: str | None = None

    @property
    def moves(self) -> bool:
        return self.kind == "move"


def _move(to: SwapState) -> Decision:
    return Decision("move", to)


def _repeat(state: SwapState) -> Decision:
    return Decision("repeat", state)


def _refuse(state: SwapState, reason: str) -> Decision:
    return Decision("refuse", state, reason)


def decide(facts: Facts, action: SwapAction, actor: str | None = None) -> Decision:
    """The state machine. ``actor`` is the person acting (take and cancel); approve,
    refuse and expire are a planner's or the clock's, whose role the caller checked."""
    state, approval = facts.state, facts.needs_approval
    if action is SwapAction.TAKE:
        if actor is not None and actor == facts.offerer:
            return _refuse(state, "own_offer")
        if state is SwapState.OFFERED:
            return _move(SwapState.TAKEN)
        if state in (SwapState.TAKEN, SwapState.APPROVED, SwapState.DONE) and facts.taker == actor:
            return _repeat(state)
        return _refuse(state, "not_open")
    if action is SwapAction.CANCEL:
        if actor != facts.offerer:
            return _refuse(state, "not_offerer")
        if state is SwapState.OFFERED:
            return _move(SwapState.CANCELLED)
        if state is SwapState.CANCELLED:
            return _repeat(state)
        return _refuse(state, "not_open")
    if action is SwapAction.APPROVE:
        if not approval:
            return _refuse(state, "no_approval_needed")
        if state is SwapState.TAKEN:
            return _move(SwapState.APPROVED)
        if state in (SwapState.APPROVED, SwapState.DONE):
            return _repeat(state)
        return _refuse(state, "not_waiting")
    if action is SwapAction.REFUSE:
        if not approval:
            return _refuse(state, "no_approval_needed")
        if state is SwapState.TAKEN:
            return _move(SwapState.REFUSED)
        if state is SwapState.REFUSED:
            return _repeat(state)
        return _refuse(state, "not_waiting")
    if action is SwapAction.EXPIRE:
        if state is SwapState.OFFERED:
            return _move(SwapState.EXPIRED)
        if state is SwapState.EXPIRED:
            return _repeat(state)
        return _refuse(state, "not_open")
    if action is SwapAction.COMPLETE:
        ready = SwapState.APPROVED if approval else SwapState.TAKEN
        if state is ready:
            return _move(SwapState.DONE)
        if state is SwapState.DONE:
            return _repeat(state)
        return _refuse(state, "not_ready")
    raise ValueError(f"unknown action {action!r}")


# --- the roster, as checks ---------------------------------------------------------------


class SwapRefused(Exception):
    """The action cannot be done; ``code`` names why, ``field`` the input at fault
    (422 when it is the input, 409 when it is the roster or the swap's state)."""

    def __init__(self, code: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


def steps(start: datetime, end: datetime) -> Iterable[datetime]:
    """Every quarter hour of [start, end), stepped in UTC (a wall-clock step would skip
    or repeat the hour DST moves)."""
    at = ensure_utc(start)
    while at < end:
        yield at
        at += STEP


def on_call_throughout(
    snapshot: ConfigSnapshot, team: str, person: str, layer: str, start: datetime, end: datetime
) -> bool:
    """Whether ``person`` is on call in ``team`` at ``layer`` for all of [start, end)
    (their blocks, from ``oncall.calendar``, cover it without a gap)."""
    if team not in snapshot.teams:
        return False
    start, end = ensure_utc(start), ensure_utc(end)
    covered = start
    for block in sorted(
        (b for b in calendar.team_blocks(snapshot, team, start, end) if b.person == person),
        key=lambda b: b.start,
    ):
        if block.layer != layer:
            continue
        if block.start > covered:
            return False
        covered = max(covered, block.end)
        if covered >= end:
            return True
    return covered >= end


def free_throughout(snapshot: ConfigSnapshot, person: str, start: datetime, end: datetime) -> bool:
    """Whether ``person`` is on call in none of their teams during [start, end)."""
    if person not in snapshot.people:
        return False
    return not calendar.person_blocks(snapshot, person, ensure_utc(start), ensure_utc(end))


def planning_of(snapshot: ConfigSnapshot, team: str) -> Planning:
    row = snapshot.teams.get(team)
    planning = getattr(row, "planning", None) if row is not None else None
    return planning if isinstance(planning, Planning) else Planning()


def reachable(snapshot: ConfigSnapshot, person: str) -> str | None:
    """The phone a person is told on (their first), or None."""
    row = snapshot.people.get(person)
    return row.phones[0] if row is not None and row.phones else None


def _name(snapshot: ConfigSnapshot, person: str | None) -> str:
    row = snapshot.people.get(person or "")
    return row.name if row is not None else (person or "?")


def _team_name(snapshot: ConfigSnapshot, team: str) -> str:
    row = snapshot.teams.get(team)
    return row.name if row is not None else team


# --- telling people ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Someone outside the roster told about a swap (a planner): a label and a phone."""

    who: str
    phone: str


def _words(snapshot: ConfigSnapshot, swap: Swap) -> dict[str, str]:
    return {
        "when": texts.roster_period(swap.start, swap.end),
        "team": _team_name(snapshot, swap.team_id),
        "offerer": _name(snapshot, swap.offerer_id),
        "taker": _name(snapshot, swap.taker_id),
    }


def _tell(
    session: Session,
    snapshot: ConfigSnapshot,
    swap: Swap,
    event: SwapState,
    now: datetime,
    planners: Sequence[Recipient] = (),
) -> None:
    """One SMS per person involved for this state of the swap (once: keyed on it)."""
    words = _words(snapshot, swap)
    people: list[tuple[str, str | None, str]] = []  # (role, person, template key)
    if event == SwapState.OFFERED:
        people.append(("offerer", swap.offerer_id, "offered"))
    elif event == SwapState.TAKEN:
        people.append(("offerer", swap.offerer_id, "taken_offerer"))
        people.append(("taker", swap.taker_id, "taken_taker"))
    elif event in (SwapState.DONE, SwapState.REFUSED):
        people.append(("offerer", swap.offerer_id, event.value))
        people.append(("taker", swap.taker_id, event.value))
    elif event in (SwapState.CANCELLED, SwapState.EXPIRED):
        people.append(("offerer", swap.offerer_id, event.value))
    for role, person, template in people:
        phone = reachable(snapshot, person) if person else None
        if phone is None:
            continue
        enqueue(
            session,
            key=f"swap:{swap.id}:{event.value}:{role}",
            kind=MessageKind.SWAP,
            phone=phone,
            body=texts.swap_sms(template, words, approval=swap.needs_approval),
            due_at=now,
            now=now,
            person_id=person,
            team_id=swap.team_id,
            shift_start=swap.start,
            swap_id=swap.id,
        )
    if event == SwapState.TAKEN and swap.needs_approval:
        for planner in planners:
            enqueue(
                session,
                key=f"swap:{swap.id}:{event.value}:planner:{planner.who}",
                kind=MessageKind.SWAP,
                phone=planner.phone,
                body=texts.swap_sms("taken_planner", words, approval=True),
                due_at=now,
                now=now,
                team_id=swap.team_id,
                shift_start=swap.start,
                swap_id=swap.id,
            )


def _audit(session: Session, swap: Swap, action: str, actor: str, now: datetime) -> None:
    """The clock's own transitions (expiry) are audited here; people's by the router."""
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action=action,
            object_type="swap",
            object_id=str(swap.id),
            detail=f'{{"state": "{swap.state}", "team": "{swap.team_id}"}}',
            actor_kind="system",
            region_id=swap.region_id,
        )
    )


# --- the transitions, on the database -----------------------------------------------------


def _locked(session: Session, swap_id: int) -> Swap:
    swap = session.scalars(
        select(Swap)
        .where(Swap.id == swap_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if swap is None:
        raise LookupError(swap_id)
    return swap


def _facts(swap: Swap) -> Facts:
    return Facts(SwapState(swap.state), swap.needs_approval, swap.offerer_id, swap.taker_id)


def _apply(swap: Swap, decision: Decision, now: datetime) -> bool:
    """Moves the row (True), or says the request repeats what happened (False); raises
    ``SwapRefused`` for a refusal."""
    if decision.kind == "refuse":
        raise SwapRefused(
            decision.reason or "refused",
            texts.SWAP_REFUSED_NL.get(decision.reason or "", "Dat kan niet (meer)."),
        )
    if decision.kind == "repeat":
        return False
    swap.state = decision.state.value
    swap.updated_at = now
    if decision.state in FINAL:
        swap.open_key = None
    return True


def _still_valid(snapshot: ConfigSnapshot, swap: Swap, taker: str, now: datetime) -> None:
    """The roster as it is now still allows this swap."""
    if now >= swap.end:
        raise SwapRefused("past", "Deze dienst is al voorbij.")
    if not on_call_throughout(
        snapshot, swap.team_id, swap.offerer_id, swap.layer, swap.start, swap.end
    ):
        raise SwapRefused("offerer_not_on_call", texts.SWAP_REFUSED_NL["offerer_not_on_call"])
    _check_taker(snapshot, swap, taker)


def _check_taker(snapshot: ConfigSnapshot, swap: Swap, taker: str) -> None:
    person = snapshot.people.get(taker)
    if person is None or taker not in snapshot.members.get(swap.team_id, {}):
        raise SwapRefused("not_member", texts.SWAP_REFUSED_NL["not_member"], field="person")
    if not person.active:
        raise SwapRefused("inactive", texts.SWAP_REFUSED_NL["inactive"], field="person")
    if not person.phones:
        raise SwapRefused("unreachable", texts.SWAP_REFUSED_NL["unreachable"], field="person")
    if not free_throughout(snapshot, taker, swap.start, swap.end):
        raise SwapRefused("taker_busy", texts.SWAP_REFUSED_NL["taker_busy"])


def _taker_double_booked(session: Session, swap: Swap, taker: str) -> bool:
    """The taker already took another open swap overlapping this period."""
    other = session.scalar(
        select(Swap.id).where(
            Swap.taker_id == taker,
            Swap.id != swap.id,
            Swap.state.in_([SwapState.TAKEN, SwapState.APPROVED]),
            Swap.start < swap.end,
            Swap.end > swap.start,
        )
    )
    return other is not None


def offer(
    session: Session,
    snapshot: ConfigSnapshot,
    *,
    person: str,
    team: str,
    layer: str,
    start: datetime,
    end: datetime,
    now: datetime,
    actor: str,
    note: str | None = None,
    planners: Sequence[Recipient] = (),
) -> tuple[Swap, bool]:
    """Offer [start, end) of ``person``'s block in ``team``; returns the swap and whether
    this call made it (a retried request gets the open offer it made before).
    ``planners`` are told if nobody takes it in time."""
    _check_period(start, end, now)
    start, end = ensure_utc(start), ensure_utc(end)
    if team not in snapshot.teams:
        raise SwapRefused("unknown_team", f"Onbekend team '{team}'.", field="team")
    if person not in snapshot.members.get(team, {}):
        raise SwapRefused("not_member", texts.SWAP_REFUSED_NL["not_member"], field="team")
    open_key = f"{team}|{layer}|{person}|{start.isoformat()}|{end.isoformat()}"
    existing = session.scalar(select(Swap).where(Swap.open_key == open_key))
    if existing is not None:
        return existing, False
    if not on_call_throughout(snapshot, team, person, layer, start, end):
        raise SwapRefused("not_on_call", texts.SWAP_REFUSED_NL["not_on_call"], field="start")
    planning = planning_of(snapshot, team)
    expires_at = start - timedelta(hours=planning.swap_offer_hours)
    if expires_at <= now:
        raise SwapRefused(
            "too_late",
            texts.SWAP_REFUSED_NL["too_late"].format(hours=planning.swap_offer_hours),
            field="start",
        )
    overlapping = session.scalar(
        select(Swap.id).where(
            Swap.offerer_id == person,
            Swap.team_id == team,
            Swap.layer == layer,
            Swap.state.in_([s.value for s in OPEN]),
            Swap.start < end,
            Swap.end > start,
        )
    )
    if overlapping is not None:
        raise SwapRefused("overlap", texts.SWAP_REFUSED_NL["overlap"], field="start")
    swap = Swap(
        team_id=team,
        region_id=snapshot.teams[team].region,
        layer=layer,
        start=start,
        end=end,
        offerer_id=person,
        state=SwapState.OFFERED.value,
        needs_approval=planning.swap_approval,
        expires_at=expires_at,
        open_key=open_key,
        note=note,
        offered_by=actor[:128],
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(swap)
            session.flush()
    except IntegrityError:  # the same offer, made at the same moment by a retry
        existing = session.scalar(select(Swap).where(Swap.open_key == open_key))
        if existing is None:
            raise
        return existing, False
    _tell(session, snapshot, swap, SwapState.OFFERED, now)
    # The planners' SMS if nobody takes it, written now and due when the offer expires:
    # the sweep sends it only if the offer is still open then (``still_open``).
    words = _words(snapshot, swap)
    for planner in planners:
        enqueue(
            session,
            key=f"swap:{swap.id}:{SwapState.EXPIRED.value}:planner:{planner.who}",
            kind=MessageKind.SWAP,
            phone=planner.phone,
            body=texts.swap_sms("expired_planner", words, approval=False),
            due_at=expires_at,
            now=now,
            team_id=team,
            shift_start=start,
            swap_id=swap.id,
        )
    return swap, True


def still_open(session: Session, message_swap_id: int | None, key: str) -> str | None:
    """Why a planner's "niet overgenomen" SMS due now is not true (the offer was taken,
    withdrawn or decided meanwhile), or None."""
    if f":{SwapState.EXPIRED.value}:planner:" not in key or message_swap_id is None:
        return None
    state = session.scalar(select(Swap.state).where(Swap.id == message_swap_id))
    if state in (SwapState.OFFERED, SwapState.EXPIRED):
        return None
    return f"swap {message_swap_id} is {state}: nothing to tell the planner"


def _check_period(start: datetime, end: datetime, now: datetime) -> None:
    for field, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise SwapRefused("naive", "Tijd zonder tijdzone.", field=field)
        if moment.second or moment.microsecond or ensure_utc(moment).minute % 15:
            raise SwapRefused("quarter", texts.SWAP_REFUSED_NL["quarter"], field=field)
    if end <= start:
        raise SwapRefused("order", texts.SWAP_REFUSED_NL["order"], field="end")
    if end - start > LONGEST:
        raise SwapRefused("too_long", texts.SWAP_REFUSED_NL["too_long"], field="end")
    if start < now:
        raise SwapRefused("past", texts.SWAP_REFUSED_NL["past"], field="start")
    if start > now + AHEAD:
        raise SwapRefused("too_far", texts.SWAP_REFUSED_NL["too_far"], field="start")


def take(
    session: Session,
    snapshot: ConfigSnapshot,
    swap_id: int,
    *,
    person: str,
    now: datetime,
    actor: str,
    planners: Sequence[Recipient] = (),
) -> Swap:
    """A colleague takes the offer; without approval the swap is done at once."""
    swap = _locked(session, swap_id)
    decision = decide(_facts(swap), SwapAction.TAKE, person)
    if decision.moves:
        _still_valid(snapshot, swap, person, now)
        if _taker_double_booked(session, swap, person):
            raise SwapRefused("taker_busy", texts.SWAP_REFUSED_NL["taker_busy"])
    if not _apply(swap, decision, now):
        return swap
    swap.taker_id = person
    swap.taken_by = actor[:128]
    session.flush()
    _tell(session, snapshot, swap, SwapState.TAKEN, now, planners)
    if not swap.needs_approval:
        _complete(session, snapshot, swap, now, approved_by=None)
    return swap


def cancel(session: Session, swap_id: int, *, person: str, now: datetime) -> tuple[Swap, bool]:
    swap = _locked(session, swap_id)
    moved = _apply(swap, decide(_facts(swap), SwapAction.CANCEL, person), now)
    return swap, moved


def cancelled(session: Session, snapshot: ConfigSnapshot, swap: Swap, now: datetime) -> None:
    _tell(session, snapshot, swap, SwapState.CANCELLED, now)


def approve(
    session: Session, snapshot: ConfigSnapshot, swap_id: int, *, now: datetime, actor: str
) -> tuple[Swap, bool]:
    """A planner agrees: checked against the roster again, then done."""
    swap = _locked(session, swap_id)
    decision = decide(_facts(swap), SwapAction.APPROVE)
    if decision.moves and swap.taker_id is not None:
        _still_valid(snapshot, swap, swap.taker_id, now)
    if not _apply(swap, decision, now):
        return swap, False
    swap.decided_by = actor[:128]
    _complete(session, snapshot, swap, now, approved_by=actor)
    return swap, True


def refuse(
    session: Session,
    snapshot: ConfigSnapshot,
    swap_id: int,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> tuple[Swap, bool]:
    swap = _locked(session, swap_id)
    if not _apply(swap, decide(_facts(swap), SwapAction.REFUSE), now):
        return swap, False
    swap.decided_by = actor[:128]
    swap.reason = reason
    _tell(session, snapshot, swap, SwapState.REFUSED, now)
    return swap, True


def _complete(
    session: Session,
    snapshot: ConfigSnapshot,
    swap: Swap,
    now: datetime,
    *,
    approved_by: str | None,
) -> None:
    """The roster changes: the taker replaces the offerer for exactly the period, as a
    configuration version whose author is the swap."""
    _apply(swap, decide(_facts(swap), SwapAction.COMPLETE), now)
    assert swap.taker_id is not None
    override_id = f"swap-{swap.id}"
    author = f"swap:{swap.id}" + (f" approved by {approved_by}" if approved_by else "")
    version = oncall_service.add_override(
        session=session,
        override=Override(
            id=override_id,
            team=swap.team_id,
            kind=OverrideKind.REPLACE,
            person=swap.taker_id,
            replaces=swap.offerer_id,
            start=swap.start,
            end=swap.end,
            layer=Layer(swap.layer),
            reason=f"Ruil {swap.id}",
        ),
        now=now,
        source="swap",
        author=author,
    )
    swap.override_id = override_id
    swap.config_version = version
    session.flush()
    _tell(session, snapshot, swap, SwapState.DONE, now)


def expire(session: Session, snapshot: ConfigSnapshot, swap_id: int, now: datetime) -> bool:
    """An offer nobody took in time goes to the planners (the sweeper calls this)."""
    swap = _locked(session, swap_id)
    if swap.expires_at > now:
        return False
    decision = decide(_facts(swap), SwapAction.EXPIRE)
    if not decision.moves:
        return False
    _apply(swap, decision, now)
    _audit(session, swap, "swap.expire", "system:swaps", now)
    _tell(session, snapshot, swap, SwapState.EXPIRED, now)
    return True


def expire_due_query(now: Any) -> Select[Any]:
    """Offers whose time to be taken ran out (ids as text, for the sweep's UNION)."""
    return (
        select(cast(Swap.id, SqlString).label("id"))
        .where(Swap.state == SwapState.OFFERED.value, Swap.expires_at <= now)
        .limit(100)
    )


# --- reading -------------------------------------------------------------------------------


def listing(
    session: Session,
    *,
    teams: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
    person: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[Swap]:
    query = select(Swap)
    if teams is not None:
        query = query.where(Swap.team_id.in_(list(teams)))
    if regions is not None:
        query = query.where(Swap.region_id.in_(list(regions)))
    if states is not None:
        query = query.where(Swap.state.in_(list(states)))
    if person is not None:
        query = query.where(or_(Swap.offerer_id == person, Swap.taker_id == person))
    if since is not None:
        query = query.where(Swap.end > since)
    return list(session.scalars(query.order_by(Swap.start, Swap.id).limit(limit)))


@dataclass(frozen=True)
class Problem:
    """A swap a planner must act on: an offer nobody took, or one waiting for approval."""

    swap_id: int
    region: str | None
    team: str
    layer: str
    start: datetime
    end: datetime
    offerer: str
    taker: str | None
    state: str
    label: str  # Dutch, as the planner's list and the digest show it


def open_problems(
    session: Session, region: str | None, now: datetime, *, limit: int = 200
) -> list[Problem]:
    """For the planners' list and the daily digest: offers of ``region`` (None: every
    region) nobody took ("niet overgenomen") and swaps waiting for a planner's approval
    ("wacht op goedkeuring"), whose period has not ended."""
    query = select(Swap).where(
        Swap.end > now,
        or_(
            Swap.state == SwapState.EXPIRED.value,
            and_(Swap.state == SwapState.TAKEN.value, Swap.needs_approval.is_(True)),
        ),
    )
    if region is not None:
        query = query.where(Swap.region_id == region)
    rows = session.scalars(query.order_by(Swap.start, Swap.id).limit(limit))
    return [
        Problem(
            swap_id=s.id,
            region=s.region_id,
            team=s.team_id,
            layer=s.layer,
            start=s.start,
            end=s.end,
            offerer=s.offerer_id,
            taker=s.taker_id,
            state=s.state,
            label=texts.SWAP_STATE_NL.get(s.state, s.state),
        )
        for s in rows
    ]

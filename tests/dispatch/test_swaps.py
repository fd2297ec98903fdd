"""Shift swaps: the state machine over every (state, action) pair, and each transition on
both databases with the roster read back at every step (the roster changes only when a
swap is done, for exactly its period and layer)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core import migrate
from core.db import make_engine, make_session_factory
from core.timeutil import AMS
from dispatch import swaps
from dispatch.models import AuditLog
from dispatch.roster_models import RosterMessage, Swap
from dispatch.swaps import Decision, Facts, SwapAction, SwapRefused, SwapState
from oncall import service as oncall_service
from oncall import versions
from oncall.schemas import ConfigSet, Layer, Override, OverrideKind
from oncall.snapshot import ConfigSnapshot
from tests.conftest import BACKENDS, _make_database

A, T = SwapAction, SwapState

# --- the pure state machine ------------------------------------------------------------

OFFERER, TAKER, OTHER = "anna", "cor", "bram"


def expected(state: SwapState, action: SwapAction, approval: bool, actor: str | None) -> Decision:
    """The rules written out once more, independently of ``decide``'s branches."""
    move = {
        (T.OFFERED, A.TAKE): T.TAKEN,
        (T.OFFERED, A.CANCEL): T.CANCELLED,
        (T.OFFERED, A.EXPIRE): T.EXPIRED,
        (T.TAKEN, A.APPROVE): T.APPROVED,
        (T.TAKEN, A.REFUSE): T.REFUSED,
        (T.APPROVED if approval else T.TAKEN, A.COMPLETE): T.DONE,
    }
    if action is A.TAKE and actor == OFFERER:
        return Decision("refuse", state, "own_offer")
    if action is A.CANCEL and actor != OFFERER:
        return Decision("refuse", state, "not_offerer")
    if action in (A.APPROVE, A.REFUSE) and not approval:
        return Decision("refuse", state, "no_approval_needed")
    if (state, action) in move:
        return Decision("move", move[(state, action)])
    repeats = {
        A.TAKE: {T.TAKEN, T.APPROVED, T.DONE} if actor == TAKER else set(),
        A.CANCEL: {T.CANCELLED},
        A.APPROVE: {T.APPROVED, T.DONE},
        A.REFUSE: {T.REFUSED},
        A.EXPIRE: {T.EXPIRED},
        A.COMPLETE: {T.DONE},
    }
    if state in repeats[action]:
        return Decision("repeat", state)
    reason = {
        A.TAKE: "not_open",
        A.CANCEL: "not_open",
        A.APPROVE: "not_waiting",
        A.REFUSE: "not_waiting",
        A.EXPIRE: "not_open",
        A.COMPLETE: "not_ready",
    }[action]
    return Decision("refuse", state, reason)


@pytest.mark.parametrize(
    ("state", "action", "approval", "actor"),
    list(product(SwapState, SwapAction, (False, True), (OFFERER, TAKER, OTHER, None))),
)
def test_every_state_and_action(
    state: SwapState, action: SwapAction, approval: bool, actor: str | None
) -> None:
    taker = TAKER if state in (T.TAKEN, T.APPROVED, T.DONE, T.REFUSED) else None
    facts = Facts(state, approval, OFFERER, taker)
    assert swaps.decide(facts, action, actor) == expected(state, action, approval, actor)


def test_final_states_never_move() -> None:
    for state, action, approval in product(swaps.FINAL, SwapAction, (False, True)):
        for actor in (OFFERER, TAKER, None):
            decision = swaps.decide(Facts(state, approval, OFFERER, TAKER), action, actor)
            assert not decision.moves, (state, action)


def test_the_paths_through_the_machine() -> None:
    def run(approval: bool, *steps: tuple[SwapAction, str | None]) -> list[SwapState]:
        facts, seen = Facts(T.OFFERED, approval, OFFERER), [T.OFFERED]
        for action, actor in steps:
            decision = swaps.decide(facts, action, actor)
            assert decision.moves, (facts.state, action, decision)
            taker = actor if action is A.TAKE else facts.taker
            facts = Facts(decision.state, approval, OFFERER, taker)
            seen.append(decision.state)
        return seen

    assert run(False, (A.TAKE, TAKER), (A.COMPLETE, None)) == [T.OFFERED, T.TAKEN, T.DONE]
    assert run(True, (A.TAKE, TAKER), (A.APPROVE, None), (A.COMPLETE, None)) == [
        T.OFFERED,
        T.TAKEN,
        T.APPROVED,
        T.DONE,
    ]
    assert run(True, (A.TAKE, TAKER), (A.REFUSE, None)) == [T.OFFERED, T.TAKEN, T.REFUSED]
    assert run(False, (A.CANCEL, OFFERER)) == [T.OFFERED, T.CANCELLED]
    assert run(False, (A.EXPIRE, None)) == [T.OFFERED, T.EXPIRED]


# --- on the database, with the roster -------------------------------------------------------

PHONES = {
    "anna": "+31612345601",
    "bram": "+31612345602",
    "cor": "+31612345603",
    "eva": "+31612345605",
    "fien": "+31612345606",
}


def person(
    pid: str, name: str, phone: str | None, teams: tuple[str, ...] = ("vt-x",)
) -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "phones": [phone] if phone else [],
        "memberships": [{"team": t} for t in teams],
    }


def config(*, approval: bool = False, offer_hours: int = 48) -> ConfigSet:
    return ConfigSet.model_validate(
        {
            "regions": [{"id": "r1", "name": "Regio Een"}, {"id": "r2", "name": "Regio Twee"}],
            "municipalities": [{"code": "GM0001", "name": "Eendorp"}],
            "basisteams": [
                {"id": "bt1", "name": "Basisteam Een", "region": "r1", "municipalities": ["GM0001"]}
            ],
            "teams": [
                {
                    "id": "vt-x",
                    "kind": "veilig_thuis",
                    "name": "VT Een",
                    "region": "r1",
                    "planning": {
                        "swap_approval": approval,
                        "swap_offer_hours": offer_hours,
                        "reminder_hours": 12,
                    },
                },
                {"id": "vt-y", "kind": "veilig_thuis", "name": "VT Twee", "region": "r2"},
            ],
            "people": [
                person("anna", "Anna de Vries", PHONES["anna"]),
                person("bram", "Bram Bos", PHONES["bram"]),
                person("cor", "Cor Smit", PHONES["cor"]),
                person("dirk", "Dirk Zonder", None),
                {**person("eva", "Eva Uit", PHONES["eva"]), "active": False},
                person("fien", "Fien Druk", PHONES["fien"], ("vt-x", "vt-y")),
                person("gijs", "Gijs Ander", "+31612345607", ("vt-y",)),
            ],
            "rotations": [
                {
                    "id": "rot-x",
                    "team": "vt-x",
                    "participants": ["anna", "bram"],
                    "start": "2026-01-05T09:00",
                    "handoff": {"every": "daily", "at": "09:00"},
                },
                {
                    "id": "rot-y",
                    "team": "vt-y",
                    "participants": ["fien"],
                    "start": "2026-01-05T09:00",
                    "handoff": {"every": "weekly", "at": "09:00"},
                },
            ],
            "rules": [],
        }
    )


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# Anna is on call Wed 2026-12-09 09:00 until Thu 09:00 (even days since 2026-01-05).
START = datetime(2026, 12, 9, 17, 0, tzinfo=AMS).astimezone(UTC)
END = datetime(2026, 12, 10, 9, 0, tzinfo=AMS).astimezone(UTC)


def store(session: Session, cfg: ConfigSet) -> None:
    oncall_service.write_config(session=session, config=cfg, now=NOW, source="tests")
    session.commit()


def snap(session: Session) -> ConfigSnapshot:
    return ConfigSnapshot(
        oncall_service.read_config(session=session), oncall_service.get_version(session=session)
    )


def roster(session: Session, start: datetime = START, end: datetime = END) -> set[str]:
    """Who is on call (primary, vt-x) at any moment of [start, end)."""
    snapshot = snap(session)
    found: set[str] = set()
    for at in swaps.steps(start, end):
        found |= set(snapshot.on_call("vt-x", at).people(Layer.PRIMARY))
    return found


def messages(session: Session, swap_id: int) -> dict[str, str]:
    rows = session.scalars(select(RosterMessage).where(RosterMessage.swap_id == swap_id))
    return {r.key.split(":", 2)[2]: r.body for r in rows}


def offer(session: Session, **overrides: Any) -> Swap:
    args: dict[str, Any] = {
        "person": "anna",
        "team": "vt-x",
        "layer": "primary",
        "start": START,
        "end": END,
        "now": NOW,
        "actor": "account:anna",
    }
    args.update(overrides)
    swap, _ = swaps.offer(session, snap(session), **args)
    session.commit()
    return swap


@pytest.fixture
def plain(session: Session) -> Session:
    store(session, config())
    return session


@pytest.fixture
def approving(session: Session) -> Session:
    store(session, config(approval=True))
    return session


def test_offer_take_done_changes_exactly_the_period(plain: Session) -> None:
    session = plain
    assert roster(session) == {"anna"}
    version = oncall_service.get_version(session=session)
    swap = offer(session)
    assert swap.state == "offered" and swap.needs_approval is False
    assert roster(session) == {"anna"}  # an offer changes nothing
    again, created = swaps.offer(
        session,
        snap(session),
        person="anna",
        team="vt-x",
        layer="primary",
        start=START,
        end=END,
        now=NOW,
        actor="account:anna",
    )
    assert (again.id, created) == (swap.id, False)  # a retried offer is the same offer
    assert session.scalar(select(Swap.id).where(Swap.id != swap.id)) is None

    swaps.take(session, snap(session), swap.id, person="cor", now=NOW, actor="account:cor")
    session.commit()
    assert swap.state == "done" and swap.taker_id == "cor"
    assert roster(session) == {"cor"}
    # Only the period: before it (09:00-17:00) Anna is still on call, after it Bram.
    assert roster(session, START - timedelta(hours=8), START) == {"anna"}
    assert roster(session, END, END + timedelta(hours=1)) == {"bram"}
    assert oncall_service.get_version(session=session) == version + 1
    row = versions.get(session, version + 1)
    assert row is not None and row.author == f"swap:{swap.id}"
    [override] = [o for o in oncall_service.read_config(session=session).overrides]
    assert (override.kind, override.person, override.replaces) == (
        OverrideKind.REPLACE,
        "cor",
        "anna",
    )
    assert (override.start, override.end, override.layer) == (START, END, Layer.PRIMARY)

    # Taking again (a retried request) changes nothing more.
    swaps.take(session, snap(session), swap.id, person="cor", now=NOW, actor="account:cor")
    session.commit()
    assert oncall_service.get_version(session=session) == version + 1
    sent = messages(session, swap.id)
    assert set(sent) == {
        "offered:offerer",
        "taken:offerer",
        "taken:taker",
        "done:offerer",
        "done:taker",
    }
    assert (
        "Cor Smit" in sent["done:offerer"]
        and "wo 09-12 17:00 tot do 10-12 09:00" in sent["done:taker"]
    )


def test_approval_then_done_and_refusal_keeps_the_roster(approving: Session) -> None:
    session = approving
    swap = offer(session)
    swaps.take(session, snap(session), swap.id, person="cor", now=NOW, actor="account:cor")
    session.commit()
    assert swap.state == "taken" and roster(session) == {"anna"}  # waits for a planner
    problems = swaps.open_problems(session, "r1", NOW)
    assert [(p.swap_id, p.label) for p in problems] == [(swap.id, "wacht op goedkeuring")]
    assert swaps.open_problems(session, "r2", NOW) == []
    with pytest.raises(SwapRefused) as refused:  # another colleague cannot take it now
        swaps.take(session, snap(session), swap.id, person="bram", now=NOW, actor="account:bram")
    assert refused.value.code == "not_open"
    session.rollback()

    swaps.approve(session, snap(session), swap.id, now=NOW, actor="account:planner")
    session.commit()
    assert swap.state == "done" and swap.decided_by == "account:planner"
    assert roster(session) == {"cor"}
    row = versions.get(session, swap.config_version or 0)
    assert row is not None and row.author == f"swap:{swap.id} approved by account:planner"
    _, moved = swaps.approve(session, snap(session), swap.id, now=NOW, actor="account:planner")
    assert moved is False  # a retried approval
    with pytest.raises(SwapRefused):
        swaps.refuse(session, snap(session), swap.id, now=NOW, actor="account:planner")
    session.rollback()

    second = offer(session, start=START - timedelta(hours=8), end=START)
    swaps.take(session, snap(session), second.id, person="bram", now=NOW, actor="account:bram")
    swaps.refuse(session, snap(session), second.id, now=NOW, actor="account:planner")
    session.commit()
    assert second.state == "refused" and second.open_key is None
    assert roster(session, START - timedelta(hours=8), START) == {"anna"}
    with pytest.raises(SwapRefused):
        swaps.approve(session, snap(session), second.id, now=NOW, actor="account:planner")
    session.rollback()
    sent = messages(session, second.id)
    assert {"taken:offerer", "taken:taker", "refused:offerer", "refused:taker"} <= set(sent)
    assert "goedkeuren" in sent["taken:taker"]


def test_cancel_and_expire_leave_the_roster(plain: Session) -> None:
    session = plain
    swap = offer(session)
    with pytest.raises(SwapRefused) as refused:
        swaps.cancel(session, swap.id, person="bram", now=NOW)
    assert refused.value.code == "not_offerer"
    swaps.cancel(session, swap.id, person="anna", now=NOW)
    session.commit()
    assert swap.state == "cancelled" and roster(session) == {"anna"}
    _, moved = swaps.cancel(session, swap.id, person="anna", now=NOW)
    assert moved is False
    with pytest.raises(SwapRefused):
        swaps.take(session, snap(session), swap.id, person="cor", now=NOW, actor="account:cor")
    session.rollback()

    late = offer(session)  # the same period again, now that the first is over
    assert late.id != swap.id
    assert late.expires_at == START - timedelta(hours=48)
    assert (
        swaps.expire(session, snap(session), late.id, late.expires_at - timedelta(minutes=1))
        is False
    )
    assert swaps.expire(session, snap(session), late.id, late.expires_at) is True
    session.commit()
    assert late.state == "expired" and roster(session) == {"anna"}
    assert swaps.expire(session, snap(session), late.id, late.expires_at) is False
    [problem] = swaps.open_problems(session, "r1", late.expires_at)
    assert (problem.swap_id, problem.label, problem.offerer) == (
        late.id,
        "niet overgenomen",
        "anna",
    )
    assert swaps.open_problems(session, "r1", END) == []  # over: no longer a problem
    with pytest.raises(SwapRefused):
        swaps.take(session, snap(session), late.id, person="cor", now=late.expires_at, actor="c")
    session.rollback()
    audit = session.scalars(
        select(AuditLog).where(AuditLog.object_type == "swap", AuditLog.object_id == str(late.id))
    ).all()
    assert [a.action for a in audit] == ["swap.expire"]
    assert json.loads(audit[0].detail or "{}")["state"] == "expired"
    assert "planner is ingelicht" in messages(session, late.id)["expired:offerer"]


@pytest.mark.parametrize(
    ("taker", "code"),
    [
        ("anna", "own_offer"),
        ("dirk", "unreachable"),
        ("eva", "inactive"),
        ("fien", "taker_busy"),  # on call in her other team then
        ("gijs", "not_member"),
        ("nobody", "not_member"),
    ],
)
def test_who_may_take(plain: Session, taker: str, code: str) -> None:
    session = plain
    swap = offer(session)
    version = oncall_service.get_version(session=session)
    with pytest.raises(SwapRefused) as refused:
        swaps.take(session, snap(session), swap.id, person=taker, now=NOW, actor="x")
    assert refused.value.code == code
    session.rollback()
    assert swap.state == "offered" and roster(session) == {"anna"}
    assert oncall_service.get_version(session=session) == version


def test_the_roster_is_checked_again_when_taken_and_approved(approving: Session) -> None:
    session = approving
    swap = offer(session)
    # Bram is on call the day before; an offer of his night is not Anna's to make.
    with pytest.raises(SwapRefused) as refused:
        offer(session, start=START - timedelta(days=1), end=END - timedelta(days=1))
    assert refused.value.code == "not_on_call"
    session.rollback()
    swaps.take(session, snap(session), swap.id, person="cor", now=NOW, actor="account:cor")
    session.commit()
    # The planner gives Cor a night in the period meanwhile (an add override): not free.
    oncall_service.add_override(
        session=session,
        override=Override(
            id="cor-extra",
            team="vt-x",
            kind=OverrideKind.ADD,
            person="cor",
            start=START,
            end=START + timedelta(hours=1),
            layer=Layer.BACKUP,
        ),
        now=NOW,
        source="tests",
    )
    session.commit()
    with pytest.raises(SwapRefused) as refused:
        swaps.approve(session, snap(session), swap.id, now=NOW, actor="account:planner")
    assert refused.value.code == "taker_busy"
    session.rollback()
    assert swap.state == "taken" and roster(session) == {"anna"}


def test_offerer_removed_meanwhile(plain: Session) -> None:
    session = plain
    swap = offer(session)
    oncall_service.add_override(
        session=session,
        override=Override(
            id="anna-ziek",
            team="vt-x",
            kind=OverrideKind.REPLACE,
            person="bram",
            replaces="anna",
            start=START,
            end=END,
        ),
        now=NOW,
        source="tests",
    )
    session.commit()
    with pytest.raises(SwapRefused) as refused:
        swaps.take(session, snap(session), swap.id, person="cor", now=NOW, actor="account:cor")
    assert refused.value.code == "offerer_not_on_call"
    session.rollback()
    assert roster(session) == {"bram"}


@pytest.mark.parametrize(
    ("start", "end", "now", "code"),
    [
        (START + timedelta(minutes=5), END, NOW, "quarter"),
        (END, START, NOW, "order"),
        (START, START + timedelta(days=15), NOW, "too_long"),
        (START, END, START + timedelta(hours=1), "past"),
        (START, END, START - timedelta(hours=47), "too_late"),
        (START, END, START - timedelta(days=91), "too_far"),
    ],
)
def test_bounded_offers(
    plain: Session, start: datetime, end: datetime, now: datetime, code: str
) -> None:
    with pytest.raises(SwapRefused) as refused:
        offer(plain, start=start, end=end, now=now)
    assert refused.value.code == code and refused.value.field in ("start", "end")


def test_overlapping_offers_refused(plain: Session) -> None:
    offer(plain)
    with pytest.raises(SwapRefused) as refused:
        offer(plain, start=START - timedelta(hours=1), end=START + timedelta(hours=1))
    assert refused.value.code == "overlap"


def test_swap_messages_carry_no_incident_data(approving: Session) -> None:
    """Periods, teams and colleagues' names only; nothing a page or an incident holds."""
    session = approving
    swap = offer(session)
    swaps.take(
        session,
        snap(session),
        swap.id,
        person="cor",
        now=NOW,
        actor="account:cor",
        planners=[swaps.Recipient("planner1", "+31612345699")],
    )
    swaps.approve(session, snap(session), swap.id, now=NOW, actor="account:planner")
    session.commit()
    bodies = messages(session, swap.id)
    assert set(bodies) == {
        "offered:offerer",
        "taken:offerer",
        "taken:taker",
        "taken:planner:planner1",
        "done:offerer",
        "done:taker",
    }
    for body in bodies.values():
        for word in ("SO-", "melding", "incident", "Eendorp", "adres", "leeftijd", "HG", "KM"):
            assert word not in body, (word, body)


# --- races, over real connections ---------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def own_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own (real commits from several threads)."""
    url, handle = _make_database(request.param, tmp_path)
    migrate.upgrade(url)
    eng = make_engine(url)
    with make_session_factory(eng)() as s:
        oncall_service.write_config(session=s, config=config(), now=NOW, source="tests")
        s.commit()
    yield eng
    eng.dispose()
    if handle is not None:
        admin, name = cast(tuple[Any, str], handle)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_colleagues_racing_for_one_offer(own_engine: Engine) -> None:
    """Cor and Bram take the same offer at once, each twice (a retry): one of them gets
    it, once; the other is refused; one override, one version, one set of SMS."""
    sessions = make_session_factory(own_engine)
    with sessions() as s:
        swap = offer(s)
        swap_id, version = swap.id, oncall_service.get_version(session=s)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def take(person: str) -> None:
        barrier.wait()
        with sessions() as s:
            try:
                swaps.take(s, snap(s), swap_id, person=person, now=NOW, actor=person)
                s.commit()
                result = f"{person}:ok"
            except SwapRefused as exc:
                s.rollback()
                result = f"{person}:{exc.code}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=take, args=(p,)) for p in ("cor", "cor", "bram", "bram")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with sessions() as s:
        row = s.get(Swap, swap_id)
        assert row is not None and row.state == "done" and row.taker_id in ("cor", "bram")
        winner = row.taker_id
        loser = "bram" if winner == "cor" else "cor"
        assert sorted(outcomes) == sorted(
            [f"{winner}:ok", f"{winner}:ok", f"{loser}:not_open", f"{loser}:not_open"]
        )
        assert oncall_service.get_version(session=s) == version + 1
        assert roster(s) == {winner}
        keys = s.scalars(select(RosterMessage.key).where(RosterMessage.swap_id == swap_id)).all()
        assert sorted(k.split(":", 2)[2] for k in keys) == sorted(
            ["offered:offerer", "taken:offerer", "taken:taker", "done:offerer", "done:taker"]
        )

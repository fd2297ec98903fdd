"""The one gate every transition goes through: take a session, apply the change, commit,
then arm the wake-up.

A paging or lifecycle change is written in one transaction and returns a ``Wake``: the
pages to send, the deadlines to time and the calls to end. Those must be armed after
the commit (never before: a worker could act on rows not yet visible) and always
(forgetting it fails nothing at once, it only leaves pages to the sweeper's grace).
Routers, the embedded driver, the RQ jobs and delivery all run their transitions
through ``run`` or ``once``; nothing else commits and arms by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatch import events
from dispatch.models import WebhookReceipt
from dispatch.paging import Wake

log = logging.getLogger("samenop.flows")
R = TypeVar("R")


class Waker(Protocol):
    """Arms what a committed transaction asked for: sends, deadlines, hang-ups."""

    def arm(self, wake: Wake) -> None: ...


class Gate(Protocol):
    """Where transitions run: sessions on the database and the waker of this process."""

    sessions: sessionmaker[Session]
    waker: Waker


def wake_of(result: object) -> Wake | None:
    """The wake-up a transition's result carries (a ``Wake``, or an object with one)."""
    if isinstance(result, Wake):
        return result
    found = getattr(result, "wake", None)
    return found if isinstance(found, Wake) else None


def run(gate: Gate, work: Callable[[Session], R]) -> R:
    """Run ``work`` in a transaction of its own, commit, then arm its wake-up.

    An exception rolls everything back and arms nothing. ``work`` may end its own
    transaction early (intake rolls back a duplicate insert and reads the first one):
    whatever it leaves open is committed.
    """
    for attempt in (1, 2):
        session = gate.sessions()
        try:
            try:
                result = work(session)
                # Everything but the COMMIT itself, so that a dead connection shows here
                # (the events last: their lock is held from that statement to COMMIT).
                session.flush()
                events.write_pending(session)
            except DBAPIError as exc:
                session.rollback()
                # The connection was gone (a database restart, a dropped socket) before
                # anything was committed: the pool is renewed; run it once more.
                if exc.connection_invalidated and attempt == 1:
                    log.warning("database connection lost; running the transition again")
                    continue
                raise
            except BaseException:
                session.rollback()
                raise
            try:
                session.commit()
            except BaseException:
                session.rollback()  # never run again: the commit may have gone through
                raise
        finally:
            session.close()
        arm(gate, wake_of(result))
        return result
    raise AssertionError("unreachable: the second attempt returns or raises")


def run_in(gate: Gate, session: Session, work: Callable[[Session], R]) -> R:
    """``run`` on a session the caller already has (a request's, which read the
    configuration first): commit it, then arm; roll it back on any error."""
    try:
        result = work(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    arm(gate, wake_of(result))
    return result


def arm(gate: Gate, wake: Wake | None) -> None:
    if wake:
        gate.waker.arm(wake)


def once(
    gate: Gate,
    key: str,
    now: datetime,
    work: Callable[[Session], tuple[str, Wake]],
    *,
    receipt: bool = True,
) -> str:
    """Apply a webhook once per idempotency key; a redelivery gets the first answer back.

    The key is stored in the same transaction as the change; a redelivery finds it
    taken when it commits (the primary key), its own work is rolled back, and the
    stored answer is returned. (Optimistic: no read of the key first, since almost
    every delivery is the first.) ``receipt=False`` for callbacks that change nothing
    a repeat could change again (progress: ringing, delivered): no key is stored.
    """

    def apply(session: Session) -> tuple[str, Wake]:
        body, wake = work(session)
        if receipt:
            session.add(WebhookReceipt(key=key, received_at=now, response=body))
        return body, wake

    try:
        body, wake = run(gate, apply)
    except IntegrityError:
        log.info("webhook %s delivered again; the first delivery's answer stands", key[:16])
        with gate.sessions() as session:
            seen = session.get(WebhookReceipt, key)
            return (seen.response if seen else None) or ""
    arm(gate, wake)  # committed by ``run`` (a tuple carries no wake of its own)
    return body

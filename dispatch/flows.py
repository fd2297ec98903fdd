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

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

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
    session = gate.sessions()
    try:
        return run_in(gate, session, work)
    finally:
        session.close()


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


def once(gate: Gate, key: str, now: datetime, work: Callable[[Session], tuple[str, Wake]]) -> str:
    """Apply a webhook once per idempotency key; a redelivery gets the first answer back.

    The key is stored in the same transaction as the change, so a redelivery racing
    the first delivery either finds it or loses on the primary key (then the stored
    answer is returned).
    """

    def apply(session: Session) -> tuple[str, Wake]:
        seen = session.get(WebhookReceipt, key)
        if seen is not None:
            return seen.response or "", Wake()
        body, wake = work(session)
        session.add(WebhookReceipt(key=key, received_at=now, response=body))
        return body, wake

    try:
        body, wake = run(gate, apply)
    except IntegrityError:
        log.info("webhook %s raced its own redelivery; the other applied it", key[:16])
        with gate.sessions() as session:
            seen = session.get(WebhookReceipt, key)
            return (seen.response if seen else None) or ""
    arm(gate, wake)  # committed by ``run`` (a tuple carries no wake of its own)
    return body

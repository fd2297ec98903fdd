"""The outbox: every state change writes its events here, in the caller's transaction.

Event ids must appear in commit order, so that a reader resuming "after id N" can never
miss an event that commits later with a smaller id. PostgreSQL hands out sequence
values at insert time, not at commit, so writers take a transaction-scoped advisory
lock in the statement that inserts the events. That lock serialises every writer, so
it must be held as briefly as possible: ``append`` only collects the rows, and they
are inserted, all in one statement, just before the transaction commits (after
everything else has been flushed). The lock is then held from that insert to the
commit, whatever the transaction did before. SQLite already lets one writer at a time
(BEGIN IMMEDIATE).

A rolled-back transaction drops its collected events with it. After a commit that
wrote events, the session's bus (``session.info["bus"]``, see ``core.db``) is told, so
every API process tails the new rows to its websocket clients.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert, text
from sqlalchemy.orm import Session, SessionTransaction

from dispatch import evaluation_store
from dispatch.models import Event

EVENT_LOCK = 0x5A0E  # advisory lock key for "append to the event log"
_EVENTS = cast(Table, Event.__table__)
_PENDING = "samenop.pending_events"
_WROTE = "samenop.wrote_events"


def append(
    session: Session,
    dispatch_id: str | None,
    now: datetime,
    items: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Add ``(type, payload)`` events for one dispatch; they are written at commit."""
    if not items:
        return
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    for kind, payload in items:
        # Serialised now: a payload changed after this call does not change the event.
        pending.append(
            {
                "dispatch_id": dispatch_id,
                "type": kind,
                "created_at": now,
                "payload": json.dumps(payload),
            }
        )


def write_pending(session: Session) -> None:
    """Insert the collected events now, taking the lock (a commit does this by itself)."""
    if not session.info.get(_PENDING):
        return
    session.flush()  # every other change first, so the lock is taken last
    rows = session.info.pop(_PENDING)
    # The evaluation's facts follow their events in the same transaction, written
    # before the log's lock is taken (dispatch.evaluation_store).
    evaluation_store.project(session, rows)
    _insert(session, rows)
    session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        write_pending(session)


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        bus = session.info.get("bus")
        if bus is not None:
            bus.publish()


@event.listens_for(Session, "after_rollback")
def _forget_written(session: Session) -> None:
    session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(_EVENTS), [{**r, "payload": json.loads(r["payload"])} for r in rows])
        return
    # Lock and insert in one round trip: the CTE runs first, the rows follow it.
    values = ", ".join(
        f"(:d{i}, :t{i}, CAST(:c{i} AS timestamptz), CAST(:p{i} AS json))" for i in range(len(rows))
    )
    params: dict[str, Any] = {"key": EVENT_LOCK}
    for i, row in enumerate(rows):
        params.update(
            {
                f"d{i}": row["dispatch_id"],
                f"t{i}": row["type"],
                f"c{i}": row["created_at"],
                f"p{i}": row["payload"],
            }
        )
    session.execute(
        text(
            "WITH lock AS (SELECT pg_advisory_xact_lock(:key)) "
            "INSERT INTO events (dispatch_id, type, created_at, payload) "
            "SELECT v.d, v.t, v.c, v.p FROM lock CROSS JOIN "
            f"(VALUES {values}) AS v(d, t, c, p)"
        ),
        params,
    )

"""The outbox: every state change writes its events here, in the caller's transaction.

Event ids must appear in commit order, so that a reader resuming "after id N" can never
miss an event that commits later with a smaller id. PostgreSQL hands out sequence
values at insert time, not at commit, so writers take a transaction-scoped advisory
lock just before inserting: the lock is held only from the event insert to the
commit, which is the last step of every writing transaction. SQLite already lets one
writer at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from dispatch.models import Event

EVENT_LOCK = 0x5A0E  # advisory lock key for "append to the event log"
_EVENTS = cast(Table, Event.__table__)


def append(
    session: Session,
    dispatch_id: str | None,
    now: datetime,
    items: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Write ``(type, payload)`` events for one dispatch; commit soon after."""
    if not items:
        return
    rows = [
        {"dispatch_id": dispatch_id, "type": kind, "created_at": now, "payload": payload}
        for kind, payload in items
    ]
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(_EVENTS), rows)
        return
    # Lock and insert in one round trip: the CTE runs first, the rows follow it.
    values = ", ".join(
        f"(:d{i}, :t{i}, CAST(:c{i} AS timestamptz), CAST(:p{i} AS json))" for i in range(len(rows))
    )
    params: dict[str, Any] = {"key": EVENT_LOCK}
    for i, row in enumerate(rows):
        params.update(
            {
                f"d{i}": dispatch_id,
                f"t{i}": row["type"],
                f"c{i}": now,
                f"p{i}": json.dumps(row["payload"]),
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

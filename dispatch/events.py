"""The outbox: every state change writes its events here, in the caller's transaction.

Event ids must appear in commit order, so that a reader resuming "after id N" can never
miss an event that commits later with a smaller id. PostgreSQL hands out sequence
values at insert time, not at commit, so writers take a transaction-scoped advisory
lock just before inserting: the lock is held only from the event insert to the
commit, which is the last step of every writing transaction. SQLite already lets one
writer at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from dispatch.models import Event

EVENT_LOCK = 0x5A0E  # advisory lock key for "append to the event log"
_EVENTS = cast(Table, Event.__table__)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def append(
    session: Session,
    dispatch_id: str | None,
    now: datetime,
    items: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Write ``(type, payload)`` events for one dispatch; commit soon after."""
    if not items:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": EVENT_LOCK})
    session.execute(
        insert(_EVENTS),
        [
            {"dispatch_id": dispatch_id, "type": kind, "created_at": now, "payload": payload}
            for kind, payload in items
        ],
    )

"""The evaluation's projection in the database: one ``evaluation_facts`` row per dispatch.

Reading a region's year of raw events (tens of thousands of incidents, ten or more
events each) for every report is too slow, so the facts the report needs are kept per
incident, derived from the events only:

- ``project`` runs inside ``dispatch.events.write_pending``, in the transaction that
  writes the events, just before they are inserted (so the event log's lock is not
  held any longer). It folds the batch's relevant events per dispatch
  (``dispatch.evaluation.fold``) and upserts them in one statement whose update
  combines old and new the same way ``evaluation.combine`` does: set once, earliest,
  sum. A rollback drops the projection with the events.
- ``rebuild`` throws the table away and folds the whole log again (``samenop
  evaluation rebuild``); a test proves it gives the same rows as the live projection,
  also after retention scrubbed the events (the facts use no key retention removes).
- ``facts`` reads a region's period for ``evaluation.report``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import String, Table, case, delete, func, insert, or_, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch.evaluation import EARLIEST, RELEVANT, SET_ONCE, SUMS, Delta, Fact, fold
from dispatch.models import EvaluationFact, Event

FACTS = cast(Table, EvaluationFact.__table__)
COLUMNS = [c.name for c in FACTS.columns]
_REBUILD_BATCH = 2000


def _build_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE that combines the old row and the new values the
    way ``evaluation.combine`` does. Built once per dialect (compiling it costs more than
    running it, and it runs on intake's path)."""
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(FACTS)
    new = statement.excluded
    old = FACTS.c
    update: dict[str, Any] = {}
    for name in SET_ONCE:
        update[name] = func.coalesce(old[name], new[name])
    for name in EARLIEST:
        update[name] = case(
            (old[name].is_(None), new[name]),
            (new[name].is_(None), old[name]),
            (new[name] < old[name], new[name]),
            else_=old[name],
        )
    for name in SUMS:
        update[name] = old[name] + new[name]
    update["police_call"] = or_(old.police_call, new.police_call)
    return statement.on_conflict_do_update(index_elements=[old.dispatch_id], set_=update)


_UPSERTS: dict[str, Any] = {}


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the rows, or combine each with the row already there (order-free)."""
    dialect = session.get_bind().dialect.name
    statement = _UPSERTS.get(dialect)
    if statement is None:
        statement = _UPSERTS[dialect] = _build_upsert(dialect)
    session.execute(statement, rows)


def project(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Fold pending event rows (``dispatch.events``: payload still JSON text) into the
    facts of their dispatches, in the caller's transaction."""
    batches: dict[str, list[tuple[str, Mapping[str, Any], datetime]]] = defaultdict(list)
    for row in rows:
        kind = row["type"]
        if kind not in RELEVANT or row["dispatch_id"] is None:
            continue
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        batches[row["dispatch_id"]].append((kind, payload, row["created_at"]))
    if not batches:
        return
    values = []
    for dispatch_id, events in batches.items():
        delta = fold(events)
        if delta != Delta():
            values.append({"dispatch_id": dispatch_id, **delta.as_row()})
    if values:
        _upsert(session, values)


def rebuild(session: Session) -> int:
    """Replace every fact by a fold of the whole event log; returns the number of
    dispatches. The caller commits (a failure leaves the old table)."""
    session.execute(delete(EvaluationFact))
    query = (
        select(Event.dispatch_id, Event.type, Event.payload, Event.created_at)
        .where(Event.type.in_(sorted(RELEVANT)), Event.dispatch_id.is_not(None))
        .order_by(Event.dispatch_id, Event.id)
        .execution_options(yield_per=5000)
    )
    total = 0
    pending: list[dict[str, Any]] = []
    current: str | None = None
    events: list[tuple[str, Mapping[str, Any], datetime]] = []

    def flush_dispatch() -> None:
        nonlocal total
        if current is None:
            return
        delta = fold(events)
        if delta != Delta():
            pending.append({"dispatch_id": current, **delta.as_row()})
            total += 1

    for dispatch_id, kind, payload, created_at in session.execute(query):
        if dispatch_id != current:
            flush_dispatch()
            current, events = dispatch_id, []
            if len(pending) >= _REBUILD_BATCH:
                session.execute(insert(FACTS), pending)
                pending = []
        if isinstance(payload, str):
            payload = json.loads(payload)
        events.append((kind, payload, created_at))
    flush_dispatch()
    if pending:
        session.execute(insert(FACTS), pending)
    return total


def all_rows(session: Session) -> list[dict[str, Any]]:
    """Every fact as a plain dict, by dispatch (to compare a rebuild with the live table)."""
    result = session.execute(select(FACTS).order_by(FACTS.c.dispatch_id))
    return [dict(row._mapping) for row in result]


def _instant(value: Any) -> datetime | None:
    """A stored UTC time as read raw (SQLite: ISO text; PostgreSQL: a datetime)."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None and value.tzinfo else value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def facts(session: Session, region_id: str, first: datetime, after: datetime) -> list[Fact]:
    """The region's incidents reported from ``first`` up to (not including) ``after``.

    A year of a region is thousands of rows: on SQLite the three times are read as the
    stored text and parsed here (``datetime.fromisoformat``), several times faster than
    the column type's own conversion."""
    c = FACTS.c
    raw = session.get_bind().dialect.name == "sqlite"

    def col(column: Any) -> Any:
        return type_coerce(column, String) if raw else column

    query = select(
        c.dispatch_id,
        col(c.received_at),
        c.team_id,
        c.outcome,
        c.police_call,
        col(c.first_accept_at),
        col(c.arrived_at),
        c.declines,
        c.unanswered,
    ).where(c.region_id == region_id, c.received_at >= first, c.received_at < after)
    out = []
    for r in session.execute(query):
        received = _instant(r[1])
        if received is None:
            continue
        out.append(
            Fact(
                dispatch_id=r[0],
                received_at=received,
                team_id=r[2],
                outcome=r[3],
                police_call=bool(r[4]),
                first_accept_at=_instant(r[5]),
                arrived_at=_instant(r[6]),
                declines=int(r[7] or 0),
                unanswered=int(r[8] or 0),
            )
        )
    return out

"""The event log's ids appear in commit order: a second writer waits for the first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, delete, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dispatch import events
from dispatch.models import Event

NOW = datetime(2026, 11, 28, 23, 40, tzinfo=UTC)


def _cleanup(engine: Engine, marker: str) -> None:
    with Session(engine) as s:
        s.execute(delete(Event).where(Event.type == marker))
        s.commit()


def test_second_writer_waits_until_first_commits(engine: Engine) -> None:
    marker = "test.ordering"
    if engine.dialect.name == "postgresql":
        impatient = engine
    else:  # a plain engine whose writer gives up after 0.2 s instead of 5 s
        impatient = create_engine(engine.url, connect_args={"timeout": 0.2})
    first, second = Session(engine), Session(impatient)
    try:
        events.append(first, None, NOW, [(marker, {"n": 1})])
        # Collected events are inserted at commit; take that step now and stop before
        # the commit itself. Until the first transaction ends, a second writer cannot
        # insert events (it would get a larger id but might commit first, and a
        # resuming reader would skip one).
        events.write_pending(first)
        if engine.dialect.name == "postgresql":
            second.execute(text("SET lock_timeout = '200ms'"))
        events.append(second, None, NOW, [(marker, {"n": 2})])
        with pytest.raises(OperationalError):
            second.commit()
        second.rollback()
        first.commit()
        events.append(second, None, NOW, [(marker, {"n": 2})])
        second.commit()
        with Session(engine) as s:
            rows = s.execute(
                select(Event.id, Event.payload).where(Event.type == marker).order_by(Event.id)
            ).all()
        assert [p["n"] for _, p in rows] == [1, 2]
        assert rows[0][0] < rows[1][0]
    finally:
        first.close()
        second.close()
        _cleanup(engine, marker)


def test_events_are_written_at_commit_and_dropped_on_rollback(engine: Engine) -> None:
    """The lock on the event log is taken by the commit, not by ``append``: a writer
    holds it only from its last statement to its commit."""
    marker = "test.deferred"
    try:
        with Session(engine) as s:
            events.append(s, None, NOW, [(marker, {"n": 1})])
            assert s.scalar(select(Event.id).where(Event.type == marker)) is None
            s.rollback()
            s.commit()  # nothing left to write: the rollback dropped it
            events.append(s, None, NOW, [(marker, {"n": 2}), (marker, {"n": 3})])
            s.commit()
        with Session(engine) as s:
            rows = s.scalars(select(Event.payload).where(Event.type == marker).order_by(Event.id))
            assert [p["n"] for p in rows] == [2, 3]
    finally:
        _cleanup(engine, marker)

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
        # While the first transaction is open, a second writer cannot append (it would
        # get a larger id but might commit first, and a resuming reader would skip one).
        if engine.dialect.name == "postgresql":
            second.execute(text("SET lock_timeout = '200ms'"))
        with pytest.raises(OperationalError):
            events.append(second, None, NOW, [(marker, {"n": 2})])
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

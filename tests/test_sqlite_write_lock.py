"""SQLite's write lock is handed over inside the process: a transaction waiting behind
another starts as soon as that one ends (SQLite's own busy handler would let it sleep
up to 100 ms at a time), and the lock is let go however a transaction ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.db import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield eng
    eng.dispose()


def test_a_waiting_transaction_starts_as_soon_as_the_other_commits(engine: Engine) -> None:
    holding = threading.Event()
    committed_at: list[float] = []

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            time.sleep(1.0)  # long enough for SQLite's busy handler to sleep 100 ms at a time
        committed_at.append(time.perf_counter())

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(text("INSERT INTO t VALUES (2)"))
    thread.join(5)
    assert committed_at
    waited_after_commit = started - committed_at[0]
    assert waited_after_commit < 0.03, f"started {waited_after_commit * 1000:.0f} ms after"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_the_lock_is_let_go_after_a_rollback_an_error_and_a_close(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        tx.rollback()
    with pytest.raises(Exception), engine.begin() as conn:  # noqa: B017 (any error)
        conn.execute(text("INSERT INTO missing VALUES (1)"))
    conn = engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES (3)"))
    conn.close()  # returned to the pool mid-transaction: rolled back, the lock let go

    done = threading.Event()

    def other() -> None:
        with engine.begin() as c:
            c.execute(text("INSERT INTO t VALUES (4)"))
        done.set()

    threading.Thread(target=other).start()
    assert done.wait(2), "the write lock was not let go"
    with engine.connect() as c:
        assert c.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [4]

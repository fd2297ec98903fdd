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
from sqlalchemy.exc import OperationalError

from core.db import make_engine, read_only


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


def test_a_reading_transaction_does_not_wait_for_a_writer(engine: Engine) -> None:
    """``/healthz`` and other reads answer while an import holds the write lock; they
    see the last commit."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        holding.wait(5)
        started = time.perf_counter()
        with read_only(engine).begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
        assert time.perf_counter() - started < 0.2
    finally:
        release.set()
        thread.join(5)
    with read_only(engine).begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_a_reading_transaction_refuses_a_write_and_the_connection_writes_again(
    engine: Engine,
) -> None:
    engine.pool.dispose()
    with pytest.raises(OperationalError, match="readonly"):  # noqa: SIM117
        with read_only(engine).begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    # The same pooled connection, used for writing afterwards, is no longer read-only.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [2]

"""Database engine, sessions and the declarative base shared by every domain package."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

BUSY_TIMEOUT_MS = 5000  # how long a SQLite transaction waits for the write lock
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _WriteLock:
    """The one write transaction of a SQLite database, handed over inside the process.

    Every transaction begins IMMEDIATE (a writer must not fail on a stale snapshot), so
    transactions of one process queue for SQLite's write lock. SQLite's own busy handler
    makes a waiter sleep in growing steps (up to 100 ms) and try again, so under load a
    waiter can lose the lock to others several times and stall for most of a second.
    Here the waiters of this process queue on a ``threading.Lock`` instead: the lock is
    taken before ``BEGIN IMMEDIATE`` and let go right after COMMIT or ROLLBACK, so the
    next one goes at once. (Other processes, such as a CLI command, still meet SQLite's
    busy handler.)
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when this thread holds it already (a transaction opened
        inside another: SQLite's busy handler decides, as before)."""
        me = threading.get_ident()
        if self._owner == me:
            return False
        if not self._lock.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked (waited for the write lock)")
        self._owner = me
        return True

    def release(self) -> None:
        self._owner = None
        self._lock.release()


def _locking_connection(lock: _WriteLock) -> type[sqlite3.Connection]:
    """A sqlite3 connection class that lets ``lock`` go when its transaction ends."""

    class Connection(sqlite3.Connection):
        holds_write_lock = False

        reading_only = False

        def begin_immediate(self) -> None:
            self.holds_write_lock = lock.acquire()
            try:
                self.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._let_go()
                raise

        def begin_read(self) -> None:
            """A deferred transaction that may only read: it reads the last committed
            state (WAL) without queueing behind a writer, and SQLite refuses any write
            in it (``query_only``) instead of failing later on a stale snapshot."""
            self.execute("PRAGMA query_only=ON")
            self.reading_only = True
            try:
                self.execute("BEGIN")
            except BaseException:
                self._let_go()
                raise

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self._let_go()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._let_go()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._let_go()

        def _let_go(self) -> None:
            if self.reading_only:
                self.reading_only = False
                self.execute("PRAGMA query_only=OFF")
            if self.holds_write_lock:
                self.holds_write_lock = False
                lock.release()

    return Connection


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin, so that
    # SAVEPOINTs work (the documented pysqlite workaround).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


# An execution option of an engine (see ``read_only``): its transactions only read.
READ_ONLY = "samenop_read_only"


def read_only(engine: Engine) -> Engine:
    """``engine`` for transactions that only read. On SQLite they begin deferred and do
    not wait for the write lock (a reader sees the last commit, as WAL allows), and a
    write in one is refused; on PostgreSQL they are ``READ ONLY, REPEATABLE READ``."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READ_ONLY: True})
    # REPEATABLE READ: a version and the configuration read after it agree.
    return engine.execution_options(postgresql_readonly=True, isolation_level="REPEATABLE READ")


def _begin_immediate(conn: Any) -> None:
    dbapi_conn = conn.connection.dbapi_connection
    if conn.get_execution_options().get(READ_ONLY) and hasattr(dbapi_conn, "begin_read"):
        dbapi_conn.begin_read()
    elif hasattr(dbapi_conn, "begin_immediate"):
        dbapi_conn.begin_immediate()
    else:  # a connection made some other way: SQLite's busy handler queues it
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False, pre_ping: bool = True) -> Engine:
    """The engine for ``url``. ``pre_ping`` checks each pooled connection with a round
    trip before use (request sessions: a restarted PostgreSQL costs no failed request);
    workers whose transactions go through ``dispatch.flows`` turn it off, since a
    transaction that meets a dropped connection is run again there."""
    if url.startswith("sqlite"):
        lock = _WriteLock(timeout=BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # errors and SQL logs never quote personal data
            connect_args={"check_same_thread": False, "factory": _locking_connection(lock)},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # IMMEDIATE: writers queue (on the write lock) instead of failing on a stale
        # snapshot; see _WriteLock.
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,  # errors and SQL logs never quote personal data
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=pre_ping,
    )


def make_session_factory(engine: Engine, bus: Any = None) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``bus`` (a ``core.bus.Bus``) is told after each commit
    that wrote events."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False, info={"bus": bus})


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

"""Shared fixtures: a migrated database per backend (SQLite and PostgreSQL), each test in a
transaction that is rolled back, the example configuration, and an API client.

Backends come from SAMENOP_TEST_DATABASES (default "sqlite,postgresql"). PostgreSQL is
not optional: if it is listed and unreachable the run fails, it does not skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core import migrate
from core.clock import ManualClock
from core.db import make_engine
from core.settings import Settings
from oncall import service as oncall_service
from oncall.loader import load_directory
from oncall.schemas import ConfigSet
from oncall.snapshot import ConfigSnapshot

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-key-0123456789"
PG_ADMIN = os.environ.get("SAMENOP_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [
    b.strip()
    for b in os.environ.get("SAMENOP_TEST_DATABASES", "sqlite,postgresql").split(",")
    if b.strip()
]


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


@pytest.fixture(scope="session")
def example_config() -> ConfigSet:
    return load_directory(ROOT / "regions")


@pytest.fixture(scope="session")
def example_snapshot(example_config: ConfigSet) -> ConfigSnapshot:
    return ConfigSnapshot(example_config, version=1)


def _make_database(backend: str, tmp: Path) -> tuple[str, object]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'test.db'}", None
    if backend == "postgresql":
        name = f"samenop_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            pytest.exit(
                f"PostgreSQL is required for these tests and is unreachable at "
                f"{PG_ADMIN}: {exc}. Start it, or set SAMENOP_TEST_DATABASES=sqlite.",
                returncode=3,
            )
        admin.execute(f'CREATE DATABASE "{name}"')
        return _pg_url(name), (admin, name)
    raise ValueError(f"unknown test backend {backend!r}")


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url, handle = _make_database(request.param, tmp_path_factory.mktemp(request.param))
    migrate.upgrade(url)
    yield url
    if handle is not None:
        admin, name = handle  # type: ignore[misc]
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """Everything a test writes is rolled back: commits inside become savepoints.

    A few tests commit for real (several connections, a real server on this database);
    what they leave of the roster's cursors would make the next test's sweep tell
    "changes" between their configuration and this one, so each test starts without."""
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text("DELETE FROM roster_cursors"))
        try:
            yield conn
        finally:
            trans.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture
def loaded(sessions: sessionmaker[Session], example_config: ConfigSet) -> int:
    """The example regions stored in the test transaction; returns the config version."""
    with sessions() as s:
        version = oncall_service.write_config(
            session=s, config=example_config, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    return version


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(environment="test", database_url=db_url, api_keys=[API_KEY])


@pytest.fixture
def client(
    settings: Settings, sessions: sessionmaker[Session], clock: ManualClock, loaded: int
) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, run_delivery=False, run_stream=False)
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    app.state.samenop.paging.sessions = sessions
    if app.state.samenop.driver is not None:
        app.state.samenop.driver.parallel = 1  # one shared test connection
    with TestClient(app, headers={"X-API-Key": API_KEY}) as c:
        yield c

"""The Alembic migrations, run for real on SQLite and PostgreSQL: up, down and up again,
and the schema they build is exactly what the SQLAlchemy models describe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, delete, inspect
from sqlalchemy.orm import Session

import access.models  # noqa: F401  (register every table on Base.metadata)
import dispatch.feed_models
import dispatch.models
import dispatch.roster_models  # noqa: F401
import oncall.models  # noqa: F401
from core import migrate
from core.db import Base, make_engine, make_session_factory
from dispatch.models import Event
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.conftest import BACKENDS, _make_database

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (not the shared, already migrated test database)."""
    url, handle = _make_database(request.param, tmp_path)
    yield url
    if handle is not None:
        admin, name = handle  # type: ignore[misc]
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def fresh_engine(fresh_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_url)
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head(url: str) -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


def test_upgrade_downgrade_upgrade(
    fresh_url: str, fresh_engine: Engine, example_config: ConfigSet
) -> None:
    assert tables(fresh_engine) == set()

    migrate.upgrade(fresh_url)
    assert tables(fresh_engine) == MODEL_TABLES | {"alembic_version"}
    assert current_revision(fresh_engine) == head(fresh_url) is not None

    migrate.downgrade(fresh_url, "base")
    assert tables(fresh_engine) <= {"alembic_version"}
    assert current_revision(fresh_engine) is None

    migrate.upgrade(fresh_url)
    assert tables(fresh_engine) == MODEL_TABLES | {"alembic_version"}
    assert current_revision(fresh_engine) == head(fresh_url)

    # The rebuilt schema is usable: the example configuration goes in and comes out.
    factory = make_session_factory(fresh_engine)
    with factory() as session:
        version = oncall_service.write_config(
            session=session, config=example_config, now=datetime.now(UTC), source="migrations"
        )
        session.commit()
    with factory() as session:
        assert version == oncall_service.get_version(session=session) == 1
        back = oncall_service.read_config(session=session)
        assert {r.id for r in back.rules} == {r.id for r in example_config.rules}


def test_upgrade_is_idempotent(fresh_url: str, fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_url)
    migrate.upgrade(fresh_url)
    assert current_revision(fresh_engine) == head(fresh_url)


def test_models_and_migrations_agree(fresh_url: str, fresh_engine: Engine) -> None:
    """Autogenerate finds nothing to do: the migrations build exactly Base.metadata."""
    migrate.upgrade(fresh_url)
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_coverage_rules_reference_teams_in_the_schema(fresh_url: str, fresh_engine: Engine) -> None:
    """The database, not only the loader, refuses a rule for a team that does not exist."""
    migrate.upgrade(fresh_url)
    with fresh_engine.connect() as conn:
        fks = inspect(conn).get_foreign_keys("coverage_rules")
    assert {(tuple(fk["constrained_columns"]), fk["referred_table"]) for fk in fks} == {
        (("team_id",), "teams"),
        (("consult_team_id",), "teams"),
    }


# --- the event log's ids -------------------------------------------------------------------


def new_event(session: Session, kind: str) -> Event:
    event = Event(type=kind, payload={"n": kind}, created_at=datetime.now(UTC))
    session.add(event)
    session.flush()
    return event


def test_event_ids_auto_increment(session: Session) -> None:
    first = new_event(session, "test.first")
    second = new_event(session, "test.second")
    assert isinstance(first.id, int) and isinstance(second.id, int)
    assert second.id > first.id


def test_event_ids_are_not_reused_after_the_newest_is_deleted(session: Session) -> None:
    """'Ids only grow': a websocket client resuming after id N must never miss a new event
    because it was given an id at or below N (e.g. after a retention purge removed the
    newest events, or a dispatch was deleted with its events by ON DELETE CASCADE)."""
    new_event(session, "test.first")
    newest = new_event(session, "test.second")
    seen = newest.id
    session.execute(delete(Event).where(Event.id == seen))
    after = new_event(session, "test.third")
    assert after.id > seen

"""The one gate for transitions: commit, then arm; nothing armed when the work fails; a
webhook applied once; a transition that meets a dropped connection runs once more."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.db import make_engine, make_session_factory
from dispatch import flows
from dispatch.models import AuditLog, WebhookReceipt
from dispatch.wake import Wake
from tests.audit_rows import delete_audit_rows
from tests.conftest import PG_ADMIN, _make_database

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@dataclass
class Armed:
    wakes: list[Wake] = field(default_factory=list)

    def arm(self, wake: Wake) -> None:
        self.wakes.append(wake)


@dataclass
class Gate:
    sessions: sessionmaker[Session]
    waker: Armed


@pytest.fixture
def gate(engine: Engine) -> Iterator[Gate]:
    g = Gate(make_session_factory(engine), Armed())
    yield g
    with engine.begin() as conn:
        delete_audit_rows(conn, AuditLog.actor == "flows-test")
        conn.execute(delete(WebhookReceipt).where(WebhookReceipt.key.like("flows-test-%")))


def note(session: Session, detail: str) -> None:
    session.add(
        AuditLog(
            at=NOW,
            actor="flows-test",
            action="test",
            object_type="t",
            object_id="1",
            detail=detail,
        )
    )


def notes(gate: Gate) -> list[str | None]:
    with gate.sessions() as s:
        return list(s.scalars(select(AuditLog.detail).where(AuditLog.actor == "flows-test")))


def test_a_transition_commits_then_arms_and_a_failure_arms_nothing(gate: Gate) -> None:
    wake = Wake(due=[("p1", NOW)])

    def work(s: Session) -> Wake:
        note(s, "done")
        return wake

    assert flows.run(gate, work) is wake
    assert notes(gate) == ["done"] and gate.waker.wakes == [wake]

    def broken(s: Session) -> Wake:
        note(s, "half")
        raise ValueError("half-way")

    with pytest.raises(ValueError):
        flows.run(gate, broken)
    assert notes(gate) == ["done"] and gate.waker.wakes == [wake]  # nothing kept or armed


def test_a_webhook_is_applied_once_and_a_redelivery_gets_the_first_answer(gate: Gate) -> None:
    calls: list[str] = []

    def work(s: Session) -> tuple[str, Wake]:
        calls.append("x")
        note(s, f"applied {len(calls)}")
        return f"answer {len(calls)}", Wake(due=[("p", NOW)])

    assert flows.once(gate, "flows-test-1", NOW, work) == "answer 1"
    assert flows.once(gate, "flows-test-1", NOW, work) == "answer 1"  # the stored answer
    assert notes(gate) == ["applied 1"]  # the second run was rolled back
    assert len(gate.waker.wakes) == 1
    # progress callbacks keep no receipt: applying them twice changes nothing anyway
    assert flows.once(gate, "flows-test-2", NOW, work, receipt=False) == "answer 3"
    with gate.sessions() as s:
        kept = s.scalar(select(func.count()).where(WebhookReceipt.key.like("flows-test-%")))
    assert kept == 1


@pytest.mark.postgres
def test_a_transition_that_meets_a_dropped_connection_runs_once_more(tmp_path: Path) -> None:
    url, handle = _make_database("postgresql", tmp_path)
    migrate.upgrade(url)
    engine = make_engine(url, pre_ping=False)  # as the workers run
    gate = Gate(make_session_factory(engine), Armed())
    try:
        flows.run(gate, lambda s: note(s, "warm"))  # a pooled connection now exists
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (url.rsplit("/", 1)[1],),
            )
        tries: list[int] = []

        def work(s: Session) -> str:
            tries.append(1)
            note(s, "after the restart")
            return "ok"

        assert flows.run(gate, work) == "ok"
        assert len(tries) == 2  # the first met the dead connection
        assert notes(gate).count("after the restart") == 1
    finally:
        engine.dispose()
        admin_conn, name = handle  # type: ignore[misc]
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_conn.close()

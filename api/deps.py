"""Annotated dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from access.principal import Principal, Role
from api.auth import allow
from api.state import AppState
from core.clock import Clock
from core.settings import Settings
from oncall.snapshot import ConfigSnapshot

# Dependencies that do no I/O are ``async def`` so they run on the event loop instead
# of costing a thread-pool hop each; the request's own work stays in a worker thread.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.samenop
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_db(state: State) -> AsyncIterator[Session]:
    """One session per request; the router commits, anything unhandled rolls back.

    Creating a Session does no I/O (the connection is taken on first use, in the
    endpoint's worker thread); closing returns it to the pool.
    """
    session = state.sessions()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db)]


async def get_reader(state: State, session: DbSession) -> AsyncIterator[Session]:
    """A session for a request that only reads. On SQLite a read-only one of its own: it
    does not queue behind a writer (a configuration import holds the write lock for a
    while), and any write in it is refused. On PostgreSQL, where readers never wait for
    writers, the request's own session (one connection per request)."""
    if state.engine.dialect.name != "sqlite":
        yield session
        return
    reader = state.readers()
    try:
        yield reader
    finally:
        reader.close()


DbReader = Annotated[Session, Depends(get_reader)]


async def get_clock(state: State) -> Clock:
    return state.clock


async def get_settings_dep(state: State) -> Settings:
    return state.settings


def get_snapshot(state: State, session: DbSession) -> ConfigSnapshot:
    """The pairing snapshot of the current configuration version.

    On SQLite the version is read in a transaction of its own that only reads: every
    transaction of the request's session queues for the one write lock, and an intake
    waited there behind every other writer just to learn the version. On PostgreSQL
    the request's own transaction reads it (one round trip, no lock).
    """
    if state.engine.dialect.name == "sqlite":
        with state.readers() as reading:
            return state.snapshots.get(session=reading)
    return state.snapshots.get(session=session)


AppClock = Annotated[Clock, Depends(get_clock)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
Snapshot = Annotated[ConfigSnapshot, Depends(get_snapshot)]


# Who may use a route: each names its roles (admin may use everything).
Feed = Annotated[Principal, allow(Role.FEED)]
Intake = Annotated[Principal, allow(Role.FEED, Role.OPERATOR)]
IncidentReader = Annotated[Principal, allow(Role.FEED, Role.OPERATOR)]
ControlRoom = Annotated[Principal, allow(Role.OPERATOR)]
Planner = Annotated[Principal, allow(Role.PLANNER)]
RosterReader = Annotated[Principal, allow(Role.OPERATOR, Role.PLANNER)]
Admin = Annotated[Principal, allow()]
Staff = Annotated[Principal, allow(Role.FEED, Role.OPERATOR, Role.PLANNER)]
Worker = Annotated[Principal, allow(Role.WORKER)]

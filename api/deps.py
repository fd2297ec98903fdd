"""Annotated dependencies shared by the routers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session

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


async def get_clock(state: State) -> Clock:
    return state.clock


async def get_settings_dep(state: State) -> Settings:
    return state.settings


def get_snapshot(state: State, session: DbSession) -> ConfigSnapshot:
    return state.snapshots.get(session=session)


AppClock = Annotated[Clock, Depends(get_clock)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
Snapshot = Annotated[ConfigSnapshot, Depends(get_snapshot)]


async def require_api_key(
    state: State,
    x_api_key: Annotated[str | None, Header(description="API key of the calling system")] = None,
) -> str:
    """The caller's identity (an API key's short fingerprint, for the audit log)."""
    if x_api_key is None or not any(
        secrets.compare_digest(x_api_key, key) for key in state.settings.api_keys
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or unknown API key (header X-API-Key)",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return "key:" + x_api_key[:4] + "…"


Caller = Annotated[str, Depends(require_api_key)]

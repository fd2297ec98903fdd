"""Liveness and readiness for load balancers and the test harness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import DbSession, State
from oncall.service import get_version

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Ready: the database answers and a configuration is loaded")
def healthz(session: DbSession, state: State) -> dict[str, Any]:
    session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "database": state.engine.dialect.name,
        "config_version": get_version(session=session),
    }

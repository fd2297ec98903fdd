"""Liveness and readiness for load balancers and the test harness."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api import auth
from api.deps import DbReader, State
from oncall.service import get_version

router = APIRouter(tags=["health"], dependencies=[auth.public("liveness and readiness")])


@router.get(
    "/healthz",
    summary="Ready: the database (and Redis, when configured) answer",
    responses={503: {"description": "A required backing service does not answer"}},
)
def healthz(session: DbReader, state: State) -> Any:
    session.execute(text("SELECT 1"))
    body: dict[str, Any] = {
        "status": "ok",
        "database": state.engine.dialect.name,
        "config_version": get_version(session=session),
        "redis": None,
    }
    if state.settings.redis_url:
        try:
            client = redis.Redis.from_url(state.settings.redis_url, socket_timeout=1)
            client.ping()
            body["redis"] = "ok"
        except redis.RedisError as exc:
            body.update(status="degraded", redis=f"unreachable: {exc}")
            return JSONResponse(status_code=503, content=body)
    return body

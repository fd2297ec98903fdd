"""Application factory: one place that wires settings, database, clock and routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routers import health, incidents, oncall, pages
from api.state import AppState
from core.clock import Clock, SystemClock
from core.db import make_engine, make_session_factory
from core.settings import Settings, get_settings
from oncall.service import SnapshotCache

HERE = Path(__file__).resolve().parent

DESCRIPTION = """
Dispatch and on-call availability for **Samen op in acuut**: the police feed posts an
incident, the pairing engine decides which Veilig Thuis / CIT / crisisdienst worker on
piket to ask, and every decision carries its reasons.

Authenticate with the `X-API-Key` header. Times are ISO 8601; without an offset they are
read as Europe/Amsterdam wall-clock time. Responses are in UTC.
"""


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, echo=settings.log_sql)
    app = FastAPI(
        title="Samen op in acuut — dispatch",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "incidents", "description": "Intake from the police feed and the plan"},
            {"name": "oncall", "description": "Who is on call, and the configuration"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    app.state.samenop = AppState(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        snapshots=SnapshotCache(),
        clock=clock or SystemClock(),
    )
    errors.install(app)
    app.include_router(incidents.router)
    app.include_router(oncall.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app

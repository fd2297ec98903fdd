"""Application factory: one place that wires settings, database, clock and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import auth, errors, hardening
from api.routers import (
    access,
    admin_pages,
    audit_log,
    config_versions,
    evaluation,
    favicon,
    health,
    ical,
    incidents,
    lifecycle,
    oidc,
    oncall,
    pages,
    planner_pages,
    planning,
    planning_edits,
    respond,
    stream,
    swaps,
    twilio,
    vonage,
    worker_pages,
)
from api.routers import metrics as metrics_routes
from api.state import AppState
from api.stream import Hub
from core import metrics
from core.bus import make_bus
from core.clock import Clock, SystemClock
from core.db import make_engine, make_session_factory, read_only
from core.settings import Settings, get_settings
from dispatch import reminders
from dispatch.digest import digest_schedule
from dispatch.driver import Driver
from dispatch.jobs import ConfigurationError, RQWaker, build_context
from oncall.service import SnapshotCache

HERE = Path(__file__).resolve().parent

DESCRIPTION = """
Dispatch and on-call availability for **Samen op in acuut**: the police feed posts an
incident, the pairing engine decides which Veilig Thuis / CIT / crisisdienst worker on
piket to ask, and every decision carries its reasons.

Authenticate with the `X-API-Key` header. Times are ISO 8601; without an offset they are
read as Europe/Amsterdam wall-clock time. Responses are in UTC.
"""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    run_delivery: bool = True,
    run_stream: bool = True,
) -> FastAPI:
    """The application; ``run_delivery=False`` leaves the embedded loop to the caller
    (tests drive it step by step with ``state.driver.run_once()``); ``run_stream=False``
    leaves out the websocket hub (tests that share one connection with the app)."""
    settings = settings or get_settings()
    if settings.metrics_dir:  # before anything is observed in this process
        metrics.use_directory(settings.metrics_dir)
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url, echo=settings.log_sql)
    bus = make_bus(settings.redis_url, settings.queue_name)
    sessions = make_session_factory(engine, bus)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.samenop
        driver = state.driver
        if driver is not None and run_delivery:
            driver.start()
        if run_stream:
            state.hub = Hub(
                lambda: state.readers(),  # it only reads: never queues behind a writer
                bus,
                clock,
                poll_seconds=settings.stream_poll_seconds,
                heartbeat_seconds=settings.stream_heartbeat_seconds,
                max_queue=settings.stream_queue,
                snapshots=state.snapshots,
            )
            await state.hub.start()
        try:
            yield
        finally:
            if state.hub is not None:
                await state.hub.stop()
                state.hub = None
            if driver is not None:
                driver.stop()
            bus.close()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served by api.apidocs, from the installed Swagger UI
        redoc_url=None,
        title="Samen op in acuut — dispatch",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "incidents", "description": "Intake from the police feed and the plan"},
            {"name": "oncall", "description": "Who is on call, and the configuration"},
            {"name": "paging", "description": "Pages sent, and answers recorded for workers"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    driver: Driver | None = None
    if settings.delivery_mode == "rq":
        if not settings.redis_url:
            raise ConfigurationError("SAMENOP_DELIVERY=rq needs SAMENOP_REDIS_URL")
        paging = build_context(
            settings, sessions, clock, RQWaker(settings.redis_url, settings.queue_name, clock)
        )
    else:
        paging = build_context(settings, sessions, clock, waker=_LateWaker())
        driver = Driver(
            paging,
            interval=min(settings.sweep_seconds, 0.25),
            digest=digest_schedule(settings, sessions, clock),
        )
        paging.waker = driver
    snapshots = SnapshotCache()
    reminders.share_snapshots(sessions, snapshots)  # the sweep reads what the API holds
    app.state.samenop = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        snapshots=snapshots,
        clock=clock,
        paging=paging,
        readers=make_session_factory(read_only(engine)),
        driver=driver,
        bus=bus,
    )
    errors.install(app)
    app.add_middleware(auth.AccessMiddleware)
    hardening.install(app, settings)  # body limits, NUL, JSON depth, headers, /docs
    app.include_router(incidents.router)
    app.include_router(access.router)
    app.include_router(oncall.router)
    app.include_router(config_versions.router)
    app.include_router(audit_log.router)
    app.include_router(health.router)
    app.include_router(favicon.router)
    app.include_router(metrics_routes.router)
    app.include_router(pages.router)
    app.include_router(oidc.router)
    app.include_router(admin_pages.router)
    app.include_router(respond.router)
    app.include_router(lifecycle.router)
    app.include_router(twilio.router)
    app.include_router(vonage.router)
    app.include_router(stream.router)
    app.include_router(evaluation.router)
    app.include_router(worker_pages.router)
    app.include_router(swaps.router)
    app.include_router(swaps.link_router)
    app.include_router(swaps.pages)
    app.include_router(ical.router)
    app.include_router(planning.router)
    app.include_router(planning_edits.router)
    app.include_router(planner_pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


class _LateWaker:
    """Placeholder until the driver that arms work exists (it replaces this at once)."""

    def arm(self, wake: object) -> None:
        raise RuntimeError("paging context used before its driver was set")

"""What the running application holds: engine, sessions, snapshot cache, clock, paging."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.stream import Hub
from core.bus import Bus
from core.clock import Clock
from core.settings import Settings
from dispatch.delivery import PagingContext
from dispatch.driver import Driver
from oncall.service import SnapshotCache


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    snapshots: SnapshotCache
    clock: Clock
    paging: PagingContext
    # Sessions whose transactions only read: on SQLite they never wait for a writer.
    readers: sessionmaker[Session]
    # The in-process delivery loop (embedded mode); None when RQ workers deliver.
    driver: Driver | None = None
    # Tells every API process that events were committed (Redis or in-memory).
    bus: Bus | None = None
    # This process's live stream (None when the app runs without it, as in unit tests).
    hub: Hub | None = None

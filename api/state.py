"""What the running application holds: engine, session factory, snapshot cache, clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.settings import Settings
from oncall.service import SnapshotCache


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    snapshots: SnapshotCache
    clock: Clock

"""Configuration versions: one row per write, with the whole configuration and its diff.

``oncall.service`` records a version in the same transaction as every write (the
number is the one ``config_state`` moves to), so a version exists exactly when its
configuration was committed. Reading, listing and comparing versions is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from core.lru import Lru
from oncall import changes
from oncall.models import ConfigVersion
from oncall.schemas import ConfigSet

# The documents of the last few versions this process wrote or read, each known by its
# number and its time (a version number alone can come back with other contents when a
# write rolls back or a database is restored). Reading a version's document back means
# decoding the whole configuration's JSON, which the sweep did twice for every save.
RECENT: Lru[tuple[int, datetime], dict[str, Any]] = Lru(4)


@dataclass(frozen=True)
class Stored:
    """A version as stored, its document from ``RECENT`` when this process has it."""

    version: int
    at: datetime
    author: str
    diff: dict[str, Any]
    document: dict[str, Any]


def stored(session: Session, version: int) -> Stored | None:
    head = session.execute(
        select(ConfigVersion.at, ConfigVersion.author, ConfigVersion.diff).where(
            ConfigVersion.version == version
        )
    ).first()
    if head is None:
        return None
    document = RECENT.get((version, head.at))
    if document is None:
        document = session.scalar(
            select(ConfigVersion.document).where(ConfigVersion.version == version)
        )
        document = document if isinstance(document, dict) else {}
        RECENT.put((version, head.at), document)
    return Stored(version, head.at, head.author, head.diff or {}, document)


def record(
    session: Session,
    *,
    version: int,
    now: datetime,
    author: str,
    source: str | None,
    previous: ConfigSet,
    current: ConfigSet,
    rollback_of: int | None = None,
) -> ConfigVersion:
    changed = changes.diff(previous, current)
    row = ConfigVersion(
        version=version,
        at=now,
        author=author[:160],
        source=source,
        rollback_of=rollback_of,
        summary=changes.summary(changed),
        diff=changed,
        document=changes.document(current),
    )
    session.add(row)
    RECENT.put((version, now), row.document)
    return row


def get(session: Session, version: int) -> ConfigVersion | None:
    return session.scalars(
        select(ConfigVersion)
        .where(ConfigVersion.version == version)
        .options(undefer(ConfigVersion.document), undefer(ConfigVersion.diff))
    ).first()


def config_of(row: ConfigVersion) -> ConfigSet:
    return changes.from_document(row.document)


@dataclass(frozen=True)
class Listed:
    version: int
    at: datetime
    author: str
    source: str | None
    rollback_of: int | None
    summary: dict[str, Any]


def listing(session: Session, *, limit: int, before: int | None = None) -> list[Listed]:
    """Newest first; ``before`` pages back (the smallest version of the last page)."""
    query = select(
        ConfigVersion.version,
        ConfigVersion.at,
        ConfigVersion.author,
        ConfigVersion.source,
        ConfigVersion.rollback_of,
        ConfigVersion.summary,
    ).order_by(ConfigVersion.version.desc())
    if before is not None:
        query = query.where(ConfigVersion.version < before)
    return [Listed(*row) for row in session.execute(query.limit(limit))]


def compare(session: Session, a: int, b: int) -> dict[str, dict[str, Any]]:
    """What changed from version ``a`` to version ``b`` (LookupError naming a missing one)."""
    rows = {}
    for n in (a, b):
        row = get(session, n)
        if row is None:
            raise LookupError(n)
        rows[n] = row
    return changes.diff(config_of(rows[a]), config_of(rows[b]))

"""Configuration writes as the routers make them: guarded, versioned and audit-logged.

Every write goes through ``oncall.service`` (which keeps it as a version with its
author and diff); here the router layer adds what the on-call package must not know:
which teams have open incidents (dispatch), the confirmation the caller gave, and the
audit row in the same transaction.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, status
from sqlalchemy import CompoundSelect, select, union
from sqlalchemy.orm import Session

from access.principal import Principal
from api import audit
from dispatch.models import Assignment, Dispatch
from oncall import changes
from oncall import service as oncall_service
from oncall.models import ConfigVersion
from oncall.schemas import ConfigSet

Confirm = Annotated[
    bool,
    Query(
        description="Confirm a write that removes a region, a team with open incidents or "
        "more than the set share of the people (without it: 409 listing what would go)"
    ),
]
CONFIRMATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "Would remove a region, a busy team or many people: confirm=true"},
}


def busy_teams(session: Session) -> frozenset[str]:
    """Teams with an incident still open: planned for it, or asked in its queue."""
    open_dispatches = select(Dispatch.id).where(Dispatch.closed_at.is_(None))
    query: CompoundSelect[Any] = union(
        select(Dispatch.team_id).where(Dispatch.closed_at.is_(None)),
        select(Assignment.team_id).where(Assignment.dispatch_id.in_(open_dispatches)),
    )
    teams: list[str | None] = list(session.scalars(query))
    return frozenset(t for t in teams if t)


def guard(session: Session, request: Request, confirm: bool) -> changes.Guard:
    settings = request.app.state.samenop.settings
    return changes.Guard(
        busy_teams=busy_teams(session),
        people_share_limit=settings.config_remove_people_share,
        confirmed=confirm,
    )


def needs_confirmation(exc: changes.NeedsConfirmation) -> HTTPException:
    removal = exc.removal
    return HTTPException(
        status.HTTP_409_CONFLICT,
        detail={
            "message": f"{exc}; nothing was changed. Send the same request with "
            "confirm=true to go ahead.",
            "error": "confirmation_needed",
            "would_remove": removal.as_dict(),
        },
    )


def outside(exc: changes.Outside, principal: Principal) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"{exc}: outside the regions of {principal.actor}; nothing was changed",
    )


def write(
    session: Session,
    request: Request,
    principal: Principal,
    config: ConfigSet,
    *,
    action: str,
    confirm: bool,
    region: str | None = None,
    rollback_of: int | None = None,
) -> int:
    """Store ``config`` as the new version (the caller commits); 409 for a removal that
    needs a confirmation it did not get, with nothing written."""
    state = request.app.state.samenop
    try:
        version = oncall_service.write_config(
            session=session,
            config=config,
            now=state.clock.now(),
            source=f"api by {principal.actor}",
            author=principal.actor,
            guard=guard(session, request, confirm),
            rollback_of=rollback_of,
        )
    except changes.NeedsConfirmation as exc:
        session.rollback()
        raise needs_confirmation(exc) from exc
    noted(session, request, principal, action, version, region=region, rollback_of=rollback_of)
    return version


def noted(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    version: int,
    *,
    region: str | None = None,
    rollback_of: int | None = None,
    **detail: Any,
) -> None:
    """The audit row of a configuration write: the version it made and what changed
    (counts per section; the version itself holds the ids)."""
    summary = session.scalar(select(ConfigVersion.summary).where(ConfigVersion.version == version))
    extra: dict[str, Any] = {"changes": summary or {}, **detail}
    if rollback_of is not None:
        extra["rollback_of"] = rollback_of
    audit.note(
        session, request, principal, action, "config_version", str(version), extra, region=region
    )


def noted_override(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    override_id: str,
    version: int,
    *,
    team: str | None,
    region: str | None,
) -> None:
    """The audit row of an override added or withdrawn (the version holds the rest)."""
    audit.note(
        session,
        request,
        principal,
        action,
        "override",
        override_id,
        {"version": version, "team": team},
        region=region,
    )


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def load(
    session: Session,
    config: ConfigSet,
    *,
    now: datetime,
    source: str,
    confirm: bool,
    people_share_limit: float,
    author: str | None = None,
) -> int:
    """The command line's write (``samenop config load``): the same guard and a version
    and audit row by ``cli:<user>``; raises ``changes.NeedsConfirmation``."""
    author = author or f"cli:{os_user()}"
    version = oncall_service.write_config(
        session=session,
        config=config,
        now=now,
        source=source,
        author=author,
        guard=changes.Guard(
            busy_teams=busy_teams(session),
            people_share_limit=people_share_limit,
            confirmed=confirm,
        ),
    )
    summary = session.scalar(select(ConfigVersion.summary).where(ConfigVersion.version == version))
    audit.add(
        session,
        now=now,
        actor=author,
        actor_kind="cli",
        action="config.load",
        object_type="config_version",
        object_id=str(version),
        detail={"changes": summary or {}},
    )
    return version

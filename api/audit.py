"""The audit log as the routers write it: who (account or key, and in which role), what,
when, from where and in which region, in the caller's own transaction.

A row is added to the session and commits (or rolls back) with the change it records,
so the log never claims a change that did not happen and no change goes unrecorded.
The log is append-only (on PostgreSQL a trigger refuses UPDATE and DELETE) and keeps
ids only: never a name, a phone number or the content of a change.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from fastapi import Request
from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from access.principal import Principal
from dispatch.models import AuditLog


def source_address(request: Request) -> str | None:
    """The caller's address: the first X-Forwarded-For hop only behind a trusted proxy
    (``trust_proxy_headers``), since anyone can send that header."""
    settings = request.app.state.samenop.settings
    if settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return request.client.host[:64] if request.client else None


def _detail(detail: str | dict[str, Any] | None) -> str | None:
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(detail, sort_keys=True, separators=(",", ":"))


def add(
    session: Session,
    *,
    now: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    actor_kind: str | None = None,
    actor_role: str | None = None,
    source: str | None = None,
    region: str | None = None,
    detail: str | dict[str, Any] | None = None,
) -> AuditLog:
    """One row, without a request (the command line, jobs)."""
    row = AuditLog(
        at=now,
        actor=actor[:128],
        action=action[:48],
        object_type=object_type[:32],
        object_id=object_id[:64],
        actor_kind=actor_kind,
        actor_role=actor_role,
        source_address=source,
        region_id=region,
        detail=_detail(detail),
    )
    session.add(row)
    return row


_TABLE = cast(Table, AuditLog.__table__)


def note_now(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    *,
    region: str | None = None,
) -> None:
    """``note`` as one INSERT at once, without the ORM's unit of work (the intake path)."""
    session.execute(
        insert(_TABLE),
        [
            {
                "at": request.app.state.samenop.clock.now(),
                "actor": principal.actor[:128],
                "action": action[:48],
                "object_type": object_type[:32],
                "object_id": object_id[:64],
                "actor_kind": principal.kind,
                "actor_role": principal.role.value,
                "source_address": source_address(request),
                "region_id": region,
                "detail": None,
            }
        ],
    )


def note(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    detail: str | dict[str, Any] | None = None,
    *,
    region: str | None = None,
) -> AuditLog:
    """Record what ``principal`` did in this request; the caller commits."""
    return add(
        session,
        now=request.app.state.samenop.clock.now(),
        actor=principal.actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor_kind=principal.kind,
        actor_role=principal.role.value,
        source=source_address(request),
        region=region,
        detail=detail,
    )

"""Retention: incidents and everything hanging off them are deleted after a set period.

Only what the dispatch needs is stored (roles, ages, flags; never names), and even that
is kept no longer than the regions agreed. The audit log keeps ids only, so it stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.models import Dispatch, Event, Incident


def purge(*, session: Session, before: datetime) -> int:
    """Delete incidents received before ``before`` with their dispatch, assignments and
    events; returns how many incidents went. The caller commits."""
    old = select(Incident.id).where(Incident.received_at < before)
    old_dispatches = select(Dispatch.id).where(Dispatch.incident_id.in_(old))
    session.execute(delete(Event).where(Event.dispatch_id.in_(old_dispatches)))
    # Assignments go with their dispatch (ON DELETE CASCADE), dispatches with the incident.
    session.execute(delete(Dispatch).where(Dispatch.incident_id.in_(old)))
    result = session.execute(delete(Incident).where(Incident.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)

"""Retention: incidents and everything hanging off them are deleted after a set period.

Only what the dispatch needs is stored (roles, ages, flags; never names), and even that
is kept no longer than the regions agreed. The audit log keeps ids only, so it stays.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.models import Dispatch, Event, InboundSms, Incident, Page, WebhookReceipt

# Twilio redelivers a webhook within hours; a receipt older than this dedupes nothing.
RECEIPTS_KEPT = timedelta(days=2)


def purge(*, session: Session, before: datetime, receipts_before: datetime | None = None) -> int:
    """Delete incidents received before ``before`` with their dispatch, assignments,
    pages and events, and SMS replies and webhook receipts as old; returns how many
    incidents went. Webhook receipts may go sooner (``receipts_before``, e.g. two days
    ago: they only serve to recognise a redelivery). The caller commits."""
    old = select(Incident.id).where(Incident.received_at < before)
    old_dispatches = select(Dispatch.id).where(Dispatch.incident_id.in_(old))
    session.execute(delete(Event).where(Event.dispatch_id.in_(old_dispatches)))
    session.execute(delete(Page).where(Page.dispatch_id.in_(old_dispatches)))
    # SMS replies carry a worker's number and free text: they go on the same schedule.
    session.execute(delete(InboundSms).where(InboundSms.received_at < before))
    receipts = max(before, receipts_before) if receipts_before else before
    session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < receipts))
    # Assignments go with their dispatch (ON DELETE CASCADE), dispatches with the incident.
    session.execute(delete(Dispatch).where(Dispatch.incident_id.in_(old)))
    result = session.execute(delete(Incident).where(Incident.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)

"""Retention: personal data of incidents goes after a set period; the anonymous facts stay.

Only what the dispatch needs is stored (roles, ages, flags; never names), and even that
is kept no longer than the regions agreed. The period runs from an incident's closing
(or from its receipt, for one nobody closed). Then everything that is about the people
involved, or could lead back to them, is cleared in place: the persons (roles and
ages), the flags, the police unit and its callback number, the police's own reference
and the request's fingerprint, the municipality, the phone numbers in assignments and
pages, the names, numbers and texts in the plan, the alarms and the events (reason
texts mention ages), the free text of the agreements (who is first contact, who informs
whom, notes) and of the handover, and the evaluation notes written at closing.

What the evaluation needs stays, in the same rows, so reports keep working from the
events: every time (reported, received, planned, paged, accepted, arrived, closed),
the outcome, region, basisteam, team, case type and mode, each stage and its outcome
(measures taken, the handover's target), the reason codes, and every assignment's status
(so declines and unanswered pages still count). Workers and callers stay as ids, as in
the audit log, which keeps ids only and is never touched. The evaluation's facts
(``evaluation_facts``, dispatch.evaluation_store) hold ids, times and counts only and
are left alone; they read no key scrubbed here, so a rebuild from the scrubbed events
gives the same rows (tests/dispatch/test_evaluation.py).

SMS replies (a worker's number and free text) and webhook receipts are deleted on the
same schedule; receipts may go sooner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from dispatch import roster_sms
from dispatch.models import (
    Alarm,
    Assignment,
    Dispatch,
    Event,
    InboundSms,
    Incident,
    Page,
    WebhookReceipt,
)

# Twilio redelivers a webhook within hours; a receipt older than this dedupes nothing.
RECEIPTS_KEPT = timedelta(days=2)
BATCH = 200

# Keys whose values are personal (or free text that may be), wherever they appear in
# the JSON of plans, paging specs, alarms and events: dropped.
PERSONAL_KEYS = frozenset(
    {
        "phone",
        "phones",
        "worker_phone",
        "police_unit",
        "police_callback",
        "name",
        "who",
        "whom",
        "text",
        "message",
        "error",
        "provider_id",
        "municipality",
        "persons",
        "ages",
        "first_contact",
        "informs",
        "note",
        "body",
    }
)
# Within agreements, "by" is free text (who carries a measure out), not an actor id.
_AGREEMENT_KEYS = PERSONAL_KEYS | {"by"}


def scrub(value: Any, keys: frozenset[str] = PERSONAL_KEYS) -> Any:
    """A copy of a JSON value without the personal keys (at any depth)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in keys:
                continue
            out[key] = scrub(item, _AGREEMENT_KEYS if key == "agreements" else keys)
        return out
    if isinstance(value, list):
        return [scrub(item, keys) for item in value]
    return value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def due(session: Session, before: datetime, limit: int) -> list[str]:
    """Incidents whose period has passed and that still hold personal data."""
    query = (
        select(Incident.id)
        .join(Dispatch, Dispatch.incident_id == Incident.id, isouter=True)
        .where(
            Incident.anonymized_at.is_(None),
            or_(
                Dispatch.closed_at < before,
                and_(Dispatch.closed_at.is_(None), Incident.received_at < before),
            ),
        )
        .order_by(Incident.received_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def anonymize(session: Session, incident_ids: Sequence[str], now: datetime) -> None:
    """Clear the personal data of these incidents and of everything hanging off them."""
    if not incident_ids:
        return
    for incident in session.scalars(select(Incident).where(Incident.id.in_(incident_ids))):
        incident.persons = []
        incident.flags = []
        incident.police_unit = ""
        incident.police_callback = ""
        incident.external_id = f"anon:{incident.id}"
        incident.request_hash = ""
        incident.municipality_code = None
        incident.anonymized_at = now
    session.flush()
    dispatch_ids = list(
        session.scalars(select(Dispatch.id).where(Dispatch.incident_id.in_(incident_ids)))
    )
    if not dispatch_ids:
        return
    for dispatch in session.scalars(select(Dispatch).where(Dispatch.id.in_(dispatch_ids))):
        dispatch.plan = scrub(_json(dispatch.plan))
        dispatch.paging = scrub(_json(dispatch.paging)) if dispatch.paging else dispatch.paging
        if dispatch.agreements:
            dispatch.agreements = scrub(_json(dispatch.agreements), _AGREEMENT_KEYS)
        if dispatch.handover:
            dispatch.handover = scrub(_json(dispatch.handover))
        # Free text about the case ("what helped, what was missing"): gone whole.
        dispatch.evaluation_note = None
    for assignment in session.scalars(
        select(Assignment).where(Assignment.dispatch_id.in_(dispatch_ids))
    ):
        assignment.phone = None
        assignment.reasons = scrub(_json(assignment.reasons))
    session.execute(
        update(Page)
        .where(Page.dispatch_id.in_(dispatch_ids))
        .values(phone="", error=None, provider_id=None)
    )
    for alarm in session.scalars(select(Alarm).where(Alarm.dispatch_id.in_(dispatch_ids))):
        alarm.detail = scrub(_json(alarm.detail))
    _scrub_events(
        session, session.scalars(select(Event).where(Event.dispatch_id.in_(dispatch_ids)))
    )
    session.flush()


def _scrub_events(session: Session, rows: Iterable[Event]) -> None:
    for event in rows:
        payload = _json(event.payload)
        clean = scrub(payload)
        if clean != payload:
            event.payload = clean


def purge(
    *,
    session: Session,
    before: datetime,
    receipts_before: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Anonymise incidents whose period ended before ``before`` (closed before it, or
    received before it and never closed), delete SMS replies and webhook receipts as
    old (receipts may go sooner: ``receipts_before``, e.g. two days ago, since they only
    serve to recognise a redelivery); returns how many incidents were anonymised. The
    caller commits."""
    stamp = now or before
    total = 0
    while True:
        ids = due(session, before, BATCH)
        anonymize(session, ids, stamp)
        total += len(ids)
        if len(ids) < BATCH:
            break
    # Events of no dispatch (an SMS rate limit names the phone) on the same schedule.
    _scrub_events(
        session,
        session.scalars(
            select(Event).where(Event.dispatch_id.is_(None), Event.created_at < before)
        ),
    )
    # SMS replies carry a worker's number and free text: they go on the same schedule.
    session.execute(delete(InboundSms).where(InboundSms.received_at < before))
    receipts = max(before, receipts_before) if receipts_before else before
    session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < receipts))
    # Roster SMS (a phone number, colleagues' names) and swaps over (their notes and a
    # planner's reason) on the same schedule (dispatch.roster_sms, dispatch.swaps).
    roster_sms.purge(session, before)
    return total

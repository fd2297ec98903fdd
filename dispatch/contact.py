"""The worker's side of the contact exchange: once a worker accepts, they get the police
unit on the case, the number it is called back on, and the link to their step page.

How it reaches them depends on how they accepted:

- by SMS reply (JA): the answer to that reply carries it (``reply``); no second SMS;
- by key press: the call reads the number out (``callback``, for the TwiML) and says
  an SMS follows; then, as after an accept through the link or by the control room,
- a confirmation SMS. It is a ``Page`` row of kind ``confirmation``, inserted in the
  transaction that records the accept (``accepted``), so it goes out even when the
  process dies right after the commit, and it is delivered by ``dispatch.delivery``
  like any page: claimed with a lease, and on a re-drive looked up with ``find_sent``
  by the step-page token in its body, so a crash or a retry never sends it twice.

Escalation never sees a confirmation: ``dispatch.paging`` reads only pages of kind
``page``, so a confirmation is no attempt, its failure or deadline moves nothing on,
an accept does not cancel it, and no SMS reply can answer it. Its round is -1, so the
attempt constraint on ``pages`` also allows only one per assignment.

Nothing here is about the people involved: the unit and its number are the police's.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import cast

from phonenumbers import NumberParseException
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from dispatch import events
from dispatch.models import Assignment, Dispatch, Page
from dispatch.states import OPEN_PAGE, AssignmentStatus, PageKind, PageStatus, Purpose
from notifications import messages
from oncall.phones import display_phone

log = logging.getLogger("samenop.contact")

PAGE = PageKind.PAGE
CONFIRMATION = PageKind.CONFIRMATION
ROUND = -1
# The carrier may keep trying for an hour; a confirmation arriving later is of no use.
VALIDITY_SECONDS = 3600
# Nothing acts on a confirmation's deadline (escalation ignores it); the row needs one.
KEPT = timedelta(hours=12)
_OPEN = tuple(OPEN_PAGE)
_PAGES = cast(Table, Page.__table__)


def wanted(assignment: Assignment) -> bool:
    """Whether this accept is told whom to call: someone who responds (not a consult's
    agreement) and has a phone to tell it to."""
    return assignment.purpose != Purpose.CONSULT and bool(assignment.phone)


def callback(dispatch: Dispatch) -> messages.Callback:
    """The police unit on the case and its callback number, as people read it."""
    incident = dispatch.incident
    try:
        number = display_phone(incident.police_callback)
    except NumberParseException:  # stored as E.164 at intake; shown as stored otherwise
        number = incident.police_callback
    return messages.Callback.from_feed(incident.police_unit, number)


def accepted(
    session: Session,
    dispatch: Dispatch,
    assignment: Assignment,
    *,
    via: str,
    now: datetime,
    reply_carries: bool = True,
) -> list[tuple[str, datetime]]:
    """An accept was recorded (the dispatch is locked): schedule the confirmation SMS,
    unless the accept came by SMS and the reply to it carries the contact
    (``reply_carries``). Returns what to wake."""
    if assignment.status != AssignmentStatus.ACCEPTED or not wanted(assignment):
        return []
    if via == "sms" and reply_carries:
        return []
    phone = assignment.phone
    if phone is None:  # wanted() says it has one
        return []
    page_id = str(uuid.uuid4())
    session.execute(
        insert(_PAGES),
        [
            {
                "id": page_id,
                "dispatch_id": dispatch.id,
                "assignment_id": assignment.id,
                "round": ROUND,
                "channel": "sms",
                "seq": 0,
                "kind": CONFIRMATION,
                "phone": phone,
                "status": PageStatus.SCHEDULED,
                "due_at": now,
                "deadline_at": now + KEPT,
                "validity_seconds": VALIDITY_SECONDS,
                "tries": 0,
                "created_at": now,
            }
        ],
    )
    return [(page_id, now)]


def sms(dispatch: Dispatch, link: str) -> str:
    """The confirmation SMS; ``link`` is the worker's step page (the same on every try)."""
    return messages.confirmation_sms(dispatch.reference, callback(dispatch), link)


def reply(dispatch: Dispatch, assignment: Assignment, link: str) -> str | None:
    """The answer to an SMS reply that accepted, or None for the plain one."""
    if not wanted(assignment):
        return None
    return messages.accepted_reply(dispatch.reference, callback(dispatch), link)


def failed(
    session: Session, page_id: str, now: datetime, *, error: str, status: str | None
) -> None:
    """The confirmation did not reach the phone (the dispatch is locked). Recorded for
    the control room, who has the worker's number; escalation is not involved."""
    page = session.scalars(
        select(Page).where(Page.id == page_id).execution_options(populate_existing=True)
    ).one()
    if page.status not in _OPEN:
        return
    page.status = PageStatus.FAILED
    page.closed_at = now
    page.error = error[:200]
    if status:
        page.provider_status = status
    assignment = session.get(Assignment, page.assignment_id)
    if assignment is None:
        raise LookupError(f"confirmation {page_id} has no assignment")
    log.warning("confirmation %s to assignment %s failed: %s", page_id, assignment.id, error)
    events.append(
        session,
        page.dispatch_id,
        now,
        [
            (
                "confirmation.failed",
                {"assignment": assignment.position, "page": page.id, "error": page.error},
            )
        ],
    )

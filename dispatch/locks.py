"""Reading a dispatch's rows under its lock, in the one order every writer follows.

Lock order is the same everywhere (the dispatch row, then its page rows, then the
event log's advisory lock at commit), so two transactions on one dispatch wait for
each other, never deadlock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import Assignment, Dispatch, Page
from dispatch.states import PageKind


def lock(session: Session, dispatch_id: str) -> Dispatch:
    """The dispatch row, locked until commit (PostgreSQL; SQLite has one writer anyway).

    Read afresh: another transaction may have changed it before we got the lock. Our
    own changes are flushed first so the fresh read cannot overwrite them.
    """
    session.flush()
    dispatch = session.scalars(
        select(Dispatch)
        .where(Dispatch.id == dispatch_id)
        # FOR NO KEY UPDATE: writers of one dispatch wait for each other, but rows that
        # only refer to it (its events, pages, alarms: the foreign-key check's KEY SHARE)
        # are not held up, so a send recorded on its page row alone never deadlocks.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()
    return dispatch


def locked_page(session: Session, page_id: str) -> Page | None:
    """A page, read after taking its dispatch's lock.

    Lock order is the same everywhere (dispatch row, then page rows, then the event
    log's advisory lock), so two transactions on one dispatch wait, never deadlock.
    """
    found = session.scalar(select(Page.dispatch_id).where(Page.id == page_id))
    if found is None:
        return None
    lock(session, found)
    return session.scalars(
        select(Page).where(Page.id == page_id).execution_options(populate_existing=True)
    ).one()


def pages_of(session: Session, dispatch_id: str) -> list[Page]:
    """The dispatch's pages as stored now (senders update them without the dispatch lock)."""
    session.flush()
    return list(
        session.scalars(
            select(Page)
            .where(Page.dispatch_id == dispatch_id, Page.kind == PageKind.PAGE)
            .execution_options(populate_existing=True)
        )
    )


def page_payload(page: Page, assignment: Assignment) -> dict[str, Any]:
    return {
        "page": page.id,
        "assignment": assignment.position,
        "purpose": assignment.purpose,
        "person": assignment.person_id,
        "team": assignment.team_id,
        "channel": page.channel,
        "round": page.round,
    }

"""A sender that dies after the provider took the page, when a receipt got there first.

A receipt (answered, delivered) may move a page on while its sender still holds the
claim. If the sender then dies, the lease runs out on a page that is no longer
``sending``: the sweep must record it as sent from the id the receipt left, once, and
never send it again. (The same crash with real processes: tests/faults.)
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ManualClock
from dispatch import answers, delivery
from dispatch.models import Event
from notifications.webhooks import AmdResult
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import app_state, at, console, pages, post, run


def test_a_page_answered_before_its_sender_died_is_recorded_not_sent_again(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    ctx = app_state(client).paging
    voice = pages(client, d["reference"])[0]
    with ctx.sessions() as s, s.begin():
        claimed = delivery._claim(s, ctx, voice["id"], clock.now())
    assert claimed is not None
    claim, call = claimed
    sent = delivery._send(ctx, claim, call)  # the provider has the call ...
    human = AmdResult(provider_id=sent.provider_id, answered_by="human", is_machine=False)
    with ctx.sessions() as s, s.begin():  # ... and the person picked up
        answers.amd(s, voice["id"], human, clock.now())
    # The sender dies here, before it recorded the send.

    clock.advance(timedelta(seconds=5))
    run(client)
    assert pages(client, d["reference"])[0]["sent_at"] is None  # the lease still holds

    clock.advance(timedelta(seconds=4))
    run(client)
    run(client)
    page = pages(client, d["reference"])[0]
    assert (page["status"], page["provider_id"]) == ("answered", sent.provider_id)
    assert page["sent_at"] is not None
    assert [(r.channel, r.to) for r in console(client).records] == [("voice", claim.phone)]
    recorded = list(
        session.scalars(
            select(Event.payload).where(Event.dispatch_id == d["id"], Event.type == "page.sent")
        )
    )
    assert recorded == [
        {**recorded[0], "page": voice["id"], "provider_id": sent.provider_id, "recovered": True}
    ]

"""Reminders and change notices through the driver's sweep and the Twilio fake (the real
SDK path): exactly once per (person, shift start, kind), cancelled when the shift moved,
a change notice per person whose next 14 days moved, and a sender that died after
Twilio took the SMS is recorded from ``find_sent``, never sent again. (The same crash
with a real process and kill -9: tests/api/test_reminders_live.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ManualClock
from core.timeutil import AMS
from dispatch import flows, reminders, retention, roster_sms
from dispatch.delivery import PagingContext
from dispatch.driver import Driver
from dispatch.paging import Wake
from dispatch.roster_models import RosterMessage
from notifications.fake.harness import FakeTwilioServer
from notifications.provider import SmsRequest
from oncall import service as oncall_service
from oncall.schemas import ConfigSet, Layer, Override, OverrideKind
from oncall.snapshot import ConfigSnapshot
from tests.dispatch.test_swaps import PHONES, config

SECRET = "reminder-test-secret-0123456789"
BASE = "http://127.0.0.1:9"  # nothing listens: the fake's callbacks go nowhere


class _Waker:
    def arm(self, wake: Wake) -> None:
        pass


@pytest.fixture
def clock() -> ManualClock:
    # Tue 2026-12-08 20:00; Anna's piket starts Wed 09:00, her reminder is due at 21:00.
    return ManualClock(datetime(2026, 12, 8, 20, 0, tzinfo=AMS))


@pytest.fixture
def twilio(clock: ManualClock) -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(now=clock.now) as server:
        yield server


@pytest.fixture
def ctx(
    sessions: sessionmaker[Session], clock: ManualClock, twilio: FakeTwilioServer
) -> PagingContext:
    with sessions() as session:
        oncall_service.write_config(
            session=session, config=config(), now=clock.now(), source="tests"
        )
        session.commit()
    return PagingContext(
        sessions=sessions,
        provider=twilio.provider(),
        clock=clock,
        public_base_url=BASE,
        link_secret=SECRET,
        link_ttl=timedelta(minutes=10),
        waker=_Waker(),
    )


@pytest.fixture
def driver(ctx: PagingContext) -> Driver:
    return Driver(ctx, parallel=1)


def sent_to(twilio: FakeTwilioServer, phone: str) -> list[str]:
    return [m.body for m in twilio.fake.messages(phone, direction="outbound-api")]


def rows(session: Session, kind: str) -> list[RosterMessage]:
    query = select(RosterMessage).where(RosterMessage.kind == kind)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def test_a_reminder_goes_once_at_its_time(
    driver: Driver, clock: ManualClock, twilio: FakeTwilioServer, session: Session
) -> None:
    driver.drain()
    [row] = rows(session, "reminder")
    start = datetime(2026, 12, 9, 9, 0, tzinfo=AMS)
    assert (row.person_id, row.shift_start, row.status) == ("anna", start, "scheduled")
    assert row.due_at == start - timedelta(hours=12)
    assert sent_to(twilio, PHONES["anna"]) == []  # not before its time

    clock.set(datetime(2026, 12, 8, 21, 0, tzinfo=AMS))
    driver.drain()
    [body] = sent_to(twilio, PHONES["anna"])
    assert body.startswith("Herinnering: je hebt piket bij VT Een, wo 09-12 09:00 tot do 10-12")
    token = body.rsplit("/s/", 1)[1]
    assert roster_sms.verify(token, clock.now(), SECRET) == row.id

    # Planned again (hourly, or on a change) and swept again: still one.
    for hours in (1, 2, 3):
        clock.set(datetime(2026, 12, 8, 21, 0, tzinfo=AMS) + timedelta(hours=hours))
        driver.drain()
    assert len(sent_to(twilio, PHONES["anna"])) == 1
    reminder_rows = rows(session, "reminder")
    assert [(r.person_id, r.status) for r in reminder_rows if r.person_id == "anna"] == [
        ("anna", "sent")
    ]
    # Bram's piket (Thu 09:00) got its own reminder by now (due Wed 21:00): not yet sent.
    assert sent_to(twilio, PHONES["bram"]) == []


def test_a_moved_shift_cancels_its_reminder_and_tells_who_moved(
    driver: Driver, clock: ManualClock, twilio: FakeTwilioServer, session: Session
) -> None:
    driver.drain()
    start = datetime(2026, 12, 9, 9, 0, tzinfo=AMS)
    with driver.ctx.sessions() as s:  # the planner: Cor does Anna's Wednesday
        oncall_service.add_override(
            session=s,
            override=Override(
                id="anna-vrij",
                team="vt-x",
                kind=OverrideKind.REPLACE,
                person="cor",
                replaces="anna",
                start=start,
                end=start + timedelta(days=1),
            ),
            now=clock.now(),
            source="tests",
            author="account:planner",
        )
        s.commit()
    driver.drain()
    # Both are told their next 14 days changed, once.
    [to_anna] = sent_to(twilio, PHONES["anna"])
    [to_cor] = sent_to(twilio, PHONES["cor"])
    assert to_anna.startswith("Je piketrooster is gewijzigd")
    assert "wo 09-12" not in to_anna.split("/s/")[0]
    assert "wo 09-12 09:00 tot do 10-12 09:00 (VT Een)" in to_cor
    assert sent_to(twilio, PHONES["bram"]) == []  # Bram's shifts did not move
    for body in (to_anna, to_cor):  # a period and a team; nothing about any incident
        for word in ("SO-", "melding", "incident", "Eendorp", "adres", "leeftijd", "HG"):
            assert word not in body, (word, body)

    clock.set(datetime(2026, 12, 8, 21, 0, tzinfo=AMS))
    driver.drain()
    reminders_now = {r.person_id: r for r in rows(session, "reminder")}
    assert reminders_now["anna"].status == "cancelled"  # her shift went: no reminder
    assert reminders_now["cor"].status == "sent"
    assert len(sent_to(twilio, PHONES["anna"])) == 1  # only the change notice
    assert [b for b in sent_to(twilio, PHONES["cor"]) if b.startswith("Herinnering")]


def test_a_version_written_by_a_swap_is_not_told_twice(
    driver: Driver, clock: ManualClock, twilio: FakeTwilioServer, session: Session
) -> None:
    driver.drain()
    with driver.ctx.sessions() as s:
        oncall_service.add_override(
            session=s,
            override=Override(
                id="swap-99",
                team="vt-x",
                kind=OverrideKind.REPLACE,
                person="cor",
                replaces="anna",
                start=datetime(2026, 12, 9, 17, 0, tzinfo=AMS),
                end=datetime(2026, 12, 10, 9, 0, tzinfo=AMS),
                layer=Layer.PRIMARY,
            ),
            now=clock.now(),
            source="swap",
            author="swap:99",
        )
        s.commit()
    driver.drain()
    assert rows(session, "change") == []


def test_a_sender_that_died_after_twilio_took_it_is_recorded_not_resent(
    driver: Driver, ctx: PagingContext, clock: ManualClock, twilio: FakeTwilioServer
) -> None:
    driver.drain()
    clock.set(datetime(2026, 12, 8, 21, 0, tzinfo=AMS))
    with ctx.sessions() as s:
        [message_id] = roster_sms.due_ids(s, clock.now())
    claim = flows.run(ctx, lambda s: roster_sms._claim(s, ctx, message_id, clock.now(), None))
    assert claim is not None
    with ctx.sessions() as s:
        row = s.get(RosterMessage, message_id)
        assert row is not None and row.status == "sending"
        assert row.uncertain_since == clock.now()  # marked before the provider is asked
    sent = ctx.provider.send_sms(
        SmsRequest(
            page_id=claim.id,
            to=claim.phone,
            body=claim.text,
            callback_base=BASE,
            validity_seconds=600,
        )
    )
    # ... and the sender dies here, before it wrote anything down.

    clock.advance(timedelta(seconds=5))
    driver.drain()  # the lease still holds: nobody touches it
    assert len(sent_to(twilio, PHONES["anna"])) == 1
    clock.advance(timedelta(seconds=4))
    driver.drain()
    driver.drain()
    with ctx.sessions() as s:
        row = s.get(RosterMessage, message_id)
        assert row is not None
        assert (row.status, row.provider_id, row.tries) == ("sent", sent.provider_id, 2)
    assert len(sent_to(twilio, PHONES["anna"])) == 1  # the phone saw one


def test_a_provider_that_is_down_leaves_it_for_a_retry(
    driver: Driver, ctx: PagingContext, clock: ManualClock, twilio: FakeTwilioServer
) -> None:
    driver.drain()
    clock.set(datetime(2026, 12, 8, 21, 0, tzinfo=AMS))
    twilio.stop_http()  # Twilio unreachable: it did not take it; tried again later
    driver.run_once()
    with ctx.sessions() as s:
        [row] = [r for r in s.scalars(select(RosterMessage)) if r.person_id == "anna"]
        assert row.status == "scheduled" and row.tries == 1 and row.uncertain_since is None
        assert row.due_at > clock.now() and (row.error or "").startswith("retrying")


def test_reminders_only_for_teams_that_ask(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    teams = tuple(t.model_copy(update={"planning": None}) for t in cfg.teams)
    snapshot = ConfigSnapshot(cfg.model_copy(update={"teams": teams}), 1)
    with sessions() as s:
        made = reminders.plan_reminders(s, snapshot, datetime(2026, 12, 8, 19, 0, tzinfo=UTC))
        assert made == 0 and rows(s, "reminder") == []
        s.rollback()


def test_team_blocks_across_the_dst_change() -> None:
    """The day of Sun 2026-10-25 (03:00 -> 02:00) is 25 hours long; blocks say so."""
    snapshot = ConfigSnapshot(config(), 1)
    start = datetime(2026, 10, 24, 6, 0, tzinfo=AMS)
    blocks = reminders.team_blocks(snapshot, "vt-x", start, start + timedelta(days=2))
    spans = [(b.person, b.start, b.end - b.start, b.began_before) for b in blocks]
    saturday = datetime(2026, 10, 24, 9, 0, tzinfo=AMS)
    sunday = datetime(2026, 10, 25, 9, 0, tzinfo=AMS)
    assert [(s[1], s[2], s[3]) for s in spans] == [
        (start, timedelta(hours=3), True),
        (saturday, timedelta(hours=25), False),
        (sunday, timedelta(hours=21), False),  # cut at the window's end (Mon 06:00)
    ]
    assert spans[0][0] != spans[1][0] != spans[2][0]


def test_retention_removes_settled_roster_sms(
    driver: Driver, clock: ManualClock, session: Session
) -> None:
    driver.drain()
    clock.set(datetime(2026, 12, 8, 21, 0, tzinfo=AMS))
    driver.drain()
    statuses = {r.person_id: r.status for r in rows(session, "reminder")}
    assert statuses["anna"] == "sent"
    retention.purge(session=session, before=clock.now() + timedelta(seconds=1))
    left = {r.person_id: r.status for r in rows(session, "reminder")}
    assert "anna" not in left  # sent: gone with its phone number
    assert set(left.values()) <= {"scheduled"}  # what is still to go stays


def test_the_sweep_reads_only_the_touched_teams_and_finds_the_same_moves(
    example_config: ConfigSet,
) -> None:
    """The change notices parse only the touched teams' part of two stored versions; what
    they find moved equals what the whole configurations say (the example regions, an
    override in one team and a person leaving another)."""
    from oncall import changes

    old = example_config
    team = old.rotations[0].team
    other = next(p for p in old.people if team not in {m.team for m in p.memberships})
    start = datetime(2026, 12, 1, tzinfo=UTC)
    # whoever is on call in the team on the 3rd is ill that day
    on = reminders.team_blocks(ConfigSnapshot(old), team, start + timedelta(days=2), start
                               + timedelta(days=3))  # fmt: skip
    person = on[0].person
    override = Override(
        id="ziek-1",
        team=team,
        kind=OverrideKind.REMOVE,
        person=person,
        start=on[0].start,
        end=on[0].end,
    )
    new = old.model_copy(
        update={
            "overrides": (*old.overrides, override),
            "people": tuple(
                p.model_copy(update={"active": False}) if p.id == other.id else p
                for p in old.people
            ),
        }
    )
    diff = changes.diff(old, new)
    old_doc, new_doc = changes.document(old), changes.document(new)
    teams = reminders.touched_in(diff, old_doc, new_doc)
    assert teams == reminders.touched_teams(old, new)
    assert team in teams and {m.team for m in other.memberships} <= teams
    end = start + timedelta(days=14)
    whole = reminders.moved(ConfigSnapshot(old), ConfigSnapshot(new), teams, start, end)
    parts = reminders.moved(
        ConfigSnapshot(reminders.roster_part(old_doc, teams)),
        ConfigSnapshot(reminders.roster_part(new_doc, teams)),
        teams,
        start,
        end,
    )
    assert parts == whole
    assert person in parts

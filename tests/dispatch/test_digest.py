"""The planners' daily digest, received by a real SMTP server (aiosmtpd on a free local
port): once per region per local day, to the right planners, with the right gaps; a
refused mail is tried again, one that may have gone out (the connection broke after the
message was handed over, or the process stopped mid-send) is never sent a second time."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.models import Account
from access.principal import Role
from api.app import create_app
from core.clock import ManualClock
from core.settings import Settings
from core.timeutil import AMS
from dispatch import digest
from dispatch.feed_models import DigestSend, DigestSubscription
from dispatch.roster_models import Swap
from notifications.mail import SmtpMailer, check_address
from oncall import service as oncall_service
from oncall.gaps import find_gaps
from oncall.schemas import ConfigSet, Override, OverrideKind
from oncall.snapshot import ConfigSnapshot

GV = "gooi-en-vechtstreek"
MORNING = datetime(2026, 12, 1, 7, 5, tzinfo=AMS)  # Tuesday, after the 07:00 digest time
SWAP = (datetime(2026, 12, 4, 17, 0, tzinfo=AMS), datetime(2026, 12, 5, 9, 0, tzinfo=AMS))
HOLE = (datetime(2026, 12, 3, 10, 0, tzinfo=AMS), datetime(2026, 12, 3, 12, 0, tzinfo=AMS))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the local mail server received; ``drop`` breaks the connection right after
    a message was taken (before the client hears it was)."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    drop: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        if self.drop:
            server.transport.abort()
        return "250 Message accepted for delivery"

    def to_region(self, region_name: str) -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in self.received if region_name in str(m["Subject"])]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mailer(port: int) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, starttls=False, timeout=5)


@pytest.fixture
def world(
    sessions: sessionmaker[Session], example_config: ConfigSet, loaded: int
) -> ConfigSnapshot:
    """The example regions with a known hole in Gooi en Vechtstreek's office roster (the
    person on call on Thursday 3 December 10:00-12:00 taken off) and one person whose
    phone is gone; planners with and without addresses."""
    snapshot = ConfigSnapshot(example_config, 1)
    on_call = snapshot.on_call("vt-gv", HOLE[0]).people()
    assert on_call
    removals = tuple(
        Override(
            id=f"gat-{person}",
            team="vt-gv",
            kind=OverrideKind.REMOVE,
            person=person,
            start=HOLE[0],
            end=HOLE[1],
        )
        for person in on_call
    )
    people = tuple(
        p.model_copy(update={"phones": ()}) if p.id == "gv-ivo-peters" else p
        for p in example_config.people
    )
    config = example_config.model_copy(
        update={"overrides": example_config.overrides + removals, "people": people}
    )
    with sessions() as s:
        oncall_service.write_config(session=s, config=config, now=MORNING, source="tests")
        s.commit()
    accounts = [
        ("planner-gv", Role.PLANNER, [GV]),
        ("planner-gv-2", Role.PLANNER, [GV, "den-haag"]),
        ("planner-gv-inactief", Role.PLANNER, [GV]),
        ("planner-zonder-adres", Role.PLANNER, [GV]),
        ("planner-landelijk", Role.PLANNER, None),
        ("beheer", Role.ADMIN, None),
        ("meldkamer", Role.OPERATOR, [GV]),
    ]
    with sessions() as s:
        # Straight into the table: no password hashing (nobody signs in here).
        for username, role, regions in accounts:
            s.add(
                Account(
                    username=username,
                    role=role.value,
                    regions=regions,
                    basisteams=[],
                    active=True,
                    failed_logins=0,
                    created_at=MORNING,
                    created_by="tests",
                )
            )
        s.commit()
    with sessions() as s:
        for account in s.scalars(select(Account)):
            if account.username != "planner-zonder-adres":
                account.email = f"{account.username}@voorbeeld.nl"
            if account.username == "planner-gv-inactief":
                account.active = False
        landelijk = s.scalar(select(Account.id).where(Account.username == "planner-landelijk"))
        assert landelijk is not None
        s.add(DigestSubscription(account_id=landelijk, region=GV))
        # An offer nobody took (Gooi) and one that ended already (not shown).
        for n, (start, end) in enumerate([SWAP, (MORNING - timedelta(days=3), MORNING)]):
            s.add(
                Swap(
                    team_id="vt-gv-piket",
                    region_id=GV,
                    layer="primary",
                    start=start,
                    end=end,
                    offerer_id="gv-daan-bos",
                    state="expired",
                    needs_approval=False,
                    expires_at=start,
                    offered_by="tests",
                    created_at=MORNING - timedelta(days=5 + n),
                    updated_at=MORNING,
                )
            )
        s.commit()
        return oncall_service.SnapshotCache().get(session=s)


def schedule(
    sessions: sessionmaker[Session], clock: ManualClock, port: int, **kw: Any
) -> digest.DigestSchedule:
    return digest.DigestSchedule(
        sessions, clock, mailer(port), at="07:00", sender="planning@samenop.nl", **kw
    )


def rows(sessions: sessionmaker[Session]) -> dict[str, tuple[str, int]]:
    with sessions() as s:
        return {
            r.region: (r.state, r.attempts)
            for r in s.scalars(select(DigestSend).where(DigestSend.day == MORNING.date()))
        }


def test_each_region_gets_one_mail_with_its_gaps_to_its_planners(
    sessions: sessionmaker[Session], world: ConfigSnapshot, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    clock = ManualClock(MORNING)
    outcome = schedule(sessions, clock, port).run(clock.now())
    assert outcome[GV] == "sent"
    # Every region has its row; a region without an address for it is "empty".
    states = rows(sessions)
    assert set(states) == {r.id for r in world.config.regions}
    assert states[GV] == ("sent", 1)
    assert states["kennemerland"] == ("empty", 1)

    [(to, message)] = inbox.to_region("Gooi en Vechtstreek")
    assert sorted(to) == [
        "planner-gv-2@voorbeeld.nl",
        "planner-gv@voorbeeld.nl",
        "planner-landelijk@voorbeeld.nl",
    ]
    assert message["From"] == "planning@samenop.nl"
    assert message["To"] == "undisclosed-recipients:;"
    assert message["Subject"] == "Piketoverzicht Gooi en Vechtstreek — di 01-12-2026"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None and "<h2>Gaten in de bezetting</h2>" in html_part.get_content()

    # The gaps are exactly those of the calendar for the next eight weeks.
    expected = [
        g
        for team in world.config.teams
        if team.region == GV
        for g in find_gaps(world, team.id, MORNING, MORNING + timedelta(weeks=8))
    ]
    gap_lines = [line for line in text.splitlines() if line.startswith("- ") and "nodig" in line]
    assert len(gap_lines) == len(expected) >= 1
    hole = (
        "- Veilig Thuis Gooi en Vechtstreek (kantoor): do 03-12-2026 10:00 tot "
        "do 03-12-2026 12:00 (2 u); nodig 1, bereikbaar 0 (regels: "
    )
    assert any(line.startswith(hole) for line in gap_lines), gap_lines
    assert "- Ivo Peters (Vertrouwensarts piket VT Gooi en Vechtstreek): geen geldig " in text
    swaps = [line for line in text.splitlines() if line.startswith("- niet overgenomen")]
    assert swaps == [
        "- niet overgenomen: Veilig Thuis Gooi en Vechtstreek (piket), Daan Bos (piket), "
        "vr 04-12-2026 17:00 tot za 05-12-2026 09:00"
    ]
    # Den Haag's planner-gv-2 gets Den Haag's too; nothing about incidents anywhere.
    [(to_dh, dh)] = inbox.to_region("Den Haag")
    assert to_dh == ["planner-gv-2@voorbeeld.nl"]
    assert "Geen gaten" in str(dh.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "melding" not in text.replace("gegevens over meldingen", "")


def test_exactly_once_a_day_and_not_before_the_set_time(
    sessions: sessionmaker[Session], world: ConfigSnapshot, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    clock = ManualClock(MORNING.replace(hour=6, minute=59, second=30))
    plan = schedule(sessions, clock, port)
    assert plan.tick(clock.now()) is False  # 06:59: not yet
    assert inbox.received == []
    clock.set(MORNING.replace(hour=7, minute=0, second=10))
    assert plan.tick(clock.now()) is False  # looked 40 s ago: not again yet
    clock.advance(timedelta(minutes=1))
    assert plan.tick(clock.now()) is True  # the round runs in its own thread
    assert plan._thread is not None
    plan._thread.join(30)
    sent = len(inbox.received)
    assert len(inbox.to_region("Gooi en Vechtstreek")) == 1
    # Later the same day, and another process: nothing more.
    clock.advance(timedelta(hours=3))
    assert plan.tick(clock.now()) is False  # the day is done
    other = schedule(sessions, clock, port)
    assert all(v is None for v in other.run(clock.now()).values())
    assert len(inbox.received) == sent
    # The next morning: a new digest.
    clock.set(MORNING + timedelta(days=1))
    assert plan.tick(clock.now()) is True
    assert plan._thread is not None
    plan._thread.join(30)
    assert len(inbox.to_region("Gooi en Vechtstreek")) == 2


def test_a_mail_server_that_cannot_be_reached_is_tried_again_later(
    sessions: sessionmaker[Session], world: ConfigSnapshot, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    clock = ManualClock(MORNING)
    nowhere = schedule(sessions, clock, free_port())  # nothing listens there
    assert nowhere.run(clock.now())[GV] == "failed"
    assert rows(sessions)[GV] == ("failed", 1)
    # Too soon for a retry; then the server is back.
    working = schedule(sessions, clock, port)
    assert working.run(clock.now())[GV] is None
    clock.advance(digest.RETRY_AFTER)
    assert working.run(clock.now())[GV] == "sent"
    assert rows(sessions)[GV] == ("sent", 2)
    assert len(inbox.to_region("Gooi en Vechtstreek")) == 1


def test_a_connection_that_breaks_after_the_message_was_taken_is_never_resent(
    sessions: sessionmaker[Session], world: ConfigSnapshot, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.drop = True
    clock = ManualClock(MORNING)
    plan = schedule(sessions, clock, port)
    assert plan.run(clock.now())[GV] == "uncertain"
    assert len(inbox.to_region("Gooi en Vechtstreek")) == 1
    inbox.drop = False
    for _ in range(3):
        clock.advance(digest.RETRY_AFTER)
        assert plan.run(clock.now())[GV] is None
    assert len(inbox.to_region("Gooi en Vechtstreek")) == 1
    assert rows(sessions)[GV] == ("uncertain", 1)


def test_a_process_that_stopped_mid_send_leaves_it_unsent_rather_than_twice(
    sessions: sessionmaker[Session], world: ConfigSnapshot, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    clock = ManualClock(MORNING)
    # What a process killed between its claim and "sent" leaves behind.
    with sessions() as s:
        s.add(
            DigestSend(
                region=GV, day=MORNING.date(), state="sending", attempts=1, claimed_at=clock.now()
            )
        )
        s.commit()
    plan = schedule(sessions, clock, port)
    assert plan.run(clock.now())[GV] is None
    clock.advance(digest.STUCK_AFTER)
    assert plan.run(clock.now())[GV] is None
    assert rows(sessions)[GV] == ("uncertain", 1)
    clock.advance(timedelta(hours=1))
    plan.run(clock.now())
    assert inbox.to_region("Gooi en Vechtstreek") == []
    assert inbox.to_region("Den Haag")  # the other regions went out as usual


def test_an_admin_sets_an_accounts_address(client: TestClient) -> None:
    made = client.post(
        "/api/v1/accounts",
        json={
            "username": "planner-x",
            "role": "planner",
            "password": "a-long-password-1",
            "regions": [GV],
            "email": " Planner.X@Voorbeeld.NL ",
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "Planner.X@voorbeeld.nl"
    bad = client.patch("/api/v1/accounts/planner-x", json={"email": "geen adres"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    cleared = client.patch("/api/v1/accounts/planner-x", json={"email": ""})
    assert cleared.status_code == 200 and cleared.json()["email"] is None
    assert check_address("a@b.nl") == "a@b.nl"
    with pytest.raises(ValueError):
        check_address("a@b")


def test_the_driver_checks_the_digest_only_with_a_mail_server_set(
    settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    _inbox, port = smtp
    without = create_app(settings, run_delivery=False, run_stream=False)
    assert without.state.samenop.driver.digest is None
    with_mail = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    )
    app = create_app(with_mail, run_delivery=False, run_stream=False)
    plan = app.state.samenop.driver.digest
    assert isinstance(plan, digest.DigestSchedule)
    assert plan.at.hour == 7 and plan.sender == "samenop@localhost"
    assert isinstance(plan.mailer, SmtpMailer) and plan.mailer.port == port

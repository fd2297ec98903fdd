"""A live stack for end-to-end paging tests: the app over real HTTP, the fake Twilio,
the real SDK between them, a database of its own, and a clock moved by the test.

The app and the fake each run under uvicorn in a thread; the SDK talks HTTP to the
fake, the fake sends signed callbacks over HTTP to the app. The embedded delivery
loop is not started: the test calls ``run()`` after moving the clock, so nothing
happens behind its back.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, delete, select

from api.app import create_app
from api.state import AppState
from core import migrate
from core.clock import ManualClock
from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.timeutil import AMS
from dispatch.models import Dispatch, Event, InboundSms, Incident, WebhookReceipt
from notifications.fake.harness import FakeTwilioServer
from notifications.fake.server import ServerThread
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.conftest import API_KEY, _make_database

INCIDENTS = "/api/v1/incidents"


@dataclass
class Live:
    url: str
    app_state: AppState
    twilio: FakeTwilioServer
    clock: ManualClock
    http: httpx.Client
    engine: Engine

    @property
    def fake(self) -> Any:
        return self.twilio.fake

    def at(self, local: str) -> None:
        self.clock.set(datetime.fromisoformat(local).replace(tzinfo=AMS))

    def run(self) -> int:
        """One sweep of the delivery loop (sends what is due, closes passed deadlines)."""
        driver = self.app_state.driver
        assert driver is not None
        did = driver.run_once()
        self.fake.wait_idle()
        return did

    def settle(self) -> None:
        """Let the fake's callbacks land, then act on what they made due."""
        self.fake.wait_idle()
        self.run()

    def post(self, **body: Any) -> dict[str, Any]:
        r = self.http.post(INCIDENTS, json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def dispatch(self, ref: str) -> dict[str, Any]:
        r = self.http.get(f"{INCIDENTS}/{ref}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def pages(self, ref: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{INCIDENTS}/{ref}/pages")
        assert r.status_code == 200, r.text
        return list(r.json())

    def events(self, dispatch_id: str) -> list[Event]:
        with make_session_factory(self.engine)() as s:
            return list(
                s.scalars(select(Event).where(Event.dispatch_id == dispatch_id).order_by(Event.id))
            )

    def event_types(self, dispatch_id: str) -> list[str]:
        return [e.type for e in self.events(dispatch_id)]

    def clean(self) -> None:
        with self.engine.begin() as conn:
            for table in (Incident, WebhookReceipt, InboundSms):
                conn.execute(delete(table))
        with make_session_factory(self.engine)() as s:
            assert s.scalar(select(Dispatch.id).limit(1)) is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_live(backend: str, tmp: Path, config: ConfigSet, **overrides: Any) -> Iterator[Live]:
    """The stack; ``overrides`` are settings of the app's (a shorter provider timeout)."""
    url, handle = _make_database(backend, tmp)
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        oncall_service.write_config(
            session=s, config=config, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
        )
        s.commit()
    clock = ManualClock(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))
    twilio = FakeTwilioServer(now=clock.now).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"  # the public URL the fake signs its callbacks for
    settings = Settings(
        environment="test",
        database_url=url,
        api_keys=[API_KEY],
        paging_provider="twilio",
        delivery="inline",
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_from=twilio.from_number,
        twilio_api_base=twilio.url,
        public_base_url=base,
        **overrides,
    )
    app = create_app(settings, clock=clock, run_delivery=False)
    server = ServerThread(app, "127.0.0.1", port, lifespan="on")
    server.start()
    twilio.fake.set_sms_url(f"{base}/webhooks/twilio/sms")
    http = httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=10)
    live = Live(
        url=base,
        app_state=app.state.samenop,
        twilio=twilio,
        clock=clock,
        http=http,
        engine=engine,
    )
    try:
        yield live
    finally:
        http.close()
        server.stop()
        twilio.stop()
        app.state.samenop.engine.dispose()
        engine.dispose()
        if handle is not None:
            admin, name = handle  # type: ignore[misc]
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

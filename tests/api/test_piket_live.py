""" "Piket nu" live in a real browser (Debian's Chromium driven by Playwright).

The app runs over real HTTP with its stream hub and a clock the test moves (see
``tests.api.live``). Signed in as the control room, the table first shows what the
server rendered; an override made through the API then shows without a reload, and so
does the handover when the clock passes it. A dashboard's piket connection carries no
incidents, and a planner may follow it too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from core.db import make_session_factory
from core.timeutil import AMS
from oncall.schemas import ConfigSet
from tests.accounts import make_account
from tests.api.browsers import chromium, sign_in
from tests.api.live import Live, start_live
from tests.api.test_scenarios import GV_NOORD, incident

TEAM = "cit-haaglanden"
BEFORE = datetime(2026, 3, 10, 10, 58, tzinfo=AMS)  # the night desk until 11:00


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, example_config: ConfigSet) -> Iterator[Live]:
    yield from start_live("sqlite", tmp_path_factory.mktemp("piket"), example_config)


def names_at(live: Live, at: datetime) -> list[str]:
    with live.app_state.sessions() as s:
        snapshot = live.app_state.snapshots.get(session=s)
    return [snapshot.people[p].name for p in snapshot.on_call(TEAM, at).people()]


def test_piket_nu_follows_an_override_and_a_handover_without_reload(live: Live) -> None:
    live.clock.set(BEFORE)
    make_account(make_session_factory(live.app_state.engine), "meldkamer-piket")
    night = names_at(live, BEFORE)
    assert night, "somebody is on the night desk"
    replacement = "Linda de Graaf"  # on the day desk from 11:00, not at night
    assert replacement not in night
    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, live.url, "meldkamer-piket")
        cell = page.locator(f"#oncall tr[data-team='{TEAM}'] td").nth(2)
        expect(cell).to_have_text(", ".join(night))
        # The script's own connection delivers the table (its first message).
        expect(page.locator("#piket")).to_have_attribute("data-live", "on", timeout=10_000)
        seq = page.locator("#piket").get_attribute("data-seq")

        # An override through the API: the new person shows, no reload.
        override = {
            "id": "piket-live-test",
            "team": TEAM,
            "kind": "replace",
            "person": "dh-linda-de-graaf",
            "replaces": "dh-maarten-vos" if "Maarten Vos" in night else "dh-nadia-chaouch",
            "start": (BEFORE - timedelta(hours=1)).isoformat(),
            "end": (BEFORE + timedelta(minutes=30)).isoformat(),
        }
        made = live.http.post("/api/v1/overrides", json=override)
        assert made.status_code == 201, made.text
        expect(cell).to_contain_text(replacement, timeout=10_000)
        assert page.locator("#piket").get_attribute("data-seq") != seq
        page_loads = page.evaluate("performance.getEntriesByType('navigation').length")
        assert page_loads == 1

        # The handover at 11:00: move the clock past it; the desk people show.
        after = BEFORE + timedelta(minutes=31)
        desk = names_at(live, after)
        assert desk and set(desk) != set(night) | {replacement}
        live.clock.set(after)
        expect(cell).to_have_text(", ".join(desk), timeout=10_000)
        expect(page.locator("#piket-at")).to_contain_text("11:29")
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    live.http.delete("/api/v1/overrides/piket-live-test")


def test_the_piket_connection_carries_no_incidents_and_planners_may_follow_it(
    live: Live,
) -> None:
    live.clock.set(BEFORE)
    live.post(**incident(basisteam=GV_NOORD, reported_at="2026-03-10T10:57"))
    key = live.http.post(
        "/api/v1/keys", json={"name": "planner-piket", "role": "planner", "regions": ["den-haag"]}
    ).json()["secret"]
    ticket = live.http.post("/api/v1/stream/tickets", headers={"X-API-Key": key}).json()["ticket"]
    url = live.url.replace("http://", "ws://") + f"/ws?piket=only&ticket={ticket}"
    with connect(url) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first == {"type": "caught_up", "last_id": 0}
        table = json.loads(ws.recv(timeout=5))
        assert table["type"] == "piket"
        assert {t["id"] for t in table["teams"]} >= {TEAM, "vt-gv"}
        live.post(**incident(basisteam=GV_NOORD, reported_at="2026-03-10T10:58"))
        # Nothing about incidents arrives (pings aside) while the roster stays.
        with pytest.raises(TimeoutError):
            while True:
                message = json.loads(ws.recv(timeout=2.5))
                assert message["type"] == "ping", message
    # Without piket=only a planner is refused as before.
    ticket = live.http.post("/api/v1/stream/tickets", headers={"X-API-Key": key}).json()["ticket"]
    refused = live.url.replace("http://", "ws://") + f"/ws?ticket={ticket}"
    with connect(refused) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_nothing_is_computed_without_a_dashboard_and_a_new_one_gets_the_current_table(
    live: Live,
) -> None:
    hub = live.app_state.hub
    assert hub is not None
    live.clock.set(BEFORE)
    # No piket connection: a configuration change builds nothing.
    built = hub._piket
    override = {
        "id": "niemand-kijkt",
        "team": TEAM,
        "kind": "add",
        "person": "dh-kevin-ramdin",
        "start": (BEFORE - timedelta(hours=1)).isoformat(),
        "end": (BEFORE + timedelta(hours=1)).isoformat(),
    }
    assert live.http.post("/api/v1/overrides", json=override).status_code == 201
    live.clock.set(BEFORE + timedelta(hours=3))  # past a handover too
    for _ in range(3):
        time.sleep(live.app_state.settings.stream_poll_seconds)
    assert hub._piket is built
    # A dashboard connecting now gets the table as it is now, at once.
    ticket = live.http.post("/api/v1/stream/tickets").json()["ticket"]
    url = live.url.replace("http://", "ws://") + f"/ws?piket=only&ticket={ticket}"
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "caught_up"
        table = json.loads(ws.recv(timeout=5))
    assert table["at"] == (BEFORE + timedelta(hours=3)).astimezone(UTC).isoformat()
    cit = next(t for t in table["teams"] if t["id"] == TEAM)
    assert [p["name"] for p in cit["people"]] == names_at(live, BEFORE + timedelta(hours=3))
    assert live.http.delete("/api/v1/overrides/niemand-kijkt").status_code == 200

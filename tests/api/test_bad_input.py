"""Bad input is a 4xx naming where it is, never a 500, and never costs the server much.

Each case here was a 500, a frozen process or an unbounded read before: aliases in a
configuration that expand without end, JSON nested 1,000 deep, NUL in any text or id
(PostgreSQL refuses it), ids beyond PostgreSQL's integer, dates at year 1 or 9999
(overflow in the roster arithmetic), a signed link for an absurd id, bodies of any
size, 92-day gap windows, 50,000-person configurations. Both database backends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from core.clock import ManualClock
from core.settings import Settings
from dispatch.models import Incident
from notifications import links
from tests.api.test_scenarios import GV_NOORD, post
from tests.conftest import API_KEY

INCIDENTS = "/api/v1/incidents"
VALIDATE = "/api/v1/config/validate"
YAML = {"content-type": "application/yaml"}

# Seven levels of nested aliases (the report's was 393 bytes): 9**8 values if expanded.
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def incident(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "meldkamer-midden-nederland",
        "external_id": "MK-BAD-1",
        "reported_at": "2026-03-10T16:59:00+01:00",
        "basisteam": GV_NOORD,
        "case_type": "HG",
        "persons": [{"role": "victim", "age": 34}],
        "police_unit": "GV-21",
        "police_callback": "06 12345678",
    }
    body.update(changes)
    return body


def fields(response: Any) -> list[str]:
    """The fields a ValidationErrorBody names."""
    body = response.json()
    assert isinstance(body["detail"], str), body
    return [e["field"] for e in body["errors"]]


def incidents(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def issues(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    return list(response.json()["detail"]["issues"])


# --- configuration YAML: aliases, nesting, NUL ------------------------------------------


def test_alias_bomb_is_refused_at_once(client: TestClient) -> None:
    start = time.monotonic()
    r = client.post(VALIDATE, content=ALIAS_BOMB, headers=YAML)
    assert time.monotonic() - start < 2
    [issue] = issues(r)
    assert "aliases" in issue["rule"] and "100000" in issue["rule"]


def test_an_alias_inside_itself_is_refused(client: TestClient) -> None:
    [issue] = issues(client.post(VALIDATE, content="regions: &r [*r]\n", headers=YAML))
    assert "contains it" in issue["rule"]


def test_a_few_aliases_still_work(client: TestClient) -> None:
    """Planners may reuse a block; only expansion beyond the bound is refused."""
    config = client.get("/api/v1/config").json()
    config.pop("version")
    text = json.dumps(config)  # JSON is YAML; add an anchor and an alias to it
    text = text.replace('"regions": [', '"regions": &regions [', 1) + "\n"
    text = text[:-2] + ', "x-regions": *regions}\n'
    r = client.post(VALIDATE, content=text, headers=YAML)
    assert r.status_code == 422  # x-regions is no section: the alias itself was read
    assert [i["path"] for i in issues(r)] == ["x-regions"]


def test_yaml_nested_deeper_than_the_bound_is_refused(client: TestClient) -> None:
    for text in ("[" * 40 + "]" * 40, "- " * 40 + "x", "[" * 100_000):
        [issue] = issues(client.post(VALIDATE, content=text, headers=YAML))
        assert "nested" in issue["rule"] or "not valid YAML" in issue["rule"], issue


def test_nul_in_yaml_text_is_refused_naming_the_path(client: TestClient) -> None:
    text = 'regions:\n- id: x\n  name: "a\\0b"\n'
    [issue] = issues(client.post(VALIDATE, content=text, headers=YAML))
    assert issue["path"] == "regions[0].name" and "NUL" in issue["rule"]


def test_nul_as_binary_and_long_lists_in_an_entry_are_refused(client: TestClient) -> None:
    text = "regions:\n- id: x\n  name: !!binary AGE=\n"  # base64 of NUL and 'a'
    [issue] = issues(client.post(VALIDATE, content=text, headers=YAML))
    assert issue["path"] == "regions[0].name" and "NUL" in issue["rule"]
    windows = [{"days": "mon", "start": "09:00", "end": "10:00"}] * 51
    region = {"id": "x", "name": "X", "office_hours": windows}
    [issue] = issues(client.post(VALIDATE, json={"regions": [region]}))
    assert issue["path"] == "regions[0].office_hours" and "50" in issue["rule"]


def test_a_configuration_of_50000_people_is_refused_without_checking_them(
    client: TestClient,
) -> None:
    people = [{"id": f"p{i}", "name": "x"} for i in range(50_000)]
    start = time.monotonic()
    r = client.post(VALIDATE, json={"people": people})
    assert time.monotonic() - start < 5
    [issue] = issues(r)
    assert issue["path"] == "people" and "at most 5000" in issue["rule"]


def test_an_empty_upload_is_no_configuration(client: TestClient) -> None:
    for content, headers in (("", YAML), ("null", {"content-type": "application/json"})):
        [issue] = issues(client.put("/api/v1/config", content=content, headers=headers))
        assert "mapping of sections" in issue["rule"]
    assert client.get("/api/v1/config").json()["regions"]  # nothing was emptied


# --- JSON: depth and NUL ------------------------------------------------------------------


@pytest.mark.parametrize("path", [INCIDENTS, VALIDATE, "/api/v1/overrides"])
def test_json_nested_1000_deep_is_422(client: TestClient, path: str) -> None:
    body = '{"persons": ' + "[" * 1000 + "]" * 1000 + "}"
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert fields(r) == ["body"] and "deeper than 32" in r.json()["detail"]


def test_brackets_inside_strings_are_not_nesting(client: TestClient) -> None:
    r = client.post(INCIDENTS, json=incident(police_unit="[" * 60, external_id="{" * 100))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "changes,where",
    [
        ({"external_id": "MK\u0000-1"}, "external_id"),
        ({"police_unit": "\u0000"}, "police_unit"),
        ({"persons": [{"role": "victim", "age": 3}, {"role": "vic\u0000tim"}]}, "persons[1].role"),
    ],
)
def test_nul_in_a_json_string_is_422_naming_the_field(
    client: TestClient, session: Session, changes: dict[str, Any], where: str
) -> None:
    before = incidents(session)
    r = client.post(INCIDENTS, json=incident(**changes))
    assert r.status_code == 422 and fields(r) == [where], r.text
    assert incidents(session) == before


def test_nul_in_path_and_query_is_422(client: TestClient) -> None:
    r = client.get(f"{INCIDENTS}/SO-%00")
    assert r.status_code == 422 and fields(r) == ["path"]
    r = client.get(INCIDENTS, params={"region": "den-haag\u0000"})
    assert r.status_code == 422 and fields(r) == ["region"]
    r = client.post(f"{INCIDENTS}/x%00y/assignments/1/decline")
    assert r.status_code == 422 and fields(r) == ["path"]


def test_nul_in_a_form_field_is_422(client: TestClient) -> None:
    r = client.post(
        "/p/abc",
        content=b"action=accept&x%00=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422 and fields(r) == ["x"]


# --- ids, dates, links ----------------------------------------------------------------------


def test_ids_out_of_range_are_422_naming_them(client: TestClient) -> None:
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    r = client.post(f"{INCIDENTS}/{d['id']}/assignments/49719516533/decline")
    assert r.status_code == 422 and fields(r) == ["position"]
    r = client.post(f"{INCIDENTS}/{d['id']}/assignments/0/decline")
    assert r.status_code == 422 and fields(r) == ["position"]
    r = client.get(f"{INCIDENTS}/{'x' * 65}/pages")
    assert r.status_code == 422 and fields(r) == ["dispatch_id"]
    r = client.delete("/api/v1/overrides/NOT%20A%20SLUG")
    assert r.status_code == 422 and fields(r) == ["override_id"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:30", "9999-12-31T23:59:59-05:00"]
)
def test_dates_at_year_1_or_9999_are_422_naming_the_field(client: TestClient, when: str) -> None:
    r = client.post(INCIDENTS, json=incident(reported_at=when))
    assert r.status_code == 422 and fields(r) == ["reported_at"], r.text
    assert "2000..2100" in r.text
    override = {
        "id": "ov-bad",
        "team": "vt-gv",
        "kind": "add",
        "person": "fleur",
        "start": "2026-01-01T09:00",
        "end": when,
    }
    r = client.post("/api/v1/overrides", json=override)
    assert r.status_code == 422 and fields(r) == ["end"], r.text
    r = client.get("/api/v1/oncall", params={"team": "vt-gv", "at": when})
    assert r.status_code == 422 and fields(r) == ["at"], r.text
    r = client.get("/api/v1/coverage/gaps", params={"team": "vt-gv", "from": when})
    assert r.status_code == 422 and fields(r) == ["from"], r.text


def test_a_step_with_a_date_at_year_9999_is_422(client: TestClient) -> None:
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    body = {
        "action": "veiligheidsmaatregelen",
        "agreements": {"first_contact": "politie", "reassess_at": "9999-12-31T23:59:59Z"},
    }
    r = client.post(f"{INCIDENTS}/{d['id']}/actions", json=body)
    assert r.status_code == 422 and fields(r) == [
        "veiligheidsmaatregelen.agreements.reassess_at"
    ], r.text


def test_a_signed_link_for_an_absurd_id_is_an_unknown_link(
    client: TestClient, clock: ManualClock
) -> None:
    secret = client.app.state.samenop.settings.link_secret  # type: ignore[attr-defined]
    token = links.sign_worker(2**62, clock.now() + timedelta(hours=1), secret)
    r = client.post(f"/w/{token}/actions", json={"action": "ter_plaatse"})
    assert r.status_code == 404
    assert client.get(f"/w/{token}").status_code == 404
    r = client.post(f"/w/{'A' * 65}/actions", json={"action": "ter_plaatse"})
    assert r.status_code == 422 and fields(r) == ["token"]


# --- windows and sizes -----------------------------------------------------------------------


def test_gap_window_is_at_most_eight_weeks(client: TestClient) -> None:
    params = {"team": "vt-gv", "from": "2026-01-01T00:00", "to": "2026-02-26T00:00"}
    assert client.get("/api/v1/coverage/gaps", params=params).status_code == 200  # 56 days
    params["to"] = "2026-02-26T00:01"
    r = client.get("/api/v1/coverage/gaps", params=params)
    assert r.status_code == 422 and fields(r) == ["to"] and "56 days" in r.text
    params["to"] = "2026-04-02T00:00"  # the 92 days of the report
    assert client.get("/api/v1/coverage/gaps", params=params).status_code == 422
    r = client.get("/api/v1/coverage/gaps", params={"team": ["x"] * 101})
    assert r.status_code == 422 and fields(r) == ["team"]


@pytest.fixture
def small(
    settings: Settings, sessions: sessionmaker[Session], clock: ManualClock, loaded: int
) -> Iterator[TestClient]:
    """An app with small body limits (4 KiB, configuration 16 KiB)."""
    tight = settings.model_copy(update={"max_body_bytes": 4096, "max_config_body_bytes": 16384})
    app = create_app(tight, clock=clock, run_delivery=False, run_stream=False)
    app.state.samenop.sessions = sessions
    app.state.samenop.readers = sessions  # the test transaction
    app.state.samenop.paging.sessions = sessions
    with TestClient(app, headers={"X-API-Key": API_KEY}) as c:
        yield c


def test_body_over_the_limit_is_413_naming_it(small: TestClient, session: Session) -> None:
    before = incidents(session)
    r = small.post(INCIDENTS, json=incident(police_unit="x" * 5000))
    assert r.status_code == 413 and "4096 bytes" in r.json()["detail"]
    assert "SAMENOP_MAX_BODY_BYTES" in r.json()["detail"]
    assert incidents(session) == before
    r = small.post("/login", content=b"username=a&password=" + b"x" * 5000)
    assert r.status_code == 413


def test_a_body_without_length_is_counted_while_it_streams(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    r = small.post(INCIDENTS, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "4096" in r.json()["detail"]


def test_configuration_routes_have_their_own_limit(small: TestClient) -> None:
    config = small.get("/api/v1/config").json()
    body = json.dumps(
        {k: config[k] for k in ("regions", "municipalities", "basisteams", "teams")}
    ).encode()
    assert 4096 < len(body) < 16384
    r = small.post(VALIDATE, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    r = small.post(VALIDATE, content=b" " * 20000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "16384" in r.json()["detail"]
    assert "SAMENOP_MAX_CONFIG_BODY_BYTES" in r.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "after=99999999999999999999999",
        f"incident={'x' * 65}",
        "&".join(f"region=r{i}" for i in range(120)),
    ],
)
def test_a_websocket_subscription_out_of_bounds_is_refused(client: TestClient, query: str) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/ws?{query}") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4400


def test_nul_in_a_websocket_query_is_refused(client: TestClient) -> None:
    with (
        pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)),
        client.websocket_connect("/ws?incident=a%00b") as ws,
    ):
        ws.receive_json()

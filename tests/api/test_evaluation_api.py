"""The evaluation over HTTP: the JSON, the CSV for Excel and the /evaluatie page, for
planners and admins of the region only, with bounded periods; figures from a history
driven through the real service (see tests/dispatch/test_evaluation.py)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from core.clock import ManualClock
from dispatch.models import AuditLog
from oncall.snapshot import ConfigSnapshot
from tests.accounts import make_account, make_key, sign_in
from tests.api.test_pages_security import inline_code
from tests.dispatch.test_evaluation import REGION, Case, drive, utc

URL = "/api/v1/evaluation"
MARCH = {"region": REGION, "start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def history(sessions: sessionmaker[Session], loaded: int, example_snapshot: ConfigSnapshot) -> None:
    """Six incidents in Gooi en Vechtstreek in March, one in Den Haag."""
    cases = [
        Case(utc("2026-03-10T15:59Z"), "joint_on_scene", 120, 1320),  # Tue 16:59
        Case(utc("2026-03-10T21:00Z"), "joint_on_scene", 300, 1800, declines=1),  # 22:00
        Case(utc("2026-03-11T10:00Z"), "phone_consult"),
        Case(utc("2026-03-14T02:00Z"), "no_consult"),  # Sat 03:00
        Case(utc("2026-03-29T01:30Z"), "cancelled"),  # Sun 03:30 CEST
        Case(utc("2026-03-31T21:30Z"), "open"),  # Tue 23:30
        Case(utc("2026-04-01T08:00Z"), "no_consult"),  # April: outside the period
        Case(utc("2026-03-12T10:00Z"), "no_consult", basisteam="laak"),  # Den Haag
    ]
    for case in cases:
        drive(sessions, example_snapshot, case)


def planner(sessions: sessionmaker[Session], region: str = REGION) -> dict[str, str]:
    return {"X-API-Key": make_key(sessions, f"planner-{region}", Role.PLANNER, regions=[region])}


def test_a_planner_reads_the_figures_of_its_region(
    client: TestClient, sessions: sessionmaker[Session], history: None
) -> None:
    headers = planner(sessions)
    r = client.get(URL, params=MARCH, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["region"], body["region_name"]) == (REGION, "Gooi en Vechtstreek")
    assert (body["start"], body["end"], body["timezone"]) == (
        "2026-03-01",
        "2026-03-31",
        "Europe/Amsterdam",
    )
    totals = body["totals"]
    assert (totals["incidents"], totals["joint_approach"], totals["consults"]) == (6, 3, 1)
    assert totals["without_vt"] == 2 and totals["outcomes"]["open"] == 1
    assert totals["declines"] == 1
    assert totals["to_accept"] == {"count": 2, "median_seconds": 210.0, "p90_seconds": 300.0}
    assert totals["to_arrival"] == {"count": 2, "median_seconds": 1560.0, "p90_seconds": 1800.0}
    hours = {h["hour"]: h["incidents"] for h in body["by_hour"] if h["incidents"]}
    assert hours == {16: 1, 22: 1, 11: 1, 3: 2, 23: 1}
    days = {d["weekday"]: d["incidents"] for d in body["by_weekday"] if d["incidents"]}
    assert days == {"tue": 3, "wed": 1, "sat": 1, "sun": 1}
    assert len(body["by_day"]) == 31
    teams = {t["team"]: (t["name"], t["incidents"]) for t in body["teams"]}
    assert sum(n for _name, n in teams.values()) == 6
    assert teams["vt-gv"][0] == "Veilig Thuis Gooi en Vechtstreek (kantoor)"
    # the planner's only region is the default
    again = client.get(URL, params={"start": "2026-03-01", "end": "2026-03-31"}, headers=headers)
    assert again.json()["totals"] == totals
    # each read is audited with its region and period
    with sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "evaluation.view")).all()
    assert len(rows) == 2 and rows[0].region_id == REGION
    assert rows[0].detail is not None and "2026-03-31" in rows[0].detail


def test_the_csv_opens_in_dutch_excel(
    client: TestClient, sessions: sessionmaker[Session], history: None
) -> None:
    r = client.get(URL + ".csv", params=MARCH, headers=planner(sessions))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    header, total = rows[0], rows[1]
    assert header[:5] == ["Regio", "Van", "Tot en met", "Team", "Meldingen"]
    record = dict(zip(header, total, strict=True))
    assert record["Team"] == "Totaal" and record["Regio"] == "Gooi en Vechtstreek"
    assert (record["Meldingen"], record["Samen op toegepast"], record["Samen ter plaatse"]) == (
        "6",
        "3",
        "2",
    )
    assert record["Zonder VT-consult"] == "2" and record["Niet afgesloten"] == "1"
    assert record["Mediaan tot aanname (min)"] == "3,5"  # 210 s, a decimal comma
    assert record["90e percentiel tot aankomst (min)"] == "30,0"
    assert sum(int(row[4]) for row in rows[2:]) == 6  # one row per team
    hours = client.get(URL + ".csv", params={**MARCH, "table": "hours"})
    hour_rows = list(csv.reader(io.StringIO(hours.content.decode("utf-8-sig")), delimiter=";"))
    assert hour_rows[0][3:] == ["Uur", "Meldingen", "Samen op toegepast"]
    assert len(hour_rows) == 25 and hour_rows[1 + 3][3:] == ["03:00", "2", "0"]
    weekdays = client.get(URL + ".csv", params={**MARCH, "table": "weekdays"})
    assert weekdays.status_code == 200  # the admin key of the client
    assert "zondag;1;0" in weekdays.content.decode("utf-8-sig")
    with sessions() as s:
        assert s.scalars(select(AuditLog).where(AuditLog.action == "evaluation.export")).all()


def test_csv_cells_are_never_formulas() -> None:
    from api.routers.evaluation import to_csv

    text = to_csv([["=HYPERLINK(1)", "-2", "team"]]).decode("utf-8-sig")
    assert text == "'=HYPERLINK(1);'-2;team\r\n"


def test_only_planners_and_admins_of_the_region(
    client: TestClient, sessions: sessionmaker[Session], history: None
) -> None:
    other = client.get(URL, params=MARCH, headers=planner(sessions, "den-haag"))
    assert other.status_code == 403 and "gooi-en-vechtstreek" in other.json()["detail"]
    assert client.get(URL + ".csv", params=MARCH, headers=planner(
        sessions, "zuid-limburg")).status_code == 403  # fmt: skip
    for role in (Role.OPERATOR, Role.FEED):
        key = make_key(sessions, f"k-{role.value}", role, regions=[REGION])
        for path in (URL, URL + ".csv"):
            r = client.get(path, params=MARCH, headers={"X-API-Key": key})
            assert r.status_code == 403, (role, path)
    anonymous = client.get(URL, params=MARCH, headers={"X-API-Key": ""})
    assert anonymous.status_code == 401
    unknown = client.get(URL, params={**MARCH, "region": "atlantis"})
    assert unknown.status_code == 404
    # the admin sees every region, and must say which
    assert client.get(URL, params=MARCH).json()["totals"]["incidents"] == 6
    haag = client.get(URL, params={**MARCH, "region": "den-haag"}).json()
    assert haag["totals"]["incidents"] == 1
    missing = client.get(URL, params={"start": "2026-03-01"})
    assert missing.status_code == 422 and "region" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-01-01", "end": "2027-01-08"}, "start"),  # 373 days
        ({"start": "2026-03-02", "end": "2026-03-01"}, "end"),
        ({"start": "2026-02-30"}, "start"),
        ({"start": "1999-12-31"}, "start"),
        ({"end": "2026-3-1"}, "end"),
        ({"end": "2026-03-01T00:00"}, "end"),
        ({"region": "NOT A SLUG"}, "region"),
    ],
)
def test_periods_and_regions_are_bounded(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    r = client.get(URL, params={"region": REGION, **params})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field), r.json()


def test_a_year_and_a_week_is_allowed_and_the_default_is_30_days(
    client: TestClient, clock: ManualClock, loaded: int
) -> None:
    r = client.get(URL, params={"region": REGION, "start": "2026-01-01", "end": "2027-01-07"})
    assert r.status_code == 200 and len(r.json()["by_day"]) == 372
    clock.set(utc("2026-11-28T23:30Z"))  # 00:30 on the 29th in Amsterdam
    body = client.get(URL, params={"region": REGION}).json()
    assert (body["start"], body["end"]) == ("2026-10-31", "2026-11-29")


def test_the_page_shows_charts_and_tables_to_a_planner(
    client: TestClient, sessions: sessionmaker[Session], history: None
) -> None:
    client.headers.pop("X-API-Key")
    assert client.get("/evaluatie", follow_redirects=False).headers["location"] == "/login"
    make_account(sessions, "planner-gv", Role.PLANNER, regions=[REGION])
    sign_in(client, "planner-gv")
    page = client.get("/evaluatie", params=MARCH)
    assert page.status_code == 200, page.text
    html = page.text
    assert inline_code(html) == []
    assert html.count("<svg") == 4 and "<title" in html and 'role="img"' in html
    summary = dict(re.findall(r'data-key="([a-z_]+)">(\d+)<', html))
    assert summary["incidents"] == "6" and summary["joint_approach"] == "3"
    assert summary["consults"] == "1" and summary["without_vt"] == "2"
    assert 'id="hours"' in html and 'id="weekdays"' in html and 'id="teams"' in html
    assert "/api/v1/evaluation.csv?region=gooi-en-vechtstreek&amp;start=2026-03-01" in html
    assert "Veilig Thuis Gooi en Vechtstreek (kantoor)" in html
    # another region: refused; a bad day: named
    assert client.get("/evaluatie", params={**MARCH, "region": "den-haag"}).status_code == 403
    assert client.get("/evaluatie", params={**MARCH, "end": "2026-02-01"}).status_code == 422
    # a default period without incidents says so
    empty = client.get("/evaluatie")
    assert empty.status_code == 200 and 'id="empty"' in empty.text
    csv_file = client.get("/api/v1/evaluation.csv", params=MARCH)  # with the cookie
    assert csv_file.status_code == 200


def test_operators_do_not_get_the_page(
    client: TestClient, sessions: sessionmaker[Session], loaded: int
) -> None:
    client.headers.pop("X-API-Key")
    make_account(sessions, "operator-gv", Role.OPERATOR, regions=[REGION])
    sign_in(client, "operator-gv")
    assert client.get("/evaluatie").status_code == 403
    assert client.get(URL, params=MARCH).status_code == 403


def test_charts_escape_their_text_and_step_their_axis_in_whole_numbers() -> None:
    from api import svg

    chart = svg.bar_chart("<b>", "a & b", ["<x>", "y"], [("n<", [2, 1]), ("m", [0, 1])])
    assert "<b>" not in chart and "&lt;b&gt;" in chart and "a &amp; b" in chart
    assert "&lt;x&gt;: 2 n&lt;" in chart
    ticks = re.findall(r'class="tick"[^>]*>(\d+)<', str(chart))
    assert ticks == ["0", "1", "2"]
    ticks = re.findall(
        r'class="tick"[^>]*>(\d+)<', str(svg.bar_chart("t", "d", ["a"], [("n", [37])]))
    )
    assert ticks == ["0", "10", "20", "30", "40", "50"]
    assert inline_code(f"<html><body>{chart}</body></html>") == []
    line = svg.line_chart("t", "d", ["01-03", "02-03"], [("n", [0, 3])])
    assert 'points="36.0,' in line and "<title" in line
    bars = svg.hbar_chart("t", "d", [("samen ter plaatse", 21), ("geen consult", 0)])
    assert bars.count("<rect") == 2 and ">21<" in bars

"""Calendar feeds through the API: made and revoked by a planner of the team's region or
by a worker for itself, served at a secret URL (stored as a digest), parsed back with
``icalendar``, changed by an override at once, refused outside the caller's regions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.models import Account, WebSession
from access.principal import Role
from core.clock import ManualClock
from dispatch.feed_models import CalendarFeed, DigestSubscription
from dispatch.models import AuditLog
from oncall import ical
from oncall.calendar import team_blocks
from oncall.service import SnapshotCache
from tests.accounts import PASSWORD, make_account, make_key, sign_in

OWN = {"Origin": "http://testserver"}
TEAM = "cit-haaglanden"
PERSON = "dh-linda-de-graaf"


def events(body: bytes) -> list[tuple[datetime, datetime, str, str]]:
    cal = Calendar.from_ical(body)
    return sorted(
        (
            e.decoded("DTSTART"),
            e.decoded("DTEND"),
            str(e["X-SAMENOP-PERSON"]),
            str(e["X-SAMENOP-LAYER"]),
        )
        for e in cal.walk("VEVENT")
    )


def path_of(url: str) -> str:
    assert url.startswith("http://127.0.0.1:8000/ical/") and url.endswith(".ics"), url
    return url.removeprefix("http://127.0.0.1:8000")


def test_a_planner_makes_a_team_feed_that_is_the_calendar_and_revokes_it(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    planner = {"X-API-Key": make_key(sessions, "planner-dh", Role.PLANNER, regions=["den-haag"])}
    made = client.post(f"/api/v1/feeds/teams/{TEAM}", headers=planner)
    assert made.status_code == 201, made.text
    feed = made.json()
    path = path_of(feed["url"])
    token = path.removeprefix("/ical/").removesuffix(".ics")
    assert len(token) == 43 and feed["prefix"] == token[:8]

    # Only the digest is stored; the token appears nowhere in the row.
    with sessions() as s:
        row = s.get(CalendarFeed, feed["id"])
        assert row is not None and row.kind == "team" and row.target == TEAM
        assert token not in (row.digest, row.prefix + "x") and len(row.digest) == 64
        assert s.scalar(
            select(AuditLog.id).where(AuditLog.action == "ical.create", AuditLog.object_id == TEAM)
        )

    # Public: no key needed (a calendar app sends none).
    got = client.get(path, headers={"X-API-Key": ""})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/calendar")
    with sessions() as s:
        snapshot = SnapshotCache().get(session=s)
    start, end = ical.feed_window(clock.now())
    blocks = ical.blocks_between(
        lambda lo, hi: team_blocks(snapshot, TEAM, lo, hi), start - ical.LOOKBACK, end
    )
    assert events(got.content) == sorted(
        (b.start, min(b.end, end), b.person, b.layer) for b in blocks if b.end > start
    )
    assert len(events(got.content)) > 100

    # Unchanged: 304 on the ETag.
    etag = got.headers["etag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    listed = client.get(f"/api/v1/feeds/teams/{TEAM}", headers=planner).json()
    assert [f["id"] for f in listed] == [feed["id"]]
    assert "url" not in listed[0] and token not in str(listed)

    revoked = client.post(f"/api/v1/feeds/{feed['id']}/revoke", headers=planner)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get(path).status_code == 404
    assert client.get(f"/api/v1/feeds/teams/{TEAM}", headers=planner).json() == []


def test_unknown_malformed_and_overlong_tokens(client: TestClient) -> None:
    assert client.get("/ical/" + "A" * 43 + ".ics").status_code == 404
    assert client.get("/ical/short.ics").status_code == 404
    assert client.get("/ical/" + "A" * 42 + "!.ics").status_code == 404
    assert client.get("/ical/" + "A" * 100 + ".ics").status_code == 422
    assert client.get("/ical/" + "A" * 43).status_code == 404  # no .ics: no such route


def test_an_override_shows_in_the_feed_at_once(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    planner = {"X-API-Key": make_key(sessions, "planner-dh", Role.PLANNER, regions=["den-haag"])}
    path = path_of(client.post(f"/api/v1/feeds/people/{PERSON}", headers=planner).json()["url"])
    before = client.get(path)
    assert before.status_code == 200
    linda = events(before.content)
    # Linda's next desk day (11:00-22:00 local), which Jolien takes over.
    nxt = next(e for e in linda if e[0] > clock.now() + timedelta(days=1))
    override = {
        "id": "linda-vrij",
        "team": TEAM,
        "kind": "replace",
        "person": "dh-jolien-van-rijn",
        "replaces": PERSON,
        "start": nxt[0].isoformat(),
        "end": nxt[1].isoformat(),
    }
    assert client.post("/api/v1/overrides", json=override, headers=planner).status_code == 201
    after = client.get(path, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert set(linda) - set(events(after.content)) == {nxt}


def test_a_planner_of_another_region_is_refused(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    mine = {"X-API-Key": make_key(sessions, "planner-dh", Role.PLANNER, regions=["den-haag"])}
    other = {
        "X-API-Key": make_key(sessions, "planner-gv", Role.PLANNER, regions=["gooi-en-vechtstreek"])
    }
    feed = client.post(f"/api/v1/feeds/teams/{TEAM}", headers=mine).json()
    assert client.post(f"/api/v1/feeds/teams/{TEAM}", headers=other).status_code == 403
    assert client.get(f"/api/v1/feeds/teams/{TEAM}", headers=other).status_code == 404
    assert client.post(f"/api/v1/feeds/people/{PERSON}", headers=other).status_code == 403
    assert client.get(f"/api/v1/feeds/people/{PERSON}", headers=other).status_code == 404
    assert client.post(f"/api/v1/feeds/{feed['id']}/revoke", headers=other).status_code == 403
    assert client.get(path_of(feed["url"])).status_code == 200  # still live
    assert client.post("/api/v1/feeds/teams/no-such-team", headers=mine).status_code == 404
    assert client.post("/api/v1/feeds/people/no-such-person", headers=mine).status_code == 404
    assert client.post("/api/v1/feeds/999999/revoke", headers=mine).status_code == 404
    operator = {"X-API-Key": make_key(sessions, "mk", Role.OPERATOR, regions=["den-haag"])}
    assert client.post(f"/api/v1/feeds/teams/{TEAM}", headers=operator).status_code == 403


def _worker_csrf(sessions: sessionmaker[Session], username: str) -> str:
    with sessions() as s:
        account_id = s.scalar(select(Account.id).where(Account.username == username))
        csrf = s.scalar(
            select(WebSession.csrf)
            .where(WebSession.account_id == account_id)
            .order_by(WebSession.created_at.desc())
        )
    assert csrf
    return csrf


def test_a_worker_makes_and_revokes_only_its_own_feed(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    make_account(sessions, "linda", Role.WORKER, person_id=PERSON)
    client.headers.pop("X-API-Key")
    assert (
        client.post(
            "/login",
            data={"username": "linda", "password": PASSWORD},
            headers=OWN,
            follow_redirects=False,
        ).status_code
        == 303
    )
    headers = {**OWN, "X-CSRF-Token": _worker_csrf(sessions, "linda")}
    made = client.post("/api/v1/me/feeds", headers=headers)
    assert made.status_code == 201, made.text
    mine = made.json()
    assert (mine["kind"], mine["target"]) == ("person", PERSON)
    body = client.get(path_of(mine["url"])).content
    assert {e[2] for e in events(body)} == {PERSON}
    assert [f["id"] for f in client.get("/api/v1/me/feeds").json()] == [mine["id"]]
    # Not a team's feed, not someone else's.
    assert client.post(f"/api/v1/feeds/teams/{TEAM}", headers=headers).status_code == 403
    with sessions() as s:
        from dispatch import feed_models

        _token, theirs = feed_models.create_feed(
            s, kind="person", target="dh-kevin-ramdin", now=datetime.now(UTC), by="tests"
        )
        s.commit()
        other_id = theirs.id
    assert client.post(f"/api/v1/feeds/{other_id}/revoke", headers=headers).status_code == 404
    assert client.post(f"/api/v1/feeds/{mine['id']}/revoke", headers=headers).status_code == 200
    assert client.get(path_of(mine["url"])).status_code == 404


def test_every_region_planner_chooses_its_digest_regions(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    make_account(sessions, "planner-all", Role.PLANNER)
    make_account(sessions, "planner-dh", Role.PLANNER, regions=["den-haag"])
    client.headers.pop("X-API-Key")
    csrf = sign_in(client, "planner-all")
    headers = {**OWN, "X-CSRF-Token": csrf}
    assert client.get("/api/v1/me/digest").json() == {"regions": []}
    r = client.put("/api/v1/me/digest", json={"regions": ["den-haag", "meierij"]}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"regions": ["den-haag", "meierij"]}
    bad = client.put("/api/v1/me/digest", json={"regions": ["atlantis"]}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("regions")
    with sessions() as s:
        assert set(s.scalars(select(DigestSubscription.region))) == {"den-haag", "meierij"}
    # A bound planner receives its own regions and cannot ask for another's.
    client.post("/logout", data={"csrf": csrf}, headers=OWN)
    csrf = sign_in(client, "planner-dh")
    assert client.get("/api/v1/me/digest").json() == {"regions": ["den-haag"]}
    refused = client.put(
        "/api/v1/me/digest",
        json={"regions": ["meierij"]},
        headers={**OWN, "X-CSRF-Token": csrf},
    )
    assert refused.status_code == 422

"""The control room's first hour through the database, on both backends: the pocket card
"Veiligheid voorop" ticked and unticked (idempotent, each change an event with who did
it, the control room only), the household facts and the forensic prompt in the live
summary, and the evaluation note at closing (stored on the dispatch, out of every event,
summary, message and audit row, read back only by the planners of the region)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from core.clock import ManualClock
from dispatch import live
from dispatch.lifecycle import ALL_CHECKLIST_ITEMS, forensic_prompt
from dispatch.models import AuditLog, Dispatch, Event
from dispatch.schemas import ChecklistItem
from oncall import service as oncall_service
from tests.accounts import make_account, sign_in
from tests.api.test_lifecycle_api import accepted, actions, as_worker, worker_token
from tests.api.test_scenarios import GV_NOORD
from tests.dispatch.test_paging_flow import INCIDENTS, app_state, at, console, post, run

HELPED = "De eerdere registratie van de politie over het huisverbod in 2025 hielp."
MISSING = "Wij misten of er een omgangsregeling met de vader bestond."


def checklist_events(session: Session, dispatch_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Event.payload)
        .where(Event.dispatch_id == dispatch_id, Event.type == "lifecycle.checklist")
        .order_by(Event.id)
    )
    return [json.loads(p) if isinstance(p, str) else dict(p) for p in rows]


def tick(client: TestClient, ref: str, item: str, done: bool = True) -> Any:
    return actions(client, ref, action="checklist", item=item, done=done)


def summary_now(client: TestClient, session: Session, dispatch_id: str) -> dict[str, Any]:
    """The summary as a reloaded dashboard gets it (read again from the database)."""
    session.expire_all()
    found = live.summaries(session, [dispatch_id], app_state(client).clock.now())
    return found[dispatch_id]


# --- the pocket card ---------------------------------------------------------------


def test_the_schema_and_the_rules_know_the_same_items() -> None:
    assert ChecklistItem.__args__ == ALL_CHECKLIST_ITEMS  # type: ignore[attr-defined]


def test_ticks_and_unticks_are_idempotent_events_with_who(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    ref = d["reference"]
    r = tick(client, ref, "kindcheck")
    assert r.status_code == 200, r.text
    ticked = r.json()["checklist"]
    assert set(ticked) == {"kindcheck"}
    assert ticked["kindcheck"]["at"] == clock.now().isoformat() and ticked["kindcheck"]["by"]
    again = tick(client, ref, "kindcheck")  # a retried request writes nothing
    assert again.status_code == 200 and again.json()["checklist"] == ticked
    events = checklist_events(session, d["id"])
    assert [(e["item"], e["done"], e["actor"]) for e in events] == [
        ("kindcheck", True, "control_room")
    ]
    assert events[0]["by"] == ticked["kindcheck"]["by"]

    assert tick(client, ref, "doorvragen").status_code == 200
    assert tick(client, ref, "kindcheck", done=False).status_code == 200
    assert tick(client, ref, "kindcheck", done=False).status_code == 200  # a repeat
    state = summary_now(client, session, d["id"])
    assert set(state["checklist"]) == {"doorvragen"}  # survives a reload
    events = checklist_events(session, d["id"])
    assert [(e["item"], e["done"]) for e in events] == [
        ("kindcheck", True),
        ("doorvragen", True),
        ("kindcheck", False),
    ]


def test_only_the_control_room_ticks(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    token = worker_token(client, session, d["id"], 1)
    r = as_worker(client, token, action="checklist", item="kindcheck", done=True)
    assert r.status_code == 403, r.text
    assert r.json()["detail"]["error"] == "forbidden_role"
    assert checklist_events(session, d["id"]) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"item": "teleport", "done": True}, "item"),
        ({"item": "kindcheck", "done": "true"}, "done"),
        ({"item": "kindcheck", "done": 1}, "done"),
        ({"item": "kindcheck"}, "done"),
    ],
)
def test_a_bad_tick_names_its_field(
    client: TestClient, clock: ManualClock, session: Session, body: dict[str, Any], field: str
) -> None:
    d = accepted(client, clock)
    r = actions(client, d["reference"], action="checklist", **body)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [f"checklist.{field}"]
    assert checklist_events(session, d["id"]) == []


def test_ticks_stop_at_close(client: TestClient, clock: ManualClock, session: Session) -> None:
    d = accepted(client, clock)
    assert tick(client, d["reference"], "vt_melding").status_code == 200
    assert actions(client, d["reference"], action="close", outcome="no_consult").status_code == 200
    r = tick(client, d["reference"], "bewijs")
    assert r.status_code == 409 and r.json()["detail"]["stage"] == "closed"
    assert set(summary_now(client, session, d["id"])["checklist"]) == {"vt_melding"}


def test_ticks_can_begin_before_anyone_accepted(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(client, basisteam=GV_NOORD, reported_at="2026-03-10T16:59")
    assert d["assignments"]  # being paged
    r = tick(client, d["reference"], "kindcheck")
    assert r.status_code == 200 and r.json()["stage"] == "paging"


# --- household facts and the forensic prompt ------------------------------------------


def test_the_summary_carries_the_household_in_dutch_and_nothing_more(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-03-10T16:59")
    d = post(
        client,
        basisteam=GV_NOORD,
        reported_at="2026-03-10T16:59",
        persons=[{"role": "victim", "age": 34}, {"role": "child", "age": 6}, {"role": "suspect"}],
        flags=["children_present", "injuries", "weapons"],
    )
    summary = summary_now(client, session, d["id"])
    household = summary["household"]
    assert [p["text"] for p in household["persons"]] == [
        "slachtoffer (34)",
        "kind (6)",
        "verdachte",
    ]
    assert [f["text"] for f in household["flags"]] == ["kinderen aanwezig", "letsel", "wapens"]
    assert {k for p in household["persons"] for k in p} == {"role", "age", "text"}
    assert summary["forensic"] is True
    assert summary["checklist"] == {} and summary["evaluation_noted"] == []


@pytest.mark.parametrize(
    ("persons", "flags", "prompt"),
    [
        ([{"role": "victim", "age": 30}], ["injuries", "children_present"], True),
        ([{"role": "child", "age": None}], ["injuries"], True),
        ([{"role": "victim", "age": 15}], ["injuries"], True),
        ([{"role": "victim", "age": 30}, {"role": "child", "age": 4}], [], False),
        ([{"role": "victim", "age": 30}], ["injuries"], False),
        ([], ["children_present"], False),
        ([{"role": "victim", "age": 18}], ["injuries"], False),
    ],
)
def test_children_and_injuries_prompt_the_forensic_doctor(
    persons: list[dict[str, Any]], flags: list[str], prompt: bool
) -> None:
    assert forensic_prompt(persons, flags) is prompt


# --- the evaluation note ----------------------------------------------------------------

NOTE = {"helped": HELPED, "missing": MISSING}


def _region(client: TestClient, session: Session, dispatch_id: str) -> tuple[str, str]:
    mine = summary_now(client, session, dispatch_id)["region"]
    others = [r.id for r in oncall_service.read_config(session=session).regions if r.id != mine]
    return mine, others[0]


def _everything_but_the_dispatch(session: Session, dispatch_id: str) -> str:
    events = session.scalars(select(Event.payload).where(Event.dispatch_id == dispatch_id))
    audit = session.scalars(select(AuditLog.detail))
    return json.dumps([list(events), list(audit)], default=str, ensure_ascii=False)


def test_close_keeps_the_note_on_the_dispatch_only(
    client: TestClient, clock: ManualClock, session: Session, sessions: sessionmaker[Session]
) -> None:
    d = accepted(client, clock)
    r = actions(
        client, d["reference"], action="close", outcome="phone_consult", evaluation_note=NOTE
    )
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["evaluation_noted"] == ["control_room"]
    assert HELPED not in json.dumps(summary) and MISSING not in json.dumps(summary)
    session.expire_all()
    stored = session.get(Dispatch, d["id"])
    assert stored is not None and stored.evaluation_note is not None
    note = stored.evaluation_note["control_room"]
    assert (note["helped"], note["missing"]) == (HELPED, MISSING)
    text = _everything_but_the_dispatch(session, d["id"])
    assert HELPED not in text and MISSING not in text
    assert all(HELPED not in (r.body or "") for r in console(client).records)
    close = [e for e in session.scalars(select(Event).where(Event.dispatch_id == d["id"]))]
    assert [e.payload.get("evaluation_noted") for e in close if e.type == "lifecycle.close"] == [
        True
    ]
    # the same close again, with the same note: nothing new
    again = actions(
        client, d["reference"], action="close", outcome="phone_consult", evaluation_note=NOTE
    )
    assert again.status_code == 200
    assert [
        e.type for e in session.scalars(select(Event).where(Event.dispatch_id == d["id"]))
    ].count("lifecycle.close") == 1

    # read back: the planners of the region (and admins) only
    mine, other = _region(client, session, d["id"])
    make_account(sessions, "planner-mine", Role.PLANNER, regions=[mine])
    make_account(sessions, "planner-other", Role.PLANNER, regions=[other])
    make_account(sessions, "meldkamer", Role.OPERATOR)
    url = f"{INCIDENTS}/{d['reference']}/evaluation-note"
    key = client.headers.pop("X-API-Key")
    try:
        sign_in(client, "planner-mine")
        r = client.get(url)
        assert r.status_code == 200, r.text
        assert [(n["by"], n["helped"], n["missing"]) for n in r.json()["notes"]] == [
            ("control_room", HELPED, MISSING)
        ]
        client.cookies.clear()
        sign_in(client, "planner-other")
        assert client.get(url).status_code == 404
        client.cookies.clear()
        sign_in(client, "meldkamer")
        assert client.get(url).status_code == 403
    finally:
        client.cookies.clear()
        client.headers["X-API-Key"] = key
    session.expire_all()
    reads = list(
        session.scalars(select(AuditLog).where(AuditLog.action == "incident.evaluation_note.read"))
    )
    assert [(a.actor, a.object_id) for a in reads] == [("account:planner-mine", d["id"])]


def test_the_worker_adds_a_note_after_the_control_room_closed(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    token = worker_token(client, session, d["id"], 1)
    assert (
        actions(client, d["reference"], action="close", outcome="phone_consult").status_code == 200
    )
    r = as_worker(
        client, token, action="close", outcome="phone_consult", evaluation_note={"missing": MISSING}
    )
    assert r.status_code == 200, r.text
    assert r.json()["evaluation_noted"] == ["worker"]
    session.expire_all()
    stored = session.get(Dispatch, d["id"])
    assert stored is not None and stored.evaluation_note is not None
    assert stored.evaluation_note["worker"]["missing"] == MISSING
    assert stored.evaluation_note["worker"]["helped"] == ""
    types = [e.type for e in session.scalars(select(Event).where(Event.dispatch_id == d["id"]))]
    assert types.count("lifecycle.close") == 1 and types.count("lifecycle.evaluation_note") == 1
    assert MISSING not in _everything_but_the_dispatch(session, d["id"])


@pytest.mark.parametrize(
    ("note", "field"),
    [
        ({"helped": "x" * 2001}, "close.evaluation_note.helped"),
        ({"missing": "x" * 2001}, "close.evaluation_note.missing"),
        ({"helped": "ok", "names": "x"}, "close.evaluation_note.names"),
    ],
)
def test_a_note_is_bounded(
    client: TestClient, clock: ManualClock, session: Session, note: dict[str, Any], field: str
) -> None:
    d = accepted(client, clock)
    r = actions(client, d["reference"], action="close", outcome="no_consult", evaluation_note=note)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]
    session.expire_all()
    stored = session.get(Dispatch, d["id"])
    assert stored is not None and stored.stage != "closed" and stored.evaluation_note is None


def test_an_empty_note_stores_nothing(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    d = accepted(client, clock)
    blank = {"helped": "  ", "missing": ""}
    r = actions(client, d["reference"], action="close", outcome="no_consult", evaluation_note=blank)
    assert r.status_code == 200 and r.json()["evaluation_noted"] == []
    run(client)


# --- what the plan says about the first hour, in the summary -----------------------------


def test_the_summary_says_what_the_plan_says_about_the_first_hour(
    client: TestClient, clock: ManualClock, session: Session
) -> None:
    at(clock, "2026-10-25T03:30")
    night = post(client, municipality="Boxtel", reported_at="2026-10-25T02:30")
    summary = summary_now(client, session, night["id"])
    assert summary["police_call"] == night["plan"]["police_call"]
    assert summary["police_call"]["number"].startswith("+31800")
    assert summary["assignments"] == [] and summary["alarms"] == []
    assert summary["time_read"]["why"] == "ambiguous"
    assert summary["time_read"]["text"] == night["plan"]["time_read"]["text"]
    at(clock, "2026-03-10T11:00")
    day = post(client, municipality="Boxtel", reported_at="2026-03-10T11:00")
    mandate = summary_now(client, session, day["id"])["mandate"]
    assert [m["key"] for m in mandate["may"]] == day["plan"]["mandate"]["may"]
    assert mandate["may"][0]["text"] == "eerste veiligheidsbeoordeling maken"
    assert summary_now(client, session, day["id"])["police_call"] is None

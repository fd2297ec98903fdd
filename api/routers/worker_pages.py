"""The worker's step page (``/w/{token}``): phone-sized, Dutch, live.

The signed worker link (``notifications.links.sign_worker``) is the only credential.
The page shows the incident as the worker may see it (``dispatch.live.for_role``): the
household as the police gave it (roles, ages, flags; no names exist) and what the
team may do in the first hour. The first hour is split into steps (``PANELS``) so a
phone shows one at a time, each with the toolkit's points for it; ``worker.js`` posts
each action to ``POST /w/{token}/actions`` (closing with an optional evaluation note)
and follows the incident over ``/ws?token=<token>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api import auth
from api.routers.pages import page_labels, place_names, templates
from api.state import AppState
from core import texts
from dispatch import live
from dispatch.lifecycle import STAGES
from dispatch.models import Assignment
from notifications import links

router = APIRouter(
    include_in_schema=False,
    dependencies=[auth.public("the worker's signed, expiring link is the credential")],
)

# Every stage in order (the page compares stages by it).
ALL_STAGES = STAGES
# How a worker can close a joint response (cancelling is for the police).
WORKER_OUTCOMES = ("joint_on_scene", "phone_consult", "video_consult", "no_consult")
# The page's steps (panels), in order; the worker can open any, the stage picks one.
PANELS = tuple(texts.WORKER_PANEL_NL)
# Bounds of the evaluation note's two fields (the close action checks them too).
EVALUATION_MAX_CHARS = 2000


@dataclass(frozen=True)
class Household:
    """What the police told about the household, as the worker may read it: each
    person's role and age in Dutch, and the flags. Nothing else exists to show."""

    persons: tuple[str, ...]
    flags: tuple[str, ...]


def household(summary: dict[str, Any]) -> Household:
    """Dutch lines from the live summary's household: "slachtoffer, 34 jaar"; the flags
    that warn before going in (weapons, injuries) first."""
    words = texts.WORKER_PAGE_NL
    facts = summary.get("household") or {}
    lines = []
    for person in facts.get("persons") or ():
        role = texts.ROLE_NL.get(str(person.get("role")), texts.ROLE_NL["other"])
        age = person.get("age")
        told = words["age_unknown"] if age is None else words["age"].format(age=age)
        lines.append(f"{role}, {told}")
    given = {str(f.get("flag")) for f in facts.get("flags") or ()}
    ordered = [f for f in texts.WORKER_FLAG_ORDER if f in given]
    ordered += sorted(given - set(ordered))
    return Household(tuple(lines), tuple(texts.FLAG_NL.get(f, f) for f in ordered))


def mandate(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The team's first-hour mandate from the plan, in Dutch; None when it states none."""
    found = summary.get("mandate") or {}
    may = [
        texts.MANDATE_NL.get(str(m.get("key")), str(m.get("text") or m.get("key")))
        for m in found.get("may") or ()
    ]
    note = found.get("note") or None
    if not may and not note:
        return None
    return {"may": may, "note": note}


def _render(request: Request, context: dict[str, Any], code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, "worker.html", context, status_code=code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _load(state: AppState, assignment_id: int) -> tuple[dict[str, Any], int, str] | None:
    """The worker's view of its incident, its assignment position and its place name."""
    with state.sessions() as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is None:
            return None
        now = state.clock.now()
        summary = live.summaries(session, [assignment.dispatch_id], now).get(assignment.dispatch_id)
        if summary is None:
            return None
        view = live.for_role(summary, "worker", assignment.position)
        snapshot = state.snapshots.get(session=session)
        names = place_names(snapshot)
        where = view.get("municipality") or view.get("basisteam") or ""
        return view, assignment.position, names.get(where, where)


@router.get("/w/{token}", response_class=HTMLResponse)
async def worker_page(token: str, request: Request) -> Response:
    state: AppState = request.app.state.samenop
    labels = page_labels()
    try:
        assignment_id = links.verify_worker(token, state.clock.now(), state.settings.link_secret)
    except links.WorkerLinkExpired:
        return _render(request, {"problem": "expired", "labels": labels, "d": None}, 410)
    except links.LinkInvalid:
        return _render(request, {"problem": "invalid", "labels": labels, "d": None}, 404)
    loaded = await run_in_threadpool(_load, state, assignment_id)
    if loaded is None:
        return _render(request, {"problem": "invalid", "labels": labels, "d": None}, 404)
    view, position, place = loaded
    labels = {
        **labels,
        "worker": texts.WORKER_PAGE_NL,
        "panel": texts.WORKER_PANEL_NL,
        # the evaluation note's fields, named when the server refuses one
        "field": {
            **labels["field"],
            "helped": texts.WORKER_PAGE_NL["helped"],
            "missing": texts.WORKER_PAGE_NL["missing"],
        },
    }
    page_data = {
        "token": token,
        "position": position,
        "labels": labels,
        "stages": ALL_STAGES,
        "panels": PANELS,
        "dispatch": view,
    }
    return _render(
        request,
        {
            "problem": None,
            "d": view,
            "place": place,
            "household": household(view),
            "mandate": mandate(view),
            "labels": labels,
            "worker_outcomes": WORKER_OUTCOMES,
            "panels": texts.WORKER_PANEL_NL,
            "words": texts.WORKER_PAGE_NL,
            "points": {
                "safety_first": texts.WORKER_SAFETY_FIRST_NL,
                "motorkap": texts.WORKER_MOTORKAP_NL,
                "safety": texts.WORKER_SAFETY_NL,
                "conversation": texts.WORKER_CONVERSATION_NL,
                "handover": texts.WORKER_HANDOVER_NL,
            },
            "evaluation_max": EVALUATION_MAX_CHARS,
            "page_data": page_data,
        },
    )

"""The worker's step page (``/w/{token}``): phone-sized, Dutch, live.

The signed worker link (``notifications.links.sign_worker``) is the only credential.
The page shows the incident as the worker may see it (``dispatch.live.for_role``);
``worker.js`` posts each step to ``POST /w/{token}/actions`` and follows the incident
over ``/ws?token=<token>``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api import auth
from api.routers.pages import page_labels, place_names, templates
from api.state import AppState
from dispatch import live
from dispatch.lifecycle import STAGES
from dispatch.models import Assignment
from notifications import links

router = APIRouter(
    include_in_schema=False,
    dependencies=[auth.public("the worker's signed, expiring link is the credential")],
)

# The stages a worker follows on the page, in order.
WORKER_STEPS = STAGES[STAGES.index("accepted") :]
ALL_STAGES = ("melding", "paging", *WORKER_STEPS)
# How a worker can close a joint response (cancelling is for the police).
WORKER_OUTCOMES = ("joint_on_scene", "phone_consult", "video_consult", "no_consult")


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
    page_data = {
        "token": token,
        "position": position,
        "labels": labels,
        "steps": WORKER_STEPS,
        "stages": ALL_STAGES,
        "dispatch": view,
    }
    return _render(
        request,
        {
            "problem": None,
            "d": view,
            "place": place,
            "labels": labels,
            "worker_outcomes": WORKER_OUTCOMES,
            "page_data": page_data,
        },
    )

"""Answering a page without a key press or an SMS: the signed link and the API.

The link in the SMS opens a phone-sized page where the worker accepts or declines;
the token is the only credential (signed, expiring, for one page). The control room
can record an answer it got by phone through the API with its API key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api import audit, auth, scope
from api.bounds import DispatchId, Position
from api.deps import AppClock, ControlRoom, DbSession, State
from api.routers.pages import templates
from api.state import AppState
from dispatch import flows, paging, service
from dispatch.delivery import page_info
from dispatch.models import Assignment, Dispatch, Page
from dispatch.states import ANSWERABLE, AssignmentStatus
from notifications import links, messages

router = APIRouter()


def _page_state(assignment: Assignment, dispatch: Dispatch) -> str:
    """What the link page shows: accepted, declined, open (still answerable) or closed."""
    if assignment.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED):
        return str(assignment.status)
    asked = (AssignmentStatus.PAGING, AssignmentStatus.UNREACHED)
    if assignment.status in asked and dispatch.paging_state in ANSWERABLE:
        return "open"
    return "closed"


def _render(
    request: Request,
    *,
    info: messages.PageInfo | None = None,
    state: str = "open",
    message: str | None = None,
    problem: str | None = None,
    code: int = 200,
    worker_url: str | None = None,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "info": info,
        "state": state,
        "message": message,
        "problem": problem,
        "worker_url": worker_url,
    }
    response = templates.TemplateResponse(request, "respond.html", context, status_code=code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _verify(app: AppState, token: str) -> tuple[str | None, str | None]:
    try:
        return links.verify(token, app.clock.now(), app.settings.link_secret), None
    except links.LinkExpired:
        return None, "expired"
    except links.LinkInvalid:
        return None, "invalid"


def _load(app: AppState, page_id: str) -> tuple[messages.PageInfo, str, str | None] | None:
    """The page's details, its state, and once accepted the worker's step-page link."""
    with app.sessions() as session:
        page = session.get(Page, page_id)
        if page is None:
            return None
        dispatch = session.get(Dispatch, page.dispatch_id)
        assignment = session.get(Assignment, page.assignment_id)
        assert dispatch is not None and assignment is not None
        page_state = _page_state(assignment, dispatch)
        worker_url = None
        if page_state == "accepted":
            accepted_at = assignment.answered_at or app.clock.now()
            worker_url = app.paging.worker_link(assignment.id, accepted_at)
        return page_info(dispatch, assignment), page_state, worker_url


@router.get(
    "/p/{token}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[auth.public("the signed, expiring link in the SMS is the credential")],
)
async def link_page(token: str, request: Request, state: State) -> Response:
    page_id, problem = _verify(state, token)
    if page_id is None:
        return _render(request, problem=problem, code=410 if problem == "expired" else 404)
    loaded = await run_in_threadpool(_load, state, page_id)
    if loaded is None:
        return _render(request, problem="invalid", code=404)
    info, page_state, worker_url = loaded
    message = None
    if page_state in ("accepted", "declined", "closed"):
        message = messages.reply_text(page_state, reference=info.reference)  # type: ignore[arg-type]
    return _render(request, info=info, state=page_state, message=message, worker_url=worker_url)


@router.post(
    "/p/{token}",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[auth.public("the signed, expiring link in the SMS is the credential")],
)
async def link_answer(
    token: str,
    request: Request,
    state: State,
    action: Annotated[Literal["accept", "decline"], Form()],
) -> Response:
    page_id, problem = _verify(state, token)
    if page_id is None:
        return _render(request, problem=problem, code=410 if problem == "expired" else 404)

    def answer(session: Session) -> paging.Answer | None:
        if session.get(Page, page_id) is None:
            return None
        return paging.answer(
            session,
            page_id=page_id,
            accept=action == "accept",
            via="link",
            now=state.clock.now(),
        )

    result = await run_in_threadpool(flows.run, state.paging, answer)
    if result is None:
        return _render(request, problem="invalid", code=404)
    loaded = await run_in_threadpool(_load, state, page_id)
    assert loaded is not None
    info, page_state, worker_url = loaded
    kind = {"accepted": "accepted", "declined": "declined", "already": "already_answered"}.get(
        result.result, "closed"
    )
    message = messages.reply_text(kind, reference=info.reference)  # type: ignore[arg-type]
    return _render(request, info=info, state=page_state, message=message, worker_url=worker_url)


class _NoLongerOpen(Exception):
    """The assignment was answered or paging is over: nothing to record."""


class AnswerBody(BaseModel):
    note: str | None = None


class AnswerRead(BaseModel):
    result: Literal["accepted", "declined", "already"]
    reference: str
    paging_state: str


@router.post(
    "/api/v1/incidents/{dispatch_id}/assignments/{position}/{action}",
    response_model=AnswerRead,
    tags=["paging"],
    summary="Record that a worker accepted or declined (e.g. told the control room by phone)",
    responses={
        404: {"description": "No such dispatch or assignment"},
        409: {"description": "The assignment is no longer open (answered, or paging over)"},
    },
)
def answer_assignment(
    dispatch_id: DispatchId,
    position: Position,
    action: Literal["accept", "decline"],
    session: DbSession,
    clock: AppClock,
    caller: ControlRoom,
    state: State,
    request: Request,
) -> AnswerRead:
    dispatch = scope.visible_dispatch(
        caller, service.get_dispatch(session=session, dispatch_id=dispatch_id), dispatch_id
    )
    assignment_id = service.assignment_at(
        session=session, dispatch_id=dispatch.id, position=position
    )
    if assignment_id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"dispatch {dispatch.reference} has no assignment at position {position}",
        )
    reference = dispatch.reference

    def answer(s: Session) -> paging.Answer:
        result = paging.answer(
            s,
            assignment_id=assignment_id,
            accept=action == "accept",
            via="api",
            now=clock.now(),
            by=caller.actor,
        )
        if result.result == "closed":
            raise _NoLongerOpen(f"assignment {position} of {reference} is no longer open")
        audit.note(
            s,
            request,
            caller,
            f"assignment.{action}",
            "dispatch",
            dispatch.id,
            detail={"position": position},
            region=dispatch.region_id,
        )
        return result

    try:
        result = flows.run_in(state.paging, session, answer)
    except _NoLongerOpen as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    paging_state = dispatch.paging_state
    return AnswerRead(
        result=result.result,
        reference=reference,
        paging_state=paging_state,
    )


class PageRead(BaseModel):
    id: str
    kind: Literal["page", "confirmation"]
    assignment: int
    round: int
    channel: str
    status: str
    due_at: Any
    deadline_at: Any
    sent_at: Any
    provider: str | None  # which provider carried it (twilio, vonage, console)
    provider_id: str | None
    provider_status: str | None
    error: str | None


@router.get(
    "/api/v1/incidents/{dispatch_id}/pages",
    response_model=list[PageRead],
    tags=["paging"],
    summary="Every page of a dispatch (and the SMS confirming an accept): channel, status, "
    "deadlines, provider ids",
)
def list_pages(
    dispatch_id: DispatchId, session: DbSession, caller: ControlRoom, request: Request
) -> list[PageRead]:
    dispatch = scope.visible_dispatch(
        caller, service.get_dispatch(session=session, dispatch_id=dispatch_id), dispatch_id
    )
    audit.note(
        session,
        request,
        caller,
        "incident.pages.read",
        "dispatch",
        dispatch.id,
        region=dispatch.region_id,
    )
    session.commit()
    return [
        PageRead(
            id=p.id,
            kind=p.kind,
            assignment=position,
            round=p.round,
            channel=p.channel,
            status=p.status,
            due_at=p.due_at,
            deadline_at=p.deadline_at,
            sent_at=p.sent_at,
            provider=p.provider,
            provider_id=p.provider_id,
            provider_status=p.provider_status,
            error=p.error,
        )
        for p, position in service.pages_of(session=session, dispatch=dispatch)
    ]

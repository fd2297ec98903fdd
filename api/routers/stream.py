"""``/ws``: the live stream of a region, a basisteam or one incident (see ``api.stream``)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from api import auth
from api.state import AppState
from api.stream import (
    CLOSE_BAD_SUBSCRIPTION,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    Connection,
    Subscription,
    Viewer,
)

router = APIRouter()


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    # Accepted first, so a browser sees the close code and reason (a refused handshake
    # only shows up as a failed connection).
    await websocket.accept()
    await websocket.close(code=code, reason=reason)


def _known_places(state: AppState) -> tuple[set[str], set[str]]:
    with state.sessions() as session:
        config = state.snapshots.get(session=session).config
    return {r.id for r in config.regions}, {b.id for b in config.basisteams}


def _same_origin(websocket: WebSocket) -> bool:
    """A browser sends the sign-in cookie with any page's websocket, so the cookie only
    counts when the page that opened the socket is ours (cross-site hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.samenop
    params = websocket.query_params
    after_text = params.get("after")
    after: int | None = None
    if after_text not in (None, ""):
        if not after_text.isdigit():
            await _refuse(
                websocket, CLOSE_BAD_SUBSCRIPTION, "after: must be an event id (0 or more)"
            )
            return
        after = int(after_text)
    subscription = Subscription(
        regions=frozenset(params.getlist("region")),
        basisteams=frozenset(params.getlist("basisteam")),
        incident=params.get("incident") or None,
    )

    token = params.get("token")
    viewer: Viewer | None
    if token:
        assignment = await asyncio.to_thread(auth.worker_assignment, token, state)
        if assignment is None:
            await _refuse(websocket, CLOSE_UNAUTHENTICATED, "token: unknown or expired link")
            return
        if subscription.incident not in (None, assignment.dispatch_id) or (
            subscription.regions or subscription.basisteams
        ):
            await _refuse(websocket, CLOSE_FORBIDDEN, "a worker may only follow its own incident")
            return
        subscription = Subscription(incident=assignment.dispatch_id)
        viewer = Viewer(
            role="worker",
            name=f"assignment:{assignment.id}",
            assignment_position=assignment.position,
        )
    else:
        cookies = websocket.cookies if _same_origin(websocket) else {}
        viewer = auth.control_room(cookies, params.get("key"), state)
        if viewer is None:
            await _refuse(websocket, CLOSE_UNAUTHENTICATED, "sign in or pass key=<API key>")
            return
        regions, basisteams = await asyncio.to_thread(_known_places, state)
        unknown = sorted(subscription.regions - regions) + sorted(
            subscription.basisteams - basisteams
        )
        if unknown:
            await _refuse(
                websocket, CLOSE_BAD_SUBSCRIPTION, f"region/basisteam: unknown {', '.join(unknown)}"
            )
            return

    await websocket.accept()
    hub = state.hub
    if hub is None:  # an app built without its stream (run_stream=False)
        await websocket.close(code=1011, reason="stream not running")
        return
    await hub.serve(Connection(websocket, viewer, subscription, hub.max_queue), after)

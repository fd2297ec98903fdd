"""``/ws``: the live stream of a region, a basisteam or one incident (see ``api.stream``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket

from access import service as access
from access.principal import Principal, Role
from api import audit, auth
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


async def _principal(websocket: WebSocket, state: AppState, ticket: str | None) -> Principal | None:
    """A single-use ticket, else the sign-in cookie when the socket comes from our own
    pages (a browser sends the cookie with any site's websocket: cross-site hijacking)."""
    if ticket:

        def redeem() -> Principal | None:
            with state.sessions() as session:
                found = access.redeem_ticket(session, ticket, state.clock.now())
                session.commit()
                return found

        return await asyncio.to_thread(redeem)
    if websocket.headers.get("origin") is not None and not auth.same_origin(websocket, state):
        return None
    found = await auth.signed_in(websocket, state)
    if found is not None:
        return found.principal
    return auth.DEMO if auth.demo_open(state) else None


def _admit(
    state: AppState, principal: Principal, subscription: Subscription, source: str | None
) -> tuple[int, str] | None:
    """One database visit per connection: the subscription's places must exist and lie
    within the viewer's regions; then who started following what is audited (the
    stream carries incident details). Returns the close code and reason of a refusal."""
    with state.sessions() as session:
        snapshot = state.snapshots.get(session=session)
        config = snapshot.config
        unknown = sorted(subscription.regions - {r.id for r in config.regions}) + sorted(
            subscription.basisteams - {b.id for b in config.basisteams}
        )
        if unknown:
            return CLOSE_BAD_SUBSCRIPTION, f"region/basisteam: unknown {', '.join(unknown)}"
        if not principal.unbounded:
            mine = set(principal.regions or ())
            outside = sorted(r for r in subscription.regions if r not in mine)
            outside += sorted(
                b
                for b in subscription.basisteams
                if b not in principal.basisteams and snapshot.basisteams[b].region not in mine
            )
            if outside:
                return (
                    CLOSE_FORBIDDEN,
                    f"region/basisteam: outside your regions: {', '.join(outside)}",
                )
        audit.add(
            session,
            now=state.clock.now(),
            actor=principal.actor,
            actor_kind=principal.kind,
            actor_role=principal.role.value,
            action="stream.follow",
            object_type="dispatch" if subscription.incident else "stream",
            object_id=subscription.incident or "live",
            source=source,
            detail={
                "regions": sorted(subscription.regions),
                "basisteams": sorted(subscription.basisteams),
            },
        )
        session.commit()
    return None


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.samenop
    params = websocket.query_params
    after_text = params.get("after")
    after: int | None = None
    if after_text not in (None, ""):
        if not after_text.isdigit() or len(after_text) > 18:  # within a BIGINT
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
    # The dashboard's "Piket nu" table on a connection of its own, without incidents.
    piket = params.get("piket") == "only"
    if piket:
        subscription = Subscription(piket=True)
    places = (*subscription.regions, *subscription.basisteams, subscription.incident or "")
    if len(places) > 101 or any(len(p) > 64 for p in places):  # ids fit their columns
        await _refuse(websocket, CLOSE_BAD_SUBSCRIPTION, "region/basisteam/incident: too long")
        return

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
        principal = await _principal(websocket, state, params.get("ticket"))
        if principal is None:
            await _refuse(
                websocket,
                CLOSE_UNAUTHENTICATED,
                "sign in, or pass ticket=<from POST /api/v1/stream/tickets>",
            )
            return
        may = (Role.OPERATOR, Role.ADMIN, Role.PLANNER) if piket else (Role.OPERATOR, Role.ADMIN)
        if principal.role not in may:
            await _refuse(
                websocket, CLOSE_FORBIDDEN, f"role '{principal.role}' may not follow incidents"
            )
            return
        viewer = Viewer(role="control_room", name=principal.actor)
        if not principal.unbounded and not piket:
            subscription = Subscription(
                regions=subscription.regions,
                basisteams=subscription.basisteams,
                incident=subscription.incident,
                allowed_regions=frozenset(principal.regions or ()),
                allowed_basisteams=principal.basisteams,
            )
        source = websocket.client.host[:64] if websocket.client else None
        refusal = await asyncio.to_thread(_admit, state, principal, subscription, source)
        if refusal is not None:
            await _refuse(websocket, *refusal)
            return

    await websocket.accept()
    hub = state.hub
    if hub is None:  # an app built without its stream (run_stream=False)
        await websocket.close(code=1011, reason="stream not running")
        return
    await hub.serve(Connection(websocket, viewer, subscription, hub.max_queue), after)

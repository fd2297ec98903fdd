"""Who is calling: the control room (API key or the pages' sign-in cookie) or a worker
(the signed link to its own assignment).

Kept deliberately small: every control-room credential sees every region, and a worker
sees only the incident it accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from api.state import AppState
from api.stream import Viewer
from dispatch.models import Assignment
from notifications import links

COOKIE = "samenop_pages"


def cookie_token(key: str) -> str:
    """What the sign-in cookie holds: derived from an API key, never the key itself."""
    return hmac.new(key.encode(), b"samenop-pages", hashlib.sha256).hexdigest()


def signed_in(cookies: Mapping[str, str], state: AppState) -> bool:
    """Pages are open in the development demo; elsewhere they need an API key once."""
    if state.settings.environment == "development":
        return True
    cookie = cookies.get(COOKIE, "")
    return any(hmac.compare_digest(cookie, cookie_token(key)) for key in state.settings.api_keys)


def api_key_ok(key: str | None, state: AppState) -> bool:
    return key is not None and any(
        secrets.compare_digest(key, known) for known in state.settings.api_keys
    )


def worker_assignment(token: str, state: AppState) -> Assignment | None:
    """The assignment a worker token is for, or None when it is bad or expired."""
    try:
        assignment_id = links.verify_worker(token, state.clock.now(), state.settings.link_secret)
    except links.LinkInvalid:
        return None
    with state.sessions() as session:
        assignment = session.get(Assignment, assignment_id)
        if assignment is not None:
            session.expunge(assignment)
        return assignment


def control_room(cookies: Mapping[str, str], key: str | None, state: AppState) -> Viewer | None:
    if api_key_ok(key, state):
        assert key is not None
        return Viewer(role="control_room", name="key:" + key[:4] + "…")
    if signed_in(cookies, state):
        return Viewer(role="control_room", name="dashboard")
    return None

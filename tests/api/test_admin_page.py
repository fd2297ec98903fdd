"""The admin page without a browser: who may see it, what it lists, what it never shows.

The changes made on it go through the JSON API; ``test_admin_browser.py`` drives them
in Chromium.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from access.principal import Role
from tests.accounts import make_account, make_key, sign_in


def test_not_signed_in_goes_to_login_and_other_roles_are_refused(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client.headers.pop("X-API-Key")
    r = client.get("/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    make_account(sessions, "planner-a", Role.PLANNER, regions=["den-haag"])
    sign_in(client, "planner-a")
    r = client.get("/admin", follow_redirects=False)
    assert r.status_code == 403 and "Geen toegang" in r.text
    assert 'href="/admin"' not in client.get("/").text  # no link for a planner


def test_the_admin_sees_accounts_sessions_and_keys_but_never_a_secret(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client.headers.pop("X-API-Key")
    make_account(sessions, "beheer", Role.ADMIN)
    make_account(sessions, "meldkamer-dh", Role.OPERATOR, regions=["den-haag"])
    secret = make_key(
        sessions, "feed-gv", Role.FEED, regions=["gooi-en-vechtstreek"], sources=["gv-feed"]
    )
    sign_in(client, "beheer")
    assert 'href="/admin"' in client.get("/").text  # the dashboard links to it
    page = client.get("/admin")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert 'name="csrf-token" content="' in text and '<script src="/static/admin.js">' in text
    assert 'data-username="meldkamer-dh"' in text and "Den Haag" in text
    assert 'data-name="feed-gv"' in text and "gv-feed" in text and "actief" in text
    assert secret not in text  # only its first characters (the prefix) are shown
    # the admin's own session is listed
    assert text.count('<tr data-username="beheer">') == 1
    # no inline script or handler (the Content-Security-Policy would block it)
    assert "<script>" not in text and " onclick=" not in text
    script = client.get("/static/admin.js")
    assert script.status_code == 200 and "X-CSRF-Token" in script.text

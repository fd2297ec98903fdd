"""The admin page in a real browser (Debian's Chromium driven by Playwright).

The service runs as its own process on SQLite with the shipped regions. An admin signs
in, makes a feed key for one region and sees its secret once; the secret works against
the intake (for that region only), a rotation shows a new secret, and after revoking
on the page both stop working. The admin makes an operator account; the operator signs
in (and is refused the admin page), then the admin ends the operator's sessions and the
operator's browser is back at the sign-in page.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.accounts import PASSWORD
from tests.api.browsers import chromium, sign_in
from tests.api.test_dashboard_browser import KEY
from tests.api.test_dashboard_browser import server as _server

server = _server  # the same service process (regions loaded, an operator "meldkamer")

REGION = "gooi-en-vechtstreek"


@pytest.fixture
def admin_server(server: str, tmp_path: Path) -> str:
    """The service with an admin account made through the API's bootstrap key."""
    made = httpx.post(
        server + "/api/v1/accounts",
        headers={"X-API-Key": KEY},
        json={"username": "beheer", "role": "admin", "password": PASSWORD},
    )
    assert made.status_code == 201, made.text
    return server


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def intake(base: str, secret: str, **over: Any) -> httpx.Response:
    body = {
        "source": "gv-feed",
        "external_id": f"ADM-{uuid.uuid4().hex[:10]}",
        "reported_at": "2026-12-25T03:00",
        "municipality": "Hilversum",
        "case_type": "HG",
        "persons": [{"role": "victim", "age": 34}],
        "police_unit": "GV-21",
        "police_callback": "06 12345678",
        **over,
    }
    return httpx.post(base + "/api/v1/incidents", headers={"X-API-Key": secret}, json=body)


def until_refused(base: str, secret: str) -> int:
    """The intake's answer to this secret, polled up to 5 s until it is 401 (another
    process may remember a key that long; this one forgets at once)."""
    deadline = time.monotonic() + 5
    while True:
        code = intake(base, secret).status_code
        if code == 401 or time.monotonic() > deadline:
            return code
        time.sleep(0.2)


def test_admin_makes_rotates_and_revokes_a_feed_key_and_ends_sessions(
    admin_server: str, browser: Browser, tmp_path: Path
) -> None:
    base = admin_server
    admin = browser.new_context().new_page()
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.goto(base + "/admin")
    assert admin.url.endswith("/login")  # not signed in
    sign_in(admin, base, "beheer")
    admin.click("a[href='/admin']")  # the dashboard links to the admin page
    admin.wait_for_url(base + "/admin")
    expect(admin.locator("#sessions tr[data-username='beheer']")).to_have_count(1)

    # a feed key for one region; its secret is shown once
    admin.fill("#key-name", "feed-gv")
    admin.select_option("#key-role", "feed")
    admin.select_option("#key-regions", [REGION])
    admin.fill("#key-sources", "gv-feed")
    admin.click("#key-form button[type=submit]")
    expect(admin.locator("#secret")).to_be_visible()
    secret = admin.locator("#secret-value").inner_text().strip()
    assert secret.startswith("sk_") and len(secret) > 30
    assert "maar één keer getoond" in admin.locator("#secret").inner_text()
    row = admin.locator("#keys tr[data-name='feed-gv']")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "active")
    assert "Gooi en Vechtstreek" in row.inner_text() and "gv-feed" in row.inner_text()
    admin.screenshot(path=str(tmp_path / "admin-key.png"), full_page=True)

    # it works for its region, not for another, and only as a feed
    assert intake(base, secret).status_code == 201
    elsewhere = intake(base, secret, municipality=None, basisteam="laak")
    assert elsewhere.status_code == 403, elsewhere.text
    assert httpx.get(base + "/api/v1/keys", headers={"X-API-Key": secret}).status_code == 403

    # the page never holds the secret itself
    admin.reload()
    assert secret not in admin.content()
    expect(admin.locator("#secret")).to_be_hidden()

    # rotation: a new secret, shown once; the old one works through the overlap
    admin.click("#keys tr[data-name='feed-gv'][data-state='active'] button[data-action=rotate]")
    expect(admin.locator("#secret")).to_be_visible()
    rotated = admin.locator("#secret-value").inner_text().strip()
    assert rotated.startswith("sk_") and rotated != secret
    expect(admin.locator("#keys tr[data-name='feed-gv'][data-state='replaced']")).to_have_count(1)
    assert intake(base, rotated).status_code == 201
    assert intake(base, secret).status_code == 201
    admin.click("#secret-done")
    expect(admin.locator("#secret")).to_be_hidden()

    # revoked on the page: every secret of that name stops working
    admin.click("#keys tr[data-name='feed-gv'][data-state='active'] button[data-action=revoke]")
    expect(admin.locator("#keys tr[data-name='feed-gv'][data-state='revoked']")).to_have_count(2)
    assert "ingetrokken" in admin.locator("#notice").inner_text()
    assert until_refused(base, rotated) == 401
    assert until_refused(base, secret) == 401

    # an operator account, made on the page
    admin.fill("#account-username", "nieuwe-meldkamer")
    admin.fill("#account-display", "Nieuwe Meldkamer")
    admin.select_option("#account-role", "operator")
    admin.select_option("#account-regions", ["den-haag"])
    admin.fill("#account-password", PASSWORD)
    admin.click("#account-form button[type=submit]")
    account = admin.locator("#accounts tr[data-username='nieuwe-meldkamer']")
    expect(account).to_have_count(1)
    assert "meldkamer" in account.inner_text() and "Den Haag" in account.inner_text()

    # a refusal from the API is shown in Dutch, nothing else changes
    admin.fill("#account-username", "nieuwe-meldkamer")
    admin.fill("#account-password", PASSWORD)
    admin.click("#account-form button[type=submit]")
    expect(admin.locator("#error")).to_be_visible()
    assert "Bestaat al" in admin.locator("#error").inner_text()

    # the operator signs in; the admin page is not for them
    operator = browser.new_context().new_page()
    sign_in(operator, base, "nieuwe-meldkamer")
    refused = operator.goto(base + "/admin")
    assert refused is not None and refused.status == 403
    assert "Geen toegang" in operator.content()

    # the admin ends the operator's sessions
    admin.reload()
    live = admin.locator("#sessions tr[data-username='nieuwe-meldkamer']")
    expect(live).to_have_count(1)
    live.locator("button[data-action=end-sessions]").click()
    expect(live).to_have_count(0)
    assert "beëindigd (1)" in admin.locator("#notice").inner_text()
    operator.goto(base + "/")
    assert operator.url.endswith("/login")

    # deactivated on the page: the account cannot sign in any more
    admin.click("#accounts tr[data-username='nieuwe-meldkamer'] button[data-action=deactivate]")
    expect(admin.locator("#accounts tr[data-username='nieuwe-meldkamer'] td.active")).to_have_text(
        "nee"
    )
    operator.fill("#username", "nieuwe-meldkamer")
    operator.fill("#password", PASSWORD)
    operator.click("button[type=submit]")
    assert "verkeerd wachtwoord" in operator.get_by_role("alert").inner_text()
    admin.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
    assert (tmp_path / "admin.png").stat().st_size > 10_000

"""Signing in through the identity provider in a real browser (Chromium).

The fake provider runs at "localhost", another site than the service at 127.0.0.1, and
the person clicks on at the provider (as after typing a password there), so the way
back starts at the provider's site. The sign-in cookie is SameSite=Strict: a browser
leaves it off a redirect begun there, which would land on /login again. The callback's
page moves on to the dashboard by itself, and the dashboard opens signed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.api.test_dashboard_browser import ARGS, CHROMIUM
from tests.api.test_oidc import Stack, open_stack


@pytest.fixture
def cross_site(tmp_path: Path) -> Iterator[Stack]:
    with open_stack("sqlite", tmp_path, provider_host="localhost") as stack:
        yield stack


def test_the_dashboard_opens_signed_in_after_the_provider(
    cross_site: Stack, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium)"
    stack = cross_site
    assert stack.provider.issuer.startswith("http://localhost:")
    stack.account("oidc-browser", "sub-browser-0001")
    stack.provider.reset("sub-browser-0001")
    stack.provider.interactive = True
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(stack.url + "/")
            assert page.url.endswith("/login")
            page.click("a[href='/login/oidc']")
            page.wait_for_url("http://localhost:*/authorize*")
            page.click("#continue")
            page.wait_for_url(stack.url + "/")
            page.wait_for_selector("#dispatches")
            assert "Aangemeld als oidc-browser" in page.inner_text("header")
            page.screenshot(path=str(tmp_path / "oidc.png"))
        finally:
            browser.close()
    assert stack.sessions_of("oidc-browser") == 1

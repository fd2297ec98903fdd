"""``/docs`` in a real browser without internet: Swagger UI renders the API from our own
files under its Content-Security-Policy, and the browser reports no blocked script.

Before, the page loaded Swagger UI from a CDN: without internet it stayed blank.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.api.served import served
from tests.api.test_dashboard_browser import ARGS, CHROMIUM


def test_docs_render_offline_under_their_csp(tmp_path: Path) -> None:
    with served("sqlite", tmp_path, None) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(base) else None,
            )
            page.goto(f"{base}/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
            assert "Samen op in acuut" in page.inner_text(".swagger-ui .info .title")
            page.get_by_text("/api/v1/incidents/{dispatch_id}/actions").wait_for(timeout=15_000)
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()
    assert not [m for m in problems if "Content Security Policy" in m], problems
    assert not problems, problems
    assert outside == [], outside

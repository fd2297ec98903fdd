"""What every response says about itself: security headers, pages without inline script,
Swagger UI from our own files, ``Allow`` on 405, and error bodies as documented."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.hardening import HardeningMiddleware
from core.clock import ManualClock
from core.settings import Settings
from notifications import links
from tests.accounts import make_account, sign_in
from tests.api.test_worker_pages import accepted_incident, assignment_id
from tests.conftest import ROOT

TEMPLATES = ROOT / "api" / "templates"


def assert_secure_headers(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(
        [*part.strip().split(" ", 1), ""][:2] for part in csp.split(";") if part.strip()
    )
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in directives.get("script-src", directives["default-src"])
    assert "'unsafe-eval'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("no-referrer", "same-origin")


class _Page(HTMLParser):
    """Collects what a Content-Security-Policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self._in_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=...> handler")
            if name == "style":
                self.blocked.append(f"<{tag} style=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.blocked.append("<style> block")
        if tag == "script" and "src" not in named:
            kind = named.get("type") or "text/javascript"
            if kind != "application/json":  # a data block: never run, CSP does not apply
                self._in_script = kind

    def handle_data(self, data: str) -> None:
        if self._in_script is not None and data.strip():
            self.blocked.append(f"inline <script type={self._in_script}>: {data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def inline_code(html: str) -> list[str]:
    page = _Page()
    page.feed(html)
    return page.blocked


# --- headers -------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/login", "/healthz", "/api/v1/incidents", "/static/style.css", "/p/x", "/nope"):
        r = client.get(path)
        assert_secure_headers(r)
        assert "strict-transport-security" not in r.headers  # not in production
    assert_secure_headers(client.post("/api/v1/incidents", json={}))  # a 422 too


def test_hsts_only_in_production() -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    for production in (True, False):
        app = HardeningMiddleware(
            plain,
            max_body_bytes=1024,
            max_config_body_bytes=1024,
            max_json_depth=32,
            hsts=production,
        )
        r = TestClient(app).get("/")
        assert ("strict-transport-security" in r.headers) is production
        if production:
            assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_install_turns_hsts_on_for_production(settings: Settings) -> None:
    production = Settings.model_construct(**{**settings.model_dump(), "environment": "production"})
    for s, expected in ((settings, False), (production, True)):
        app = create_app(s, run_delivery=False, run_stream=False)
        [hardening] = [m for m in app.user_middleware if m.cls is HardeningMiddleware]
        assert hardening.kwargs["hsts"] is expected


# --- no inline script ----------------------------------------------------------------------


def test_templates_hold_no_inline_script() -> None:
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text()
        assert inline_code(text) == [], template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name


@pytest.fixture
def pages(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> Iterator[dict[str, Any]]:
    """Every page rendered, signed in where it needs it: path -> response."""
    d = accepted_incident(client)
    secret = client.app.state.samenop.settings.link_secret  # type: ignore[attr-defined]
    worker = links.sign_worker(
        assignment_id(sessions, d["id"], 1), clock.now() + timedelta(hours=1), secret
    )
    [page] = [p for p in client.get(f"/api/v1/incidents/{d['id']}/pages").json()][:1]
    link = links.sign(page["id"], clock.now() + timedelta(hours=1), secret)
    client.headers.pop("X-API-Key")
    rendered = {
        "/login": client.get("/login"),
        "/p/<link>": client.get(f"/p/{link}"),
        "/p/<bad>": client.get("/p/nonsense"),
        "/w/<link>": client.get(f"/w/{worker}"),
        "/w/<bad>": client.get("/w/nonsense"),
    }
    make_account(sessions, "beheer-csp", _admin_role())
    sign_in(client, "beheer-csp")
    rendered["/"] = client.get("/")
    rendered["/admin"] = client.get("/admin")
    yield rendered


def _admin_role() -> Any:
    from access.principal import Role

    return Role.ADMIN


def test_no_page_runs_inline_script(pages: dict[str, Any]) -> None:
    for path, r in pages.items():
        assert r.headers["content-type"].startswith("text/html"), path
        assert r.status_code in (200, 404, 410), (path, r.status_code)
        assert_secure_headers(r)
        assert inline_code(r.text) == [], path
        for src in re.findall(r'<script[^>]*\ssrc="([^"]+)"', r.text):
            assert src.startswith("/static/"), (path, src)  # our own files only


# --- Swagger UI ----------------------------------------------------------------------------


def test_docs_load_swagger_ui_from_our_own_static_files(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*href="([^"]+)"', html)
    assert scripts == ["/static/swagger/swagger-ui-bundle.js"]
    assert "/static/swagger/swagger-ui.css" in styles
    assert "cdn" not in html and "https://" not in html
    for asset in (*scripts, *styles):
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
    bundle = client.get(scripts[0])
    assert "javascript" in bundle.headers["content-type"] and len(bundle.content) > 100_000
    # its one inline script (the initialiser) is allowed by its hash, nothing else inline
    [inline] = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    csp = r.headers["content-security-policy"]
    assert f"'sha256-{digest}'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "'/openapi.json'" in inline
    assert client.get("/redoc").status_code == 404  # no CDN page left behind


# --- 405 and the documented error bodies ------------------------------------------------


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("PATCH", "/api/v1/config", "GET, PUT"),
        ("OPTIONS", "/api/v1/incidents", "GET, POST"),
        ("DELETE", "/api/v1/overrides", "GET, POST"),
        ("PUT", "/healthz", "GET"),
        ("POST", "/static/style.css", "GET, HEAD"),
    ],
)
def test_405_says_what_is_allowed(client: TestClient, method: str, path: str, allowed: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allowed
    assert r.json() == {"detail": "Method Not Allowed"}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    doc: dict[str, Any] = client.get("/openapi.json").json()
    return doc


def test_the_document_declares_the_real_error_bodies(document: dict[str, Any]) -> None:
    text = str(document)
    assert "HTTPValidationError" not in text
    schemas = document["components"]["schemas"]
    assert {"ValidationErrorBody", "ErrorBody", "FieldError", "ErrorDetail"} <= set(schemas)
    operations = [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]
    assert len(operations) > 15
    for method, path, op in operations:
        codes = op["responses"]
        where = f"{method.upper()} {path}"
        assert {"413", "422", "503"} <= set(codes), where
        refs = str(codes["422"]["content"]["application/json"]["schema"])
        assert "ValidationErrorBody" in refs and "ErrorBody" in refs, where
        for code, response in codes.items():
            if code.startswith("4") and code != "422":
                assert "ErrorBody" in str(response["content"]), (where, code)
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "404" in codes, where
        if op.get("security") or any(
            p["in"] == "header" and p["name"].lower() == "x-api-key"
            for p in op.get("parameters", [])
        ):
            assert {"401", "403"} <= set(codes), where
        for parameter in op.get("parameters", []):
            if parameter["in"] != "header":
                assert _bounded(parameter["schema"]), (where, parameter["name"])


def _bounded(schema: dict[str, Any]) -> bool:
    """A parameter has a bound: text a pattern (NUL at least) or fixed values, a number a
    maximum, a list a most number of bounded items."""
    if "anyOf" in schema:
        return all(_bounded(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "string":
        return "pattern" in schema or "enum" in schema or "const" in schema
    if kind in ("integer", "number"):
        return "maximum" in schema or "exclusiveMaximum" in schema
    if kind == "array":
        return "maxItems" in schema and _bounded(schema["items"])
    return kind in ("boolean", "null") or "enum" in schema or "const" in schema


def _body_schema(document: dict[str, Any], method: str, path: str, code: int) -> dict[str, Any]:
    response = document["paths"][path][method]["responses"][str(code)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


@pytest.mark.parametrize(
    "method,path,template,send,code",
    [
        ("post", "/api/v1/incidents", "/api/v1/incidents", {"json": {"source": ""}}, 422),
        ("get", "/api/v1/incidents", "/api/v1/incidents", {"params": {"region": "a\0"}}, 422),
        ("get", "/api/v1/incidents/SO-NOPE", "/api/v1/incidents/{dispatch_id}", {}, 404),
        ("get", "/api/v1/oncall", "/api/v1/oncall", {"params": {"at": "1999-01-01"}}, 422),
        ("get", "/api/v1/oncall", "/api/v1/oncall", {"params": {"team": "nobody"}}, 404),
        ("put", "/api/v1/config", "/api/v1/config", {"content": "[]"}, 422),
        ("post", "/api/v1/overrides", "/api/v1/overrides", {"content": "{"}, 422),
        ("get", "/api/v1/incidents", "/api/v1/incidents", {"headers": {"X-API-Key": "x"}}, 401),
    ],
)
def test_error_bodies_are_what_the_document_says(
    client: TestClient,
    document: dict[str, Any],
    method: str,
    path: str,
    template: str,
    send: dict[str, Any],
    code: int,
) -> None:
    r = client.request(method.upper(), path, **send)
    assert r.status_code == code, r.text
    jsonschema_rs.validate(_body_schema(document, method, template, code), r.json())


def test_static_html_templates_exist() -> None:
    assert {p.name for p in TEMPLATES.glob("*.html")} >= {"login.html", "dashboard.html"}
    assert Path(TEMPLATES / "worker.html").exists()

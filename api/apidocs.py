"""The OpenAPI document as the server really answers, and Swagger UI served from here.

FastAPI documents a 422 body (``HTTPValidationError``) that this service never sends
and leaves out the 400/401/403/404/409/413/503 that it does. ``declare_errors``
rewrites every operation's error responses to the two real shapes from
``api.errors``: ``ValidationErrorBody`` and ``ErrorBody``.

Swagger UI comes from the installed ``swagger_ui_bundle`` package (``/docs`` worked only
with internet access when it came from a CDN). Its page has one inline script, allowed
by its hash in the page's own Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from starlette.routing import Mount

from access.principal import Role
from api import auth
from api.errors import ErrorBody, ValidationErrorBody
from oncall.schemas import ConfigSet

SWAGGER_STATIC = "/static/swagger"
_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": _REF.format(model="ErrorBody")}
_INVALID = {
    "anyOf": [{"$ref": _REF.format(model="ValidationErrorBody")}, _ERROR],
}
_GENERIC = {
    "400": "The body could not be read (not UTF-8, or not the declared type)",
    "401": "Missing or unknown credentials",
    "403": "The caller's role or regions do not allow this (the rule is named)",
    "404": "No such object (or not visible to this caller)",
    "413": "Request body over the route's limit (the limit is named)",
    "422": "Invalid input: ValidationErrorBody names each bad field; ErrorBody a broken rule",
    "503": "The database did not answer, or the work took longer than its limit; "
    "nothing was changed, retry later",
}

_CONFIG_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "description": "A whole configuration, as GET /api/v1/config gives it: sections of "
    "entries (see regions/README.md); each entry is checked, then the references between them",
    "properties": {
        **{
            section: {"anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "null"}]}
            for section in ConfigSet.SECTIONS
        },
        "version": {"description": "Ignored (GET gives it, so an export can be sent back)"},
    },
    "additionalProperties": False,
}
# ``openapi_extra`` of the routes that take a whole configuration as JSON or YAML.
CONFIG_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _CONFIG_DOCUMENT},
            "application/yaml": {"schema": _CONFIG_DOCUMENT},
        },
    }
}


def _secured(operation: dict[str, Any]) -> bool:
    if operation.get("security"):
        return True
    return any(
        p.get("in") == "header" and str(p.get("name", "")).lower() == "x-api-key"
        for p in operation.get("parameters", ())
    )


def declare_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every operation the error responses it can answer, with their real bodies."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ValidationErrorBody, "validation"), (ErrorBody, "validation")], ref_template=_REF
    )
    components.update(defs.get("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            codes = ["413", "422", "503"]
            if _secured(operation):
                codes += ["401", "403"]
            if any(p.get("in") == "path" for p in operation.get("parameters", ())):
                codes.append("404")
            if "requestBody" in operation:
                codes.append("400")
            added = [code for code in codes if code not in responses]
            for code in added:
                responses[code] = {"description": _GENERIC[code]}
            responses["422"]["content"] = {"application/json": {"schema": _INVALID}}
            for code, response in responses.items():
                # A 503 a route declares itself (e.g. /healthz) keeps its own body.
                if (code.startswith("4") or code in added) and "content" not in response:
                    response["content"] = {"application/json": {"schema": _ERROR}}
            operation["responses"] = dict(sorted(responses.items()))
    return schema


_ERROR_MODELS = {"ErrorBody", "ErrorDetail", "ValidationErrorBody", "FieldError", "ConfigIssueBody"}
# Text anywhere in a request may not hold NUL (``api.hardening`` answers 422).
NO_NUL = "^[^\\u0000]*$"


def forbid_nul(node: Any) -> None:
    """Say so in every string schema that has no pattern, format or fixed values."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not node.keys() & {
            "pattern",
            "format",
            "enum",
            "const",
        }:
            node["pattern"] = NO_NUL
        for value in node.values():
            forbid_nul(value)
    elif isinstance(node, list):
        for item in node:
            forbid_nul(item)


def _script_hashes(html: str) -> list[str]:
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    ]


def swagger_page(app: FastAPI) -> HTMLResponse:
    """Swagger UI for ``app``'s document, its assets from ``SWAGGER_STATIC``."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} — API",
        swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    csp = (
        f"default-src 'self'; script-src 'self' {' '.join(_script_hashes(html))}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


async def docs_page(request: Request) -> Response:
    """``/docs``. In production only for signed-in staff (or a staff key); a browser
    that is not signed in is sent to /login. Elsewhere open, as the API it describes
    still asks for credentials on every call."""
    state = request.app.state.samenop
    if state.settings.environment == "production":
        principal = auth.credentials(request).principal
        if principal is None or principal.role is Role.WORKER:
            return RedirectResponse("/login", status_code=303)
    page: HTMLResponse = request.app.state.swagger_page
    return page


def install(app: FastAPI) -> None:
    """The error schemas in ``/openapi.json``, Swagger UI's files, and ``/docs``.

    Needs ``FastAPI(docs_url=None, redoc_url=None)``: FastAPI's own ``/docs`` loads from a
    CDN.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = declare_errors(build())
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    if isinstance(operation, dict):
                        forbid_nul(operation.get("parameters"))
                        forbid_nul(operation.get("requestBody"))
            for name, component in schema.get("components", {}).get("schemas", {}).items():
                if name not in _ERROR_MODELS:  # error bodies may quote what was sent
                    forbid_nul(component)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # First in the routing table, so the "/static" mount of our own files cannot hide it.
    app.router.routes.insert(
        0,
        Mount(
            SWAGGER_STATIC,
            StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
            name="swagger",
        ),
    )
    app.state.swagger_page = swagger_page(app)
    app.add_api_route("/docs", docs_page, include_in_schema=False, response_class=HTMLResponse)

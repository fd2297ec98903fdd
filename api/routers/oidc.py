"""Signing in through an external identity provider (OpenID Connect), when configured.

The authorization code flow with PKCE (S256), state and nonce, through authlib: the
provider's discovery document (``{issuer}/.well-known/openid-configuration``) names its
endpoints and keys; the ID token's signature (JWKS), issuer, audience, nonce and
expiry are checked before anything in it is used.

The provider only says who someone is. The account must already exist here (made by
an admin, with its role and regions), be active, and carry the provider's subject
(``oidc_subject`` equal to the token's ``sub``). Nothing else is matched: a username or
e-mail claim is something a provider may let its users change, so an account is never
found (or made) by name. Then a server-side session starts exactly as after a password
sign-in. A password lockout does not stop this way in: the provider has its own.

The flow's secrets (state, nonce, PKCE verifier) wait for the callback in a cookie that
is encrypted and authenticated with a key derived from ``link_secret`` (Fernet) and
lives ten minutes, so any API process can finish a flow another began, and the browser
can neither read nor alter them.

The callback answers with a short page that moves on to ``/`` by itself rather than a
redirect: the sign-in cookie is ``SameSite=Strict``, and a browser does not send it on
a redirect that began at the provider's site (the dashboard would send it back to
/login).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import warnings
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from cryptography.fernet import Fernet, InvalidToken
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc.errors import JoseError
from sqlalchemy import select

from access import service as access
from access.models import Account
from api import auth
from api.deps import State
from api.routers.pages import audit_note, templates
from api.state import AppState

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

START = "/login/oidc"
CALLBACK = "/login/oidc/callback"
FLOW_COOKIE = "samenop_oidc"
FLOW_SECONDS = 600
METADATA_SECONDS = 3600  # the discovery document is read again after this long
LEEWAY_SECONDS = 60  # clock difference allowed for exp / iat / nbf
# Only asymmetric signatures: a shared-secret (HS*) or unsigned token is never taken.
SIGNING_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip

REFUSED_NL = {
    "flow": "Aanmelden via uw organisatie is verlopen of niet gelukt. Probeer het opnieuw.",
    "denied": "Aanmelden via uw organisatie is afgebroken of geweigerd.",
    "provider": "Aanmelden via uw organisatie is nu niet mogelijk. Probeer het later opnieuw "
    "of meld u aan met uw gebruikersnaam.",
    "token": "Aanmelden via uw organisatie is geweigerd: het antwoord van uw organisatie "
    "kon niet worden gecontroleerd.",
    "unknown": "Er is hier geen actief account gekoppeld aan uw organisatie-account. Vraag "
    "een beheerder om uw account te koppelen.",
}


class Refused(Exception):
    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint  # shown to the person (their own identity at the provider)


class Provider:
    """authlib's client for the configured provider (one per app), with the checks
    authlib leaves to the caller: the discovery document's issuer, and which signing
    algorithms are accepted."""

    def __init__(self, issuer: str, client_id: str, client_secret: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        with warnings.catch_warnings():
            # authlib prefers the httpx2 package and warns, once, that it uses httpx
            from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

            warnings.simplefilter("ignore", AuthlibDeprecationWarning)
            from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]

        self.client = OAuth().register(
            "samenop",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid", "code_challenge_method": "S256", "timeout": 10},
        )

    async def metadata(self) -> dict[str, Any]:
        known: dict[str, Any] = self.client.server_metadata
        loaded = known.get("_loaded_at")
        if loaded is not None and time.time() - loaded > METADATA_SECONDS:
            known.clear()  # its keys (jwks) go with it
        if "_loaded_at" not in known:
            try:
                await self.client.load_server_metadata()
            except (httpx.HTTPError, ValueError) as exc:
                known.clear()
                raise Refused("provider") from exc
            if str(known.get("issuer", "")).rstrip("/") != self.issuer:
                log.warning("oidc: the discovery document names another issuer")
                known.clear()
                raise Refused("provider")
            offered = known.get("id_token_signing_alg_values_supported") or ["RS256"]
            taken = [a for a in offered if a in SIGNING_ALGORITHMS]
            known["id_token_signing_alg_values_supported"] = taken or ["RS256"]
        return known

    async def authorization(self, redirect_uri: str) -> dict[str, str]:
        await self.metadata()
        try:
            found: dict[str, str] = await self.client.create_authorization_url(redirect_uri)
        except (AuthlibBaseError, RuntimeError) as exc:
            raise Refused("provider") from exc
        return found

    async def subject(self, *, code: str, redirect_uri: str, flow: dict[str, str]) -> Any:
        """The verified ID token's claims (or Refused)."""
        metadata = await self.metadata()
        try:
            token = await self.client.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=flow["verifier"]
            )
        except (AuthlibBaseError, httpx.HTTPError, ValueError) as exc:
            log.warning("oidc: the token request was refused (%s)", type(exc).__name__)
            raise Refused("token") from exc
        if not isinstance(token, dict) or not token.get("id_token"):
            raise Refused("token")
        try:
            claims = await self.client.parse_id_token(
                token,
                nonce=flow["nonce"],
                claims_options={
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.client_id},
                    "exp": {"essential": True},
                },
                leeway=LEEWAY_SECONDS,
            )
        except (JoseError, AuthlibBaseError, httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("oidc: the ID token was refused (%s: %s)", type(exc).__name__, exc)
            raise Refused("token") from exc
        if claims is None:
            raise Refused("token")
        return claims


def provider(state: AppState) -> Provider:
    """The configured provider; 404 when there is none (the routes do not exist then)."""
    settings = state.settings
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        raise HTTPException(404, detail="Not Found")
    found = getattr(state, "oidc", None)
    if not isinstance(found, Provider):
        found = Provider(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
        state.oidc = found  # type: ignore[attr-defined]
    return found


def _fernet(state: AppState) -> Fernet:
    key = hmac.new(
        state.settings.link_secret.encode(), b"samenop oidc flow", hashlib.sha256
    ).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(state: AppState, flow: dict[str, str]) -> str:
    return _fernet(state).encrypt(json.dumps(flow).encode()).decode()


def unseal(state: AppState, sealed: str | None) -> dict[str, str]:
    if not sealed or len(sealed) > 2048:
        raise Refused("flow")
    try:
        flow = json.loads(_fernet(state).decrypt(sealed.encode(), ttl=FLOW_SECONDS))
    except (InvalidToken, ValueError) as exc:
        raise Refused("flow") from exc
    if not isinstance(flow, dict) or not all(
        isinstance(flow.get(k), str) for k in ("state", "nonce", "verifier")
    ):
        raise Refused("flow")
    return flow


def _callback_url(state: AppState) -> str:
    return state.settings.public_base_url.rstrip("/") + CALLBACK


def _refused_page(request: Request, refused: Refused, code: int) -> Response:
    error = REFUSED_NL.get(refused.reason, REFUSED_NL["flow"])
    if refused.hint:
        error = f"{error} ({refused.hint})"
    response = templates.TemplateResponse(
        request, "login.html", {"error": error, "oidc": True}, status_code=code
    )
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(FLOW_COOKIE, path=START)
    return response


@router.get(START, dependencies=[auth.public("starts a sign-in at the identity provider")])
async def start(request: Request, state: State) -> Response:
    found = provider(state)
    try:
        begun = await found.authorization(_callback_url(state))
    except Refused as refused:
        log.warning("oidc: the provider cannot be reached or is misconfigured")
        return _refused_page(request, refused, 503)
    flow = {
        "state": begun["state"],
        "nonce": begun["nonce"],
        "verifier": begun["code_verifier"],
    }
    response = RedirectResponse(begun["url"], status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        FLOW_COOKIE,
        seal(state, flow),
        max_age=FLOW_SECONDS,
        path=START,
        httponly=True,
        samesite="lax",  # sent on the provider's redirect back (a top-level GET)
        secure=state.settings.environment == "production",
    )
    return response


@router.get(
    CALLBACK,
    response_class=HTMLResponse,
    dependencies=[auth.public("the identity provider's answer, checked against the flow")],
)
async def callback(request: Request, state: State) -> Response:
    found = provider(state)
    remote = request.client.host if request.client else "unknown"
    params = request.query_params
    try:
        flow = unseal(state, request.cookies.get(FLOW_COOKIE))
        sent_state = params.get("state", "")
        if not secrets.compare_digest(sent_state.encode(), flow["state"].encode()):
            raise Refused("flow")
        if params.get("error"):
            raise Refused("denied")
        code = params.get("code", "")
        if not code or len(code) > 2048:
            raise Refused("flow")
        claims = await found.subject(code=code, redirect_uri=_callback_url(state), flow=flow)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise Refused("token")
        name = claims.get(state.settings.oidc_username_claim)
        hint = f"{name}, " if isinstance(name, str) and name else ""
        token = await _start_session(state, subject, remote, f"{hint}kenmerk {subject}"[:300])
    except Refused as refused:
        log.warning("oidc: sign-in refused (%s)", refused.reason)
        return _refused_page(request, refused, 503 if refused.reason == "provider" else 401)
    settings = state.settings
    response = templates.TemplateResponse(request, "oidc_done.html", {})
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(FLOW_COOKIE, path=START)
    response.set_cookie(
        auth.COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.environment == "production",
        max_age=settings.session_absolute_hours * 3600,
    )
    return response


async def _start_session(state: AppState, subject: str, remote: str, hint: str) -> str:
    def begin() -> str | None:
        now = state.clock.now()
        with state.sessions() as session:
            account = session.scalar(select(Account).where(Account.oidc_subject == subject))
            if account is None or not account.active:
                return None
            token, _row = access.start_session(
                session, account, now=now, limits=auth.limits(state), remote=remote
            )
            audit_note(
                session, now, f"account:{account.username}", "session.start", f"{remote} (oidc)"
            )
            session.commit()
            return token

    token = await asyncio.to_thread(begin)
    if token is None:
        raise Refused("unknown", hint)
    return token

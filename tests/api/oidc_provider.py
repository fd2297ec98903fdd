"""A small OpenID Connect provider for tests, served in-process on a free port.

It speaks the parts of the protocol the service uses: discovery, JWKS, an authorize
endpoint that signs the person in at once and redirects back with a code, and a token
endpoint that checks the client, the redirect URI and the PKCE verifier before it hands
out an ID token signed with an RSA key made here. ``next_claims`` changes what the next
ID token says (another audience, nonce, subject, an expired token) and ``sign_with``
signs it with another key, so a test can check that each is refused.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import RSAKey

from notifications.fake.server import ServerThread

CLIENT_ID = "samenop-dispatch"
CLIENT_SECRET = "client-secret-for-tests-only"


def new_key(kid: str = "fake-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class FakeProvider:
    def __init__(
        self,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        """``host``: the name in the provider's URLs ("localhost" puts it on another
        site than a service at 127.0.0.1, as a real provider is)."""
        self.host = host
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = new_key()
        self.sign_with: RSAKey | None = None  # another key (not in the JWKS)
        self.subject = "sub-unset"  # who signs in at the next authorize
        self.next_claims: dict[str, Any] = {}
        self.issuer_in_discovery: str | None = None  # another issuer in the document
        self.interactive = False  # authorize shows a page to click through
        self.codes: dict[str, dict[str, str]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests = 0
        self.server = ServerThread(self._app(), "127.0.0.1", 0)

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.server.port}"

    def start(self) -> FakeProvider:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def reset(self, subject: str) -> None:
        self.subject = subject
        self.next_claims = {}
        self.sign_with = None
        self.issuer_in_discovery = None

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "preferred_username": f"{self.subject}@example.org",
        }
        claims.update(self.next_claims)
        key = self.sign_with or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid or "fake-1"}, claims, key)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer_in_discovery or self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> Response:
            q = dict(request.query_params)
            self.authorize_requests.append(q)
            if (
                q.get("client_id") != self.client_id
                or q.get("response_type") != "code"
                or q.get("code_challenge_method") != "S256"
                or not q.get("code_challenge")
                or not q.get("nonce")
                or not q.get("state")
            ):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "redirect_uri": q["redirect_uri"],
                "challenge": q["code_challenge"],
                "nonce": q["nonce"],
            }
            back = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
            if self.interactive:  # the person clicks on, at the provider's own site
                return HTMLResponse(f'<a id="continue" href="{html.escape(back)}">Doorgaan</a>')
            return RedirectResponse(back, status_code=302)

        @app.post("/token")
        async def token(request: Request) -> Response:
            self.token_requests += 1
            form = dict(await request.form())
            basic = request.headers.get("authorization", "")
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if basic != f"Basic {expected.decode()}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(str(form.get("code", "")), None)
            if grant is None or form.get("grant_type") != "authorization_code":
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = str(form.get("code_verifier", ""))
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self.id_token(grant["nonce"]),
                },
                headers={"Cache-Control": "no-store"},
            )

        return app

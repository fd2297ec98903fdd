"""How the fake Vonage signs and sends its webhooks, in order, from one thread.

The Twilio face's ``Outbox`` keeps every request to our service on one worker thread
(so a call's events arrive in Vonage's order) and records each one; this subclass
sends Vonage's two kinds of signed webhook through it:

- voice (answer, event, input): a JSON body and ``Authorization: Bearer <JWT>``, the JWT
  HS256-signed with the signature secret and carrying ``payload_hash``, the body's
  SHA-256 (hex), with ``iat``, ``jti``, ``iss``, ``api_key`` and ``application_id``;
- SMS (delivery receipts, inbound messages): form fields plus ``timestamp``, ``nonce``
  and ``sig``, signed as the SDK's ``Auth.sign_params`` signs (HMAC by the account's
  method), or by "md5hash" (MD5 of the same string with the secret appended).

A redelivery signs anew (new JWT; new timestamp, nonce and sig), as Vonage does when it
tries again, so a service that keyed duplicates on the signature would be caught.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from vonage_http_client import Auth  # type: ignore[import-untyped, unused-ignore]

from notifications.fake.outbox import Outbox
from notifications.fake.vonage.records import SignedDelivery

_RESPONSE_TEXT_LIMIT = 20_000
SMS_SIGNING_FIELDS = ("sig", "timestamp", "nonce")


@dataclass(frozen=True)
class Signer:
    api_key: str
    application_id: str
    signature_secret: str
    method: str = "sha256"  # md5hash, md5, sha1, sha256, sha512

    def jwt(self, content: bytes) -> str:
        claims = {
            "iat": int(time.time()),
            "jti": str(uuid.uuid4()),
            "iss": "Vonage",
            "payload_hash": hashlib.sha256(content).hexdigest(),
            "api_key": self.api_key,
            "application_id": self.application_id,
        }
        return jwt.encode(claims, self.signature_secret, algorithm="HS256")

    def sign_form(self, params: Mapping[str, str]) -> dict[str, str]:
        """``params`` with a fresh ``timestamp``, ``nonce`` and their ``sig``."""
        signed = {k: str(v) for k, v in params.items() if k not in SMS_SIGNING_FIELDS}
        signed["timestamp"] = str(int(time.time()))
        signed["nonce"] = str(uuid.uuid4())
        if self.method == "md5hash":
            canonical = "".join(
                f"&{k}={v.replace('&', '_').replace('=', '_')}" for k, v in sorted(signed.items())
            )
            signed["sig"] = hashlib.md5((canonical + self.signature_secret).encode()).hexdigest()
        else:
            auth = Auth(
                api_key=self.api_key,
                signature_secret=self.signature_secret,
                signature_method=self.method,
            )
            signed["sig"] = auth.sign_params(dict(signed))
        return signed


class VonageOutbox(Outbox):
    def __init__(self, signer: Signer, *, timeout: float = 10.0) -> None:
        super().__init__("", timeout=timeout)
        self.signer = signer

    def post(
        self,
        *,
        kind: str,
        sid: str,
        url: str,
        payload: Mapping[str, Any],
        encoding: str,
        method: str = "POST",
        token: str | None = None,
        redelivery_of: int | None = None,
    ) -> SignedDelivery:
        """Sign and make one request now (worker thread only); record what came back."""
        if self._client is None or not self.in_worker():
            raise RuntimeError("post() runs in the outbox worker")
        method = (method or "POST").upper()
        headers = {"User-Agent": "Vonage-Webhooks/1.0", "Accept": "*/*"}
        sent: dict[str, Any]
        if encoding == "json":
            sent = dict(payload)
            content = json.dumps(sent).encode("utf-8")
            if method == "GET":
                content = b""
            signature = self.signer.jwt(content)
            headers["Authorization"] = f"Bearer {signature}"
            headers["Content-Type"] = "application/json"
        else:
            sent = self.signer.sign_form({k: str(v) for k, v in payload.items()})
            signature = sent["sig"]
            content = urlencode(sent).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in sent.items()}
        with self._lock:
            delivery = SignedDelivery(
                index=len(self._deliveries),
                kind=kind,
                sid=sid,
                url=url,
                method=method,
                params=flat,
                token=token or uuid.uuid4().hex,
                signature=signature,
                sent_at=datetime.now(UTC),
                redelivery_of=redelivery_of,
                payload=sent,
                encoding=encoding,
            )
            self._deliveries.append(delivery)
        started = time.perf_counter()
        try:
            if method == "GET":
                query = urlencode(flat)
                target = url + ("&" if "?" in url else "?") + query
                response = self._client.get(target, headers=headers)
            else:
                response = self._client.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        else:
            delivery.status_code = response.status_code
            delivery.response_text = response.text[:_RESPONSE_TEXT_LIMIT]
        delivery.elapsed_ms = (time.perf_counter() - started) * 1000
        return delivery

    def redeliver(self, index: int | None = None) -> SignedDelivery:
        """Send a recorded webhook again, signed anew: same URL and payload."""

        def again() -> SignedDelivery:
            with self._lock:
                if not self._deliveries:
                    raise LookupError("nothing has been sent yet")
                try:
                    original = self._deliveries[-1 if index is None else index]
                except IndexError:
                    raise LookupError(f"no callback with index {index}") from None
            if not isinstance(original, SignedDelivery):
                raise LookupError(f"callback {original.index} was not a Vonage webhook")
            return self.post(
                kind=original.kind,
                sid=original.sid,
                url=original.url,
                payload=original.payload,
                encoding=original.encoding,
                method=original.method,
                token=original.token,
                redelivery_of=original.index,
            )

        return self.run(again)

"""Signed, expiring links to a page's accept/decline screen, short enough for an SMS.

The link in a page is the only way to its details from a phone, so it must be
unguessable, unforgeable and stop working once the page's time has passed. It carries
nothing readable: the token packs the page id (a UUID, 16 bytes), the expiry (unix
seconds, 4 bytes) and an HMAC-SHA256 over both truncated to 12 bytes, base64url
without padding: 43 characters. Twelve bytes of MAC leave 2**96 guesses per forgery,
far beyond what a rate-limited web endpoint allows.

Stateless on purpose: verifying needs no database, so a link checked while the
database is down fails safe instead of erroring.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import uuid
from datetime import UTC, datetime

from core.timeutil import ensure_utc

MAC_BYTES = 12
_PAYLOAD = struct.Struct(">16sI")  # page id, expiry in unix seconds
TOKEN_BYTES = _PAYLOAD.size + MAC_BYTES
TOKEN_CHARS = (TOKEN_BYTES * 8 + 5) // 6  # base64url without padding
# Keys the HMAC to this use, so a MAC made with the same secret for anything else can
# never pass as a link.
_DOMAIN = b"samenop/page-link/v1\x00"
_TOKEN_RE = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_CHARS}}}$")


class LinkInvalid(Exception):
    """The token is garbled or its signature does not match: show a plain error."""


class LinkExpired(LinkInvalid):
    """Authentic but past its expiry: the page can say so ("verlopen") for this page."""

    def __init__(self, page_id: str, expired_at: datetime) -> None:
        super().__init__(f"link for page {page_id} expired at {expired_at.isoformat()}")
        self.page_id = page_id
        self.expired_at = expired_at


def _mac(payload: bytes, secret: str, domain: bytes = _DOMAIN) -> bytes:
    if not secret:
        raise ValueError("a link secret is required")
    digest = hmac.new(secret.encode("utf-8"), domain + payload, hashlib.sha256).digest()
    return digest[:MAC_BYTES]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(
    token: str, pattern: re.Pattern[str], size: int, secret: str, domain: bytes, what: str
) -> bytes:
    """The signed payload of ``token`` (``size`` bytes), or ``LinkInvalid``."""
    if not isinstance(token, str) or not pattern.match(token):
        raise LinkInvalid(f"malformed {what} token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise LinkInvalid(f"malformed {what} token") from exc
    # One token per payload: unused trailing bits must be zero, or the same link would
    # have several spellings.
    if len(raw) != size + MAC_BYTES or _b64encode(raw) != token:
        raise LinkInvalid(f"malformed {what} token")
    payload, mac = raw[:size], raw[size:]
    if not hmac.compare_digest(mac, _mac(payload, secret, domain)):
        raise LinkInvalid(f"{what} signature does not match")
    return payload


def sign(page_id: str, expires_at: datetime, secret: str) -> str:
    """A token for ``page_id`` that verifies until ``expires_at`` (whole seconds, down)."""
    page = uuid.UUID(page_id)
    seconds = int(ensure_utc(expires_at).timestamp())
    if not 0 <= seconds < 2**32:
        raise ValueError(f"expiry {expires_at.isoformat()} does not fit a link")
    payload = _PAYLOAD.pack(page.bytes, seconds)
    return _b64encode(payload + _mac(payload, secret))


def verify(token: str, now: datetime, secret: str) -> str:
    """The page id in ``token``; raises ``LinkInvalid`` or ``LinkExpired``.

    The signature is checked before the expiry, so ``LinkExpired`` only ever names a
    page id this service issued.
    """
    now = ensure_utc(now)
    payload = _decode(token, _TOKEN_RE, _PAYLOAD.size, secret, _DOMAIN, "link")
    page_bytes, seconds = _PAYLOAD.unpack(payload)
    page_id = str(uuid.UUID(bytes=page_bytes))
    expires_at = datetime.fromtimestamp(seconds, UTC)
    if now >= expires_at:
        raise LinkExpired(page_id, expires_at)
    return page_id


def link_url(base_url: str, token: str) -> str:
    """The address sent in the SMS; ``base_url`` is the public base, without a slash."""
    return f"{base_url.rstrip('/')}/p/{token}"


# The worker's page for one accepted assignment: the same construction with its own MAC
# domain and payload (assignment id, 8 bytes; expiry, 4 bytes), 32 characters. It lives
# longer than a page link, because a joint response can take hours after the accept.
_WORKER_PAYLOAD = struct.Struct(">QI")
_WORKER_DOMAIN = b"samenop/worker-link/v1\x00"
WORKER_TOKEN_BYTES = _WORKER_PAYLOAD.size + MAC_BYTES
WORKER_TOKEN_CHARS = (WORKER_TOKEN_BYTES * 8 + 5) // 6
_WORKER_RE = re.compile(rf"^[A-Za-z0-9_-]{{{WORKER_TOKEN_CHARS}}}$")
ASSIGNMENT_ID_MAX = 2**31 - 1


class WorkerLinkExpired(LinkInvalid):
    """Authentic but past its expiry."""

    def __init__(self, assignment_id: int, expired_at: datetime) -> None:
        super().__init__(f"worker link for assignment {assignment_id} expired")
        self.assignment_id = assignment_id
        self.expired_at = expired_at


def sign_worker(assignment_id: int, expires_at: datetime, secret: str) -> str:
    """A token for the worker page of ``assignment_id``, valid until ``expires_at``."""
    seconds = int(ensure_utc(expires_at).timestamp())
    if not 0 <= seconds < 2**32 or not 0 <= assignment_id < 2**63:
        raise ValueError("assignment id or expiry does not fit a worker link")
    payload = _WORKER_PAYLOAD.pack(assignment_id, seconds)
    return _b64encode(payload + _mac(payload, secret, _WORKER_DOMAIN))


def verify_worker(token: str, now: datetime, secret: str) -> int:
    """The assignment id in ``token``; raises ``LinkInvalid`` or ``WorkerLinkExpired``."""
    now = ensure_utc(now)
    payload = _decode(
        token, _WORKER_RE, _WORKER_PAYLOAD.size, secret, _WORKER_DOMAIN, "worker link"
    )
    assignment_id, seconds = _WORKER_PAYLOAD.unpack(payload)
    if not 1 <= assignment_id <= ASSIGNMENT_ID_MAX:
        # Signed, but for no assignment that can exist (the column is a 32-bit integer).
        raise LinkInvalid("worker link for an assignment id out of range")
    expires_at = datetime.fromtimestamp(seconds, UTC)
    if now >= expires_at:
        raise WorkerLinkExpired(assignment_id, expires_at)
    return int(assignment_id)


def worker_url(base_url: str, token: str) -> str:
    """The address of the worker's step page."""
    return f"{base_url.rstrip('/')}/w/{token}"

"""Paging through Vonage with the official SDK (production, and the local TLS fake in tests).

One ``vonage.Vonage`` client for the life of the provider: its ``requests`` session keeps
the connections to Vonage alive, which is most of the latency between intake and
Vonage receiving the call. Calls go through the Voice API (a JWT of the application,
signed with its private key); SMS through the SMS API and lookups of sent SMS through
the Reports API (both with the account's API key and secret).

Errors are sorted like ``TwilioProvider`` sorts them: ``DeliveryRejected`` when Vonage
refused this delivery for good (invalid or barred number, ...), ``ProviderUnavailable``
when asking again later may work, with ``maybe_sent`` when the request may have been
carried out all the same (a read timeout, a connection cut after the request was
written, 500/502/504). Rejected credentials are the distinct
``VonageCredentialsRejected``.

Three things the SDK (4.x) does that this module works around, each marked below:

- ``HttpClient`` keeps its request headers in one dict that every request mutates
  (``Authorization``, and ``Content-Type: application/json`` after a JSON request, which
  then labels the next form-encoded SMS as JSON). Requests are serialised under a lock
  and the stale ``Content-Type`` is dropped before each one.
- ``HttpClientOptions.timeout`` takes whole seconds only; the session's timeout is set
  to the fractional value asked for.
- The CA bundle (the local fake's throwaway CA) is set on the SDK's ``requests``
  session; the environment (``REQUESTS_CA_BUNDLE``) is not consulted then.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
from cryptography.hazmat.primitives import serialization
from urllib3 import exceptions as urllib3_exceptions
from vonage import Auth, HttpClientOptions, Vonage  # type: ignore[import-untyped, unused-ignore]
from vonage_http_client.errors import (  # type: ignore[import-untyped, unused-ignore]
    AuthenticationError,
    ForbiddenError,
    HttpRequestError,
    NotFoundError,
)
from vonage_sms import SmsError, SmsMessage  # type: ignore[import-untyped, unused-ignore]
from vonage_utils.errors import VonageError  # type: ignore[import-untyped, unused-ignore]
from vonage_voice.models import (  # type: ignore[import-untyped, unused-ignore]
    AdvancedMachineDetection,
    CreateCallRequest,
    ListCallsFilter,
    Phone,
    ToPhone,
)

from notifications.messages import to_gsm7
from notifications.provider import (
    CallRequest,
    Channel,
    DeliveryRejected,
    ProviderUnavailable,
    Sent,
    SmsRequest,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

WEBHOOKS = "/webhooks/vonage"
API_HOST = "api.nexmo.com"
REST_HOST = "rest.nexmo.com"
RECORDS_PATH = "/v2/reports/records"

RING_MIN, RING_MAX = 1, 120  # seconds, the Voice API's ringing_timer range
TTL_MIN, TTL_MAX = 20_000, 604_800_000  # milliseconds, the SMS API's ttl range
CALLBACK_MAX = 100  # characters: the SMS API refuses a longer delivery-receipt URL
RECORDS_WINDOW = timedelta(hours=24)  # the synchronous Reports API's longest range
_NOT_TAKEN = frozenset({429, 503})

# Per-message statuses of the SMS API (``/sms/json`` answers 200 with these).
SMS_THROTTLED = "1"
SMS_INTERNAL_ERROR = "5"
SMS_CREDENTIALS = frozenset({"4", "14", "32"})  # bad credentials / signature
# The account cannot send at all right now (barred, out of credit, HTTP not enabled):
# not this delivery's fault, and another provider may still carry it.
SMS_ACCOUNT = frozenset({"8", "9", "11"})
# Refused for good for this message: missing or invalid parameters, invalid message,
# number barred, message too long, invalid sender, invalid network, destination not
# whitelisted, number deactivated.
SMS_REJECTED = frozenset({"2", "3", "6", "7", "12", "15", "22", "23", "29", "33"})


def answer_url(base: str, page_id: str) -> str:
    """The NCCO of a page's call, fetched when the phone is picked up."""
    return f"{base}{WEBHOOKS}/voice/{page_id}/answer"


def event_url(base: str, page_id: str) -> str:
    return f"{base}{WEBHOOKS}/voice/{page_id}/event"


def key_url(base: str, page_id: str) -> str:
    """Where the key pressed during the page call is sent (the NCCO's input action)."""
    return f"{base}{WEBHOOKS}/voice/{page_id}/key"


def sms_status_url(base: str, page_id: str) -> str:
    return f"{base}{WEBHOOKS}/sms/{page_id}/status"


def inbound_sms_url(base: str) -> str:
    """Set on the Vonage number (dashboard): where workers' SMS replies arrive."""
    return f"{base}{WEBHOOKS}/sms/inbound"


class VonageCredentialsRejected(ProviderUnavailable):
    """Vonage refused the API key / secret or the application's JWT: fix the settings."""


class _SmsRefused(Exception):
    """The SMS API answered 200 but refused (part of) the message."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        super().__init__("SMS refused")
        self.messages = messages


class VonageProvider:
    name = "vonage"

    def __init__(
        self,
        *,
        application_id: str,
        private_key: str,
        api_key: str,
        api_secret: str,
        signature_secret: str,
        from_number: str,
        api_host: str | None = None,
        rest_host: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.from_number = from_number
        self.api_key = api_key
        # Not given to the SDK: with it, the SDK signs SMS requests with it instead of
        # sending the API secret, which needs the account set to sign that way. The
        # webhooks that Vonage signs with it are checked in ``vonage_webhooks``.
        self.signature_secret = signature_secret
        options = HttpClientOptions(
            api_host=api_host or API_HOST,
            rest_host=rest_host or REST_HOST,
            timeout=max(1, math.ceil(timeout)),
            pool_connections=2,  # the api and rest hosts
            # One connection per host: requests are serialised anyway (see the lock),
            # and with one the SDK never re-sends a POST after "RemoteDisconnected",
            # which could place a call twice.
            pool_maxsize=1,
            # A connection that failed is reported at once, classified below; the
            # caller retries (and asks find_sent first when the send may have happened).
            max_retries=0,
        )
        self._client = Vonage(
            Auth(
                api_key=api_key,
                api_secret=api_secret,
                application_id=application_id,
                private_key=load_private_key(private_key),
            ),
            options,
        )
        http = self._client.http_client
        # SDK workaround: the JWT client keeps the key as PEM text, and PyJWT parses it
        # again for every token (about 30 ms of CPU per call); parsed once here, it
        # signs with the key object (about 1 ms).
        jwt_client = getattr(http.auth, "_jwt_client", None)
        if jwt_client is not None:
            jwt_client._private_key = serialization.load_pem_private_key(
                load_private_key(private_key).encode("utf-8"), password=None
            )
        # SDK workaround: HttpClientOptions.timeout is whole seconds.
        http._timeout = timeout
        if ca_bundle:
            # SDK workaround: no option for the CA; it is the session's to verify with.
            session: requests.Session = http._session
            session.verify = ca_bundle
            session.trust_env = False  # else REQUESTS_CA_BUNDLE would override it
        self._lock = threading.Lock()
        # The SDK logs every error answer in full at WARNING (bodies can carry numbers,
        # and a hang-up of a call that just ended is routine); this module raises its
        # own errors, saying what failed.
        logging.getLogger("vonage").setLevel(logging.ERROR)

    # -- Provider ----------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> Sent:
        base, page_id = request.callback_base, request.page_id
        params = CreateCallRequest(
            to=[ToPhone(number=_digits(request.to))],
            from_=Phone(number=_digits(self.from_number)),
            answer_url=[answer_url(base, page_id)],
            answer_method="POST",
            event_url=[event_url(base, page_id)],
            event_method="POST",
            ringing_timer=max(RING_MIN, min(RING_MAX, int(request.ring_seconds))),
            # A voicemail is not a person: Vonage says "machine" on the event webhook and
            # the call goes on ("continue") until dispatch hangs it up, as with Twilio.
            advanced_machine_detection=AdvancedMachineDetection(behavior="continue", mode="detect"),
        )
        created = self._ask("place_call", lambda: self._client.voice.create_call(params))
        return Sent(
            provider_id=str(created.uuid),
            status=str(created.status),
            created_at=datetime.now(UTC),
            provider=self.name,
        )

    def send_sms(self, request: SmsRequest) -> Sent:
        callback = sms_status_url(request.callback_base, request.page_id)
        if len(callback) > CALLBACK_MAX:
            # A configuration fault (a long public base URL), not this worker's: another
            # provider can still carry the page.
            raise ProviderUnavailable(
                f"Vonage refuses delivery-receipt URLs over {CALLBACK_MAX} characters: "
                f"{callback!r}; use a shorter SAMENOP_PUBLIC_BASE_URL"
            )
        text = request.body
        ttl = max(TTL_MIN, min(TTL_MAX, int(request.validity_seconds) * 1000))
        message = SmsMessage(
            to=_digits(request.to),
            from_=_sender(self.from_number),
            text=text,
            # GSM-7 text is sent as such (160 characters a part); one character outside
            # it needs UCS-2, which Vonage only sends as "unicode".
            type="text" if to_gsm7(text) == text else "unicode",
            client_ref=request.page_id,
            ttl=ttl,
            status_report_req=True,
            callback=callback,
        )

        def send() -> Any:
            try:
                return self._client.sms.send(message)
            except SmsError:
                # The SDK keeps only the text; the per-message statuses decide the error.
                body = self._client.http_client.last_response.json()
                raise _SmsRefused(list(body.get("messages") or [])) from None

        response = self._ask("send_sms", send)
        first = response.messages[0]
        return Sent(
            provider_id=str(first.message_id),
            status="submitted",
            created_at=datetime.now(UTC),
            body=text,
            provider=self.name,
        )

    def hang_up(self, provider_id: str) -> None:
        # A call that is over already (the person hung up first) is not found: fine.
        with contextlib.suppress(_Gone):
            self._ask("hang_up", lambda: self._client.voice.hangup(provider_id), gone_ok=True)

    def find_sent(
        self,
        *,
        channel: Channel,
        to: str,
        since: datetime,
        marker: str | None = None,
        page_id: str | None = None,
    ) -> list[Sent]:
        # Vonage's filters take whole seconds; compare in UTC, to the second.
        floor = _as_utc(since).replace(microsecond=0)
        number = _digits(to)
        if channel == "sms":
            found = self._sent_sms(number, floor, marker, page_id)
        else:
            found = self._placed_calls(number, floor)
        return sorted(found, key=lambda s: s.created_at or floor, reverse=True)

    # -- lookups -----------------------------------------------------------------------

    def _placed_calls(self, number: str, floor: datetime) -> list[Sent]:
        query = ListCallsFilter(date_start=_iso(floor), page_size=100, order="desc")
        calls, _ = self._ask("find_sent", lambda: self._client.voice.list_calls(query))
        found: list[Sent] = []
        for call in calls:
            if call.direction != "outbound" or _digits(getattr(call.to, "number", "")) != number:
                continue
            created = _parse_time(call.start_time)
            if created is not None and created < floor:
                continue
            found.append(Sent(str(call.uuid), str(call.status), created, None, self.name))
        return found

    def _sent_sms(
        self, number: str, floor: datetime, marker: str | None, page_id: str | None
    ) -> list[Sent]:
        # The Reports API's synchronous records, through the SDK's own HttpClient so the
        # same credentials, TLS and timeouts apply (the SDK has no Reports client).
        params = {
            "account_id": self.api_key,
            "product": "SMS",
            "direction": "outbound",
            "date_start": _iso(floor),
            "date_end": _iso(floor + RECORDS_WINDOW),
            "include_message": "true",
        }
        http = self._client.http_client
        data = self._ask(
            "find_sent", lambda: http.get(http.api_host, RECORDS_PATH, params, auth_type="basic")
        )
        found: list[Sent] = []
        for record in (data or {}).get("records") or []:
            if _digits(str(record.get("to") or "")) != number:
                continue
            created = _parse_time(record.get("date_received"))
            if created is None or created < floor:
                continue
            body = record.get("message_body")
            if page_id is not None:
                if record.get("client_ref") != page_id:
                    continue
            elif marker is not None and marker not in (body or ""):
                continue
            status = str(record.get("status") or "submitted")
            found.append(Sent(str(record["message_id"]), status, created, body, self.name))
        return found

    # -- errors ------------------------------------------------------------------------

    def _ask(self, operation: str, request: Callable[[], T], *, gone_ok: bool = False) -> T:
        """Run one SDK request and translate its failure into the provider's errors."""
        try:
            return self._request(operation, request, gone_ok)
        except ProviderUnavailable as exc:
            exc.provider = exc.provider or self.name
            raise

    def _request(self, operation: str, request: Callable[[], T], gone_ok: bool) -> T:
        with self._lock:
            # SDK workaround: a JSON request leaves this header behind for the next one.
            self._client.http_client._headers.pop("Content-Type", None)
            try:
                return request()
            except NotFoundError as exc:
                if gone_ok:
                    raise _Gone from exc
                raise _translate(404, _problem(exc), operation) from exc
            except (AuthenticationError, ForbiddenError) as exc:
                raise VonageCredentialsRejected(
                    f"Vonage rejected the credentials ({exc.response.status_code}: "
                    f"{_problem(exc)}); check the Vonage application id, private key, "
                    "API key and secret"
                ) from exc
            except HttpRequestError as exc:
                raise _translate(exc.response.status_code, _problem(exc), operation) from exc
            except _SmsRefused as exc:
                raise _sms_error(exc.messages, operation) from exc
            except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
                # Never connected (or the TLS handshake failed): nothing was taken.
                raise ProviderUnavailable(f"Vonage {operation} failed: {exc}") from exc
            except requests.ConnectionError as exc:
                # Refused before anything was written, or cut after the request was sent.
                raise ProviderUnavailable(
                    f"Vonage {operation} failed: {exc}", maybe_sent=not _never_connected(exc)
                ) from exc
            except (requests.RequestException, ValueError, TypeError, KeyError) as exc:
                # A read timeout, or an answer that is not what Vonage sends (a proxy's
                # page, no JSON): the request reached someone and may have been carried out.
                raise ProviderUnavailable(
                    f"Vonage {operation} failed: {exc}", maybe_sent=True
                ) from exc
            except VonageError as exc:
                raise ProviderUnavailable(f"Vonage {operation} failed: {exc}") from exc


class _Gone(Exception):
    """The call to end was not found: it is over already."""


def _translate(status: int, message: str, operation: str) -> DeliveryRejected | ProviderUnavailable:
    if status in (401, 403):
        return VonageCredentialsRejected(f"Vonage rejected the credentials ({status}: {message})")
    if status == 429 or status >= 500 or status < 400:
        # 429 and 503 say the request was not taken; any other 5xx (or a status that is
        # no error at all) leaves it open whether Vonage carried it out.
        return ProviderUnavailable(
            f"Vonage {operation}: HTTP {status} {message}", maybe_sent=status not in _NOT_TAKEN
        )
    logger.info("Vonage refused %s: %s %s", operation, status, message)
    return DeliveryRejected(str(status), message)


def _sms_error(messages: list[dict[str, Any]], operation: str) -> Exception:
    """The error for an SMS the SMS API refused, from its per-message statuses."""
    statuses = [str(m.get("status", "")) for m in messages]
    refused = next((m for m in messages if str(m.get("status", "")) != "0"), {})
    code = str(refused.get("status", ""))
    text = str(refused.get("error-text") or "unknown error")
    if "0" in statuses:
        # Part of a long message went out: sending again would repeat that part.
        return ProviderUnavailable(
            f"Vonage {operation}: part of the SMS refused ({code}: {text})", maybe_sent=True
        )
    if code in SMS_CREDENTIALS:
        return VonageCredentialsRejected(
            f"Vonage rejected the API key / secret ({code}: {text}); check the Vonage settings"
        )
    if code in SMS_REJECTED:
        logger.info("Vonage refused %s: %s %s", operation, code, text)
        return DeliveryRejected(code, text)
    # Throttled (1), internal error (5), the account (8, 9, 11) and codes this module
    # does not know: the message was not accepted, and asking later may work.
    return ProviderUnavailable(f"Vonage {operation}: status {code} {text}")


def _problem(exc: HttpRequestError) -> str:
    """Vonage's own words from an error answer (problem+json, or the SMS API's shape)."""
    response = exc.response
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:200]
    if isinstance(body, Mapping):
        for key in ("detail", "title", "error_title", "error-text", "message"):
            if body.get(key):
                return str(body[key])
    return json.dumps(body)[:200]


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was never made (refused, no route, unknown host)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError | urllib3_exceptions.NewConnectionError):
            return True
        if isinstance(cause, urllib3_exceptions.MaxRetryError):
            cause = cause.reason
            continue
        nested = [a for a in cause.args if isinstance(a, BaseException)]
        cause = cause.__cause__ or cause.__context__ or (nested[0] if nested else None)
    return False


# -- values --------------------------------------------------------------------------


def load_private_key(value: str) -> str:
    """The application's private key as PKCS#8 PEM, from PEM text or a PEM file's path.

    The SDK reads a path only when it ends in an extension and accepts PEM text only in
    the PKCS#8 form ("BEGIN PRIVATE KEY"); Vonage's dashboard gives PKCS#8, ``openssl
    genrsa`` gives PKCS#1, so both are taken here.
    """
    text = value if "-----BEGIN" in value else Path(value).read_text("utf-8")
    if "-----BEGIN PRIVATE KEY-----" in text:
        return text
    key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _digits(number: str) -> str:
    """Vonage's number format: E.164 without the "+" (``+31612345678`` -> ``31612345678``).

    Nothing else is dropped: a malformed number must reach Vonage as it is and be
    refused there, not turn into another, valid, number.
    """
    return number.strip().removeprefix("+")


def _sender(number: str) -> str:
    """A number as Vonage wants it; an alphanumeric sender id as it is."""
    return _digits(number) if number.lstrip("+").isdigit() else number


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: object) -> datetime | None:
    """Vonage's times: ISO 8601 with "Z", "+0000" or no zone (UTC), or "YYYY-MM-DD HH:MM:SS"."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return _as_utc(moment)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""Paging through Twilio with the official SDK (production, and the local fake in tests).

One ``Client`` for the life of the provider: its ``requests`` session keeps the
connection to Twilio alive, which is most of the latency budget between intake and
Twilio receiving the call. ``api_base`` points the SDK at the local fake; everything
else, including the SDK's request building and parsing, is the production path.

Errors are sorted by what the caller should do: ``DeliveryRejected`` when Twilio
refused this delivery for good (invalid, blocked or landline number), and
``ProviderUnavailable`` when asking again later may work (network, timeouts, 5xx,
429). Rejected credentials are a configuration fault, reported as the distinct
``TwilioCredentialsRejected`` (a ``ProviderUnavailable``: no page is lost while an
operator fixes the token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar, cast

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException  # type: ignore[import-untyped, unused-ignore]
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped, unused-ignore]
from twilio.rest import Client  # type: ignore[import-untyped, unused-ignore]
from urllib3 import exceptions as urllib3_exceptions

from notifications.provider import (
    CallRequest,
    Channel,
    DeliveryRejected,
    ProviderUnavailable,
    Sent,
    SmsRequest,
)

logger = logging.getLogger(__name__)
# The SDK logs every request at INFO, list queries with the phone number in the URL:
# keep that out of ordinary logs (privacy), but let warnings through.
_sdk_logger = logging.getLogger(f"{__name__}.sdk")
_sdk_logger.setLevel(logging.WARNING)
T = TypeVar("T")

# Only what changes a decision is asked for: a person (or a machine) answered, and the
# call's end (completed, busy, no-answer, failed). "initiated" and "ringing" say no more
# than the create's own answer and cost the service a request per call. When the
# create's answer is lost (a timeout), the call is found by asking Twilio (find_sent),
# or bound to its page by whichever of these callbacks comes first.
CALL_EVENTS = ["answered", "completed"]
WEBHOOKS = "/webhooks/twilio"


def voice_url(base: str, page_id: str) -> str:
    """The TwiML script of a page's call (also the prefix of its key-press action)."""
    return f"{base}{WEBHOOKS}/voice/{page_id}"


def call_status_url(base: str, page_id: str) -> str:
    return f"{base}{WEBHOOKS}/call-status/{page_id}"


def amd_url(base: str, page_id: str) -> str:
    return f"{base}{WEBHOOKS}/amd/{page_id}"


def sms_status_url(base: str, page_id: str) -> str:
    return f"{base}{WEBHOOKS}/sms-status/{page_id}"


VALIDITY_MIN, VALIDITY_MAX = 1, 36000  # seconds, Twilio's ValidityPeriod range
CALL_NOT_IN_PROGRESS = 21220
NOT_FOUND = 20404
_RETRYABLE_STATUS = 429
_NOT_TAKEN = frozenset({429, 503})
CONNECT_TIMEOUT = 2.0


class TwilioCredentialsRejected(ProviderUnavailable):
    """Twilio refused the account SID / auth token (error 20003): fix the settings."""


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str | None = None,
        *,
        timeout: float = 5.0,
    ) -> None:
        self.from_number = from_number
        http = TwilioHttpClient(timeout=timeout, logger=_sdk_logger)
        # (connect, read), handed to requests as is: an unreachable Twilio is known within
        # CONNECT_TIMEOUT, so a failover provider can take the page at once.
        http.timeout = cast(float, (min(CONNECT_TIMEOUT, timeout), timeout))
        if http.session is not None:
            # The environment's proxy settings are not read on every request (the
            # settings are the only configuration; a proxy in front of Twilio would be
            # an explicit setting too).
            http.session.trust_env = False
        self._client = Client(account_sid, auth_token, http_client=http)
        if api_base:
            # Domain.absolute_url joins base_url and "2010-04-01/Accounts/...", so calls and
            # messages go to {api_base}/2010-04-01/...; no edge/region may rewrite the host.
            self._client.api.base_url = api_base.rstrip("/")
            self._client.edge = None
            self._client.region = None

    def place_call(self, request: CallRequest) -> Sent:
        call = self._ask(
            "place_call",
            lambda: self._client.calls.create(
                to=request.to,
                from_=self.from_number,
                url=voice_url(request.callback_base, request.page_id),
                method="POST",
                status_callback=call_status_url(request.callback_base, request.page_id),
                status_callback_method="POST",
                status_callback_event=CALL_EVENTS,
                machine_detection="DetectMessageEnd",
                async_amd="true",
                async_amd_status_callback=amd_url(request.callback_base, request.page_id),
                async_amd_status_callback_method="POST",
                timeout=request.ring_seconds,
            ),
        )
        return Sent(
            provider_id=str(call.sid),
            status=str(call.status),
            created_at=call.date_created,
            provider=self.name,
        )

    def send_sms(self, request: SmsRequest) -> Sent:
        validity = max(VALIDITY_MIN, min(VALIDITY_MAX, int(request.validity_seconds)))
        message = self._ask(
            "send_sms",
            lambda: self._client.messages.create(
                to=request.to,
                from_=self.from_number,
                body=request.body,
                status_callback=sms_status_url(request.callback_base, request.page_id),
                validity_period=validity,
            ),
        )
        return Sent(
            provider_id=str(message.sid),
            status=str(message.status),
            created_at=message.date_created,
            body=message.body,
            provider=self.name,
        )

    def hang_up(self, provider_id: str) -> None:
        try:
            self._ask("hang_up", lambda: self._client.calls(provider_id).update(status="completed"))
        except DeliveryRejected as exc:
            if exc.code not in (str(CALL_NOT_IN_PROGRESS), str(NOT_FOUND)):
                raise
            # Already over (the person hung up first), or never Twilio's (a callback named
            # a call this account does not have): nothing left to end.

    def find_sent(
        self,
        *,
        channel: Channel,
        to: str,
        since: datetime,
        marker: str | None = None,
        page_id: str | None = None,
    ) -> list[Sent]:
        # The SDK formats datetimes as "%Y-%m-%dT%H:%M:%SZ" without converting, and
        # Twilio's resources carry whole seconds: compare in UTC, to the second.
        floor = _as_utc(since).replace(microsecond=0)
        found: list[Sent] = []
        if channel == "sms":
            messages = self._ask(
                "find_sent",
                lambda: self._client.messages.list(to=to, date_sent_after=floor, limit=50),
            )
            for message in messages:
                created = message.date_created
                if created is None or created < floor:
                    continue
                if marker is not None and marker not in (message.body or ""):
                    continue
                found.append(
                    Sent(str(message.sid), str(message.status), created, message.body, self.name)
                )
        else:
            calls = self._ask(
                "find_sent",
                lambda: self._client.calls.list(to=to, start_time_after=floor, limit=50),
            )
            for call in calls:
                created = call.date_created
                if created is not None and created >= floor:
                    found.append(Sent(str(call.sid), str(call.status), created, None, self.name))
        return sorted(found, key=lambda s: s.created_at or floor, reverse=True)

    def _ask(self, operation: str, request: Callable[[], T]) -> T:
        """Run one SDK request and translate its failure into the provider's errors."""
        try:
            return request()
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _translate(exc.status, exc.code, _message(exc), operation) from exc
        except TwilioException as exc:
            # Paging answers a bare TwilioException("Unable to fetch page", response).
            response = exc.args[1] if len(exc.args) > 1 else None
            status = getattr(response, "status_code", 0)
            raise _translate(status, None, str(exc.args[0]), operation) from exc
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            # Never connected: Twilio cannot have taken the request.
            raise ProviderUnavailable(f"Twilio {operation} failed: {exc}") from exc
        except requests.ConnectionError as exc:
            # Refused before anything was written, or cut after the request was sent.
            raise ProviderUnavailable(
                f"Twilio {operation} failed: {exc}", maybe_sent=not _refused(exc)
            ) from exc
        except (requests.RequestException, ValueError) as exc:
            # A read timeout, or an answer that is not JSON (a proxy page): the request
            # reached someone, and may have been carried out.
            raise ProviderUnavailable(f"Twilio {operation} failed: {exc}", maybe_sent=True) from exc


def _translate(
    status: int, code: int | None, message: str, operation: str
) -> DeliveryRejected | ProviderUnavailable:
    if status in (401, 403):
        return TwilioCredentialsRejected(
            f"Twilio rejected the account SID / auth token ({code or status}: {message}); "
            "check the Twilio settings"
        )
    if status == _RETRYABLE_STATUS or status >= 500 or status < 400:
        # 429 and 503 say the request was not taken; any other 5xx (or a status that is no
        # error at all) leaves it open whether Twilio carried it out.
        return ProviderUnavailable(
            f"Twilio {operation}: HTTP {status} {code or ''} {message}",
            maybe_sent=status not in _NOT_TAKEN,
        )
    logger.info("Twilio refused %s: %s %s", operation, code, message)
    return DeliveryRejected(str(code or status), message)


def _refused(exc: requests.ConnectionError) -> bool:
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


def _message(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        return exc.detail or exc.title
    # The SDK prefixes "Unable to create record: "; the part after it is Twilio's own.
    return str(exc.msg).split(": ", 1)[-1]


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""The fake Vonage's HTTP face: the REST subset the SDK calls, plus the control API.

One app serves both of Vonage's hosts (``api_host`` and ``rest_host`` are the same
``127.0.0.1:PORT`` in tests), over TLS (see ``harness``): the Voice API under
``/v1/calls``, the SMS API at ``/sms/json`` and the Reports API's synchronous records at
``/v2/reports/records``. REST handlers are ``async`` and never wait on the outbox, so
the latency our service sees is the fake's own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notifications.fake.vonage.control import control_routes
from notifications.fake.vonage.records import report_time
from notifications.fake.vonage.rest import VonageApiError, outage, parse_time
from notifications.fake.vonage.sms import SmsRefused
from notifications.fake.vonage.state import FakeVonage

Handler = Callable[[Request], Awaitable[Response]]
Auth = Literal["jwt", "basic", "sms"]
RECORDS_WINDOW = timedelta(hours=24)
_MAX_PAGE_SIZE = 100


def _error(exc: VonageApiError) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def _json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body) if body.strip() else None
    except ValueError as exc:
        raise VonageApiError(400, "Bad Request", "The body is not JSON") from exc


async def _sms_params(request: Request) -> dict[str, str]:
    """The SMS API's parameters, read as the ``Content-Type`` says (form or JSON).

    A form body labelled JSON is not understood, as on Vonage: nothing is read.
    """
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in data.items()}
    form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return {k: v[0] for k, v in form.items() if v}


def create_vonage_app(fake: FakeVonage) -> Starlette:
    async def hold(request: Request, seconds: float) -> bool:
        """Wait ``seconds``, or until the client hangs up (then True)."""
        deadline = time.monotonic() + seconds
        with fake.holding():
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    return True
                await asyncio.sleep(0.02)
        return False

    def rest(
        handler: Callable[[Request], Awaitable[Response]],
        auth: Auth,
        *,
        create: bool = False,
    ) -> Handler:
        """Credentials, outage and delay simulation around one REST handler."""

        async def endpoint(request: Request) -> Response:
            request.state.arrived = time.perf_counter()
            header = request.headers.get("authorization")
            if auth == "jwt" and not fake.voice_authorized(header):
                return _error(VonageApiError(401, "Unauthorized", "Invalid Token"))
            if auth == "basic" and not fake.basic_authorized(header):
                return _error(VonageApiError(401, "Unauthorized", "Invalid credentials"))
            status = fake.take_outage()
            if status is not None:
                return _error(outage(status))
            delay = fake.take_delay() if create else None
            if delay is not None and delay.before:
                await request.body()  # read first: a hang-up is only noticed after the body
                if await hold(request, delay.seconds):
                    return Response(status_code=499)  # the client is gone; nothing taken
            try:
                response = await handler(request)
            except VonageApiError as exc:
                return _error(exc)
            if delay is not None and not delay.before:
                await hold(request, delay.seconds)
            return response

        return endpoint

    # -- Voice API ---------------------------------------------------------------------

    async def create_call(request: Request) -> Response:
        call = fake.create_call(await _json(request), request.state.arrived)
        body = {
            "uuid": call.uuid,
            "status": "started",
            "direction": "outbound",
            "conversation_uuid": call.conversation_uuid,
        }
        return JSONResponse(body, status_code=201)

    async def list_calls(request: Request) -> Response:
        query = dict(request.query_params)
        size = max(1, min(int(query.pop("page_size", "10")), _MAX_PAGE_SIZE))
        index = max(0, int(query.pop("record_index", "0")))
        calls = fake.list_calls(query)
        chunk = calls[index : index + size]

        def href(at: int) -> dict[str, str]:
            params = query | {"page_size": str(size), "record_index": str(at)}
            return {"href": f"/v1/calls?{urlencode(params)}"}

        links = {"self": href(index)}
        if index + size < len(calls):
            links["next"] = href(index + size)
        body = {
            "count": len(calls),
            "page_size": size,
            "record_index": index,
            "_links": links,
            "_embedded": {"calls": [c.to_vonage() for c in chunk]},
        }
        return JSONResponse(body)

    async def get_call(request: Request) -> Response:
        return JSONResponse(fake.get_call(request.path_params["uuid"]).to_vonage())

    async def update_call(request: Request) -> Response:
        fake.update_call(request.path_params["uuid"], await _json(request))
        return Response(status_code=204)

    # -- SMS API -----------------------------------------------------------------------

    async def send_sms(request: Request) -> Response:
        params = await _sms_params(request)
        key, secret = params.pop("api_key", None), params.pop("api_secret", None)
        header = request.headers.get("authorization")
        if header is not None:
            if not fake.basic_authorized(header):
                return JSONResponse(SmsRefused("4", "Bad Credentials").answer())
        elif key is None:
            return JSONResponse(SmsRefused("2", "Missing api_key").answer())
        elif secret is None or not fake.credentials_match(key, secret):
            return JSONResponse(SmsRefused("4", "Bad Credentials").answer())
        return JSONResponse(fake.send_sms(params, request.state.arrived))

    # -- Reports API (synchronous records) ---------------------------------------------

    async def records(request: Request) -> Response:
        query = dict(request.query_params)
        if query.get("account_id") != fake.api_key:
            raise VonageApiError(403, "Forbidden", "account_id is not an account of yours")
        if query.get("product") != "SMS":
            raise _unprocessable("product", "only SMS records are kept by the fake")
        if query.get("direction") not in ("inbound", "outbound"):
            raise _unprocessable("direction", "required for SMS: inbound or outbound")
        if query.get("id") and (query.get("date_start") or query.get("date_end")):
            raise _unprocessable("id", "give either id or a date range")
        start, end = parse_time(query.get("date_start")), parse_time(query.get("date_end"))
        if not query.get("id"):
            if start is None or end is None:
                raise _unprocessable("date_start", "date_start and date_end are required")
            if end - start > RECORDS_WINDOW or end <= start:
                raise _unprocessable("date_end", "at most 24 hours after date_start")
        include = query.get("include_message", "false").lower() == "true"
        found = fake.records(query)
        body = {
            "_links": {"self": {"href": f"/v2/reports/records?{urlencode(query)}"}},
            "request_id": "00000000-0000-4000-8000-00000000feed",
            "request_status": "SUCCESS",
            "received_at": report_time(datetime.now(UTC)),
            "price": 0.0,
            "currency": "EUR",
            "direction": query["direction"],
            "product": "SMS",
            "account_id": fake.api_key,
            "date_start": report_time(start),
            "date_end": report_time(end),
            "include_subaccounts": False,
            "include_message": include,
            "items_count": len(found),
            "records": [m.to_record(fake.api_key, include_message=include) for m in found],
        }
        return JSONResponse(body)

    routes = [
        Route("/v1/calls", rest(create_call, "jwt", create=True), methods=["POST"]),
        Route("/v1/calls", rest(list_calls, "jwt"), methods=["GET"]),
        Route("/v1/calls/{uuid}", rest(get_call, "jwt"), methods=["GET"]),
        Route("/v1/calls/{uuid}", rest(update_call, "jwt"), methods=["PUT"]),
        Route("/sms/json", rest(send_sms, "sms", create=True), methods=["POST"]),
        Route("/v2/reports/records", rest(records, "basic"), methods=["GET"]),
        *control_routes(fake),
    ]
    app = Starlette(routes=routes)
    app.state.fake = fake
    return app


def _unprocessable(name: str, reason: str) -> VonageApiError:
    return VonageApiError(422, "Unprocessable Entity", reason, [{"name": name, "reason": reason}])

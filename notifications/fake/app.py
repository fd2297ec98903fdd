"""The fake's HTTP face: Twilio's REST subset, a ``/_fake`` control API, the phone page.

The REST routes are what the official SDK calls, so ``TwilioProvider`` runs unchanged
against this app. They are ``async`` and never block on the outbox, to keep the
intake -> "Twilio received the call" latency honest. Control routes wait for the phone
action to finish, in a worker thread, so the event loop keeps serving REST requests
our service makes from inside the webhooks that action triggers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from notifications.fake.faces import Face
from notifications.fake.records import API_VERSION
from notifications.fake.state import FakeTwilio, TwilioError

Handler = Callable[[Request], Awaitable[Response]]
_ACCOUNT = f"/{API_VERSION}/Accounts/{{account_sid}}"
_MAX_PAGE_SIZE = 1000


@lru_cache(maxsize=1)
def _page_template() -> str:
    return files("notifications.fake").joinpath("templates/phones.html").read_text("utf-8")


def _error(exc: TwilioError) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def _form(request: Request) -> dict[str, list[str]]:
    """Form bodies parsed by hand: Twilio's parameters repeat (StatusCallbackEvent)."""
    return parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)


def create_fake_app(fake: FakeTwilio, *, faces: Sequence[Face] = ()) -> Starlette:
    """``faces``: other providers' faces (Vonage) whose phones the phone page shows too;
    their control APIs are mounted under ``/_faces/{name}``."""

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
        handler: Callable[[Request], Awaitable[Any]], status: int = 200, *, create: bool = False
    ) -> Handler:
        """Auth, outage and delay simulation, Twilio-shaped errors around one REST handler."""

        async def endpoint(request: Request) -> Response:
            arrived = time.perf_counter()
            request.state.arrived = arrived
            if not fake.authorized(request.headers.get("authorization")):
                return _error(TwilioError(401, 20003, "Authenticate"))
            if request.path_params["account_sid"] != fake.account_sid:
                return _error(TwilioError(404, 20404, "The requested resource was not found"))
            outage = fake.take_outage()
            if outage is not None:
                return _error(outage)
            delay = fake.take_delay() if create else None
            if delay is not None and delay.before:
                await request.body()  # read first: a hang-up is only noticed after the body
                if await hold(request, delay.seconds):
                    return Response(status_code=499)  # the client is gone; nothing was taken
            try:
                payload = await handler(request)
            except TwilioError as exc:
                return _error(exc)
            except ValueError as exc:
                return _error(TwilioError(400, 20001, f"Invalid parameter: {exc}"))
            if delay is not None and not delay.before:
                await hold(request, delay.seconds)
            return JSONResponse(payload, status_code=status)

        return endpoint

    def page(key: str, records: list[Any], request: Request) -> dict[str, Any]:
        query = dict(request.query_params)
        size = max(1, min(int(query.pop("PageSize", "50")), _MAX_PAGE_SIZE))
        number = max(0, int(query.pop("Page", "0")))
        query.pop("PageToken", None)
        chunk = records[number * size : (number + 1) * size]

        def uri(page_number: int) -> str:
            params = query | {"PageSize": str(size), "Page": str(page_number)}
            return f"{request.url.path}?{urlencode(params)}"

        more = (number + 1) * size < len(records)
        return {
            key: [r.to_twilio() for r in chunk],
            "end": number * size + max(len(chunk) - 1, 0),
            "first_page_uri": uri(0),
            "next_page_uri": uri(number + 1) if more else None,
            "page": number,
            "page_size": size,
            "previous_page_uri": uri(number - 1) if number > 0 else None,
            "start": number * size,
            "uri": uri(number),
        }

    async def create_message(request: Request) -> Any:
        return fake.create_message(await _form(request), request.state.arrived).to_twilio()

    async def list_messages(request: Request) -> Any:
        return page("messages", fake.list_messages(request.query_params), request)

    async def fetch_message(request: Request) -> Any:
        return fake.get_message(request.path_params["sid"]).to_twilio()

    async def create_call(request: Request) -> Any:
        return fake.create_call(await _form(request), request.state.arrived).to_twilio()

    async def list_calls(request: Request) -> Any:
        return page("calls", fake.list_calls(request.query_params), request)

    async def fetch_call(request: Request) -> Any:
        return fake.get_call(request.path_params["sid"]).to_twilio()

    async def update_call(request: Request) -> Any:
        form = await _form(request)
        return fake.update_call(request.path_params["sid"], form).to_twilio()

    # -- control API -------------------------------------------------------------------

    def control(action: Callable[[dict[str, Any], Request], Any]) -> Handler:
        """JSON in, JSON out; the action runs in a thread because it may wait."""

        async def endpoint(request: Request) -> Response:
            try:
                body = await request.body()
                data = json.loads(body) if body.strip() else {}
                result = await run_in_threadpool(action, data, request)
            except KeyError as exc:
                return JSONResponse({"error": f"missing field {exc}"}, status_code=400)
            except LookupError as exc:
                return JSONResponse({"error": str(exc)}, status_code=404)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except RuntimeError as exc:  # CallStateError, no sms_url: not now, not here
                return JSONResponse({"error": str(exc)}, status_code=409)
            return JSONResponse(result)

        return endpoint

    def call_action(name: str) -> Handler:
        def act(data: dict[str, Any], request: Request) -> Any:
            sid = request.path_params["sid"]
            if name == "press":
                call = fake.press(sid, str(data["digits"]))
            elif name == "fail":
                call = fake.fail(sid, str(data.get("error_code", "31005")))
            elif name == "voicemail":
                call = fake.voicemail(sid, str(data.get("answered_by", "machine_end_beep")))
            else:
                call = getattr(fake, name)(sid)
            return call.snapshot()

        return control(act)

    def snapshot() -> dict[str, Any]:
        state = fake.snapshot()
        if faces:
            state["faces"] = [face.state() for face in faces]
        return state

    def state(data: dict[str, Any], request: Request) -> Any:
        return snapshot()

    def calls(data: dict[str, Any], request: Request) -> Any:
        return [c.snapshot() for c in fake.calls(request.query_params.get("to"))]

    def call(data: dict[str, Any], request: Request) -> Any:
        return fake.call(request.path_params["sid"]).snapshot()

    def messages(data: dict[str, Any], request: Request) -> Any:
        return [m.snapshot() for m in fake.messages(request.query_params.get("to"))]

    def inbox(data: dict[str, Any], request: Request) -> Any:
        return [m.snapshot() for m in fake.inbox(request.path_params["number"])]

    def callbacks(data: dict[str, Any], request: Request) -> Any:
        query = request.query_params
        return [d.to_json() for d in fake.callbacks(query.get("kind"), query.get("sid"))]

    def reply(data: dict[str, Any], request: Request) -> Any:
        return {"replies": fake.reply(str(data["from"]), str(data["body"]))}

    def redeliver(data: dict[str, Any], request: Request) -> Any:
        index = data.get("index")
        return fake.redeliver(None if index is None else int(index)).to_json()

    def phones(data: dict[str, Any], request: Request) -> Any:
        phone = fake.register_phone(str(data["number"]), str(data.get("label", "")))
        if data.get("behaviour"):
            fake.set_behaviour(phone.number, str(data["behaviour"]))
        return {"number": phone.number, "label": phone.label}

    def behaviour(data: dict[str, Any], request: Request) -> Any:
        fake.set_behaviour(str(data.get("number", "*")), str(data["behaviour"]))
        return {"ok": True}

    def sms_fail(data: dict[str, Any], request: Request) -> Any:
        number = str(data["number"])
        if data.get("status"):
            fake.sms_fail(number, str(data["status"]), str(data.get("error_code", "30003")))
        else:
            fake.sms_ok(number)
        return {"ok": True}

    def reject(data: dict[str, Any], request: Request) -> Any:
        code = data.get("code")
        fake.reject(str(data["number"]), None if code is None else int(code))
        return {"ok": True}

    def outage(data: dict[str, Any], request: Request) -> Any:
        status, count = data.get("status"), data.get("count")
        fake.rest_outage(None if status is None else int(status), count and int(count))
        return {"ok": True}

    def config(data: dict[str, Any], request: Request) -> Any:
        if "sms_url" in data:
            fake.set_sms_url(data["sms_url"] or None)
        return {"sms_url": fake.sms_url, "from_number": fake.from_number}

    def delay_creates(data: dict[str, Any], request: Request) -> Any:
        seconds, count = data.get("seconds"), data.get("count", 1)
        fake.delay_creates(
            None if seconds is None else float(seconds),
            count=None if count is None else int(count),
            before=bool(data.get("before", False)),
        )
        return {"ok": True}

    def wait_idle(data: dict[str, Any], request: Request) -> Any:
        return {"idle": fake.wait_idle(float(data.get("timeout", 5.0)))}

    def reset(data: dict[str, Any], request: Request) -> Any:
        fake.reset()
        return {"ok": True}

    async def phones_page(request: Request) -> Response:
        # The first state is embedded so the page is complete without waiting a poll.
        state = json.dumps(snapshot()).replace("<", "\\u003c")
        return HTMLResponse(_page_template().replace("__INITIAL_STATE__", state))

    routes = [
        Route(
            f"{_ACCOUNT}/Messages.json", rest(create_message, 201, create=True), methods=["POST"]
        ),
        Route(f"{_ACCOUNT}/Messages.json", rest(list_messages), methods=["GET"]),
        Route(f"{_ACCOUNT}/Messages/{{sid}}.json", rest(fetch_message), methods=["GET"]),
        Route(f"{_ACCOUNT}/Calls.json", rest(create_call, 201, create=True), methods=["POST"]),
        Route(f"{_ACCOUNT}/Calls.json", rest(list_calls), methods=["GET"]),
        Route(f"{_ACCOUNT}/Calls/{{sid}}.json", rest(fetch_call), methods=["GET"]),
        Route(f"{_ACCOUNT}/Calls/{{sid}}.json", rest(update_call), methods=["POST"]),
        Route("/phones", phones_page, methods=["GET"]),
        Route("/_fake/state", control(state), methods=["GET"]),
        Route("/_fake/calls", control(calls), methods=["GET"]),
        Route("/_fake/calls/{sid}", control(call), methods=["GET"]),
        Route("/_fake/messages", control(messages), methods=["GET"]),
        Route("/_fake/inbox/{number}", control(inbox), methods=["GET"]),
        Route("/_fake/callbacks", control(callbacks), methods=["GET"]),
        Route("/_fake/reply", control(reply), methods=["POST"]),
        Route("/_fake/redeliver", control(redeliver), methods=["POST"]),
        Route("/_fake/phones", control(phones), methods=["POST"]),
        Route("/_fake/behaviour", control(behaviour), methods=["POST"]),
        Route("/_fake/sms_fail", control(sms_fail), methods=["POST"]),
        Route("/_fake/reject", control(reject), methods=["POST"]),
        Route("/_fake/outage", control(outage), methods=["POST"]),
        Route("/_fake/config", control(config), methods=["GET", "POST"]),
        Route("/_fake/delay_creates", control(delay_creates), methods=["POST"]),
        Route("/_fake/wait_idle", control(wait_idle), methods=["POST"]),
        Route("/_fake/reset", control(reset), methods=["POST"]),
    ]
    actions = ("answer", "press", "gather_timeout", "hang_up", "voicemail", "ring_out", "busy")
    routes += [
        Route(f"/_fake/calls/{{sid}}/{name}", call_action(name), methods=["POST"])
        for name in (*actions, "fail")
    ]
    mounts = [Mount(face.prefix, app=face.control) for face in faces]
    app = Starlette(routes=[*routes, *mounts])
    app.state.fake = fake
    return app

"""The fake Vonage's ``/_fake`` control API and phone page: what tests in other processes,
the demo and a person playing the worker use to drive the phones.

The same routes and JSON as the Twilio face's control API, so one phone page (and one
way of writing tests) serves both. ``create_control_app`` is this API alone, for the
Twilio face's phone page to mount when both faces run in one process (the demo).
Actions run in a worker thread: they wait for the phone's side to finish, while the
event loop keeps serving REST requests our service makes from inside the webhooks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import lru_cache
from importlib.resources import files
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from notifications.fake.vonage.state import FakeVonage

Handler = Callable[[Request], Awaitable[Response]]
CALL_ACTIONS = (
    "answer",
    "press",
    "gather_timeout",
    "hang_up",
    "voicemail",
    "ring_out",
    "busy",
    "fail",
)


@lru_cache(maxsize=1)
def _page_template() -> str:
    return files("notifications.fake").joinpath("templates/phones.html").read_text("utf-8")


def phones_page(snapshot: dict[str, Any]) -> HTMLResponse:
    # The first state is embedded so the page is complete without waiting a poll.
    state = json.dumps(snapshot).replace("<", "\\u003c")
    return HTMLResponse(_page_template().replace("__INITIAL_STATE__", state))


def control_routes(fake: FakeVonage) -> list[Route]:
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
            uuid = request.path_params["sid"]
            if name == "press":
                return fake.press(uuid, str(data["digits"])).snapshot()
            method: Callable[[str], Any] = getattr(fake, name)
            return method(uuid).snapshot()

        return control(act)

    def state(data: dict[str, Any], request: Request) -> Any:
        return fake.snapshot()

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
            fake.sms_fail(number, str(data["status"]), str(data.get("error_code", "2")))
        else:
            fake.sms_ok(number)
        return {"ok": True}

    def reject(data: dict[str, Any], request: Request) -> Any:
        code = data.get("code", "7")
        fake.reject(str(data["number"]), None if code is None else str(code))
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

    async def page(request: Request) -> Response:
        return phones_page(fake.snapshot())

    routes = [
        Route("/phones", page, methods=["GET"]),
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
    routes += [
        Route(f"/_fake/calls/{{sid}}/{name}", call_action(name), methods=["POST"])
        for name in CALL_ACTIONS
    ]
    return routes


def create_control_app(fake: FakeVonage) -> Starlette:
    """The control API and phone page alone (to mount beside the Twilio face's)."""
    return Starlette(routes=control_routes(fake))

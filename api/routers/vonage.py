"""Vonage webhooks: the call's NCCO and keys, call events, SMS receipts, inbound SMS.

Every request is verified first: voice webhooks by Vonage's JWT (signed with the
account's signature secret, over the exact body), SMS webhooks by their ``sig``; a
forged or missing signature gets 403 and changes nothing, a malformed one 400 naming
the field. Each delivery is applied once (``flows.once``: the idempotency key is
stored with the change it made), exactly like the Twilio webhooks.

Vonage cannot answer an SMS inside the webhook's response, so a reply to a worker's
SMS is sent after the commit through the Vonage provider, best effort.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import auth
from api.bounds import PageId
from api.deps import State
from api.state import AppState
from dispatch import answers, flows, service
from dispatch.models import WebhookReceipt
from dispatch.paging import Wake
from notifications import ncco, vonage_webhooks
from notifications.ncco import Ncco
from notifications.provider import SmsRequest
from notifications.vonage import key_url
from notifications.webhooks import AmdResult, WebhookInvalid

log = logging.getLogger("samenop.webhooks")
router = APIRouter(
    prefix="/webhooks/vonage",
    include_in_schema=False,
    dependencies=[auth.public("Vonage signs every webhook (JWT or signature secret)")],
)

PROVIDER = "vonage"
# The account's signature method for SMS webhooks (Vonage dashboard, API settings).
SMS_SIGNATURE_METHOD: vonage_webhooks.SignatureMethod = "sha256"
REPLY_VALIDITY_SECONDS = 3600  # an answer to a worker's SMS is dropped after an hour
Handler = Callable[[Session], tuple[str, Wake]]


# -- verification ----------------------------------------------------------------------


async def _voice_payload(request: Request, state: AppState) -> dict[str, Any]:
    """The verified JSON body of a voice webhook (answer, event, input)."""
    body = await request.body()
    ok = vonage_webhooks.verify_voice_signature(
        state.settings.vonage_signature_secret, request.headers.get("authorization"), body
    )
    if not ok:
        log.warning("webhook %s: Vonage signature missing or wrong; ignored", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Vonage signature")
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        raise HTTPException(status_code=400, detail="body: not JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(status_code=400, detail="body: not a JSON object")
    return payload


async def _sms_params(request: Request, state: AppState) -> dict[str, str]:
    """The verified parameters of an SMS webhook (form, JSON or query, as configured)."""
    params: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        params.update(await _sms_body(request))
    ok = vonage_webhooks.verify_sms_signature(
        state.settings.vonage_signature_secret, params, method=SMS_SIGNATURE_METHOD
    )
    if not ok:
        log.warning("webhook %s: Vonage signature missing or wrong; ignored", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Vonage signature")
    return params


async def _sms_body(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise HTTPException(status_code=400, detail="body: not JSON") from None
        if not isinstance(data, dict):
            raise HTTPException(status_code=400, detail="body: not a JSON object")
        return {k: str(v) for k, v in data.items()}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def _voice_key(request: Request, payload: dict[str, Any]) -> str:
    """A voice webhook's key: its path with the query (the reading), and its body."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return vonage_webhooks.idempotency_key(path, payload)


def _sms_key(request: Request, params: dict[str, str]) -> str:
    """An SMS webhook's key: its path and parameters (a GET's are its query, signed
    anew on a redelivery, so the query itself is left out)."""
    return vonage_webhooks.idempotency_key(request.url.path, params)


def _invalid(exc: WebhookInvalid) -> HTTPException:
    return HTTPException(status_code=400, detail=str(exc))


async def _once(state: AppState, key: str, handler: Handler, *, receipt: bool = True) -> str:
    return await run_in_threadpool(
        partial(flows.once, receipt=receipt), state.paging, key, state.clock.now(), handler
    )


def _key_url(state: AppState, page_id: str) -> str:
    return key_url(state.settings.public_base_url, page_id)


def _json(document: Ncco | str) -> Response:
    content = document if isinstance(document, str) else json.dumps(document)
    return Response(content, media_type="application/json")


# -- voice -----------------------------------------------------------------------------


@router.post("/voice/{page_id}/answer")
async def answer(page_id: PageId, request: Request, state: State) -> Response:
    """The NCCO run when the phone is picked up: the page and the key menu."""
    await _voice_payload(request, state)

    def script() -> Ncco:
        with state.sessions() as session:
            info = service.call_script_info(session=session, page_id=page_id)
        if info is None:
            return ncco.key_answer("closed")
        return ncco.page_call(info, _key_url(state, page_id))

    return _json(await run_in_threadpool(script))


@router.post("/voice/{page_id}/event")
async def event(page_id: PageId, request: Request, state: State) -> Response:
    """Call progress and machine detection; error reports are only logged."""
    payload = await _voice_payload(request, state)
    try:
        parsed = vonage_webhooks.parse_call_event(payload)
    except WebhookInvalid as exc:
        raise _invalid(exc) from exc
    if parsed is None:
        log.info("webhook %s: Vonage reports %s", request.url.path, payload.get("reason", "-"))
        return Response(status_code=204)
    now = state.clock.now()
    if isinstance(parsed, AmdResult):
        result = parsed

        def handle(s: Session) -> tuple[str, Wake]:
            return "", answers.amd(s, page_id, result, now, provider=PROVIDER)
    else:
        status = parsed

        def handle(s: Session) -> tuple[str, Wake]:
            return "", answers.call_status(s, page_id, status, now, provider=PROVIDER)

    await _once(
        state, _voice_key(request, payload), handle, receipt=not answers.is_progress(parsed)
    )
    return Response(status_code=204)


@router.post("/voice/{page_id}/key")
async def key(page_id: PageId, request: Request, state: State) -> Response:
    """The end of the NCCO's input: a key, or none in time (read again, or goodbye)."""
    payload = await _voice_payload(request, state)
    try:
        press = vonage_webhooks.parse_input(payload)
    except WebhookInvalid as exc:
        raise _invalid(exc) from exc
    url = _key_url(state, page_id)
    try:
        read = max(1, int(request.query_params.get(ncco.READ_PARAM, "1")))
    except ValueError:
        raise HTTPException(status_code=400, detail="read: not a number") from None

    if not press.digits:
        # No key in time: nothing changes for the page; read it again or say goodbye.
        def again() -> Ncco:
            with state.sessions() as session:
                info = service.call_script_info(session=session, page_id=page_id)
            if info is None:
                return ncco.key_answer("closed")
            return ncco.no_key(info, url, read)

        return _json(await run_in_threadpool(again))

    def handle(session: Session) -> tuple[str, Wake]:
        reply = answers.key(session, page_id, press, state.clock.now(), provider=PROVIDER)
        if reply.outcome in ("repeat", "invalid"):
            document = ncco.key_answer(reply.outcome, info=reply.info, key_url=url)
        else:
            document = ncco.key_answer(reply.outcome, callback=reply.callback)
        return json.dumps(document), reply.wake

    return _json(await _once(state, _voice_key(request, payload), handle))


# -- SMS -------------------------------------------------------------------------------


# Vonage's account settings choose GET, POST (form) or POST-JSON for SMS webhooks.
@router.api_route("/sms/{page_id}/status", methods=["GET", "POST"])
async def sms_status(page_id: PageId, request: Request, state: State) -> Response:
    """A delivery receipt (one per part of a long SMS)."""
    params = await _sms_params(request, state)
    try:
        status = vonage_webhooks.parse_dlr(params)
    except WebhookInvalid as exc:
        raise _invalid(exc) from exc
    now = state.clock.now()

    def handle(s: Session) -> tuple[str, Wake]:
        return "", answers.sms_status(s, page_id, status, now, provider=PROVIDER)

    await _once(state, _sms_key(request, params), handle, receipt=not answers.is_progress(status))
    return Response(status_code=204)


@router.api_route("/sms/inbound", methods=["GET", "POST"])
async def inbound_sms(request: Request, state: State) -> Response:
    """An SMS from a worker's phone: JA / NEE (with a code when several pages are open).

    The answer goes back as an SMS of its own, after the commit, and only for the
    first delivery of the message (a redelivery must not answer twice).
    """
    params = await _sms_params(request, state)
    try:
        sms = vonage_webhooks.parse_inbound(params)
    except WebhookInvalid as exc:
        raise _invalid(exc) from exc
    key = _sms_key(request, params)
    now = state.clock.now()

    def apply(session: Session) -> tuple[str | None, Wake, bool]:
        if session.get(WebhookReceipt, key) is not None:
            return None, Wake(), False
        result = answers.inbound_sms(
            session,
            sms,
            now,
            per_10min=state.settings.sms_replies_per_10min,
            worker_link=state.paging.worker_link,
            inline_reply=False,
            provider=PROVIDER,
        )
        session.add(WebhookReceipt(key=key, received_at=now, response=result.text or ""))
        return result.text, result.wake, True

    def once() -> tuple[str | None, bool]:
        try:
            text, wake, fresh = flows.run(state.paging, apply)
        except IntegrityError:
            return None, False  # the same message raced itself; the other one answers
        flows.arm(state.paging, wake)
        return text, fresh

    text, fresh = await run_in_threadpool(once)
    if fresh and text is not None:
        await run_in_threadpool(_send_reply, state, sms.provider_id, sms.from_number, text)
    return Response(status_code=204)


def _send_reply(state: AppState, message_id: str, to: str, text: str) -> None:
    """Best effort: a failed answer is logged (the worker can text again), never a 500."""
    provider = state.paging.providers.get(PROVIDER)
    if provider is None:
        log.warning("reply to Vonage SMS %s not sent: no Vonage provider configured", message_id)
        return
    request = SmsRequest(
        # No page: the receipt comes back to a page id that matches none, and is ignored.
        page_id=f"reply-{message_id}",
        to=to,
        body=text,
        callback_base=state.settings.public_base_url,
        validity_seconds=REPLY_VALIDITY_SECONDS,
    )
    try:
        provider.send_sms(request)
    except Exception as exc:  # a reply must never fail the webhook
        log.warning("reply to Vonage SMS %s not sent: %s", message_id, exc)

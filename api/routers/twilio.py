"""Twilio webhooks: voice script and keys, call and SMS status, inbound SMS replies.

Every request is verified with the SDK's ``RequestValidator`` against the public URL
(``SAMENOP_PUBLIC_BASE_URL``, for deployments behind a proxy); a forged or missing
signature gets 403 and changes nothing. Each delivery is applied once: its idempotency
key is stored in the same transaction as the change it made, and a redelivery gets the
first answer back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api import auth
from api.bounds import PageId
from api.deps import State
from api.state import AppState
from dispatch import answers, flows, service
from dispatch.paging import Wake
from notifications import twiml, webhooks

log = logging.getLogger("samenop.webhooks")
router = APIRouter(
    prefix="/webhooks/twilio",
    tags=["webhooks"],
    include_in_schema=False,
    dependencies=[auth.public("Twilio signs every webhook (X-Twilio-Signature)")],
)

XML = "application/xml"
PROVIDER = "twilio"
Handler = Callable[[Session], tuple[str, Wake]]


async def _verified_form(request: Request, state: AppState) -> dict[str, str]:
    form = await request.form()
    url = webhooks.public_url(state.settings.public_base_url, request.url.path, request.url.query)
    ok = webhooks.verify_signature(
        state.settings.twilio_auth_token,
        url,
        form,
        request.headers.get(webhooks.SIGNATURE_HEADER),
        settings_header=request.headers.get(webhooks.SIGNATURE_SETTINGS_HEADER),
    )
    if not ok:
        log.warning("webhook %s: signature missing or wrong; ignored", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return {k: str(v) for k, v in form.items()}


def _apply(state: AppState, key: str, handler: Handler, receipt: bool = True) -> str:
    """Apply ``handler`` once per idempotency key; a redelivery gets the stored answer."""
    return flows.once(state.paging, key, state.clock.now(), handler, receipt=receipt)


async def _handle(
    request: Request,
    state: AppState,
    build: Callable[[dict[str, str]], Handler],
    receipt: Callable[[dict[str, str]], bool] = lambda form: True,
) -> str:
    form = await _verified_form(request, state)
    key = webhooks.idempotency_key(
        request.url.path, form, request.headers.get(webhooks.IDEMPOTENCY_HEADER)
    )
    try:
        handler = build(form)
        keep = receipt(form)
    except webhooks.WebhookInvalid as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return await run_in_threadpool(_apply, state, key, handler, keep)


def _url(state: AppState, path: str) -> str:
    return f"{state.settings.public_base_url}{path}"


@router.post("/voice/{page_id}")
async def voice(page_id: PageId, request: Request, state: State) -> Response:
    """The script read when the phone is picked up, with the key menu."""
    await _verified_form(request, state)

    def script() -> str:
        with state.sessions() as session:
            info = service.call_script_info(session=session, page_id=page_id)
        if info is None:
            return twiml.key_answer("closed")
        return twiml.page_call(info, _url(state, f"/webhooks/twilio/voice/{page_id}/key"))

    return Response(await run_in_threadpool(script), media_type=XML)


@router.post("/voice/{page_id}/key")
async def voice_key(page_id: PageId, request: Request, state: State) -> Response:
    def build(form: dict[str, str]) -> Handler:
        press = webhooks.parse_digits(form)

        def handle(session: Session) -> tuple[str, Wake]:
            reply = answers.key(session, page_id, press, state.clock.now(), provider=PROVIDER)
            action = _url(state, f"/webhooks/twilio/voice/{page_id}/key")
            if reply.outcome in ("repeat", "invalid"):
                body = twiml.key_answer(reply.outcome, info=reply.info, action_url=action)
            else:
                body = twiml.key_answer(reply.outcome, callback=reply.callback)
            return body, reply.wake

        return handle

    return Response(await _handle(request, state, build), media_type=XML)


async def _status(
    request: Request,
    state: AppState,
    page_id: str,
    parse: Callable[[dict[str, str]], Any],
    apply: Callable[..., Wake],
) -> Response:
    """A status callback: parse, apply once, answer 204 (Twilio ignores the body)."""

    def build(form: dict[str, str]) -> Handler:
        parsed = parse(form)
        return lambda s: ("", apply(s, page_id, parsed, state.clock.now(), provider=PROVIDER))

    await _handle(request, state, build, lambda form: not answers.is_progress(parse(form)))
    return Response(status_code=204)


@router.post("/call-status/{page_id}")
async def call_status(page_id: PageId, request: Request, state: State) -> Response:
    return await _status(request, state, page_id, webhooks.parse_call_status, answers.call_status)


@router.post("/amd/{page_id}")
async def amd(page_id: PageId, request: Request, state: State) -> Response:
    """Asynchronous answering-machine detection: a voicemail is not a person reached."""
    return await _status(request, state, page_id, webhooks.parse_amd, answers.amd)


@router.post("/sms-status/{page_id}")
async def sms_status(page_id: PageId, request: Request, state: State) -> Response:
    return await _status(request, state, page_id, webhooks.parse_sms_status, answers.sms_status)


@router.post("/sms")
async def inbound_sms(request: Request, state: State) -> Response:
    """An SMS from a worker's phone: JA / NEE (with a code when several pages are open)."""

    def build(form: dict[str, str]) -> Handler:
        parsed = webhooks.parse_inbound_sms(form)

        def handle(session: Session) -> tuple[str, Wake]:
            result = answers.inbound_sms(
                session,
                parsed,
                state.clock.now(),
                per_10min=state.settings.sms_replies_per_10min,
                worker_link=state.paging.worker_link,
            )
            return twiml.sms_reply(result.text), result.wake

        return handle

    return Response(await _handle(request, state, build), media_type=XML)

"""The fake's only way out: one thread that makes every request Twilio would make to us.

Twilio calls our webhooks asynchronously from the REST request that caused them, so
the REST handlers here only enqueue work. A single worker thread keeps the order per
call and message (initiated before ringing before answered ...) and reuses one
keep-alive ``httpx.Client``. Requests are signed exactly like Twilio signs them
(``X-Twilio-Signature`` over URL and sorted parameters) and carry an idempotency token
that a redelivery repeats, so duplicate handling in our service can be tested.
Failures are recorded, never raised: Twilio does not retry status callbacks either.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from notifications.fake.records import Delivery

T = TypeVar("T")
_RESPONSE_TEXT_LIMIT = 20_000


class Outbox:
    def __init__(self, auth_token: str, *, timeout: float = 10.0) -> None:
        self._validator = RequestValidator(auth_token)
        self._timeout = timeout
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._lost: frozenset[str] = frozenset()
        self._client: httpx.Client | None = None
        self._thread = threading.Thread(target=self._loop, name="fake-twilio-outbox", daemon=True)
        self._thread.start()

    # -- running work in order -------------------------------------------------------

    def in_worker(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._idle:
            self._pending += 1
        self._jobs.put((job, future))
        return future

    def run(self, job: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``job`` after everything already queued, and wait for its result.

        From inside the worker (an automatic phone behaviour) the job runs at once:
        waiting for ourselves would never end.
        """
        if self.in_worker():
            return job()
        return self.submit(job).result(timeout)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._jobs.put(None)
        if not self.in_worker():
            self._thread.join(timeout=5)

    def lose(self, kinds: frozenset[str] | set[str] | None) -> None:
        """Callbacks of these kinds ("call-status", "amd", "sms-status", ...) are lost on
        the way: recorded with the error "lost", never sent (None: deliver all again)."""
        with self._lock:
            self._lost = frozenset(kinds or ())

    def _loop(self) -> None:
        self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        try:
            while (item := self._jobs.get()) is not None:
                job, future = item
                try:
                    if future.set_running_or_notify_cancel():
                        future.set_result(job())
                except BaseException as exc:  # the worker must outlive any one job
                    future.set_exception(exc)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()
        finally:
            self._client.close()

    # -- requests ----------------------------------------------------------------------

    def send(
        self,
        *,
        kind: str,
        sid: str,
        url: str,
        params: dict[str, str],
        method: str = "POST",
        token: str | None = None,
        redelivery_of: int | None = None,
    ) -> Delivery:
        """Make one request now (worker thread only) and record what came back."""
        assert self._client is not None and self.in_worker(), "send() runs in the outbox"
        method = (method or "POST").upper()
        token = token or uuid.uuid4().hex
        if method == "GET":
            target = url + ("&" if "?" in url else "?") + urlencode(params)
            signature = self._validator.compute_signature(target, {})
        else:
            target = url
            signature = self._validator.compute_signature(url, params)
        with self._lock:
            delivery = Delivery(
                index=len(self._deliveries),
                kind=kind,
                sid=sid,
                url=url,
                method=method,
                params=dict(params),
                token=token,
                signature=signature,
                sent_at=datetime.now(UTC),
                redelivery_of=redelivery_of,
            )
            self._deliveries.append(delivery)
            lost = kind in self._lost
        if lost:
            delivery.error = "lost"
            return delivery
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": token,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "X-Home-Region": "us1",
        }
        started = time.perf_counter()
        try:
            if method == "GET":
                response = self._client.get(target, headers=headers)
            else:
                headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
                response = self._client.request(
                    method, target, content=urlencode(params), headers=headers
                )
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        else:
            delivery.status_code = response.status_code
            delivery.response_text = response.text[:_RESPONSE_TEXT_LIMIT]
        delivery.elapsed_ms = (time.perf_counter() - started) * 1000
        return delivery

    def redeliver(self, index: int | None = None) -> Delivery:
        """Send a recorded request again: same URL, parameters and idempotency token."""

        def again() -> Delivery:
            with self._lock:
                if not self._deliveries:
                    raise LookupError("nothing has been sent yet")
                try:
                    original = self._deliveries[-1 if index is None else index]
                except IndexError:
                    raise LookupError(f"no callback with index {index}") from None
            return self.send(
                kind=original.kind,
                sid=original.sid,
                url=original.url,
                params=original.params,
                method=original.method,
                token=original.token,
                redelivery_of=original.index,
            )

        return self.run(again)

    def deliveries(self, *, kind: str | None = None, sid: str | None = None) -> list[Delivery]:
        with self._lock:
            return [
                d
                for d in self._deliveries
                if (kind is None or d.kind == kind) and (sid is None or d.sid == sid)
            ]

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()

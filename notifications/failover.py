"""A provider over two others: pages go through the primary, and through the secondary
while the primary is failing.

Failing is what a circuit per provider says: it opens after ``failures`` consecutive
failed or timed-out requests, and then the provider is skipped (tried last) until a
probe finds it answering again. The probe is a harmless read (``find_sent``) in a
thread of its own, never a real page: a page sent as a probe into a provider that
only half works could be lost in an uncertain send. The circuit is a hint held in
memory, per process: the database records which provider carried each page
(``Sent.provider``), so nothing depends on two processes agreeing about it.

No page reaches a phone through both: a send falls over to the next provider only when
the failed one did not take the request (``maybe_sent`` False: refused, 503, 429). A
send whose outcome is unknown is raised to the caller, who asks that provider what
went out before anything is sent again (``dispatch.delivery``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.logs import FaultLogs
from notifications.provider import (
    CallRequest,
    Channel,
    DeliveryRejected,
    Provider,
    ProviderUnavailable,
    Sent,
    SmsRequest,
)

log = logging.getLogger("samenop.failover")


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


class Circuit:
    """Consecutive failures per provider; open after ``failures`` of them."""

    def __init__(
        self,
        failures: int = 3,
        probe_after: float = 15.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.probe_after = probe_after
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def _state(self, name: str) -> _State:
        return self._states.setdefault(name, _State())

    def is_open(self, name: str) -> bool:
        with self._lock:
            return self._state(name).opened_at is not None

    def success(self, name: str) -> None:
        with self._lock:
            state = self._state(name)
            if state.opened_at is not None:
                log.warning("provider %s answers again: circuit closed", name)
            state.failures, state.opened_at, state.probing = 0, None, False

    def failure(self, name: str) -> None:
        with self._lock:
            state = self._state(name)
            state.failures += 1
            state.probing = False
            if state.failures >= self.failures and state.opened_at is None:
                log.warning("provider %s failed %d times: circuit open", name, state.failures)
                state.opened_at = self._clock()
            elif state.opened_at is not None:
                state.opened_at = self._clock()  # still failing: the next probe waits again

    def probe_due(self, name: str) -> bool:
        """True once per probe interval while open (the caller then probes)."""
        with self._lock:
            state = self._state(name)
            if state.opened_at is None or state.probing:
                return False
            if self._clock() - state.opened_at < self.probe_after:
                return False
            state.probing = True
            return True


class FailoverProvider:
    """Sends through the first provider whose circuit is closed, in the route's order."""

    name = "failover"

    def __init__(
        self,
        providers: dict[str, Provider],
        order: tuple[str, ...],
        circuit: Circuit | None = None,
        *,
        probe_number: str = "+31000000000",
    ) -> None:
        if len(order) < 2 or any(name not in providers for name in order):
            raise ValueError(f"failover needs two configured providers, got {order}")
        self.providers = providers
        self.order = order
        self.circuit = circuit or Circuit()
        self.probe_number = probe_number
        self._probes: dict[str, threading.Thread] = {}
        # Per provider: an outage is logged when it starts and when it ends.
        self._send_faults = FaultLogs(
            log, "sends through {key} (failing over)", level=logging.WARNING
        )
        self._probe_faults = FaultLogs(log, "probes of {key}", level=logging.WARNING)

    def named(self, name: str) -> Provider:
        return self.providers[name]

    def _route(self, route: tuple[str, ...] | None) -> list[str]:
        wanted = [n for n in (route or ()) if n in self.providers]
        names = wanted + [n for n in self.order if n not in wanted]
        for name in names:
            if self.circuit.probe_due(name):
                self._probe(name)
        closed = [n for n in names if not self.circuit.is_open(name=n)]
        return closed + [n for n in names if n not in closed]

    def _probe(self, name: str) -> None:
        def probe() -> None:
            faults = self._probe_faults[name]
            try:
                self.providers[name].find_sent(
                    channel="voice", to=self.probe_number, since=datetime.now(UTC)
                )
            except Exception as exc:
                faults.failed(exc)
                self.circuit.failure(name)
            else:
                faults.ok()
                self.circuit.success(name)

        thread = threading.Thread(target=probe, name=f"probe-{name}", daemon=True)
        self._probes[name] = thread
        thread.start()

    def _send(self, route: tuple[str, ...] | None, send: Callable[[Provider], Sent]) -> Sent:
        last: ProviderUnavailable | None = None
        for name in self._route(route):
            try:
                sent = send(self.providers[name])
            except DeliveryRejected:
                self.circuit.success(name)  # it answered; the number is the problem
                raise
            except ProviderUnavailable as exc:
                self.circuit.failure(name)
                exc.provider = name
                if exc.maybe_sent:
                    raise  # it may ring already: never try the other provider now
                self._send_faults[name].failed(exc)
                last = exc
                continue
            self._send_faults[name].ok()
            self.circuit.success(name)
            return replace(sent, provider=name)
        raise last or ProviderUnavailable("no provider configured")

    def place_call(self, request: CallRequest) -> Sent:
        return self._send(request.route, lambda p: p.place_call(request))

    def send_sms(self, request: SmsRequest) -> Sent:
        return self._send(request.route, lambda p: p.send_sms(request))

    def hang_up(self, provider_id: str) -> None:
        """Only when the call's provider is not known: ask each to end it."""
        errors: list[Exception] = []
        for provider in self.providers.values():
            try:
                provider.hang_up(provider_id)
                return
            except (DeliveryRejected, ProviderUnavailable) as exc:
                errors.append(exc)
        if errors:
            raise errors[-1]

    def find_sent(
        self,
        *,
        channel: Channel,
        to: str,
        since: datetime,
        marker: str | None = None,
        page_id: str | None = None,
    ) -> list[Sent]:
        """What any provider sent (after a crash nobody knows which one was asked);
        ``ProviderUnavailable`` when one of them cannot say."""
        found: list[Sent] = []
        for name, provider in self.providers.items():
            for sent in provider.find_sent(
                channel=channel, to=to, since=since, marker=marker, page_id=page_id
            ):
                found.append(replace(sent, provider=sent.provider or name))
        return sorted(found, key=lambda s: s.created_at or since, reverse=True)

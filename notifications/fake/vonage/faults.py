"""The fake Vonage's fault modes, shared by its REST app: outages and slow creates.

Like the Twilio face's: ``rest_outage`` answers the next requests with an HTTP error,
``delay_creates`` holds the answer to the next creates (after Vonage took them, or
before, when the client's going away means nothing was taken), and ``held`` counts
creates being held, so a test can act while one is in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from notifications.fake.state import Delay


class FaultModes:
    _lock: threading.RLock
    _changed: threading.Condition
    _outage: list[int | None] | None  # [status, remaining or None]
    _delay: tuple[Delay, int | None] | None  # (delay, remaining or None)
    _holding: int

    def rest_outage(self, status: int | None = 503, count: int | None = None) -> None:
        """Answer the next ``count`` REST requests (all when None) with ``status``."""
        with self._lock:
            self._outage = None if status is None else [status, count]

    def take_outage(self) -> int | None:
        with self._lock:
            if self._outage is None:
                return None
            status, remaining = self._outage
            if remaining is not None:
                if remaining <= 1:
                    self._outage = None
                else:
                    self._outage[1] = remaining - 1
            return status

    def delay_creates(
        self, seconds: float | None, *, count: int | None = 1, before: bool = False
    ) -> None:
        """Hold the next ``count`` creates (calls and SMS; all when None) ``seconds``.

        By default Vonage has taken the request (the phone rings, the SMS goes) and only
        its answer is late; with ``before`` it is held before Vonage takes it and dropped
        if the client goes away meanwhile.
        """
        with self._lock:
            if not seconds or seconds <= 0 or (count is not None and count < 1):
                self._delay = None
            else:
                self._delay = (Delay(float(seconds), before), count)

    def take_delay(self) -> Delay | None:
        with self._lock:
            if self._delay is None:
                return None
            delay, remaining = self._delay
            if remaining is not None:
                self._delay = None if remaining <= 1 else (delay, remaining - 1)
            return delay

    @contextmanager
    def holding(self) -> Iterator[None]:
        with self._changed:
            self._holding += 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._holding -= 1
                self._changed.notify_all()

    @property
    def held(self) -> int:
        with self._lock:
            return self._holding

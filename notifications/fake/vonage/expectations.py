"""Tests say which calls and SMS they expect of the Vonage face; anything else is a bug.

The same contract as the Twilio face's ``Expectations``: ``expect_call`` /
``expect_sms`` claim the next unclaimed call or message to a number (waiting briefly,
as delivery is asynchronous) and fail listing what did arrive;
``assert_nothing_unexpected`` catches duplicates and strays. Only what our service
created through the APIs counts; an SMS the service sent in answer to a phone's own
text is claimed by ``reply``, which returns it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from notifications.fake.vonage.records import VonageCall, VonageMessage

R = TypeVar("R", VonageCall, VonageMessage)


class VonageExpectations:
    _changed: threading.Condition
    _calls: dict[str, VonageCall]
    _messages: dict[str, VonageMessage]

    def expect_call(self, to: str, *, timeout: float = 5.0) -> VonageCall:
        """The next call to ``to`` no test has claimed yet (waits up to ``timeout``)."""
        return self._claim(
            lambda: list(self._calls.values()), lambda c: c.to == to, f"a call to {to}", timeout
        )

    def expect_sms(
        self, to: str, contains: str | None = None, *, timeout: float = 5.0
    ) -> VonageMessage:
        """The next SMS to ``to`` (whose body contains ``contains``) not yet claimed."""
        wanted = f"an SMS to {to}" + (f" containing {contains!r}" if contains else "")
        return self._claim(
            self._outbound,
            lambda m: m.to == to and (contains is None or contains in m.body),
            wanted,
            timeout,
        )

    def unexpected(self) -> list[VonageCall | VonageMessage]:
        with self._changed:
            records: list[VonageCall | VonageMessage] = [
                c for c in self._calls.values() if not c.expected
            ]
            records += [m for m in self._outbound() if not m.expected]
            return sorted(records, key=lambda r: r.created_at)

    def assert_nothing_unexpected(self) -> None:
        stray = self.unexpected()
        if stray:
            lines = "\n".join(f"  - {_describe(r)}" for r in stray)
            raise AssertionError(f"{len(stray)} Vonage call(s)/SMS no test expected:\n{lines}")

    def _outbound(self) -> list[VonageMessage]:
        return [m for m in self._messages.values() if m.direction == "outbound-api"]

    def _claim(
        self,
        records: Callable[[], list[R]],
        fits: Callable[[R], bool],
        wanted: str,
        timeout: float,
    ) -> R:
        def first() -> R | None:
            return next((r for r in records() if not r.expected and fits(r)), None)

        with self._changed:
            found = self._changed.wait_for(first, timeout)
            if found is not None:
                found.expected = True
                return found
            arrived: list[VonageCall | VonageMessage] = [
                *self._calls.values(),
                *self._outbound(),
            ]
        listing = "\n".join(
            f"  - {_describe(r)}{' (already expected)' if r.expected else ''}"
            for r in sorted(arrived, key=lambda r: r.created_at)
        )
        raise AssertionError(
            f"expected {wanted} within {timeout:g} s; what arrived:\n{listing or '  (nothing)'}"
        )


def _describe(record: VonageCall | VonageMessage) -> str:
    if isinstance(record, VonageCall):
        return f"call {record.uuid} to {record.to} ({record.status}) answer_url={record.url}"
    return f"SMS {record.message_id} to {record.to} ({record.status}): {record.body!r}"

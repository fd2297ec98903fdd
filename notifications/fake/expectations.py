"""Tests say which calls and SMS they expect; anything else our service sent is a bug.

``expect_call`` / ``expect_sms`` take the next not-yet-claimed call or message to a
number, waiting briefly because delivery is asynchronous, and fail listing what did
arrive. ``assert_nothing_unexpected`` then catches duplicate or stray pages, which is
how the "a page reaches its person once" invariant is checked end to end. Only what
our service created over REST counts; answers to a phone's own SMS (TwiML replies)
are returned by ``reply`` and are not part of this bookkeeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from notifications.fake.records import Call, Message

R = TypeVar("R", Call, Message)


class Expectations:
    _changed: threading.Condition
    _calls: dict[str, Call]
    _messages: dict[str, Message]

    def expect_call(self, to: str, *, timeout: float = 5.0) -> Call:
        """The next call to ``to`` no test has claimed yet (waits up to ``timeout``)."""
        return self._claim(
            lambda: list(self._calls.values()), lambda c: c.to == to, f"a call to {to}", timeout
        )

    def expect_sms(self, to: str, contains: str | None = None, *, timeout: float = 5.0) -> Message:
        """The next SMS to ``to`` (whose body contains ``contains``) not yet claimed."""
        wanted = f"an SMS to {to}" + (f" containing {contains!r}" if contains else "")
        return self._claim(
            self._outbound,
            lambda m: m.to == to and (contains is None or contains in m.body),
            wanted,
            timeout,
        )

    def unexpected(self) -> list[Call | Message]:
        with self._changed:
            records: list[Call | Message] = [c for c in self._calls.values() if not c.expected]
            records += [m for m in self._outbound() if not m.expected]
            return sorted(records, key=lambda r: r.created_at)

    def assert_nothing_unexpected(self) -> None:
        stray = self.unexpected()
        if stray:
            lines = "\n".join(f"  - {_describe(r)}" for r in stray)
            raise AssertionError(f"{len(stray)} call(s)/SMS no test expected:\n{lines}")

    def _outbound(self) -> list[Message]:
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
            arrived: list[Call | Message] = [*self._calls.values(), *self._outbound()]
        listing = "\n".join(
            f"  - {_describe(r)}{' (already expected)' if r.expected else ''}"
            for r in sorted(arrived, key=lambda r: r.created_at)
        )
        raise AssertionError(
            f"expected {wanted} within {timeout:g} s; what arrived:\n{listing or '  (nothing)'}"
        )


def _describe(record: Call | Message) -> str:
    if isinstance(record, Call):
        return f"call {record.sid} to {record.to} ({record.status}) url={record.url}"
    return f"SMS {record.sid} to {record.to} ({record.status}): {record.body!r}"

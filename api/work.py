"""Heavy work off the event loop: one job at a time per process, within a time limit.

Parsing and checking a configuration, writing it, and computing coverage gaps can take
seconds of CPU. On the event loop that time is taken from every other request
(``/healthz`` stopped answering for 53 s behind one upload). Here such a job runs in a
worker thread; jobs wait for each other instead of filling the thread pool that every
other route uses; and the job checks its ``Deadline`` between steps, so it stops
(before committing anything) once the limit has passed. The input bounds (body size,
entries per section, days of gaps) keep each step short, so the check comes in time.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread
from fastapi import HTTPException

T = TypeVar("T")

# One heavy job at a time per event loop (each test client has its own loop).
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


# While a job runs, the interpreter hands the GIL over every millisecond instead of every
# five: the event loop (and /healthz) waits less behind a job's pure-Python CPU work.
SWITCH_INTERVAL = 0.001
_switch_lock = threading.Lock()
_running = 0
_usual_interval = sys.getswitchinterval()


def _job_started() -> None:
    global _running, _usual_interval
    with _switch_lock:
        if _running == 0:
            _usual_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_usual_interval, SWITCH_INTERVAL))
        _running += 1


def _job_ended() -> None:
    global _running
    with _switch_lock:
        _running -= 1
        if _running == 0:
            sys.setswitchinterval(_usual_interval)


class WorkTimeout(Exception):
    """The job passed its time limit; it stopped before changing anything."""


class Deadline:
    """When a job must stop; ``check()`` between steps raises ``WorkTimeout`` after it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise WorkTimeout(f"stopped after {self.seconds:g} s")


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = anyio.CapacityLimiter(1)
    return limiter


def _too_slow(seconds: float, what: str) -> HTTPException:
    return HTTPException(
        status_code=503,
        detail=f"{what} took longer than {seconds:g} s (SAMENOP_WORK_TIMEOUT_SECONDS) and was "
        "stopped; nothing was changed. Send less at once, or retry later.",
        headers={"Retry-After": "5"},
    )


async def run(job: Callable[[Deadline], T], *, seconds: float, what: str = "the request") -> T:
    """``job(deadline)`` in a worker thread after the jobs before it; 503 past ``seconds``.

    The wait for earlier jobs counts towards the limit. A job is never abandoned while it
    runs: it stops itself at its next ``deadline.check()``, so a write either committed
    (and the caller hears so) or changed nothing.
    """
    deadline = Deadline(seconds)
    limiter = _limiter()
    with anyio.move_on_after(seconds) as waiting:
        await limiter.acquire()
    if waiting.cancelled_caught:
        raise _too_slow(seconds, what)
    _job_started()
    try:
        return await anyio.to_thread.run_sync(partial(job, deadline))
    except WorkTimeout as exc:
        raise _too_slow(seconds, what) from exc
    finally:
        _job_ended()
        limiter.release()

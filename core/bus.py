"""The event bus port: "new events were committed", from any writer to every API process.

The bus carries wake-ups only, never the events themselves: the event log in the
database is the truth, and each API process tails it (``id > last seen``) when woken.
A lost or late notification therefore delays a client by at most the tail's fallback
poll; it can never lose or reorder an event. Writers publish from whatever thread
committed (request threads, RQ jobs, the delivery loop); listeners are asyncio.

Two adapters with one interface: ``InMemoryBus`` for the embedded mode (one process),
``RedisBus`` when several API processes and RQ workers share a Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Protocol

import redis
import redis.asyncio as aioredis

from core.logs import FaultLog

log = logging.getLogger(__name__)


class Bus(Protocol):
    def publish(self) -> None:
        """Say that events were committed (called after the commit, never before)."""

    def listen(self) -> AsyncIterator[None]:
        """Yield once per notification (several may be merged into one)."""

    def close(self) -> None: ...


class InMemoryBus:
    """Notifications inside one process; thread-safe publishing into asyncio listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def publish(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, flag in listeners:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(flag.set)

    async def listen(self) -> AsyncIterator[None]:
        flag = asyncio.Event()
        entry = (asyncio.get_running_loop(), flag)
        with self._lock:
            self._listeners.append(entry)
        try:
            while True:
                await flag.wait()
                flag.clear()
                yield None
        finally:
            with self._lock:
                self._listeners.remove(entry)

    def close(self) -> None:
        with self._lock:
            self._listeners.clear()


class RedisBus:
    """Redis pub/sub on one channel per deployment (the queue name keeps them apart)."""

    def __init__(self, url: str, name: str = "samenop") -> None:
        self.url = url
        self.channel = f"{name}:events"
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        # Redis away: logged when it starts and when it ends, not per commit or retry.
        self._publish_faults = FaultLog(
            log, "event notifications (listeners poll meanwhile)", level=logging.WARNING
        )
        self._listen_faults = FaultLog(log, "event bus subscription", level=logging.WARNING)

    def _publisher(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    self.url, socket_timeout=1.0, socket_connect_timeout=1.0
                )
            return self._client

    def publish(self) -> None:
        # The commit already happened: a Redis failure must not fail the writer. The
        # listeners' fallback poll picks the events up.
        try:
            self._publisher().publish(self.channel, b"1")
        except redis.RedisError as exc:
            self._publish_faults.failed(exc)
        else:
            self._publish_faults.ok()

    async def listen(self) -> AsyncIterator[None]:
        backoff = 0.2
        while True:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2.0)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                backoff = 0.2
                self._listen_faults.ok()
                # A (re)subscription may have missed notifications: wake the tail once.
                yield None
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is not None:
                        yield None
            except (redis.RedisError, OSError) as exc:
                self._listen_faults.failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def make_bus(redis_url: str | None, name: str = "samenop") -> Bus:
    return RedisBus(redis_url, name) if redis_url else InMemoryBus()

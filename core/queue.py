"""The job queue port: RQ over Redis. Redis only carries wake-ups; the database holds the
state, so a lost job is a late job, never lost data."""

from __future__ import annotations

import redis
from rq import Queue


def redis_queue(url: str, *, name: str) -> Queue:
    return Queue(name, connection=redis.Redis.from_url(url))

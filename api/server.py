"""Run several API worker processes on one port, each with its own listening socket.

``uvicorn --workers N`` shares one socket, and whichever process wakes first accepts a
burst of new connections: with kept-alive clients one worker can end up with nearly
all the traffic while the other core idles. Here every worker binds the port with
SO_REUSEPORT, so the kernel spreads new connections over the workers by hash.
"""

from __future__ import annotations

import gc
import logging.config
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from types import FrameType
from typing import Any


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# Websocket messages are small JSON sent to many clients: compressing each one for each
# connection (permessage-deflate, which browsers ask for) cost more server time than the
# send itself and about 45 KiB of compressor state per connection (bench/README.md).
UVICORN_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False, "proxy_headers": True}


def tune_gc() -> None:
    """Fewer full garbage collections for a process that holds thousands of websockets.

    Each connection keeps a couple of hundred long-lived objects; with 2,000 of them a
    full collection takes about 300 ms, during which no event is sent. Objects alive at
    start-up are frozen out of collection, and a full collection runs a hundred times
    less often (the young generations still run as usual, so garbage is still freed).
    The configuration snapshot, loaded later, is frozen when it is put in place.
    """
    from oncall import service

    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1000)
    service.FREEZE_SNAPSHOTS = True  # and again after each new configuration snapshot


def log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's ``log_config``: our JSON or text lines, scrubbed (access log included)."""
    from core import logs
    from core.settings import get_settings

    settings = get_settings()
    return logs.logging_config(
        logs.resolve_format(settings.log_format, settings.environment), log_level
    )


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    config = uvicorn.Config(
        "api.main:app", log_level=log_level, log_config=log_config(log_level), **UVICORN_OPTIONS
    )
    server = uvicorn.Server(config)
    tune_gc()
    server.run(sockets=[_listen(host, port)])


def _metrics_port() -> None:
    """Serve the metrics port from this process (the supervisor, or the only worker)."""
    from core.db import make_engine, make_session_factory
    from core.settings import get_settings
    from dispatch.metrics import scrape_registry, serve_port

    settings = get_settings()
    if settings.metrics_port is None:
        return
    sessions = make_session_factory(make_engine(settings.database_url))
    registry = scrape_registry(
        lambda: sessions(), redis_url=settings.redis_url, queue_name=settings.queue_name
    )
    serve_port(settings.metrics_port, registry)


def run(host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Start ``workers`` processes and supervise them until SIGINT/SIGTERM."""
    from core import metrics
    from core.settings import get_settings

    logging.config.dictConfig(log_config(log_level))
    if workers <= 1:
        _metrics_port()
        _worker(host, port, log_level)
        return
    # The workers' metrics go to one directory, so any of them (and the metrics port
    # served here) reports all: the one configured, or one of our own for this run.
    settings = get_settings()
    own_dir = None
    if not settings.metrics_dir:
        own_dir = tempfile.mkdtemp(prefix="samenop-metrics-")
        os.environ["SAMENOP_METRICS_DIR"] = own_dir  # the spawned workers' settings
        get_settings.cache_clear()
    metrics.use_directory(get_settings().metrics_dir or own_dir or "")
    _metrics_port()
    try:
        _supervise(host, port, workers, log_level)
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


def _supervise(host: str, port: int, workers: int, log_level: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(host, port, log_level), daemon=False)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    codes = [p.exitcode for p in procs]
    if any(code not in (0, -signal.SIGTERM) for code in codes):
        sys.exit(1)

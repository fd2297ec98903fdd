"""Run several API worker processes on one port, each with its own listening socket.

``uvicorn --workers N`` shares one socket, and whichever process wakes first accepts a
burst of new connections: with kept-alive clients one worker can end up with nearly
all the traffic while the other core idles. Here every worker binds the port with
SO_REUSEPORT, so the kernel spreads new connections over the workers by hash.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import socket
import sys
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
    """
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1000)


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    config = uvicorn.Config("api.main:app", log_level=log_level, **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    tune_gc()
    server.run(sockets=[_listen(host, port)])


def run(host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Start ``workers`` processes and supervise them until SIGINT/SIGTERM."""
    if workers <= 1:
        _worker(host, port, log_level)
        return
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

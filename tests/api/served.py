"""The service as it runs in production: ``samenop serve`` (uvicorn) in a process of its
own, on a database of its own with the example configuration, stopped by its PID.

For tests that need a real server: one that must keep answering while another request
works, or that an outside client (schemathesis) talks to over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from core import migrate
from core.db import make_engine, make_session_factory
from oncall import service as oncall_service
from oncall.schemas import ConfigSet
from tests.api.live import free_port
from tests.conftest import API_KEY, ROOT, _make_database


@contextmanager
def served(backend: str, tmp: Path, config: ConfigSet | None, **settings: str) -> Iterator[str]:
    """The base URL of a fresh server; ``settings`` are SAMENOP_* variables (by name)."""
    url, handle = _make_database(backend, tmp)
    migrate.upgrade(url)
    if config is not None:
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            oncall_service.write_config(
                session=s, config=config, now=datetime(2026, 1, 1, tzinfo=UTC), source="tests"
            )
            s.commit()
        engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENOP_")}
    env.update(
        SAMENOP_DATABASE_URL=url,
        SAMENOP_ENVIRONMENT="test",
        SAMENOP_API_KEYS=API_KEY,
        SAMENOP_DELIVERY="inline",
        **{f"SAMENOP_{name.upper()}": value for name, value in settings.items()},
    )
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(tmp / 'server.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready in 60 s")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        if handle is not None:
            admin, name = handle  # type: ignore[misc]
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

"""`samenop serve --workers 2`: real processes sharing one port, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_share_the_port_and_stop_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SAMENOP_DATABASE_URL": f"sqlite:///{tmp_path / 'srv.db'}",
        "SAMENOP_ENVIRONMENT": "test",
        "SAMENOP_API_KEYS": "k",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "server exited while starting"
            assert time.monotonic() < deadline, "server not ready in 30 s"
            time.sleep(0.2)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        workers = [
            c
            for c in children
            if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        # Fresh connections each time: every one must be served, whichever worker takes it.
        codes = {httpx.get(f"http://127.0.0.1:{port}/healthz").status_code for _ in range(30)}
        assert codes == {200}
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0

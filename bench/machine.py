"""What the benchmarks ran on: printed at the top of every run (the machine is shared)."""

from __future__ import annotations

import math
import os
import platform
import sys
from datetime import datetime
from importlib import metadata

PACKAGES = ("sqlalchemy", "fastapi", "pydantic", "uvicorn", "httpx", "psycopg", "holidays")


def _meminfo() -> str:
    try:
        with open("/proc/meminfo") as fh:
            fields = dict(line.split(":", 1) for line in fh)
    except OSError:
        return "unknown"

    def gib(key: str) -> str:
        kib = int(fields.get(key, "0 kB").split()[0])
        return f"{kib / 1024 / 1024:.1f} GiB"

    return f"{gib('MemTotal')} total, {gib('MemAvailable')} available"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def machine_lines() -> list[str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"date     : {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"machine  : {platform.node()} — nproc {os.cpu_count()} ({_cpu_model()}), "
        f"usable cpus {len(os.sched_getaffinity(0))}",
        f"memory   : {_meminfo()}",
        f"load avg : {load}",
        f"python   : {sys.version.split()[0]} ({platform.python_implementation()}) "
        f"on {platform.system()} {platform.release()}",
        "packages : " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
    ]


def print_machine() -> None:
    for line in machine_lines():
        print(line)
    print()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def cpu_times() -> tuple[float, float]:
    """(busy, total) cpu-seconds of the whole machine since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            parts = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)  # idle + iowait
    total = sum(parts[:8])
    return (total - idle) / tick, total / tick


def busy_cores(seconds: float = 1.0) -> float:
    """How many cores the whole machine kept busy over the next ``seconds``."""
    import time

    b0, _ = cpu_times()
    time.sleep(seconds)
    b1, _ = cpu_times()
    return (b1 - b0) / seconds


def wait_quiet(max_wait: float = 30.0, threshold: float = 0.3) -> str:
    """Wait (bounded) until other work on this shared machine uses < ``threshold`` cores."""
    import time

    t0 = time.monotonic()
    busy = busy_cores()
    while busy >= threshold and time.monotonic() - t0 < max_wait:
        busy = busy_cores()
    waited = time.monotonic() - t0
    state = "quiet" if busy < threshold else "BUSY (others are using the cpus; figures are noisy)"
    return f"machine {state}: {busy:.2f} cores busy before the run (waited {waited:.0f} s)"

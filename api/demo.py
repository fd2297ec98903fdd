"""What `samenop demo` adds to the service: example incidents that agree with regions/,
seeded once (a second run does not pile them up), and a way to the dashboard on a
machine without a browser.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.models import Dispatch, Incident
from dispatch.schemas import IncidentCreate
from dispatch.service import intake
from dispatch.states import Stage
from oncall.snapshot import ConfigSnapshot

SOURCE = "demo"
# Each example by a stable key; its area is one regions/ configures, the basisteam the
# one that serves the municipality (tests/test_demo.py checks both against the YAML).
INCIDENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "hilversum",
        {
            "basisteam": "gooi-en-vechtstreek-zuid",
            "municipality": "GM0402",  # Hilversum
            "case_type": "HG",
            "persons": [
                {"role": "victim", "age": 34},
                {"role": "child", "age": 6},
                {"role": "suspect", "age": 38},
            ],
            "flags": ["children_present"],
        },
    ),
    (
        "velsen",
        {
            "basisteam": "ijmond",
            "municipality": "GM0453",  # Velsen
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 41}],
            "flags": ["huisverbod_considered"],
        },
    ),
    (
        "sittard-geleen",
        {
            "basisteam": "westelijke-mijnstreek",
            "municipality": "Sittard-Geleen",  # by name, as a control room may type it
            "case_type": "KM",
            "persons": [{"role": "child", "age": 9}, {"role": "suspect", "age": 35}],
            "flags": ["children_present", "injuries"],
        },
    ),
    (
        # After office hours: the police call VT's 24/7 line themselves (police_call).
        "boxtel",
        {
            "basisteam": "meierij",
            "municipality": "GM0757",  # Boxtel
            "case_type": "HG",
            "persons": [{"role": "victim", "age": 29}, {"role": "suspect", "age": 31}],
            "flags": [],
        },
    ),
)


def external_id(key: str, now: datetime) -> str:
    return f"demo.{key}.{now:%Y%m%d%H%M%S}"


def _key(external: str) -> str:
    parts = external.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == SOURCE else ""


def open_keys(session: Session) -> set[str]:
    """The examples that are still open from an earlier run."""
    rows = session.scalars(
        select(Incident.external_id)
        .join(Dispatch, Dispatch.incident_id == Incident.id)
        .where(Incident.source == SOURCE, Dispatch.stage != Stage.CLOSED)
    )
    return {_key(e) for e in rows}


def seed(
    session: Session, snapshot: ConfigSnapshot, now: datetime, national: tuple[str, str]
) -> list[str]:
    """Report the examples at ``now``, each unless one like it is still open (so running
    the demo again adds none; closing one brings it back next time). The caller commits
    (and then arms the pages intake planned). Returns the keys reported."""
    present = open_keys(session)
    made: list[str] = []
    for i, (key, extra) in enumerate(INCIDENTS, start=1):
        if key in present:
            continue
        data = IncidentCreate.model_validate(
            {
                "source": SOURCE,
                "external_id": external_id(key, now),
                "reported_at": now.isoformat(),
                "police_unit": f"DEMO-{i}",
                "police_callback": "06 12345678",
                **extra,
            }
        )
        intake(session=session, data=data, snapshot=snapshot, now=now, national=national)
        made.append(key)
    return made


# --- the way to the dashboard --------------------------------------------------------


def has_browser() -> bool:
    """Whether this machine has a browser that opens in a window. A text-mode browser
    (``www-browser``, lynx, w3m, what Python picks without a display) would take over the
    terminal the demo logs to, so it counts as none."""
    try:
        found = webbrowser.get()
    except webbrowser.Error:
        return False
    return type(found) is not webbrowser.GenericBrowser


def sign_in_hint(url: str, *, open_pages: bool) -> str:
    if open_pages:
        return "sign in: not needed, the demo's pages open without signing in on this machine"
    return (
        f"sign in: {url}login with an account (samenop accounts create <name> "
        "--role control_room), or send the admin API key as X-API-Key"
    )


def no_browser_text(url: str, key: str, *, open_pages: bool) -> str:
    port = urlsplit(url).port or 80
    return "\n".join(
        (
            "No browser found on this machine: open the dashboard yourself.",
            f"  dashboard: {url}",
            f"  {sign_in_hint(url, open_pages=open_pages)}",
            f"  admin API key: {key}",
            f"  from another machine: ssh -L {port}:127.0.0.1:{port} <this machine>, then "
            f"http://127.0.0.1:{port}/ there",
        )
    )


def open_dashboard(
    url: str,
    key: str,
    *,
    open_pages: bool,
    echo: Callable[[str], None],
    browser: Callable[[str], bool] = webbrowser.open,
    available: Callable[[], bool] = has_browser,
) -> bool:
    """Open ``url`` in the browser, or print where the dashboard is and how to sign in
    when there is none (or it does not start): the demo never fails silently."""
    if available():
        try:
            if browser(url):
                return True
        except webbrowser.Error:
            pass
    echo(no_browser_text(url, key, open_pages=open_pages))
    return False

"""Other providers' faces of the local fake, shown on the Twilio face's phone page.

In the demo both faces run in one process; a person playing the worker must be able
to answer a page whichever provider carried it, on one page. A ``Face`` is what that
page needs of another face: its state (the same JSON shape as the Twilio face's
``/_fake/state``) and its control API, mounted under ``/_faces/{name}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp


@dataclass(frozen=True)
class Face:
    name: str
    snapshot: Callable[[], dict[str, Any]]
    control: ASGIApp  # serves /_fake/... (and /phones) for this face

    @property
    def prefix(self) -> str:
        """Where the phone page reaches this face's control API."""
        return f"/_faces/{self.name}"

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "prefix": self.prefix, **self.snapshot()}

"""What a committed transition asks to be armed: pages to send, deadlines, calls to end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# A call to end: (the provider that carries it, or None when unknown, its id there).
Hangup = tuple[str | None, str]


@dataclass
class Wake:
    """What to arm after commit: pages to send (at ``due_at``), deadlines, calls to end."""

    due: list[tuple[str, datetime]] = field(default_factory=list)
    deadlines: list[tuple[str, datetime]] = field(default_factory=list)
    hangups: list[Hangup] = field(default_factory=list)

    def extend(self, other: Wake) -> Wake:
        self.due.extend(other.due)
        self.deadlines.extend(other.deadlines)
        self.hangups.extend(other.hangups)
        return self

    def __bool__(self) -> bool:
        return bool(self.due or self.deadlines or self.hangups)

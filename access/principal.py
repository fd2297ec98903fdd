"""The caller of a request, resolved once per request, and what its role may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    FEED = "feed"  # a machine: creates incidents for its sources, reads what it created
    OPERATOR = "operator"  # control room: incidents of its regions or basisteams
    PLANNER = "planner"  # people, rosters, overrides and rules of its regions
    ADMIN = "admin"  # everything, accounts and keys
    WORKER = "worker"  # the signed link to one assignment (or an account for own shifts)


STAFF = (Role.OPERATOR, Role.PLANNER, Role.ADMIN)


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    ``regions``/``basisteams`` bound what an operator, planner or feed may see; ``None``
    for both means every region (an admin, or a key or account given no bound).
    ``sources`` bounds the police sources a feed key may create incidents for (empty:
    any source).
    """

    kind: str  # account | key | worker | demo
    name: str  # "jan.jansen", "meldkamer-feed", "assignment:12"
    role: Role
    regions: frozenset[str] | None = None
    basisteams: frozenset[str] = field(default_factory=frozenset)
    sources: frozenset[str] = field(default_factory=frozenset)
    account_id: int | None = None
    key_id: int | None = None
    session_id: str | None = None  # the server-side web session (cookie sign-in)
    assignment_id: int | None = None  # a worker's link

    @property
    def actor(self) -> str:
        """How this caller is written in events and the audit log."""
        return f"{self.kind}:{self.name}"

    @property
    def unbounded(self) -> bool:
        return self.role is Role.ADMIN or (self.regions is None and not self.basisteams)

    def sees(self, region_id: str | None, basisteam_id: str | None) -> bool:
        """May this caller see an incident of this region / basisteam?"""
        if self.unbounded:
            return True
        if region_id is not None and self.regions and region_id in self.regions:
            return True
        return basisteam_id is not None and basisteam_id in self.basisteams

    def plans(self, region_id: str) -> bool:
        """May this caller change the configuration of this region?"""
        if self.role is Role.ADMIN:
            return True
        if self.role is not Role.PLANNER:
            return False
        return self.regions is None or region_id in self.regions

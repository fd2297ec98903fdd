"""The facts about an incident that scope rules look at: no names, no addresses."""

from __future__ import annotations

from dataclasses import dataclass, field

from oncall.schemas import CaseType, Flag, PersonRole


@dataclass(frozen=True)
class PersonFacts:
    role: PersonRole
    age: int | None = None


@dataclass(frozen=True)
class IncidentFacts:
    case_type: CaseType
    basisteam: str | None = None
    municipality: str | None = None  # CBS code, e.g. GM0402
    persons: tuple[PersonFacts, ...] = ()
    flags: frozenset[Flag] = field(default_factory=frozenset)

"""What a caller's regions let it see and touch, applied to the service's objects.

Incidents are private: one outside the caller's regions answers 404, as if it did not
exist. Configuration objects (teams, overrides, regions) are not secret among staff:
touching another region's answers 403.
"""

from __future__ import annotations

from fastapi import HTTPException, status

from access.principal import Principal, Role
from dispatch.models import Dispatch
from dispatch.schemas import IncidentCreate
from dispatch.service import resolve_area
from oncall.snapshot import ConfigSnapshot


def area(snapshot: ConfigSnapshot, data: IncidentCreate) -> tuple[set[str], set[str]]:
    """The regions and basisteams an incident from the feed falls in."""
    basisteam, municipality = resolve_area(snapshot, data.basisteam, data.municipality)
    basisteams: set[str] = set()
    if basisteam in snapshot.basisteams:
        basisteams.add(basisteam)
    elif municipality is not None:
        basisteams |= set(snapshot.municipality_basisteams.get(municipality, frozenset()))
    regions = {snapshot.basisteams[b].region for b in basisteams}
    return regions, basisteams


def check_intake(principal: Principal, snapshot: ConfigSnapshot, data: IncidentCreate) -> None:
    """A feed creates incidents only for its own sources and area (403 naming the field)."""
    if principal.sources and data.source not in principal.sources:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"source: '{data.source}' is not one of this key's sources",
        )
    if principal.unbounded:
        return
    regions, basisteams = area(snapshot, data)
    if not any(principal.sees(r, b) for b in basisteams for r in regions) and not any(
        principal.sees(r, None) for r in regions
    ):
        field = "basisteam" if data.basisteam else "municipality"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"{field}: outside the area of this key"
        )


def sees_dispatch(principal: Principal, dispatch: Dispatch) -> bool:
    if principal.role is Role.FEED:
        return dispatch.incident.created_by == principal.actor and (
            principal.unbounded
            or principal.sees(dispatch.region_id, dispatch.incident.basisteam_id)
        )
    if principal.role not in (Role.OPERATOR, Role.ADMIN):
        return False
    return principal.sees(dispatch.region_id, dispatch.incident.basisteam_id)


def visible_dispatch(principal: Principal, dispatch: Dispatch | None, wanted: str) -> Dispatch:
    if dispatch is None or not sees_dispatch(principal, dispatch):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident or dispatch '{wanted}'")
    return dispatch


def visible_regions(principal: Principal, snapshot: ConfigSnapshot) -> set[str] | None:
    """The regions whose rosters a caller may see (None: all)."""
    if principal.unbounded:
        return None
    regions = set(principal.regions or ())
    regions |= {
        snapshot.basisteams[b].region for b in principal.basisteams if b in snapshot.basisteams
    }
    return regions


def team_regions(snapshot: ConfigSnapshot, team_id: str) -> set[str]:
    """The region a team belongs to (none for national partner teams)."""
    team = snapshot.teams.get(team_id)
    return {team.region} if team is not None and team.region else set()


def check_team(principal: Principal, snapshot: ConfigSnapshot, team_id: str) -> None:
    """A planner changes only its own regions' teams (403 naming the team)."""
    if principal.role is Role.ADMIN or principal.regions is None:
        return
    regions = team_regions(snapshot, team_id)
    if not regions or not all(principal.plans(r) for r in regions):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"team: '{team_id}' is outside the regions of {principal.actor}",
        )

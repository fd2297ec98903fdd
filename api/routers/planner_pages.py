"""The planner's pages (Dutch): the region overview and a team's calendar."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

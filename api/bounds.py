"""Bounds on path and query parameters, shared by the routers.

Each one is what the OpenAPI document promises and what the database can hold: an id
within PostgreSQL's ``integer``, text within its column and without NUL (the
middleware in ``api.hardening`` refuses NUL anywhere). A value outside answers 422
naming the parameter, before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

from oncall.schemas import SLUG

INT32_MAX = 2**31 - 1
# Dispatch and incident ids (UUIDs), references (SO-7KQ2MZ); the columns hold 64.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# Signed links (base64url); the longest is 43 characters.
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

DispatchId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="Dispatch id, incident id or reference (e.g. SO-7KQ2MZ)",
    ),
]
Position = Annotated[
    int, Path(ge=1, le=INT32_MAX, description="Place in the dispatch's queue, from 1")
]
LinkToken = Annotated[
    str, Path(min_length=1, max_length=64, pattern=TOKEN_PATTERN, description="Signed link")
]
# Page ids in provider callbacks: UUIDs, or ``reply-<provider message id>``.
PageId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
SlugPath = Annotated[str, Path(pattern=SLUG, description="Id: a-z, 0-9, '-', '_', '.'")]

Slug = Annotated[str, StringConstraints(pattern=SLUG)]
TeamQuery = Annotated[
    list[Slug] | None,
    Query(max_length=100, description="Team id(s); all teams when omitted"),
]
RegionQuery = Annotated[str | None, Query(pattern=SLUG, description="Only teams of this region")]
RegionId = Annotated[str | None, Query(pattern=SLUG, description="Region id")]
# An instant as ISO 8601 text, years 2000..2100: parsed by the route (Amsterdam time
# without an offset).
INSTANT_PATTERN = (
    r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
Instant = Annotated[str, StringConstraints(max_length=40, pattern=INSTANT_PATTERN)]

# What a pattern stands for, in the 422 that names the parameter.
PATTERN_RULES = {
    INSTANT_PATTERN: "an ISO date-time such as 2026-03-29T17:00 (years 2000..2100)",
    SLUG: "an id (a-z, 0-9, '-', '_', '.'; at most 64 characters)",
    ID_PATTERN: "an id or reference (letters, digits, '-', '_', '.', ':'; at most 64)",
    TOKEN_PATTERN: "a link token",
}

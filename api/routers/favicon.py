"""The site icon: every page links ``/static/favicon.svg``; browsers and tools that ask
for ``/favicon.ico`` on their own get the same icon instead of a 404 in every log."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api import auth

ICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"

router = APIRouter(
    include_in_schema=False,
    dependencies=[auth.public("the site icon, which browsers ask for before signing in")],
)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(
        ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )

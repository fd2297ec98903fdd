"""Accounts and sign-in for tests: made through the access service, signed in through
the real /login form."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import httpx
from sqlalchemy.orm import Session

from access import service as access
from access.principal import Role

PASSWORD = "correct horse battery staple"


def make_account(
    sessions: Callable[[], Session],
    username: str,
    role: Role = Role.OPERATOR,
    *,
    regions: Iterable[str] | None = None,
    basisteams: Iterable[str] | None = None,
    password: str = PASSWORD,
    person_id: str | None = None,
) -> None:
    with sessions() as s:
        access.create_account(
            s,
            username=username,
            role=role,
            password=password,
            now=datetime.now(UTC),
            by="tests",
            regions=regions,
            basisteams=basisteams,
            person_id=person_id,
        )
        s.commit()


def make_key(
    sessions: Callable[[], Session],
    name: str,
    role: Role,
    *,
    regions: Iterable[str] | None = None,
    basisteams: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
) -> str:
    with sessions() as s:
        secret, _row = access.create_key(
            s,
            name=name,
            role=role,
            now=datetime.now(UTC),
            by="tests",
            regions=regions,
            basisteams=basisteams,
            sources=sources,
        )
        s.commit()
    return secret


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Signs the client in; returns the CSRF token the pages carry."""
    response = client.post(
        "/login",
        data={"username": username, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200, page.text
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]

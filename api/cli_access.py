"""``samenop keys ...`` and ``samenop accounts ...``: API keys and accounts from a shell
on the server (the first admin account is made here)."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy import select

from access import service as access
from access.models import Account, ApiKey
from access.principal import Role
from core import migrate
from core.clock import SystemClock
from core.db import make_engine, make_session_factory, session_scope
from core.settings import get_settings
from dispatch import service as dispatch_service
from notifications.mail import check_address

keys_app = typer.Typer(help="API keys: named, scoped to a role and regions.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts for the pages and the API.", no_args_is_help=True)

RoleOpt = Annotated[Role, typer.Option("--role", help="feed, operator, planner or admin")]
RegionsOpt = Annotated[
    list[str] | None, typer.Option("--region", help="A region id (repeat); none: every region")
]
BasisteamsOpt = Annotated[list[str] | None, typer.Option("--basisteam", help="A basisteam id")]
EmailOpt = Annotated[
    str | None, typer.Option("--email", help="Where the planners' daily digest goes")
]
ACTOR = "cli:" + (os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown")


def _factory():  # type: ignore[no-untyped-def]
    settings = get_settings()
    migrate.upgrade(settings.database_url)
    return make_session_factory(make_engine(settings.database_url))


def _address(email: str | None) -> str | None:
    if email is None:
        return None
    try:
        return check_address(email)
    except ValueError as exc:
        typer.echo(f"refused: email: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def _fail(exc: access.AccessError) -> typer.Exit:
    typer.echo(f"refused: {exc}", err=True)
    return typer.Exit(code=2)


def _audit(session, action: str, kind: str, name: str) -> None:  # type: ignore[no-untyped-def]
    dispatch_service.audit(
        session=session,
        now=SystemClock().now(),
        actor=ACTOR,
        action=action,
        object_type=kind,
        object_id=name,
    )


@keys_app.command("create")
def keys_create(
    name: str,
    role: RoleOpt,
    region: RegionsOpt = None,
    basisteam: BasisteamsOpt = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="A police source a feed may use")
    ] = None,
) -> None:
    """Make a key; its secret is printed once (store it now)."""
    try:
        with session_scope(_factory()) as session:
            secret, row = access.create_key(
                session,
                name=name,
                role=role,
                now=SystemClock().now(),
                by=ACTOR,
                regions=region or None,
                basisteams=basisteam,
                sources=source,
            )
            _audit(session, "key.create", "key", name)
    except access.AccessError as exc:
        raise _fail(exc) from exc
    typer.echo(f"key '{row.name}' ({row.role}) made; its secret, shown once:", err=True)
    typer.echo(secret)


@keys_app.command("list")
def keys_list(revoked: bool = False) -> None:
    """Keys with their scope and use (never the secret)."""
    with session_scope(_factory()) as session:
        query = select(ApiKey).order_by(ApiKey.name, ApiKey.id)
        if not revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        for k in session.scalars(query):
            scope = "all regions" if k.regions is None else ",".join(k.regions + k.basisteams)
            state = (
                "revoked"
                if k.revoked_at
                else f"until {k.expires_at:%Y-%m-%d %H:%M}"
                if k.expires_at
                else "live"
            )
            typer.echo(f"{k.name}\t{k.prefix}…\t{k.role}\t{scope}\t{state}")


@keys_app.command("rotate")
def keys_rotate(
    name: str,
    overlap_hours: Annotated[
        float | None, typer.Option(help="How long the old secret keeps working")
    ] = None,
) -> None:
    """A new secret for the key; the old one works for the overlap more."""
    hours = get_settings().key_rotation_overlap_hours if overlap_hours is None else overlap_hours
    try:
        with session_scope(_factory()) as session:
            secret, _row = access.rotate_key(
                session,
                name=name,
                overlap=timedelta(hours=hours),
                now=SystemClock().now(),
                by=ACTOR,
            )
            _audit(session, "key.rotate", "key", name)
    except access.AccessError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"key '{name}' rotated; the old secret works {hours:g} h more. New secret:", err=True
    )
    typer.echo(secret)


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke every secret of the key at once."""
    try:
        with session_scope(_factory()) as session:
            count = access.revoke_key(session, name=name, now=SystemClock().now())
            _audit(session, "key.revoke", "key", name)
    except access.AccessError as exc:
        raise _fail(exc) from exc
    typer.echo(f"revoked {count} secret(s) of '{name}'")


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        typer.echo("the passwords differ", err=True)
        raise typer.Exit(code=2)
    return first


@accounts_app.command("create")
def accounts_create(
    username: str,
    role: RoleOpt,
    region: RegionsOpt = None,
    basisteam: BasisteamsOpt = None,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    person: Annotated[
        str | None, typer.Option(help="A worker account: the person id on the rosters")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    oidc_subject: Annotated[
        str | None, typer.Option(help="Signs in through the identity provider as this subject")
    ] = None,
    email: EmailOpt = None,
) -> None:
    """Make an account (the first admin is made this way)."""
    address = _address(email)
    password = None if oidc_subject and not password_stdin else _password(password_stdin)
    try:
        with session_scope(_factory()) as session:
            account = access.create_account(
                session,
                username=username,
                role=role,
                password=password,
                now=SystemClock().now(),
                by=ACTOR,
                regions=region or None,
                basisteams=basisteam,
                display_name=name,
                person_id=person,
                oidc_subject=oidc_subject,
            )
            account.email = address
            _audit(session, "account.create", "account", username)
    except access.AccessError as exc:
        raise _fail(exc) from exc
    typer.echo(f"account '{username}' ({role.value}) made")


@accounts_app.command("email")
def accounts_email(
    username: str,
    email: Annotated[str, typer.Argument(help='The address; "" removes it')],
) -> None:
    """Set where the account's daily digest of coverage gaps goes (planners, admins)."""
    address = _address(email) if email else None
    with session_scope(_factory()) as session:
        account = session.scalar(select(Account).where(Account.username == username))
        if account is None:
            typer.echo(f"no account '{username}'", err=True)
            raise typer.Exit(code=2)
        account.email = address
        _audit(session, "account.email", "account", username)
    typer.echo(f"e-mail of '{username}' {'set' if address else 'removed'}")


@accounts_app.command("list")
def accounts_list() -> None:
    with session_scope(_factory()) as session:
        for a in session.scalars(select(Account).order_by(Account.username)):
            scope = "all regions" if a.regions is None else ",".join(a.regions + a.basisteams)
            typer.echo(f"{a.username}\t{a.role}\t{scope}\t{'active' if a.active else 'inactive'}")


@accounts_app.command("end-sessions")
def accounts_end_sessions(username: str) -> None:
    """Sign the account out everywhere."""
    with session_scope(_factory()) as session:
        account = session.scalar(select(Account).where(Account.username == username))
        if account is None:
            typer.echo(f"no account '{username}'", err=True)
            raise typer.Exit(code=2)
        count = access.end_sessions_of(session, account.id, now=SystemClock().now(), by=ACTOR)
        _audit(session, "session.end_all", "account", username)
    typer.echo(f"ended {count} session(s) of '{username}'")


@accounts_app.command("password")
def accounts_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set a new password (and end the account's sessions)."""
    password = _password(password_stdin)
    try:
        with session_scope(_factory()) as session:
            account = session.scalar(select(Account).where(Account.username == username))
            if account is None:
                typer.echo(f"no account '{username}'", err=True)
                raise typer.Exit(code=2)
            access.set_password(session, account, password)
            access.end_sessions_of(session, account.id, now=SystemClock().now(), by=ACTOR)
            _audit(session, "account.password", "account", username)
    except access.AccessError as exc:
        raise _fail(exc) from exc
    typer.echo(f"password of '{username}' set")

"""Command line: migrate, load and validate configuration, ask who is on call, dry-run pairing,
serve the API and run the demo."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
import yaml
from pydantic import ValidationError

from api import demo as demo_seeding
from api.cli_access import accounts_app, keys_app
from core import migrate
from core.clock import SystemClock
from core.db import make_engine, make_session_factory, session_scope
from core.settings import get_settings
from core.texts import CLI_GAP_NL, CLI_GAPS_TOTAL_NL, GAP_NL
from core.timeutil import AMS, ensure_utc
from dispatch.pairing import Plan, pair
from dispatch.schemas import IncidentCreate
from dispatch.service import facts_from, resolve_area
from oncall import service as oncall_service
from oncall.gaps import find_gaps
from oncall.loader import ConfigError, load_paths
from oncall.schemas import parse_local_datetime
from oncall.scope import date_nl
from oncall.snapshot import ConfigSnapshot

app = typer.Typer(help="Samen op in acuut: dispatch and on-call.", no_args_is_help=True)
config_app = typer.Typer(help="Regions, teams, rosters and rules.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(accounts_app, name="accounts")

PathsArg = Annotated[list[Path] | None, typer.Argument(help="YAML files or directories")]
ConfirmOpt = Annotated[
    bool,
    typer.Option(
        "--confirm",
        help="Go ahead although it removes a region, a team with open incidents or many people",
    ),
]
ConfigOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Use these YAML files instead of the database"),
]
AtOpt = Annotated[
    str | None, typer.Option("--at", help="ISO instant; without offset Amsterdam time")
]


def _instant(at: str | None) -> datetime:
    if at is None:
        return SystemClock().now()
    try:
        return ensure_utc(parse_local_datetime(at))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from exc


def _load_or_exit(paths: list[Path]) -> ConfigSnapshot:
    try:
        return ConfigSnapshot(load_paths(paths))
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from exc


def _snapshot(config: list[Path] | None) -> ConfigSnapshot:
    if config:
        return _load_or_exit(config)
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    with session_scope(factory) as session:
        return ConfigSnapshot(
            oncall_service.read_config(session=session), oncall_service.get_version(session=session)
        )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or upgrade the schema of SAMENOP_DATABASE_URL."""
    settings = get_settings()
    _ensure_sqlite_dir(settings.database_url)
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"schema at {revision}")


@config_app.command("validate")
def config_validate(paths: PathsArg = None) -> None:
    """Check YAML configuration; every problem is listed with file, path and rule."""
    snapshot = _load_or_exit(paths or [Path(get_settings().regions_dir)])
    counts = {k: len(getattr(snapshot.config, k)) for k in snapshot.config.SECTIONS}
    typer.echo("valid: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@config_app.command("load")
def config_load(paths: PathsArg = None, confirm: ConfirmOpt = False) -> None:
    """Validate and store configuration in the database (replaces it, in one transaction).

    Kept as a new version by cli:<user>. Removing a region, a team with open incidents or
    more than the set share of the people needs --confirm."""
    from api import config_writes
    from oncall import changes

    settings = get_settings()
    chosen = paths or [Path(settings.regions_dir)]
    snapshot = _load_or_exit(chosen)
    _ensure_sqlite_dir(settings.database_url)
    migrate.upgrade(settings.database_url)
    factory = make_session_factory(make_engine(settings.database_url))
    try:
        with session_scope(factory) as session:
            version = config_writes.load(
                session,
                snapshot.config,
                now=SystemClock().now(),
                source="cli: " + ", ".join(str(p) for p in chosen),
                confirm=confirm,
                people_share_limit=settings.config_remove_people_share,
            )
    except changes.NeedsConfirmation as exc:
        typer.echo(f"not loaded: {exc}; run again with --confirm to go ahead", err=True)
        typer.echo(json.dumps(exc.removal.as_dict(), indent=2), err=True)
        raise typer.Exit(code=3) from exc
    typer.echo(f"loaded configuration version {version}")


@config_app.command("export")
def config_export(config: ConfigOpt = None) -> None:
    """Print the configuration as JSON."""
    typer.echo(_snapshot(config).config.model_dump_json(indent=2, exclude_none=True))


@app.command("oncall")
def oncall_cmd(
    team: Annotated[list[str] | None, typer.Option("--team", "-t", help="Team id(s)")] = None,
    at: AtOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Who is on call for a team at an instant (default: now)."""
    snapshot = _snapshot(config)
    instant = _instant(at)
    teams = team or [t.id for t in snapshot.config.teams]
    for team_id in teams:
        if team_id not in snapshot.teams:
            typer.echo(f"unknown team '{team_id}'", err=True)
            raise typer.Exit(code=2)
        oc = snapshot.on_call(team_id, instant)
        typer.echo(
            f"{snapshot.teams[team_id].name} ({team_id}) at "
            f"{instant.astimezone(AMS):%Y-%m-%d %H:%M %Z}:"
        )
        if not oc.entries:
            typer.echo("  nobody on call")
        for e in oc.entries:
            name = snapshot.people[e.person].name if e.person in snapshot.people else e.person
            until = e.until.astimezone(AMS).strftime("%Y-%m-%d %H:%M") if e.until else "open"
            typer.echo(f"  {e.layer.value:8} {name} ({e.person}) via {e.source} until {until}")
        for pid, why in oc.removed:
            typer.echo(f"  removed  {pid}: {why.text}")


@app.command("gaps")
def gaps_cmd(
    team: Annotated[list[str] | None, typer.Option("--team", "-t", help="Team id(s)")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Default now")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=92)] = 7,
    config: ConfigOpt = None,
) -> None:
    """Coverage gaps: when a team should answer but nobody reachable is on call."""
    snapshot = _snapshot(config)
    lo = _instant(start)
    hi = lo + timedelta(days=days)
    found = 0
    for team_id in team or [t.id for t in snapshot.config.teams]:
        if team_id not in snapshot.teams:
            typer.echo(f"unknown team '{team_id}'", err=True)
            raise typer.Exit(code=2)
        for gap in find_gaps(snapshot, team_id, lo, hi):
            found += 1
            typer.echo(
                CLI_GAP_NL.format(
                    team=snapshot.teams[team_id].name,
                    team_id=team_id,
                    start=_when_nl(gap.start),
                    end=_when_nl(gap.end),
                    minutes=gap.minutes,
                    staffing=GAP_NL.format(needed=gap.needed, available=gap.available),
                    rules=", ".join(gap.rules),
                )
            )
    typer.echo(CLI_GAPS_TOTAL_NL.format(count=found, days=days, start=_when_nl(lo)))


def _when_nl(at: datetime) -> str:
    """'ma 21-12-2026 09:00': Dutch day name and date, Amsterdam time."""
    local = at.astimezone(AMS)
    return f"{date_nl(local.date())} {local:%H:%M}"


def print_plan(plan: Plan) -> None:
    typer.echo(
        f"status: {plan.status}  region: {plan.region or '-'}  at: "
        f"{plan.at.astimezone(AMS):%Y-%m-%d %H:%M %Z}"
    )
    for r in plan.reasons:
        typer.echo(f"  · {r.text} [{r.code}]")
    typer.echo("rules:")
    for ev in plan.rules:
        typer.echo(f"  {'✔' if ev.matched else '✘'} {ev.rule}")
        for r in ev.reasons:
            typer.echo(f"      {r.text} [{r.code}]")
    for label, resp in [("response", plan.response)] + [
        ("alternative", a) for a in plan.alternatives
    ]:
        if resp is None:
            continue
        typer.echo(
            f"{label}: {resp.team_name} — {resp.mode}, {resp.staff} person(s), rule {resp.rule}"
        )
        if resp.consult:
            typer.echo(
                f"  consult first: {resp.consult.team_name}: "
                + (", ".join(c.name for c in resp.consult.candidates) or "nobody on call")
            )
        for c in resp.candidates:
            typer.echo(f"  {c.order}. {c.name} ({c.layer}) " + "; ".join(r.text for r in c.reasons))
        for s in resp.skipped:
            typer.echo(f"  skipped {s.person}: " + "; ".join(r.text for r in s.reasons))
        if resp.team_line:
            typer.echo(f"  team line: {resp.team_line}")
    if plan.police_call:
        call = plan.police_call
        typer.echo(f"police call the line themselves: {call.number} ({call.team}); nobody paged")
    if plan.mandate:
        typer.echo(f"mandate: {', '.join(plan.mandate.may) or '-'} {plan.mandate.note or ''}")
    for p in plan.partners:
        typer.echo(f"partner: {p.name} ({p.kind}) {p.phone or ''}")
    typer.echo(f"if nobody comes: {plan.expectation.text}")


@app.command("pair")
def pair_cmd(
    incident_file: Annotated[Path, typer.Argument(help="Incident as JSON or YAML")],
    at: AtOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Dry-run the pairing of an incident at an instant (default: its reported_at)."""
    try:
        raw = yaml.safe_load(incident_file.read_text())
        data = IncidentCreate.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        typer.echo(f"{incident_file}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except ValidationError as exc:
        for e in exc.errors():
            typer.echo(
                f"{incident_file}: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}", err=True
            )
        raise typer.Exit(code=2) from exc
    snapshot = _snapshot(config)
    instant = _instant(at) if at else data.reported_at
    settings = get_settings()
    basisteam, municipality = resolve_area(snapshot, data.basisteam, data.municipality)
    plan = pair(
        facts_from(data, basisteam, municipality),
        snapshot,
        instant,
        national=(settings.national_fallback_name, settings.national_fallback_phone),
        time_read=None if at else data.time_read,
    )
    if as_json:
        typer.echo(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_plan(plan)


evaluation_app = typer.Typer(
    help="The evaluation's facts, derived from events.", no_args_is_help=True
)
app.add_typer(evaluation_app, name="evaluation")


@evaluation_app.command("rebuild")
def evaluation_rebuild(
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Only compare the rebuild with the live facts; change nothing"
        ),
    ] = False,
) -> None:
    """Fold the whole event log into the evaluation's facts again (one transaction).
    With --check, say whether that gives the facts already kept (exit 1 if not)."""
    from dispatch import evaluation_store

    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    with factory() as session:
        before = evaluation_store.all_rows(session)
        count = evaluation_store.rebuild(session)
        after = evaluation_store.all_rows(session)
        if check:
            session.rollback()
        else:
            session.commit()
    engine.dispose()
    differ = len({r["dispatch_id"] for r in before} ^ {r["dispatch_id"] for r in after})
    differ += sum(1 for a, b in zip(before, after, strict=False) if a != b)
    if check:
        typer.echo(f"{count} dispatch(es) folded; {differ} fact row(s) differ from the live ones")
        raise typer.Exit(code=1 if differ else 0)
    typer.echo(f"rebuilt the evaluation facts of {count} dispatch(es); {differ} row(s) changed")


@app.command("purge")
def purge_cmd(
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Book the hourly RQ job instead of running now")
    ] = False,
) -> None:
    """Remove the personal data of incidents closed more than SAMENOP_RETENTION_DAYS ago
    (the anonymous facts stay for the evaluation)."""
    from dispatch import jobs

    settings = get_settings()
    if schedule:
        if not settings.redis_url:
            typer.echo("--schedule needs SAMENOP_REDIS_URL", err=True)
            raise typer.Exit(code=2)
        typer.echo(f"booked {jobs.schedule_purge(settings.redis_url, settings.queue_name)}")
        return
    typer.echo(
        f"anonymised {jobs.purge_expired()} incident(s) closed more than "
        f"{settings.retention_days} days ago"
    )


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
    log_level: str = "info",
) -> None:
    """Run the API (migrations first); several workers share the port evenly."""
    from api import server
    from dispatch import jobs

    settings = get_settings()
    _ensure_sqlite_dir(settings.database_url)
    migrate.upgrade(settings.database_url)
    if settings.redis_url:
        try:  # the retention job; an RQ worker (--with-scheduler) runs it
            jobs.schedule_purge(
                settings.redis_url,
                settings.queue_name,
                at=SystemClock().now() + jobs.PURGE_EVERY,
            )
        except redis.RedisError as exc:
            typer.echo(f"warning: retention job not booked, Redis unreachable: {exc}", err=True)
    server.run(host, port, workers, log_level)


@app.command("worker")
def worker_cmd(
    burst: Annotated[bool, typer.Option(help="Stop when the queue is empty")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name (unique per host)")] = None,
) -> None:
    """RQ worker with the scheduler, plus the sweeper that re-drives lost work.

    Delivers pages, fires deadlines and runs the retention job. Jobs run in the worker
    process itself (no fork per job); start several workers for more throughput.
    """
    from dispatch import jobs

    settings = get_settings()
    if not settings.redis_url:
        typer.echo(
            "the worker needs SAMENOP_REDIS_URL (embedded mode delivers in-process)", err=True
        )
        raise typer.Exit(2)
    from core import logs

    logs.configure(logs.resolve_format(settings.log_format, settings.environment))
    migrate.upgrade(settings.database_url)
    jobs.run_worker(settings, burst=burst, name=name)


@app.command("fake-twilio")
def fake_twilio_cmd(
    host: str = "127.0.0.1",
    port: int = 8010,
    sms_url: Annotated[
        str | None,
        typer.Option(help="Where replies go (default: <public base>/webhooks/twilio/sms)"),
    ] = None,
    behaviour: Annotated[
        str, typer.Option(help="How phones answer: manual, accept, decline, no_answer, voicemail")
    ] = "manual",
) -> None:
    """The local Twilio-compatible fake (REST subset, signed callbacks, a phone page)."""
    from notifications.fake.server import main

    settings = get_settings()
    main(
        [
            f"--host={host}",
            f"--port={port}",
            f"--account-sid={settings.twilio_account_sid}",
            f"--auth-token={settings.twilio_auth_token}",
            f"--from-number={settings.twilio_from}",
            f"--sms-url={sms_url or settings.public_base_url + '/webhooks/twilio/sms'}",
            f"--behaviour={behaviour}",
        ]
    )


@app.command("fake-vonage")
def fake_vonage_cmd(
    host: str = "127.0.0.1",
    port: int = 8011,
    sms_url: Annotated[
        str | None,
        typer.Option(help="Where replies go (default: <public base>/webhooks/vonage/sms/inbound)"),
    ] = None,
    behaviour: Annotated[
        str, typer.Option(help="How phones answer: manual, accept, decline, no_answer, voicemail")
    ] = "manual",
) -> None:
    """The local Vonage-compatible fake over TLS (REST subset, signed webhooks, a phone page).

    Prints the SAMENOP_VONAGE_* settings a service needs to use it, one NAME=value line
    each (hosts, the CA file to trust, the application's key file), then "# ready".
    """
    from notifications.fake.vonage.server import main

    settings = get_settings()
    argv = [
        f"--host={host}",
        f"--port={port}",
        f"--application-id={settings.vonage_application_id}",
        f"--api-key={settings.vonage_api_key}",
        f"--api-secret={settings.vonage_api_secret}",
        f"--signature-secret={settings.vonage_signature_secret}",
        f"--from-number={settings.vonage_from}",
        f"--sms-url={sms_url or settings.public_base_url + '/webhooks/vonage/sms/inbound'}",
        f"--behaviour={behaviour}",
    ]
    if settings.vonage_private_key:
        argv.append(f"--private-key={settings.vonage_private_key}")
    main(argv)


@app.command("demo")
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: Annotated[bool, typer.Option("--open/--no-open")] = True,
    seed: Annotated[
        bool | None,
        typer.Option("--seed/--no-seed", help="Example incidents (default: with regions/ only)"),
    ] = None,
    phones: Annotated[
        bool,
        typer.Option(
            "--phones/--console",
            help="Page the workers' phones on the local Twilio fake (default) or print pages",
        ),
    ] = True,
    phones_port: int = 8010,
) -> None:
    """Embedded demo: SQLite, the example regions, the dashboard in your browser.

    Pages go through the real Twilio SDK to the local Twilio fake, whose phone page
    (linked from the dashboard) lets you play the piket worker: pick up, press 1 or 2,
    answer the SMS or tap its link.
    """
    import uvicorn

    from api import server
    from api.app import create_app

    settings = get_settings()
    config_load([Path(settings.regions_dir)])
    public = f"http://{host}:{port}"
    fake = vonage = None
    # The demo runs on this machine only: its pages open without signing in.
    update: dict[str, Any] = {
        "delivery": "inline",
        "public_base_url": public,
        "demo_open": settings.environment == "development",
    }
    if phones:
        vonage = _start_vonage(settings, host, phones_port + 1, public)
        fake = _start_phones(settings, host, phones_port, public, faces=[vonage.face()])
        update.update(
            paging_provider="twilio",
            twilio_api_base=fake.url,
            demo_phones_url=f"{fake.url}/phones",
            # Vonage takes the pages while Twilio is failing (try the fake's outage).
            paging_secondary="vonage",
            **{
                name.removeprefix("SAMENOP_").lower(): value
                for name, value in vonage.settings().items()
            },
        )
    demo_settings = settings.model_copy(update=update)
    if seed if seed is not None else Path(settings.regions_dir).resolve() == SHIPPED_REGIONS:
        _seed_demo_incidents()
    url = f"{public}/"
    key = settings.api_keys[0] if settings.api_keys else "(none: samenop keys create)"
    open_pages = bool(update["demo_open"])
    typer.echo(f"dashboard: {url}   API docs: {url}docs   admin API key: {key}")
    typer.echo(demo_seeding.sign_in_hint(url, open_pages=open_pages))
    if fake is not None:
        typer.echo(f"phones (play the piket worker): {fake.url}/phones")
    if open_browser:

        def _open() -> None:
            time.sleep(1.5)  # let uvicorn bind first
            demo_seeding.open_dashboard(url, key, open_pages=open_pages, echo=typer.echo)

        threading.Thread(target=_open, daemon=True).start()
    try:
        server.tune_gc()
        uvicorn.run(
            create_app(demo_settings),
            host=host,
            port=port,
            log_level="info",
            log_config=server.log_config("info"),
            **server.UVICORN_OPTIONS,
        )
    finally:
        if fake is not None:
            fake.stop()
        if vonage is not None:
            vonage.stop()


def _start_vonage(settings: Any, host: str, port: int, public: str) -> Any:
    """The Vonage fake (TLS) in this process: the secondary provider of the demo."""
    from notifications.fake.vonage.harness import FakeVonageServer

    vonage = FakeVonageServer(
        application_id=settings.vonage_application_id,
        private_key=settings.vonage_private_key,
        api_key=settings.vonage_api_key,
        api_secret=settings.vonage_api_secret,
        signature_secret=settings.vonage_signature_secret,
        from_number=settings.vonage_from,
        sms_url=f"{public}/webhooks/vonage/sms/inbound",
        host=host,
        port=port,
    ).start()
    _register_phones(settings, vonage.fake)
    return vonage


def _start_phones(
    settings: Any, host: str, port: int, public: str, *, faces: Sequence[Any] = ()
) -> Any:
    """The Twilio fake in this process, with a phone for every fictitious worker; its
    phone page shows the other providers' ``faces`` too."""
    from notifications.fake.harness import FakeTwilioServer

    fake = FakeTwilioServer(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        from_number=settings.twilio_from,
        sms_url=f"{public}/webhooks/twilio/sms",
        host=host,
        port=port,
        faces=faces,
    ).start()
    _register_phones(settings, fake.fake)
    return fake


def _register_phones(settings: Any, fake: Any) -> None:
    """A named phone on ``fake`` for every fictitious worker and team line."""
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        config = oncall_service.read_config(session=session)
    teams = {t.id: t.name for t in config.teams}
    for person in config.people:
        where = ", ".join(teams.get(m.team, m.team) for m in person.memberships)
        for phone in person.phones[:1]:
            fake.register_phone(phone, f"{person.name} ({where})" if where else person.name)
    for team in config.teams:
        if team.phone:
            fake.register_phone(team.phone, f"24/7-lijn {team.name}")


SHIPPED_REGIONS = Path(__file__).resolve().parent.parent / "regions"


def _seed_demo_incidents() -> None:
    """A few incidents at 'now' so the dashboard shows plans from the first second; those
    of an earlier run that are still open are not reported again."""
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    now = SystemClock().now()
    with session_scope(factory) as session:
        snapshot = ConfigSnapshot(
            oncall_service.read_config(session=session), oncall_service.get_version(session=session)
        )
        national = (settings.national_fallback_name, settings.national_fallback_phone)
        made = demo_seeding.seed(session, snapshot, now, national)
    if len(made) < len(demo_seeding.INCIDENTS):
        typer.echo(
            f"example incidents: {len(made)} new, "
            f"{len(demo_seeding.INCIDENTS) - len(made)} still open from an earlier run"
        )


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

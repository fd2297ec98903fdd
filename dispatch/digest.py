"""The planners' daily digest: per region, one e-mail a day with the coverage gaps of the
next eight weeks, the people on a roster who cannot be paged, and swap offers nobody took.

Exactly once per region per local day, across processes and restarts: the digest is
built first, then the region's row for the day is claimed (a unique key, committed as
``sending``) and only then handed to the mail server; ``sent`` is written after. A
process that stops between the claim and ``sent`` leaves the row in ``sending``, which
nobody resends: after ``STUCK_AFTER`` it is marked ``uncertain``. So a crash can cost a
day's digest of one region, never a second copy. A mail the server certainly did not
take (unreachable, refused) is ``failed`` and tried again a few minutes later, at most
``MAX_ATTEMPTS`` times a day.

The recipients are accounts with an e-mail address: planners bound to the region, and
every-region planners and admins who asked for the region (``DigestSubscription``).
``dispatch`` does not import ``access``: the four account columns needed are read here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape

from sqlalchemy import JSON, Boolean, Integer, String, column, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.settings import Settings
from core.texts import DIGEST_NL, LAYER_NL, UNREACHABLE_NL, duration_nl
from core.timeutil import AMS, ensure_utc
from dispatch.feed_models import DigestSend, DigestSubscription
from dispatch.swaps import Problem, open_problems
from notifications.mail import Mail, Mailer, MailRefused, MailUncertain, smtp_mailer
from oncall.calendar import Gap
from oncall.gaps import find_gaps, unreachable
from oncall.scope import date_nl, wall_to_utc
from oncall.service import SnapshotCache
from oncall.snapshot import ConfigSnapshot

log = logging.getLogger("samenop.digest")

WEEKS = 8
MAX_GAP_LINES = 200  # a longer list ends with "... en nog N gaten"
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=5)
STUCK_AFTER = timedelta(minutes=10)  # far beyond any SMTP timeout
FINAL = frozenset({"sent", "uncertain", "empty"})

# Swaps waiting for a region's planner: offers nobody took, swaps to approve.
SwapProblems = Callable[[Session, str, datetime], Sequence[Problem]]

_accounts = table(
    "accounts",
    column("id", Integer),
    column("email", String),
    column("role", String),
    column("regions", JSON),
    column("active", Boolean),
)


# --- recipients ------------------------------------------------------------------------


def recipients(session: Session, region: str) -> list[str]:
    """E-mail addresses of the region's digest, sorted, each once."""
    subscribed = set(
        session.scalars(
            select(DigestSubscription.account_id).where(DigestSubscription.region == region)
        )
    )
    rows = session.execute(
        select(_accounts.c.id, _accounts.c.email, _accounts.c.role, _accounts.c.regions).where(
            _accounts.c.active.is_(True),
            _accounts.c.email.is_not(None),
            _accounts.c.role.in_(("planner", "admin")),
        )
    )
    found: set[str] = set()
    for account_id, email, role, regions in rows:
        bound = role == "planner" and regions is not None
        if (bound and region in regions) or (not bound and account_id in subscribed):
            found.add(email)
    return sorted(found)


def regions_of_account(session: Session, account_id: int, snapshot: ConfigSnapshot) -> list[str]:
    """The regions whose digest this account receives (when it has an address)."""
    row = session.execute(
        select(_accounts.c.role, _accounts.c.regions).where(_accounts.c.id == account_id)
    ).first()
    if row is None:
        return []
    role, regions = row
    if role == "planner" and regions is not None:
        return sorted(r for r in regions if r in snapshot.regions)
    return sorted(
        session.scalars(
            select(DigestSubscription.region).where(DigestSubscription.account_id == account_id)
        )
    )


# --- content (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class Unreachable:
    team: str
    person: str
    why: str  # a code of oncall.gaps.unreachable


@dataclass(frozen=True)
class Digest:
    region: str
    day: date
    start: datetime
    end: datetime
    gaps: tuple[Gap, ...]
    unreachable: tuple[Unreachable, ...]
    swaps: tuple[Problem, ...] = field(default=())


def region_digest(
    snapshot: ConfigSnapshot, region: str, now: datetime, swaps: Sequence[Problem] = ()
) -> Digest:
    """What the region's planners should know this morning (pure)."""
    start = ensure_utc(now)
    end = start + timedelta(weeks=WEEKS)
    gaps: list[Gap] = []
    missing: list[Unreachable] = []
    for team in snapshot.config.teams:
        if team.region != region:
            continue
        gaps.extend(find_gaps(snapshot, team.id, start, end))
        missing.extend(
            Unreachable(team.id, person, why)
            for person, why in unreachable(snapshot, team.id, start=start, end=end)
        )
    gaps.sort(key=lambda g: (g.start, g.team))
    return Digest(
        region=region,
        day=start.astimezone(AMS).date(),
        start=start,
        end=end,
        gaps=tuple(gaps),
        unreachable=tuple(missing),
        swaps=tuple(swaps),
    )


def _when(at: datetime) -> str:
    local = ensure_utc(at).astimezone(AMS)
    return f"{date_nl(local.date())} {local:%H:%M}"


def _gap_line(snapshot: ConfigSnapshot, gap: Gap) -> str:
    team = snapshot.teams.get(gap.team)
    return DIGEST_NL["gap_line"].format(
        team=team.name if team else gap.team,
        start=_when(gap.start),
        end=_when(gap.end),
        duration=duration_nl(gap.minutes),
        needed=gap.needed,
        available=gap.available,
        rules=", ".join(gap.rules),
    )


def _unreachable_line(snapshot: ConfigSnapshot, item: Unreachable) -> str:
    person = snapshot.people.get(item.person)
    team = snapshot.teams.get(item.team)
    return DIGEST_NL["unreachable_line"].format(
        person=person.name if person else item.person,
        team=team.name if team else item.team,
        why=UNREACHABLE_NL.get(item.why, item.why),
    )


def _name(snapshot: ConfigSnapshot, person: str) -> str:
    found = snapshot.people.get(person)
    return found.name if found else person


def _swap_line(snapshot: ConfigSnapshot, problem: Problem) -> str:
    team = snapshot.teams.get(problem.team)
    who = _name(snapshot, problem.offerer)
    if problem.taker:
        who += f" → {_name(snapshot, problem.taker)}"
    return DIGEST_NL["swap_line"].format(
        label=problem.label,
        team=team.name if team else problem.team,
        who=who,
        layer=LAYER_NL.get(problem.layer, problem.layer),
        start=_when(problem.start),
        end=_when(problem.end),
    )


def sections(snapshot: ConfigSnapshot, digest: Digest) -> list[tuple[str, list[str]]]:
    """(heading, lines) in the order the mail shows them."""
    gap_lines = [_gap_line(snapshot, g) for g in digest.gaps[:MAX_GAP_LINES]]
    if len(digest.gaps) > MAX_GAP_LINES:
        gap_lines.append(DIGEST_NL["gaps_more"].format(count=len(digest.gaps) - MAX_GAP_LINES))
    missing = [_unreachable_line(snapshot, u) for u in digest.unreachable]
    swaps = [_swap_line(snapshot, s) for s in digest.swaps]
    return [
        (DIGEST_NL["gaps_heading"], gap_lines or [DIGEST_NL["gaps_none"]]),
        (DIGEST_NL["unreachable_heading"], missing or [DIGEST_NL["unreachable_none"]]),
        (DIGEST_NL["swaps_heading"], swaps or [DIGEST_NL["swaps_none"]]),
    ]


def compose(snapshot: ConfigSnapshot, digest: Digest, *, sender: str, to: Sequence[str]) -> Mail:
    """The Dutch e-mail, plain text with an HTML alternative."""
    region = snapshot.regions.get(digest.region)
    name = region.name if region else digest.region
    intro = DIGEST_NL["intro"].format(
        region=name, weeks=WEEKS, start=_when(digest.start), end=_when(digest.end)
    )
    parts = sections(snapshot, digest)
    text = [DIGEST_NL["greeting"], "", intro, ""]
    html = [f"<p>{escape(DIGEST_NL['greeting'])}</p>", f"<p>{escape(intro)}</p>"]
    for heading, lines in parts:
        text += [heading, "-" * len(heading), *lines, ""]
        items = "".join(f"<li>{escape(line.removeprefix('- '))}</li>" for line in lines)
        html.append(f"<h2>{escape(heading)}</h2><ul>{items}</ul>")
    text.append(DIGEST_NL["footer"])
    html.append(f"<p><small>{escape(DIGEST_NL['footer'])}</small></p>")
    return Mail(
        sender=sender,
        recipients=tuple(to),
        subject=DIGEST_NL["subject"].format(region=name, date=date_nl(digest.day)),
        text="\n".join(text) + "\n",
        html='<!doctype html><html lang="nl"><body>' + "".join(html) + "</body></html>",
        message_id=f"<digest-{digest.region}-{digest.day.isoformat()}@samenop>",
    )


# --- sending, once ---------------------------------------------------------------------


def _may_claim(row: DigestSend, now: datetime) -> bool:
    """Whether ``_claim`` could take this existing row now (a cheap look first, so no
    digest is computed for a row that is done, busy elsewhere or waiting for a retry).
    A row stuck in ``sending`` is let through: ``_claim`` marks it uncertain."""
    if row.state == "sending":
        return now - row.claimed_at >= STUCK_AFTER
    return (
        row.state == "failed"
        and row.attempts < MAX_ATTEMPTS
        and now - row.claimed_at >= RETRY_AFTER
    )


def _claim(session: Session, region: str, day: date, now: datetime) -> DigestSend | None:
    """The region's row of the day, claimed as ``sending`` and committed; None when
    another process has it, it is done, or its attempts are used up."""
    row = session.scalar(
        select(DigestSend).where(DigestSend.region == region, DigestSend.day == day)
    )
    if row is None:
        row = DigestSend(
            region=region,
            day=day,
            state="sending",
            attempts=1,
            recipients=0,
            gaps=0,
            claimed_at=now,
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another process claimed it first
            session.rollback()
            return None
        return row
    if row.state == "sending" and now - row.claimed_at >= STUCK_AFTER:
        # Its process stopped between the claim and "sent": it may have gone out.
        session.execute(
            update(DigestSend)
            .where(DigestSend.id == row.id, DigestSend.state == "sending")
            .values(state="uncertain", finished_at=now)
        )
        session.commit()
        return None
    if row.state != "failed" or row.attempts >= MAX_ATTEMPTS or now - row.claimed_at < RETRY_AFTER:
        return None
    result = session.execute(
        update(DigestSend)
        .where(DigestSend.id == row.id, DigestSend.state == "failed")
        .values(state="sending", attempts=DigestSend.attempts + 1, claimed_at=now, error=None)
    )
    taken = getattr(result, "rowcount", 0)
    session.commit()
    if not taken:
        return None
    session.refresh(row)
    return row


def _finish(session: Session, row_id: int, state: str, now: datetime, **values: object) -> None:
    session.execute(
        update(DigestSend)
        .where(DigestSend.id == row_id, DigestSend.state == "sending")
        .values(state=state, finished_at=now, **values)
    )
    session.commit()


def send_region(
    sessions: sessionmaker[Session],
    snapshot: ConfigSnapshot,
    mailer: Mailer,
    region: str,
    now: datetime,
    *,
    sender: str,
    swaps: SwapProblems | None = None,
) -> str | None:
    """Send the region's digest of ``now``'s local day unless it was; the row's state
    afterwards (None when another process holds it or it was done already)."""
    day = ensure_utc(now).astimezone(AMS).date()
    with sessions() as session:
        found = session.scalar(
            select(DigestSend).where(DigestSend.region == region, DigestSend.day == day)
        )
        if found is not None and not _may_claim(found, now):
            return None
        if found is not None and found.state == "sending":  # its process stopped mid-send
            _claim(session, region, day, now)  # marks it uncertain; never sent again
            return None
        to = recipients(session, region)
        if not to:  # nobody to tell: no gaps computed for nobody
            row = _claim(session, region, day, now)
            if row is None:
                return None
            _finish(session, row.id, "empty", now)
            return "empty"
        offers = list(swaps(session, region, now)) if swaps is not None else []
        session.rollback()  # let go of the database while the digest is computed
    digest = region_digest(snapshot, region, now, offers)
    mail = compose(snapshot, digest, sender=sender, to=to)
    with sessions() as session:
        row = _claim(session, region, day, now)
        if row is None:
            return None
        row_id = row.id
        session.execute(
            update(DigestSend)
            .where(DigestSend.id == row_id)
            .values(recipients=len(to), gaps=len(digest.gaps))
        )
        session.commit()
    error: str | None
    try:
        mailer.send(mail)
    except MailRefused as exc:
        state, error = "failed", str(exc)[:500]
    except MailUncertain as exc:
        state, error = "uncertain", str(exc)[:500]
    except Exception as exc:  # anything else: it may have gone out, never resend it
        state, error = "uncertain", f"{type(exc).__name__}: {exc}"[:500]
    else:
        state, error = "sent", None
    with sessions() as session:
        _finish(session, row_id, state, now, error=error)
    if error:
        log.warning("digest of %s on %s: %s (%s)", region, day, state, error)
    return state


def digest_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class DigestSchedule:
    """The driver's cheap check: at most once a minute it compares the local time with
    the digest time, and when a day's digests are due (and not all done) runs them in a
    thread of their own, so paging never waits for gaps or a mail server."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        mailer: Mailer,
        *,
        at: str = "07:00",
        sender: str,
        swaps: SwapProblems | None = open_problems,
        check_every: timedelta = timedelta(minutes=1),
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.mailer = mailer
        self.at = digest_time(at)
        self.sender = sender
        self.swaps = swaps
        self.check_every = check_every
        self.snapshots = SnapshotCache()
        self._checked: datetime | None = None
        self._done_day: date | None = None
        self._thread: threading.Thread | None = None

    def due(self, now: datetime) -> bool:
        local = ensure_utc(now).astimezone(AMS)
        if local.date() == self._done_day:
            return False
        return ensure_utc(now) >= wall_to_utc(datetime.combine(local.date(), self.at))

    def tick(self, now: datetime) -> bool:
        """Start a round when one is due; True when it started one."""
        last = self._checked
        if last is not None and timedelta(0) <= now - last < self.check_every:
            return False
        if self._thread is not None and self._thread.is_alive():
            return False
        self._checked = now
        if not self.due(now):
            return False
        self._thread = threading.Thread(
            target=self._round, args=(now,), name="samenop-digest", daemon=True
        )
        self._thread.start()
        return True

    def _round(self, now: datetime) -> None:
        try:
            self.run(now)
        except Exception:
            log.exception("digest round failed (tried again within a minute)")

    def run(self, now: datetime) -> dict[str, str | None]:
        """Every region's digest of the day, once; returns what each region's row became."""
        with self.sessions() as session:
            snapshot = self.snapshots.get(session=session)
            session.rollback()
        out: dict[str, str | None] = {}
        for region in snapshot.config.regions:
            out[region.id] = send_region(
                self.sessions,
                snapshot,
                self.mailer,
                region.id,
                now,
                sender=self.sender,
                swaps=self.swaps,
            )
        day = ensure_utc(now).astimezone(AMS).date()
        with self.sessions() as session:
            found = session.execute(
                select(DigestSend.region, DigestSend.state, DigestSend.attempts).where(
                    DigestSend.day == day
                )
            ).all()
        states = {region: state for region, state, _ in found}
        attempts = {region: count for region, _, count in found}
        settled = all(
            states.get(r.id) in FINAL
            or (states.get(r.id) == "failed" and attempts.get(r.id, 0) >= MAX_ATTEMPTS)
            for r in snapshot.config.regions
        )
        if settled:
            self._done_day = day
        return out


def digest_schedule(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock
) -> DigestSchedule | None:
    """The schedule the settings ask for; None without a mail server (no digest)."""
    mailer = smtp_mailer(settings)
    if mailer is None:
        return None
    return DigestSchedule(sessions, clock, mailer, at=settings.digest_at, sender=settings.smtp_from)

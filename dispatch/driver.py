"""The loop that finds due work in the database and does it.

Embedded mode runs it inside the API process as *the* delivery loop (poked after
every commit that makes work, polling otherwise). Beside RQ workers it runs as the
*sweeper*: with a grace period, it only picks up what the queue should have done
and did not (Redis flushed, a worker killed mid-send, a job lost). Both run the
same ``deliver`` and ``expire`` code as the RQ jobs, so one code path decides.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from core import metrics
from core.db import UTCDateTime
from core.logs import FaultLog
from dispatch import alarms, flows, paging, reminders, roster_sms, swaps
from dispatch.delivery import PagingContext, deliver, due_page_ids, due_query
from dispatch.digest import DigestSchedule
from dispatch.models import Dispatch
from dispatch.paging import Hangup, Wake, expire_dispatch, overdue_query

log = logging.getLogger("samenop.driver")
Raise = Callable[[Session, Dispatch], bool]


class Driver:
    def __init__(
        self,
        ctx: PagingContext,
        *,
        due_grace: timedelta = timedelta(0),
        deadline_grace: timedelta = timedelta(0),
        interval: float = 0.5,
        parallel: int = 4,
        alarm_interval: float = 0.25,
        queue_empty: Callable[[], bool] | None = None,
        digest: DigestSchedule | None = None,
    ) -> None:
        self.ctx = ctx
        # The planners' daily digest: a clock comparison per sweep, the work in its own
        # thread when due (dispatch.digest).
        self.digest = digest
        self.due_grace = due_grace
        self.deadline_grace = deadline_grace
        self.interval = interval
        self.parallel = parallel
        # Alarms raised by the clock are looked for at most this often (a sweep also
        # runs after every commit in the embedded mode; the alarms need no such hurry).
        self.alarm_interval = alarm_interval
        # Beside RQ workers: whether the queue has nothing waiting (then due pages it
        # should have sent were lost, and the sweeper sends them).
        self.queue_empty = queue_empty
        self._statements: dict[tuple[bool, bool], Any] = {}
        self._alarms_checked: datetime | None = None
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hangups: deque[Hangup] = deque()
        # Retries are logged when a fault starts and when it ends, not each time.
        self._sweep_faults = FaultLog(log, "sweep")
        self._expire_faults = FaultLog(log, "closing attempts at their deadline")
        self._deliver_faults = FaultLog(log, "delivering pages (their leases let them be retried)")
        self._hangup_faults = FaultLog(log, "ending calls", level=logging.WARNING)
        self._alarm_faults = FaultLog(log, "alarm checks")

    # --- the waker side (embedded mode) ---

    def arm(self, wake: Wake) -> None:
        self._hangups.extend(wake.hangups)
        self._poke.set()

    def arm_roster(self, message_ids: list[str]) -> None:
        """Roster SMS were committed (dispatch.roster_sms): sweep now."""
        self._poke.set()

    # --- one sweep ---

    def run_once(self) -> int:
        """Send what is due, close attempts whose deadline passed, raise alarms whose
        moment came; returns how much it did. One session asks all of it."""
        now = self.ctx.clock.now()
        check_alarms = self._alarms_due(now)
        queued = self.queue_empty is not None and not self.queue_empty()
        # What there is to do, in one statement: attempts past their deadline, pages due
        # (while the queue still holds jobs the workers send those; the sweeper then
        # only takes over claims whose lease ran out), and alarms whose moment came.
        statement = self._statement(check_alarms, not queued)
        found: dict[str, list[str]] = {"expire": [], "send": [], "no_accept": [], "failing": []}
        found.update({"roster": [], "roster_plan": [], "swap_expire": []})
        with self.ctx.sessions() as session:
            params = {
                "now": now,
                "expire_cutoff": now - self.deadline_grace,
                "due_cutoff": now - self.due_grace,
                "failing_cutoff": now - self.ctx.send_failing_after,
            }
            for row in session.execute(statement, params):
                found[row.kind].append(row.id)
        overdue, due = found["expire"], found["send"]
        accept_due, failing = found["no_accept"], found["failing"]
        closed = self._expire(overdue)
        if closed:  # closing an attempt may have made the next one due now
            with self.ctx.sessions() as session:
                now = self.ctx.clock.now()
                due = due_page_ids(session, now, grace=self.due_grace, scheduled=not queued)
        raised = self._alarms(now, accept_due, failing)
        if due and self.queue_empty is not None:  # beside RQ: what the queue did not send
            metrics.current().sweeper_redrives.inc(len(due))
        if len(due) > 1 and self.parallel > 1:
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                list(pool.map(self._deliver, due))
        else:
            for page_id in due:
                self._deliver(page_id)
        hung = self._drain_hangups()
        # The roster's own work (dispatch.reminders): plan, expire offers, send SMS.
        rostered = 0
        if found["roster"] or found["roster_plan"] or found["swap_expire"]:
            rostered = reminders.run_due(
                self.ctx,
                planning=bool(found["roster_plan"]),
                expiring=found["swap_expire"],
                sending=found["roster"],
            )
        if self.digest is not None:
            self.digest.tick(now)
        return len(due) + closed + hung + raised + rostered

    def _statement(self, check_alarms: bool, scheduled: bool) -> Any:
        """The sweep's statement, built once per variant with bound parameters (its
        cache key is then worked out once, not on every sweep)."""
        key = (check_alarms, scheduled)
        if key not in self._statements:
            now = bindparam("now", type_=UTCDateTime())
            parts = [
                _tagged("expire", overdue_query(bindparam("expire_cutoff", type_=UTCDateTime()))),
                _tagged(
                    "send",
                    due_query(
                        now,
                        cutoff=bindparam("due_cutoff", type_=UTCDateTime()),
                        scheduled=scheduled,
                    ),
                ),
                _tagged(
                    "roster",
                    roster_sms.due_query(
                        now,
                        cutoff=bindparam("due_cutoff", type_=UTCDateTime()),
                        scheduled=scheduled,
                    ),
                ),
                _tagged("roster_plan", reminders.plan_due_query(now)),
                _tagged("swap_expire", swaps.expire_due_query(now)),
            ]
            if check_alarms:
                parts.append(_tagged("no_accept", alarms.accept_alarms_query(now)))
                cutoff = bindparam("failing_cutoff", type_=UTCDateTime())
                parts.append(_tagged("failing", alarms.failing_query(cutoff)))
            self._statements[key] = union_all(*parts)
        return self._statements[key]

    def _expire(self, overdue: list[str]) -> int:
        """Close attempts whose deadline passed, one dispatch per transaction."""
        closed = 0
        for dispatch_id in overdue:
            try:
                closed += expire(self.ctx, dispatch_id)
            except Exception as exc:
                self._expire_faults.failed(exc, dispatch=dispatch_id)
            else:
                self._expire_faults.ok()
        return closed

    def _alarms_due(self, now: datetime) -> bool:
        """Alarms raised by the clock are looked for at most every ``alarm_interval``."""
        last = self._alarms_checked
        if last is not None and 0 <= (now - last).total_seconds() < self.alarm_interval:
            return False  # (a clock set back, as tests do, checks at once)
        self._alarms_checked = now
        return True

    def _alarms(self, now: datetime, accept_due: list[str], failing: list[str]) -> int:
        """Raise the alarms whose moment came: nobody accepted yet, pages not sent."""
        raised = 0
        for dispatch_id in accept_due:
            raised += self._safely(dispatch_id, lambda s, d: alarms.no_accept(s, d, now))
        after = self.ctx.send_failing_after
        for dispatch_id in failing:
            raised += self._safely(dispatch_id, lambda s, d: alarms.send_failing(s, d, now, after))
        return raised

    def _safely(self, dispatch_id: str, work: Raise) -> int:
        try:
            raised = flows.run(self.ctx, lambda s: work(s, paging.lock(s, dispatch_id)))
        except Exception as exc:
            self._alarm_faults.failed(exc, dispatch=dispatch_id)
            return 0
        self._alarm_faults.ok()
        return int(raised)

    def _deliver(self, page_id: str) -> None:
        try:
            deliver(self.ctx, page_id)
        except Exception as exc:
            self._deliver_faults.failed(exc, page=page_id)
        else:
            self._deliver_faults.ok()

    def _drain_hangups(self) -> int:
        done = 0
        while self._hangups:
            provider, sid = self._hangups.popleft()
            try:
                self.ctx.provider_named(provider).hang_up(sid)
            except Exception as exc:
                self._hangup_faults.failed(exc, provider=provider)
            else:
                self._hangup_faults.ok()
            done += 1
        return done

    def drain(self, rounds: int = 20) -> int:
        """Run sweeps until nothing is due (tests and the demo's first start)."""
        total = 0
        for _ in range(rounds):
            did = self.run_once()
            total += did
            if not did:
                break
        return total

    # --- the loop ---

    def start(self, name: str = "samenop-driver") -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._poke.clear()
            try:
                did = self.run_once()
            except Exception as exc:
                self._sweep_faults.failed(exc)
                did = 0
            else:
                self._sweep_faults.ok()
            if did:
                continue  # more may have become due while we worked
            self._poke.wait(self.interval)


def expire(ctx: PagingContext, dispatch_id: str) -> int:
    """Close the attempts of one dispatch whose deadline passed; how many it closed."""
    wake, closed = flows.run(ctx, lambda s: expire_dispatch(s, dispatch_id, ctx.clock.now()))
    flows.arm(ctx, wake)  # a (wake, count) pair carries no wake of its own for ``run``
    return closed


def _tagged(kind: str, query: Select[Any]) -> Select[Any]:
    """``query``'s ids, each with what to do with it (one arm of the sweep's UNION)."""
    sub = query.subquery()
    only = next(iter(sub.c))
    return select(literal(kind).label("kind"), only.label("id"))

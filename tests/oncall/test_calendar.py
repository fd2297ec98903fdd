"""Team calendars against ``ConfigSnapshot.on_call``: the blocks must say, at every
instant, exactly who the pairing engine would find on call (and in which layer, from
which source), across both DST changes and Dutch public holidays; needs and gaps
must say what the rules and the reachable people say at that instant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from bench.national import build_national
from core.timeutil import AMS
from oncall.calendar import (
    Block,
    TeamCalendar,
    is_reachable,
    person_blocks,
    region_overview,
    team_blocks,
    team_calendar,
)
from oncall.changes import key_of
from oncall.schemas import ConfigSet, RuleRole
from oncall.scope import rule_in_hours
from oncall.snapshot import ConfigSnapshot
from tests.dispatch.test_pairing import SNAP


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[arg-type,misc]


@cache
def national() -> ConfigSnapshot:
    return ConfigSnapshot(build_national(seed=7))


# A calendar built for the awkward cases: 12-hour shifts across both DST changes, a
# window that ends inside the repeated October hour, one that starts inside the
# skipped March hour, holiday-closed windows, a staff-2 rule and every override kind.
EDGE = ConfigSnapshot(
    ConfigSet.model_validate(
        {
            "regions": [{"id": "r1", "name": "Regio Een"}],
            "teams": [
                {"id": "vt", "kind": "veilig_thuis", "name": "VT", "region": "r1"},
                {"id": "cit", "kind": "cit", "name": "CIT", "region": "r1"},
            ],
            "people": [
                {
                    "id": "anna",
                    "name": "Anna",
                    "phones": ["0612345671"],
                    "memberships": [{"team": "vt"}, {"team": "cit"}],
                },
                {
                    "id": "bas",
                    "name": "Bas",
                    "phones": ["0612345672"],
                    "memberships": [{"team": "vt"}],
                },
                {
                    "id": "cor",
                    "name": "Cor",
                    "phones": ["0612345673"],
                    "memberships": [{"team": "vt"}],
                },
                {"id": "dirk", "name": "Dirk", "phones": [], "memberships": [{"team": "vt"}]},
                {
                    "id": "eva",
                    "name": "Eva",
                    "phones": ["0612345675"],
                    "active": False,
                    "memberships": [{"team": "vt"}],
                },
                {
                    "id": "fleur",
                    "name": "Fleur",
                    "phones": ["0612345676"],
                    "memberships": [{"team": "cit"}],
                },
            ],
            "rotations": [
                {
                    "id": "vt-12u",
                    "team": "vt",
                    "participants": ["anna", "bas", "dirk"],
                    "start": "2026-03-01T08:00",
                    "handoff": {"every": "hours", "hours": 12},
                },
                {
                    "id": "vt-nacht",
                    "team": "vt",
                    "layer": "backup",
                    "participants": ["cor", "eva"],
                    "start": "2026-03-01T09:00",
                    "handoff": {"every": "daily", "at": "09:00"},
                    "windows": [
                        {"days": ["all"], "start": "22:00", "end": "02:30"},
                        {"days": ["sun"], "start": "02:15", "end": "07:00"},
                    ],
                    "holidays": "closed",
                },
                {
                    "id": "cit-week",
                    "team": "cit",
                    "participants": ["fleur", "anna"],
                    "start": "2026-03-02T09:00",
                    "until": "2026-12-01T09:00",
                    "handoff": {"every": "weekly", "at": "09:00", "weekday": "mon"},
                    "windows": [
                        {"days": ["weekdays"], "start": "17:00", "end": "09:00"},
                        {"days": ["weekend"]},
                    ],
                    "holidays": "open",
                },
            ],
            "shifts": [
                {
                    "team": "vt",
                    "person": "cor",
                    "start": "2026-03-29T01:00",
                    "end": "2026-03-29T05:00",
                },
                {
                    "team": "vt",
                    "person": "bas",
                    "start": "2026-10-25T01:30",
                    "end": "2026-10-25T04:00",
                    "layer": "backup",
                },
                {
                    "team": "vt",
                    "person": "fleur",
                    "start": "2026-04-27T10:00",
                    "end": "2026-04-27T18:00",
                },
            ],
            "overrides": [
                {
                    "id": "ov-ziek",
                    "team": "vt",
                    "kind": "remove",
                    "person": "anna",
                    "start": "2026-03-28T12:00",
                    "end": "2026-03-30T12:00",
                },
                {
                    "id": "ov-ruil",
                    "team": "vt",
                    "kind": "replace",
                    "person": "cor",
                    "replaces": "anna",
                    "start": "2026-03-28T14:00",
                    "end": "2026-03-28T18:00",
                },
                {
                    "id": "ov-extra",
                    "team": "vt",
                    "kind": "add",
                    "person": "anna",
                    "start": "2026-10-24T20:00",
                    "end": "2026-10-25T06:00",
                },
                {
                    "id": "ov-terug",
                    "team": "vt",
                    "kind": "add",
                    "person": "anna",
                    "start": "2026-03-29T08:00",
                    "end": "2026-03-29T09:00",
                },
                {
                    "id": "ov-dirk",
                    "team": "vt",
                    "kind": "replace",
                    "person": "bas",
                    "replaces": "dirk",
                    "start": "2026-04-26T20:00",
                    "end": "2026-04-28T08:00",
                },
            ],
            "rules": [
                {"id": "vt-altijd", "team": "vt", "hours": "always"},
                {
                    "id": "vt-samen",
                    "team": "vt",
                    "staff": 2,
                    "holidays": "closed",
                    "windows": [{"days": ["weekdays"], "start": "13:00", "end": "22:00"}],
                },
                {"id": "vt-kantoor", "team": "vt", "hours": "office_hours"},
                {"id": "cit-avond", "team": "cit", "hours": "after_hours", "staff": 1},
                {"id": "cit-partner", "team": "cit", "role": "partner"},
            ],
        }
    ),
    version=1,
)

# Ranges and instants: both DST days, Koningsdag, Easter and Whitsun, Christmas.
HOT_DAYS = [
    (local(2026, 3, 27), local(2026, 4, 1)),
    (local(2026, 4, 3), local(2026, 4, 8)),
    (local(2026, 4, 25), local(2026, 4, 29)),
    (local(2026, 5, 23), local(2026, 5, 26)),
    (local(2026, 10, 23), local(2026, 10, 28)),
    (local(2026, 12, 23), local(2026, 12, 28)),
]


def _instants(lo: datetime, hi: datetime, rng: random.Random, n: int) -> list[datetime]:
    """Random instants plus every whole and half hour around the clock changes."""
    span = (hi - lo).total_seconds()
    out = [lo + timedelta(seconds=rng.uniform(0, span)) for _ in range(n)]
    t = lo.astimezone(UTC)
    while t < hi:
        if t.astimezone(AMS).hour in (0, 1, 2, 3, 8, 9, 12, 13, 17, 20, 22):
            out.extend((t, t + timedelta(minutes=15), t - timedelta(seconds=1)))
        t += timedelta(minutes=30)
    return [x for x in out if lo <= x < hi]


def _at(blocks: tuple[Block, ...], at: datetime) -> set[tuple[str, str, str]]:
    out = set()
    for b in blocks:
        if b.start <= at < b.end:
            source = b.source if b.source == "shift" else f"{b.source}:{b.source_id}"
            out.add((b.person, b.layer, source))
    return out


def _truth(snapshot: ConfigSnapshot, team: str, at: datetime) -> set[tuple[str, str, str]]:
    # In UTC, as the service asks: ConfigSnapshot's shift and override index subtracts
    # the longest span from the instant, which with an Amsterdam tzinfo is wall-clock
    # arithmetic and misses an hour across a clock change.
    entries = snapshot.on_call(team, at.astimezone(UTC)).entries
    return {(e.person, e.layer.value, e.source) for e in entries}


def _assert_matches(snapshot: ConfigSnapshot, cal: TeamCalendar, instants: list[datetime]) -> None:
    rules = [
        r
        for r in snapshot.config.rules
        if r.team == cal.team and r.role != RuleRole.PARTNER and r.police_call is None
    ]
    hours = snapshot.office_hours(cal.team)
    for at in instants:
        truth = _truth(snapshot, cal.team, at)
        assert _at(cal.blocks, at) == truth, (cal.team, at.isoformat())
        needing = [r for r in rules if rule_in_hours(r, at, hours)]
        need = [n for n in cal.needs if n.start <= at < n.end]
        if needing:
            assert len(need) == 1, (cal.team, at.isoformat())
            assert need[0].rules == tuple(r.id for r in needing)
            assert need[0].staff == max(r.staff for r in needing)
        else:
            assert need == [], (cal.team, at.isoformat())
        available = sum(1 for p, _, _ in truth if is_reachable(snapshot, cal.team, p))
        short = sorted(r.id for r in needing if r.staff > available)
        gap = [g for g in cal.gaps if g.start <= at < g.end]
        if short:
            assert len(gap) == 1, (cal.team, at.isoformat(), short)
            assert set(short) <= set(gap[0].rules)
            assert gap[0].available == available
            assert gap[0].needed == max(r.staff for r in needing)
        else:
            assert gap == [], (cal.team, at.isoformat())
        # "krap": covered with no one to spare
        staff = max((r.staff for r in needing), default=0)
        tight = [s for s in cal.tight if s.start <= at < s.end]
        if needing and not short and staff and available == staff:
            assert len(tight) == 1 and tight[0].needed == staff, (cal.team, at.isoformat())
        else:
            assert tight == [], (cal.team, at.isoformat())


@pytest.mark.parametrize(("lo", "hi"), HOT_DAYS)
def test_edge_calendar_matches_on_call_at_every_sampled_instant(lo: datetime, hi: datetime) -> None:
    rng = random.Random(lo.toordinal())
    for team in ("vt", "cit"):
        cal = team_calendar(EDGE, team, lo, hi)
        _assert_matches(EDGE, cal, _instants(lo, hi, rng, 300))


@pytest.mark.parametrize(("lo", "hi"), [HOT_DAYS[0], HOT_DAYS[2], HOT_DAYS[4]])
def test_national_calendars_match_on_call(lo: datetime, hi: datetime) -> None:
    snapshot = national()
    rng = random.Random(hi.toordinal())
    teams = rng.sample(sorted(snapshot.teams), 12)
    for team in teams:
        cal = team_calendar(snapshot, team, lo, hi)
        _assert_matches(snapshot, cal, _instants(lo, hi, rng, 60)[::3])


def test_blocks_are_maximal_and_name_their_source() -> None:
    cal = team_calendar(EDGE, "vt", local(2026, 3, 28), local(2026, 3, 31))
    # Blocks of one person from one source never touch (they would have been one).
    by_key: dict[tuple[str, str, str, str | None], list[Block]] = {}
    for b in cal.blocks:
        assert b.start < b.end
        by_key.setdefault((b.person, b.layer, b.source, b.source_id), []).append(b)
    for blocks in by_key.values():
        blocks.sort(key=lambda b: b.start)
        for a, b in pairwise(blocks):
            assert a.end < b.start
    shift = next(b for b in cal.blocks if b.source == "shift")
    assert shift.person == "cor"
    [expected] = [s for s in EDGE.config.shifts if s.person == "cor"]
    assert shift.source_id == key_of("shifts", expected)
    assert {b.source_id for b in cal.blocks if b.source == "override"} >= {"ov-ruil", "ov-terug"}
    dirk = [b for b in cal.blocks if b.person == "dirk"]
    assert dirk and not any(b.reachable for b in dirk)


def test_twelve_hour_shift_across_spring_forward_is_eleven_hours() -> None:
    # 2026-03-29 08:00 -> 20:00 CEST wall clock; the night before spans the change.
    cal = team_calendar(EDGE, "vt", local(2026, 3, 28, 12), local(2026, 3, 29, 21))
    night = [b for b in cal.blocks if b.source == "rotation" and b.start == local(2026, 3, 28, 20)]
    assert len(night) == 1
    assert night[0].end - night[0].start <= timedelta(hours=11)


def test_staff_two_gap_counts_reachable_people() -> None:
    # Weekday 13:00-22:00 needs two. 2026-03-30 (Mon): 12-hour rotation only; the backup
    # rotation starts at 22:00. One reachable person -> a gap with needed 2, available 1
    # (or 0 where dirk, who has no phone, holds the slot).
    cal = team_calendar(EDGE, "vt", local(2026, 3, 30, 12), local(2026, 3, 31))
    samen = [g for g in cal.gaps if "vt-samen" in g.rules]
    assert samen
    assert all(g.needed == 2 for g in samen)
    assert {g.available for g in samen} <= {0, 1}
    assert min(g.start for g in samen) >= local(2026, 3, 30, 13)
    assert max(g.end for g in samen) <= local(2026, 3, 30, 22)
    # Koningsdag: the staff-2 window is closed (holidays: closed), no staff-2 gap at all.
    kd = team_calendar(EDGE, "vt", local(2026, 4, 27), local(2026, 4, 28))
    assert not [g for g in kd.gaps if "vt-samen" in g.rules]
    assert not [n for n in kd.needs if "vt-samen" in n.rules]
    assert not [n for n in kd.needs if "vt-kantoor" in n.rules]


def test_partner_rules_need_no_coverage() -> None:
    cal = team_calendar(EDGE, "cit", local(2026, 6, 1), local(2026, 6, 8))
    assert all("cit-partner" not in n.rules for n in cal.needs)
    assert all("cit-partner" not in g.rules for g in cal.gaps)


def test_person_blocks_cover_all_teams() -> None:
    lo, hi = local(2026, 3, 2), local(2026, 3, 23)
    blocks = person_blocks(EDGE, "anna", lo, hi)
    assert {b.team for b in blocks} == {"vt", "cit"}
    assert all(b.person == "anna" for b in blocks)
    assert [b.start for b in blocks] == sorted(b.start for b in blocks)
    assert set(blocks) == {
        b for t in ("vt", "cit") for b in team_blocks(EDGE, t, lo, hi) if b.person == "anna"
    }


def test_region_overview_and_range_checks() -> None:
    cals = region_overview(EDGE, "r1", local(2026, 5, 4), local(2026, 5, 11))
    assert [c.team for c in cals] == ["vt", "cit"]
    with pytest.raises(ValueError, match="after"):
        team_calendar(EDGE, "vt", local(2026, 5, 4), local(2026, 5, 4))
    with pytest.raises(ValueError, match="92 days"):
        team_calendar(EDGE, "vt", local(2026, 1, 1), local(2026, 6, 1))
    with pytest.raises(KeyError):
        team_calendar(EDGE, "nope", local(2026, 5, 4), local(2026, 5, 5))


def test_example_snapshot_calendar_matches(example_snapshot: ConfigSnapshot) -> None:
    rng = random.Random(3)
    lo, hi = local(2026, 3, 25), local(2026, 4, 2)
    for team in example_snapshot.teams:
        cal = team_calendar(example_snapshot, team, lo, hi)
        _assert_matches(example_snapshot, cal, _instants(lo, hi, rng, 80)[::2])
    cal = team_calendar(SNAP, "vt-zl", local(2026, 5, 30), local(2026, 6, 10))
    _assert_matches(SNAP, cal, _instants(local(2026, 5, 30), local(2026, 6, 10), rng, 200))


# --- random rosters -----------------------------------------------------------------

_PEOPLE = ["p1", "p2", "p3", "p4"]
_CLOCKS = ["00:00", "01:30", "02:00", "02:30", "03:00", "07:00", "09:00", "17:00", "22:00"]
_DAYS = [["all"], ["weekdays"], ["weekend"], ["sun"], ["sat"], ["mon", "fri"]]
# Around both DST changes and Easter/Koningsdag (2026-03-29, 04-05/06, 04-27, 10-25).
_ANCHORS = [local(2026, 3, 27), local(2026, 4, 3), local(2026, 4, 25), local(2026, 10, 23)]


@st.composite
def _windows(draw: st.DrawFn) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for _ in range(draw(st.integers(1, 2))):
        start, end = draw(st.sampled_from(_CLOCKS)), draw(st.sampled_from([*_CLOCKS, "24:00"]))
        if start == end:
            end = "24:00" if start != "00:00" else "09:00"
        out.append({"days": draw(st.sampled_from(_DAYS)), "start": start, "end": end})
    return out


@st.composite
def _rosters(draw: st.DrawFn) -> tuple[ConfigSnapshot, datetime]:
    anchor = draw(st.sampled_from(_ANCHORS))
    rotations = []
    for n in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["daily", "weekly", "hours"]))
        handoff: dict[str, object] = {"every": kind}
        if kind == "hours":
            handoff["hours"] = draw(st.sampled_from([6, 8, 12, 24, 36]))
        else:
            handoff["at"] = draw(st.sampled_from(_CLOCKS[:-1]))
        start = anchor - timedelta(days=draw(st.integers(0, 20)), hours=draw(st.integers(0, 23)))
        rotation: dict[str, object] = {
            "id": f"rot{n}",
            "team": "t",
            "layer": draw(st.sampled_from(["primary", "backup"])),
            "participants": draw(st.lists(st.sampled_from(_PEOPLE), min_size=1, max_size=3)),
            "start": start.isoformat(),
            "handoff": handoff,
            "holidays": draw(st.sampled_from(["open", "closed"])),
        }
        if draw(st.booleans()):
            rotation["windows"] = draw(_windows())
        if draw(st.booleans()):
            rotation["until"] = (anchor + timedelta(hours=draw(st.integers(1, 90)))).isoformat()
        rotations.append(rotation)

    def span() -> tuple[str, str]:
        lo = anchor + timedelta(minutes=30 * draw(st.integers(0, 200)))
        hi = lo + timedelta(minutes=30 * draw(st.integers(1, 100)))
        return lo.isoformat(), hi.isoformat()

    shifts = []
    for _ in range(draw(st.integers(0, 2))):
        lo, hi = span()
        shifts.append(
            {
                "team": "t",
                "person": draw(st.sampled_from(_PEOPLE)),
                "start": lo,
                "end": hi,
                "layer": draw(st.sampled_from(["primary", "backup"])),
            }
        )
    overrides = []
    for n in range(draw(st.integers(0, 4))):
        lo, hi = span()
        kind = draw(st.sampled_from(["add", "remove", "replace"]))
        person = draw(st.sampled_from(_PEOPLE))
        item: dict[str, object] = {
            "id": f"ov{n}",
            "team": "t",
            "kind": kind,
            "person": person,
            "start": lo,
            "end": hi,
            "layer": draw(st.sampled_from(["primary", "backup"])),
        }
        if kind == "replace":
            item["replaces"] = draw(st.sampled_from([p for p in _PEOPLE if p != person]))
        overrides.append(item)
    rules = [
        {"id": "r-always", "team": "t", "hours": "always", "staff": draw(st.integers(1, 2))},
        {
            "id": "r-office",
            "team": "t",
            "hours": draw(st.sampled_from(["office_hours", "after_hours"])),
        },
        {
            "id": "r-win",
            "team": "t",
            "windows": draw(_windows()),
            "staff": 2,
            "holidays": draw(st.sampled_from(["open", "closed"])),
        },
    ]
    config = ConfigSet.model_validate(
        {
            "regions": [{"id": "r", "name": "R"}],
            "teams": [{"id": "t", "kind": "veilig_thuis", "name": "T", "region": "r"}],
            "people": [
                {
                    "id": p,
                    "name": p.upper(),
                    "phones": [f"06123456{i:02d}"] if i != 3 else [],
                    "memberships": [{"team": "t"}] if i != 2 else [],
                }
                for i, p in enumerate(_PEOPLE)
            ],
            "rotations": rotations,
            "shifts": shifts,
            "overrides": overrides,
            "rules": rules,
        }
    )
    return ConfigSnapshot(config), anchor


@settings(max_examples=60, deadline=None)
@given(_rosters(), st.randoms(use_true_random=False))
def test_random_rosters_match_on_call(
    roster: tuple[ConfigSnapshot, datetime], rng: random.Random
) -> None:
    snapshot, anchor = roster
    note(snapshot.config.model_dump_json(exclude_defaults=True))
    lo, hi = anchor, anchor + timedelta(days=5)
    cal = team_calendar(snapshot, "t", lo, hi)
    _assert_matches(snapshot, cal, _instants(lo, hi, rng, 40)[::4])

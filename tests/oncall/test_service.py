"""Configuration in the database: round trip, versions, the snapshot cache, failed writes
and a national-sized set, on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.timeutil import AMS
from oncall import models as m
from oncall import service as oncall_service
from oncall.loader import validate_references
from oncall.schemas import (
    Basisteam,
    ConfigSet,
    CoverageRule,
    Handoff,
    Membership,
    Municipality,
    Override,
    Person,
    Region,
    Rotation,
    Team,
)
from oncall.service import SnapshotCache
from oncall.snapshot import ConfigSnapshot

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def write(session: Session, config: ConfigSet, source: str = "tests") -> int:
    version = oncall_service.write_config(session=session, config=config, now=NOW, source=source)
    session.commit()
    return version


def extra_override(config: ConfigSet, override_id: str = "hvb-test-extra") -> ConfigSet:
    """The config with one more override: Olaf also on call for CIT Hart van Brabant."""
    override = Override(
        id=override_id,
        team="cit-hvb",
        kind="add",
        person="hvb-olaf-van-den-berg",
        start="2026-03-10T20:00",
        end="2026-03-11T08:00",
        reason="extra dienst",
    )
    return config.model_copy(update={"overrides": (*config.overrides, override)})


# --- round trip ----------------------------------------------------------------------------


def test_read_config_equals_the_shipped_example(
    session: Session, example_config: ConfigSet
) -> None:
    """read_config promises "the same value the YAML loader produces", order included."""
    write(session, example_config)
    back = oncall_service.read_config(session=session)
    differ = [s for s in ConfigSet.SECTIONS if getattr(back, s) != getattr(example_config, s)]
    assert differ == []
    assert back == example_config


def test_read_config_keeps_every_entry_of_the_example(
    session: Session, example_config: ConfigSet
) -> None:
    """Content check independent of order: nothing is lost or altered on the way."""
    write(session, example_config)
    back = oncall_service.read_config(session=session)
    for section in ConfigSet.SECTIONS:
        stored, shipped = getattr(back, section), getattr(example_config, section)
        assert len(stored) == len(shipped), section
        assert set(stored) == set(shipped), section
    # Order that matters for pairing is kept: rules, rotations and overrides.
    assert [r.id for r in back.rules] == [r.id for r in example_config.rules]
    assert [r.id for r in back.rotations] == [r.id for r in example_config.rotations]
    assert [o.id for o in back.overrides] == [o.id for o in example_config.overrides]
    assert not validate_references(back)


def test_times_come_back_as_the_same_instants_in_amsterdam(
    session: Session, example_config: ConfigSet
) -> None:
    ambiguous = Override(
        id="hvb-dst-repeated-hour",
        team="cit-hvb",
        kind="add",
        person="hvb-olaf-van-den-berg",
        start="2026-10-25T02:30+01:00",  # the second 02:30 (winter time)
        end="2026-10-25T04:00",
    )
    config = example_config.model_copy(update={"overrides": (*example_config.overrides, ambiguous)})
    write(session, config)
    back = oncall_service.read_config(session=session)
    stored = next(o for o in back.overrides if o.id == ambiguous.id)
    assert stored.start.utcoffset() == timedelta(hours=1)
    assert stored.start.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert stored.end.astimezone(UTC) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    assert all(r.start.tzinfo == AMS for r in back.rotations)


# --- versions ------------------------------------------------------------------------------


def test_version_increments_by_one_per_write(session: Session, example_config: ConfigSet) -> None:
    start = oncall_service.get_version(session=session)
    versions = [write(session, example_config, source=f"write {n}") for n in range(3)]
    assert versions == [start + 1, start + 2, start + 3]
    assert oncall_service.get_version(session=session) == start + 3
    state = session.get(m.ConfigState, 1)
    assert state is not None
    assert state.source == "write 2"
    assert state.updated_at == NOW


def test_write_replaces_rather_than_adds(session: Session, example_config: ConfigSet) -> None:
    write(session, extra_override(example_config))
    write(session, example_config)
    back = oncall_service.read_config(session=session)
    assert "hvb-test-extra" not in {o.id for o in back.overrides}
    assert len(back.overrides) == len(example_config.overrides)


# --- snapshot cache ------------------------------------------------------------------------


def test_snapshot_cache_reuses_the_snapshot_until_the_version_moves(
    sessions: sessionmaker[Session], session: Session, loaded: int, example_config: ConfigSet
) -> None:
    cache = SnapshotCache()
    first = cache.get(session=session)
    assert first.version == loaded
    assert cache.get(session=session) is first
    assert cache.get(session=session) is first

    with sessions() as other:  # a planner's write in another session (another process)
        version = write(other, extra_override(example_config))
    assert version == loaded + 1

    second = cache.get(session=session)
    assert second is not first
    assert second.version == version
    assert "hvb-test-extra" in {o.id for o in second.config.overrides}
    assert "hvb-test-extra" not in {o.id for o in first.config.overrides}
    assert cache.get(session=session) is second


def test_a_request_meeting_a_version_being_committed_waits_for_its_snapshot(
    session: Session, loaded: int, example_config: ConfigSet
) -> None:
    """Between a save's commit and its snapshot being put, a request that sees the new
    version waits for that snapshot instead of reading the configuration back (on the
    national configuration: hundreds of milliseconds, once per planner's save)."""
    cache = SnapshotCache()
    assert cache.get(session=session).version == loaded
    changed = extra_override(example_config)
    built = ConfigSnapshot(changed, loaded + 1)
    got: list[tuple[ConfigSnapshot, float]] = []

    def request() -> None:
        start = time.perf_counter()
        got.append((cache.get(session=session), time.perf_counter() - start))

    with cache.committing(loaded + 1, lambda: built):
        version = oncall_service.write_config(session=session, config=changed, now=NOW, source="t")
        session.commit()
        assert version == loaded + 1
        thread = threading.Thread(target=request)
        thread.start()
        time.sleep(0.3)  # the request has met the new version and waits
        assert not got
    thread.join(5)
    snapshot, waited = got[0]
    assert snapshot is built  # not read back
    assert waited >= 0.2
    assert cache.get(session=session) is built


def test_a_commit_that_fails_puts_nothing_and_requests_read_the_database(
    sessions: sessionmaker[Session], session: Session, loaded: int, example_config: ConfigSet
) -> None:
    cache = SnapshotCache()
    wrong = ConfigSnapshot(example_config, loaded + 1)
    with pytest.raises(RuntimeError), cache.committing(loaded + 1, lambda: wrong):
        raise RuntimeError("the commit failed")
    with sessions() as other:  # another writer then takes that version number
        version = write(other, extra_override(example_config))
    assert version == loaded + 1
    start = time.perf_counter()
    snapshot = cache.get(session=session)
    assert time.perf_counter() - start < SnapshotCache.PENDING_WAIT_SECONDS
    assert snapshot is not wrong and snapshot.version == version
    assert "hvb-test-extra" in {o.id for o in snapshot.config.overrides}


def test_a_served_process_freezes_a_new_snapshot_and_still_frees_the_one_it_replaces(
    monkeypatch: pytest.MonkeyPatch, example_config: ConfigSet
) -> None:
    """``samenop serve`` freezes what is alive once a snapshot is in place (a full
    collection walking the national configuration took 150-200 ms inside a request);
    a replaced snapshot must still be freed, by reference counting."""
    monkeypatch.setattr(oncall_service, "FREEZE_SNAPSHOTS", True)
    cache = SnapshotCache()
    try:
        first = ConfigSnapshot(example_config, 1)
        cache.put(first)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        gone = weakref.ref(first)
        del first
        cache.put(ConfigSnapshot(extra_override(example_config), 2))
        assert gone() is None  # no cycle keeps the replaced snapshot alive
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


# --- a write that fails half-way -----------------------------------------------------------


def test_failed_write_leaves_previous_config_and_version(
    session: Session, loaded: int, example_config: ConfigSet
) -> None:
    before = oncall_service.read_config(session=session)
    bad_rule = example_config.rules[0].model_copy(
        update={"id": "rule-for-missing-team", "team": "team-bestaat-niet"}
    )
    # Bypasses validation on purpose: only the database's foreign key can refuse it. The
    # rules go in last, so everything else has been deleted and re-inserted by then.
    broken = ConfigSet.model_construct(
        **{s: getattr(example_config, s) for s in ConfigSet.SECTIONS if s != "rules"},
        rules=(*example_config.rules, bad_rule),
    )
    with pytest.raises(IntegrityError):
        oncall_service.write_config(session=session, config=broken, now=NOW, source="broken")
    session.rollback()

    assert oncall_service.get_version(session=session) == loaded
    assert oncall_service.read_config(session=session) == before
    assert session.scalar(select(m.ConfigState.source)) == "tests"
    cache = SnapshotCache()
    assert cache.get(session=session).version == loaded


def test_failed_write_of_unknown_person_in_override(
    session: Session, loaded: int, example_config: ConfigSet
) -> None:
    before = oncall_service.read_config(session=session)
    ghost = Override.model_construct(
        **{
            **dict(example_config.overrides[0]),
            "id": "ghost",
            "person": "niemand",
        }
    )
    broken = example_config.model_copy(update={"overrides": (*example_config.overrides, ghost)})
    with pytest.raises(IntegrityError):
        oncall_service.write_config(session=session, config=broken, now=NOW, source="broken")
    session.rollback()
    assert oncall_service.get_version(session=session) == loaded
    assert oncall_service.read_config(session=session) == before


# --- national volume -----------------------------------------------------------------------


def national_config(people: int = 500, overrides: int = 2000, team_size: int = 10) -> ConfigSet:
    """A generated set of national size; ids sort in the order they are generated."""
    n_teams = people // team_size
    per_team = overrides // n_teams
    region = Region(id="nl", name="Nederland")
    municipalities = tuple(
        Municipality(code=f"GM{n:04d}", name=f"Gemeente {n}") for n in range(1, n_teams + 1)
    )
    basisteams = tuple(
        Basisteam(id=f"bt-{n:03d}", name=f"Basisteam {n}", region="nl", municipalities=(m.code,))
        for n, m in enumerate(municipalities)
    )
    teams = tuple(
        Team(id=f"team-{t:03d}", kind="veilig_thuis", name=f"VT {t}", region="nl")
        for t in range(n_teams)
    )
    persons = tuple(
        Person(
            id=f"p-{i:04d}",
            name=f"Medewerker {i}",
            phones=(f"06 {12000000 + i:08d}",),
            memberships=(Membership(team=f"team-{i // team_size:03d}"),),
        )
        for i in range(people)
    )
    rotations = tuple(
        Rotation(
            id=f"rot-{t:03d}",
            team=f"team-{t:03d}",
            participants=tuple(f"p-{t * team_size + k:04d}" for k in range(5)),
            start="2026-01-05T09:00",
            handoff=Handoff(every="daily", at="09:00"),
        )
        for t in range(n_teams)
    )
    base = datetime(2026, 1, 5, 20, 0, tzinfo=AMS)
    overs = []
    for t in range(n_teams):
        for k in range(per_team):
            start = base + timedelta(days=k)
            overs.append(
                Override(
                    id=f"ov-{t:03d}-{k:03d}",
                    team=f"team-{t:03d}",
                    kind="add",
                    person=f"p-{t * team_size + 5 + k % 5:04d}",
                    start=start,
                    end=start + timedelta(hours=12),
                    reason="extra",
                )
            )
    rules = tuple(
        CoverageRule(
            id=f"rule-{t:03d}",
            team=f"team-{t:03d}",
            area={"basisteams": [f"bt-{t:03d}"]},
        )
        for t in range(n_teams)
    )
    return ConfigSet(
        regions=(region,),
        municipalities=municipalities,
        basisteams=basisteams,
        teams=teams,
        people=persons,
        rotations=rotations,
        overrides=tuple(overs),
        rules=rules,
    )


def test_national_volume_round_trips(session: Session) -> None:
    config = national_config()
    assert len(config.people) == 500 and len(config.overrides) == 2000
    assert not validate_references(config)

    version = write(session, config, source="national")
    back = oncall_service.read_config(session=session)
    assert back == config
    assert session.scalar(select(m.ContactPoint.value).where(m.ContactPoint.person_id == "p-0123"))
    assert oncall_service.get_version(session=session) == version

    snapshot = ConfigSnapshot(back, version)
    at = datetime(2026, 1, 15, 23, 0, tzinfo=AMS)  # override k=10 for every team
    on_call = snapshot.on_call("team-042", at)
    people = {e.person for e in on_call.entries}
    assert "p-0425" in people  # 42 * 10 + 5 + 10 % 5
    assert any(e.source.startswith("override") for e in on_call.entries)

"""One planner's edit applied to a configuration (pure), and written as only its rows
(``oncall.service.write_touched``) with a version document equal to a full write's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from oncall import changes, edits, versions
from oncall import service as oncall_service
from oncall.schemas import ConfigSet, Membership, Override, Person, Shift

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
EXTRA = Override(
    id="anouk-extra",
    team="vt-gv",
    kind="add",
    person="gv-anouk-de-vries",
    start="2026-12-09T08:30",
    end="2026-12-10T08:30",
)


def apply(config: ConfigSet, section: str, op: edits.Op, key: str | None = None, value=None):  # type: ignore[no-untyped-def]
    return edits.apply(config, edits.Edit(section, op, key, value), now=NOW)


def test_an_added_override_is_touched_with_its_team_and_period(example_config: ConfigSet) -> None:
    applied = apply(example_config, "overrides", edits.Op.CREATE, value=EXTRA)
    assert applied.config.overrides[-1] == EXTRA
    assert len(applied.config.overrides) == len(example_config.overrides) + 1
    [t] = applied.touched
    assert (t.section, t.key, t.before, t.after) == ("overrides", "anouk-extra", None, EXTRA)
    assert applied.teams == ("vt-gv",)
    assert (applied.start, applied.end) == (EXTRA.start, EXTRA.end)
    assert edits.diff_of(applied.touched) == changes.diff(example_config, applied.config)
    assert edits.owners(example_config, applied.config, applied.touched) == {"gooi-en-vechtstreek"}


def test_a_changed_override_keeps_its_place_and_the_diff_names_the_field(
    example_config: ConfigSet,
) -> None:
    first = example_config.overrides[0]
    changed = first.model_copy(update={"reason": "anders"})
    applied = apply(example_config, "overrides", edits.Op.UPDATE, first.id, changed)
    assert applied.config.overrides[0] == changed
    assert edits.diff_of(applied.touched) == {"overrides": {"changed": {first.id: ["reason"]}}}
    assert edits.diff_of(applied.touched) == changes.diff(example_config, applied.config)
    removed = apply(example_config, "overrides", edits.Op.DELETE, first.id)
    assert first.id not in {o.id for o in removed.config.overrides}
    assert edits.diff_of(removed.touched) == {"overrides": {"removed": [first.id]}}


@pytest.mark.parametrize(
    "update,field,status",
    [
        ({"team": "geen-team"}, "team", 422),
        ({"person": "niemand"}, "person", 422),
        ({"person": "dh-linda-de-graaf"}, "person", 422),
        ({"id": "dh-2026-11-linda-afwezig"}, "id", 422),
    ],
)
def test_bad_overrides_name_the_field(
    example_config: ConfigSet, update: dict[str, object], field: str, status: int
) -> None:
    value = EXTRA.model_copy(update=update)
    with pytest.raises(edits.EditRejected) as refused:
        apply(example_config, "overrides", edits.Op.CREATE, value=value)
    assert refused.value.field == field and refused.value.status == status
    assert refused.value.rule


def test_unknown_objects_are_404_and_entries_do_not_move_team(example_config: ConfigSet) -> None:
    with pytest.raises(edits.EditRejected) as missing:
        apply(example_config, "overrides", edits.Op.DELETE, "bestaat-niet")
    assert missing.value.status == 404
    first = example_config.overrides[0]
    moved = first.model_copy(update={"team": "vt-gv"})
    with pytest.raises(edits.EditRejected) as refused:
        apply(example_config, "overrides", edits.Op.UPDATE, first.id, moved)
    assert refused.value.field in ("team", "person")


def test_people_keep_rosters_valid(example_config: ConfigSet) -> None:
    [anouk] = [p for p in example_config.people if p.id == "gv-anouk-de-vries"]
    with pytest.raises(edits.EditRejected) as refused:
        apply(example_config, "people", edits.Op.DELETE, anouk.id)
    assert "gv-vt-kantoor" in refused.value.rule
    left = anouk.model_copy(update={"memberships": ()})
    with pytest.raises(edits.EditRejected) as dropped:
        apply(example_config, "people", edits.Op.UPDATE, anouk.id, left)
    assert dropped.value.field == "memberships"
    twice = anouk.model_copy(
        update={"memberships": (Membership(team="vt-gv"), Membership(team="vt-gv"))}
    )
    with pytest.raises(edits.EditRejected):
        apply(example_config, "people", edits.Op.UPDATE, anouk.id, twice)
    # A person in another region's team too: both regions own the change.
    both = anouk.model_copy(
        update={"memberships": (*anouk.memberships, Membership(team="cit-haaglanden"))}
    )
    applied = apply(example_config, "people", edits.Op.UPDATE, anouk.id, both)
    assert edits.owners(example_config, applied.config, applied.touched) == {
        "gooi-en-vechtstreek",
        "den-haag",
    }
    loner = Person(id="nieuw", name="Nieuw", phones=("0612345678",))
    applied = apply(example_config, "people", edits.Op.CREATE, value=loner)
    assert edits.owners(example_config, applied.config, applied.touched) == {None}


def test_a_shift_moved_in_time_is_a_new_key(example_config: ConfigSet) -> None:
    shift = example_config.shifts[1]
    key = changes.key_of("shifts", shift)
    later = Shift(
        team=shift.team,
        person=shift.person,
        start=shift.start.replace(hour=10),
        end=shift.end,
        layer=shift.layer,
    )
    applied = apply(example_config, "shifts", edits.Op.UPDATE, key, later)
    diff = edits.diff_of(applied.touched)
    assert diff["shifts"]["removed"] == [key]
    assert diff["shifts"]["added"] == [changes.key_of("shifts", later)]
    assert diff == changes.diff(example_config, applied.config)


def test_undo_puts_the_touched_objects_back_and_sees_later_changes(
    example_config: ConfigSet,
) -> None:
    previous = changes.document(example_config)
    first = example_config.overrides[0]
    changed = first.model_copy(update={"reason": "anders"})
    after = apply(example_config, "overrides", edits.Op.UPDATE, first.id, changed)
    after2 = apply(after.config, "overrides", edits.Op.CREATE, value=EXTRA)
    undone = edits.diff_keys(edits.diff_of(after.touched))
    touched = edits.revert(after2.config, undone, previous)
    back = edits.applied(after2.config, touched, NOW).config
    assert back.overrides[0] == first and back.overrides[-1] == EXTRA
    # Undo of the create: the override goes.
    touched = edits.revert(
        after2.config, {"overrides": {"anouk-extra"}}, changes.document(after.config)
    )
    assert "anouk-extra" not in {
        o.id for o in edits.applied(after2.config, touched, NOW).config.overrides
    }
    later: list[tuple[int, dict[str, Any]]] = [
        (3, {"overrides": {"changed": {first.id: ["reason"]}}}),
        (4, {"people": {"added": ["x"]}}),
    ]
    assert edits.conflicts(undone, later) == [{"version": 3, "objects": {"overrides": [first.id]}}]
    assert edits.conflicts(undone, later[1:]) == []


def test_team_slice_keeps_the_calendar(example_config: ConfigSet) -> None:
    from oncall import calendar
    from oncall.snapshot import ConfigSnapshot

    whole = ConfigSnapshot(example_config, 1)
    part = ConfigSnapshot(edits.team_slice(example_config, ["vt-gv", "vt-gv-piket"]), 1)
    lo, hi = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 5, tzinfo=UTC)
    for team in ("vt-gv", "vt-gv-piket"):
        assert calendar.team_calendar(whole, team, lo, hi) == calendar.team_calendar(
            part, team, lo, hi
        )


def test_written_rows_and_document_equal_a_full_write(session: Session, loaded: int) -> None:
    """Three edits written one object at a time: the stored configuration and the
    version's document are exactly what a whole write of the same configuration gives."""
    config = oncall_service.read_config(session=session)
    version = loaded
    steps = [
        ("overrides", edits.Op.CREATE, None, EXTRA),
        ("overrides", edits.Op.UPDATE, "anouk-extra", EXTRA.model_copy(update={"reason": "x"})),
        (
            "people",
            edits.Op.CREATE,
            None,
            Person(
                id="gv-nieuw",
                name="Nieuw",
                phones=("0612349999",),
                memberships=(Membership(team="vt-gv"),),
            ),
        ),
        ("overrides", edits.Op.DELETE, config.overrides[0].id, None),
    ]
    for section, op, key, value in steps:
        applied = edits.apply(config, edits.Edit(section, op, key, value), now=NOW)
        assert oncall_service.lock_state(session=session) == version
        version, document = oncall_service.write_touched(
            session=session,
            previous=config,
            previous_version=version,
            current=applied.config,
            touched=applied.touched,
            diff=edits.diff_of(applied.touched),
            now=NOW,
            source="tests",
            author="tests",
        )
        session.commit()
        oncall_service.DOCUMENTS.put(version, applied.config, document)
        config = applied.config
        assert oncall_service.read_config(session=session) == config
        assert document == changes.document(config)
        stored = versions.get(session, version)
        assert stored is not None and stored.document == changes.document(config)
        assert versions.config_of(stored) == config
        # What the sweep reads: the very document, kept, equal to the stored JSON.
        kept = versions.stored(session, version)
        assert kept is not None and kept.document is document
        assert kept.document == stored.document and kept.at == stored.at
    assert version == loaded + len(steps)


def test_a_kept_document_is_used_only_for_the_version_written_at_that_time(
    session: Session, loaded: int
) -> None:
    """A version number can come back with other contents (a write rolled back, a
    database restored): the kept document is known by number and time."""
    versions.RECENT.clear()
    stored = versions.stored(session, loaded)
    assert stored is not None  # read from the database, then kept
    assert versions.stored(session, loaded) is not None
    assert versions.RECENT.get((loaded, stored.at)) is stored.document
    versions.RECENT.put((loaded, stored.at + timedelta(microseconds=1)), {"people": []})
    again = versions.stored(session, loaded)
    assert again is not None and again.document is stored.document
    assert again.document.get("people")

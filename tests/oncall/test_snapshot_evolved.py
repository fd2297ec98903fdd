"""A snapshot evolved for a planner's edit has exactly the lookups of one built afresh
(``ConfigSnapshot.evolved`` rebuilds only the touched sections' teams)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall import edits
from oncall.schemas import ConfigSet, Membership, Override, Person, Shift
from oncall.snapshot import ConfigSnapshot

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def lookups(snapshot: ConfigSnapshot) -> dict[str, Any]:
    return {k: v for k, v in vars(snapshot).items() if k not in ("config", "version")}


def _edits(config: ConfigSet) -> list[tuple[str, edits.Edit]]:
    first, other = config.overrides[0], config.overrides[-1]
    member = next(p for p in config.people if p.memberships)
    rotation = config.rotations[0]
    return [
        (
            "an override added",
            edits.Edit(
                "overrides",
                edits.Op.CREATE,
                None,
                Override(
                    id="extra",
                    team="vt-gv",
                    kind="add",
                    person="gv-anouk-de-vries",
                    start="2026-12-09T08:30",
                    end="2026-12-10T08:30",
                ),
            ),
        ),
        (
            "an override changed",
            edits.Edit(
                "overrides", edits.Op.UPDATE, other.id, other.model_copy(update={"reason": "x"})
            ),
        ),
        ("an override removed", edits.Edit("overrides", edits.Op.DELETE, first.id, None)),
        (
            "an override's period changed",
            edits.Edit(
                "overrides",
                edits.Op.UPDATE,
                other.id,
                other.model_copy(update={"end": other.end + timedelta(days=2)}),
            ),
        ),
        (
            "a shift added",
            edits.Edit(
                "shifts",
                edits.Op.CREATE,
                None,
                Shift(
                    team="vt-gv",
                    person="gv-anouk-de-vries",
                    start="2026-12-12T08:00",
                    end="2026-12-12T17:00",
                ),
            ),
        ),
        (
            "a rotation's participants changed",
            edits.Edit(
                "rotations",
                edits.Op.UPDATE,
                rotation.id,
                rotation.model_copy(update={"participants": rotation.participants[::-1]}),
            ),
        ),
        (
            "a person added to a team",
            edits.Edit(
                "people",
                edits.Op.CREATE,
                None,
                Person(
                    id="nieuw",
                    name="Nieuw",
                    phones=("0612349999",),
                    memberships=(Membership(team="vt-gv"),),
                ),
            ),
        ),
        (
            "a person's memberships changed",
            edits.Edit(
                "people",
                edits.Op.UPDATE,
                member.id,
                member.model_copy(update={"memberships": member.memberships[:1][::-1]}),
            ),
        ),
    ]


@pytest.mark.parametrize("index", range(8))
def test_an_evolved_snapshot_equals_one_built_afresh(example_config: ConfigSet, index: int) -> None:
    what, edit = _edits(example_config)[index]
    before = ConfigSnapshot(example_config, 1)
    try:
        applied = edits.apply(example_config, edit, now=NOW)
    except edits.EditRejected as exc:  # the example data changed under this test
        pytest.fail(f"{what}: {exc}")
    changed = edits.changed_teams(applied.touched)
    evolved = before.evolved(applied.config, 2, changed)
    fresh = ConfigSnapshot(applied.config, 2)
    assert evolved.version == 2 and evolved.config is applied.config
    assert lookups(evolved) == lookups(fresh), what
    assert lookups(before) == lookups(ConfigSnapshot(example_config, 1))  # not changed
    for team in example_config.teams:  # and it answers the same
        for hour in range(0, 24 * 21, 5):
            at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=hour)
            assert evolved.on_call(team.id, at) == fresh.on_call(team.id, at), (what, team.id)


def test_a_change_outside_the_rosters_builds_afresh(example_config: ConfigSet) -> None:
    before = ConfigSnapshot(example_config, 1)
    team = example_config.teams[0]
    config = example_config.model_copy(
        update={"teams": (team.model_copy(update={"name": "Anders"}), *example_config.teams[1:])}
    )
    evolved = before.evolved(config, 2, {"teams": {team.id}})
    assert evolved.teams[team.id].name == "Anders"
    assert lookups(evolved) == lookups(ConfigSnapshot(config, 2))

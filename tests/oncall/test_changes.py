"""The pure side of configuration writes: diffs, whose object is whose, a region's slice
and merging it back, and which removals need a confirmation."""

from __future__ import annotations

from datetime import UTC

import pytest

from oncall import changes
from oncall.loader import validate_references
from oncall.schemas import ConfigSet, Membership, Municipality, Person

GV = "gooi-en-vechtstreek"
ZL = "zuid-limburg"


def replaced(config: ConfigSet, section: str, key: str, **update: object) -> ConfigSet:
    items = tuple(
        o.model_copy(update=update) if changes.key_of(section, o) == key else o
        for o in getattr(config, section)
    )
    return config.model_copy(update={section: items})


def without(config: ConfigSet, section: str, *keys: str) -> ConfigSet:
    items = tuple(o for o in getattr(config, section) if changes.key_of(section, o) not in keys)
    return config.model_copy(update={section: items})


def only(region: str) -> object:
    return lambda r: r == region


def test_diff_names_added_removed_and_changed_fields(example_config: ConfigSet) -> None:
    person = example_config.people[0]
    new = replaced(example_config, "people", person.id, phones=("+31600000000",), active=False)
    new = without(new, "teams", "vt-zl-samen-op")
    new = new.model_copy(
        update={"municipalities": (*new.municipalities, Municipality(code="GM9999", name="X"))}
    )
    d = changes.diff(example_config, new)
    assert d["people"] == {"changed": {person.id: ["phones", "active"]}}
    assert d["teams"] == {"removed": ["vt-zl-samen-op"]}
    assert d["municipalities"] == {"added": ["GM9999"]}
    assert set(d) == {"people", "teams", "municipalities"}
    assert changes.summary(d)["people"] == {"changed": 1}


def test_order_and_the_offset_of_an_instant_are_no_change(example_config: ConfigSet) -> None:
    reordered = example_config.model_copy(update={"people": example_config.people[::-1]})
    assert changes.diff(example_config, reordered) == {}
    rotation = example_config.rotations[0]
    utc = rotation.start.astimezone(UTC)  # the same instant, written in UTC
    shifted = replaced(example_config, "rotations", rotation.id, start=utc)
    assert changes.diff(example_config, shifted) == {}
    assert changes.document(shifted) == changes.document(example_config)
    assert changes.from_document(changes.document(example_config)) == example_config


def test_owners_of_each_kind_of_object(example_config: ConfigSet) -> None:
    config = example_config
    team = next(t for t in config.teams if t.region == GV)
    assert changes.owners(config, "teams", team) == {GV}
    national = next(t for t in config.teams if t.region is None)
    assert changes.owners(config, "teams", national) == {None}
    rule = next(r for r in config.rules if r.team == national.id)
    assert changes.owners(config, "rules", rule) == {None}
    zl_team = next(t for t in config.teams if t.region == ZL)
    person = next(p for p in config.people if any(m.team == team.id for m in p.memberships))
    both = person.model_copy(
        update={"memberships": (*person.memberships, Membership(team=zl_team.id))}
    )
    assert changes.owners(config, "people", both) == {GV, ZL}
    assert changes.owners(config, "people", person.model_copy(update={"memberships": ()})) == {None}
    orphan = Municipality(code="GM9999", name="Nergens")
    assert changes.owners(config, "municipalities", orphan) == {None}


def test_a_region_slice_holds_exactly_its_part(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    assert [r.id for r in part.regions] == [GV]
    assert {b.region for b in part.basisteams} == {GV}
    teams = {t.id for t in part.teams}
    assert teams and all(t.region == GV for t in part.teams)
    assert all(r.team in teams for r in part.rotations)
    assert all(r.team in teams for r in part.rules)
    assert all(o.team in teams for o in part.overrides)
    assert all(any(m.team in teams for m in p.memberships) for p in part.people)
    expected_people = {
        p.id for p in example_config.people if any(m.team in teams for m in p.memberships)
    }
    assert {p.id for p in part.people} == expected_people


def test_merging_the_slice_back_unchanged_changes_nothing(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    assert changes.merge_region(example_config, GV, part, only(GV)) == example_config


def test_merge_replaces_in_place_and_adds_at_the_end(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    person = part.people[0]
    team = part.teams[0]
    newcomer = Person(id="gv-nieuw", name="Nieuwe Collega", memberships=(Membership(team=team.id),))
    part = replaced(part, "people", person.id, name="Andere Naam")
    part = part.model_copy(update={"people": (*part.people, newcomer)})
    merged = changes.merge_region(example_config, GV, part, only(GV))
    assert changes.diff(example_config, merged) == {
        "people": {"added": ["gv-nieuw"], "changed": {person.id: ["name"]}}
    }
    ids = [p.id for p in merged.people]
    assert ids.index(person.id) == [p.id for p in example_config.people].index(person.id)
    assert ids[-1] == "gv-nieuw"
    assert validate_references(merged) == []


def test_what_the_slice_leaves_out_is_removed(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    rule = part.rules[0]
    merged = changes.merge_region(example_config, GV, without(part, "rules", rule.id), only(GV))
    assert changes.diff(example_config, merged) == {"rules": {"removed": [rule.id]}}


def test_another_regions_object_is_refused_by_name(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    zl_team = next(t for t in example_config.teams if t.region == ZL)
    sneaky = part.model_copy(
        update={"teams": (*part.teams, zl_team.model_copy(update={"name": "X"}))}
    )
    with pytest.raises(changes.Outside) as caught:
        changes.merge_region(example_config, GV, sneaky, only(GV))
    assert caught.value.section == "teams" and caught.value.key == zl_team.id
    assert caught.value.region == ZL and ZL in str(caught.value)


def test_moving_an_own_team_to_another_region_is_refused(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    team = part.teams[0]
    moved = replaced(part, "teams", team.id, region=ZL)
    with pytest.raises(changes.Outside) as caught:
        changes.merge_region(example_config, GV, moved, only(GV))
    assert (caught.value.key, caught.value.region) == (team.id, ZL)
    # ... and a planner of both may, but not through GV's slice (the team leaves it).
    with pytest.raises(changes.Outside) as caught:
        changes.merge_region(example_config, GV, moved, lambda r: r in (GV, ZL))
    assert caught.value.key == team.id and "not to region" in str(caught.value)


def test_a_person_shared_with_another_region_needs_a_planner_of_both(
    example_config: ConfigSet,
) -> None:
    zl_team = next(t for t in example_config.teams if t.region == ZL)
    gv_team = next(t for t in example_config.teams if t.region == GV)
    person = next(
        p for p in example_config.people if any(m.team == gv_team.id for m in p.memberships)
    )
    config = replaced(
        example_config,
        "people",
        person.id,
        memberships=(*person.memberships, Membership(team=zl_team.id)),
    )
    part = replaced(changes.region_slice(config, GV), "people", person.id, name="Gewijzigd")
    with pytest.raises(changes.Outside) as caught:
        changes.merge_region(config, GV, part, only(GV))
    assert (caught.value.section, caught.value.key, caught.value.region) == (
        "people",
        person.id,
        ZL,
    )
    merged = changes.merge_region(config, GV, part, lambda r: r in (GV, ZL))
    assert next(p for p in merged.people if p.id == person.id).name == "Gewijzigd"
    # Unchanged, the shared person passes through a one-region planner's write.
    assert changes.merge_region(config, GV, changes.region_slice(config, GV), only(GV)) == config


def test_national_objects_are_for_an_admin_only(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    partner = next(r for r in example_config.rules if r.id == "partner-om-zsm")
    sneaky = part.model_copy(
        update={"rules": (*part.rules, partner.model_copy(update={"priority": 1}))}
    )
    with pytest.raises(changes.Outside) as caught:
        changes.merge_region(example_config, GV, sneaky, lambda r: True)
    assert caught.value.key == "partner-om-zsm" and caught.value.region is None
    assert "national" in str(caught.value)


def test_a_repeated_object_in_the_slice_is_rejected(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    twice = part.model_copy(update={"people": (*part.people, part.people[0])})
    with pytest.raises(changes.SliceRejected) as caught:
        changes.merge_region(example_config, GV, twice, only(GV))
    assert caught.value.path == f"people[{len(part.people)}]"


def test_removing_a_region_needs_confirmation(example_config: ConfigSet) -> None:
    part = changes.region_slice(example_config, GV)
    new = ConfigSet.model_validate(
        {
            s: tuple(o for o in getattr(example_config, s) if o not in getattr(part, s))
            for s in ConfigSet.SECTIONS
        }
    )
    found = changes.removals(example_config, new, busy_teams=(), people_share_limit=1.0)
    assert found.reasons == ["regions"]
    assert found.as_dict()["regions"] == [GV]
    assert sorted(found.removed["teams"]) == sorted(t.id for t in part.teams)
    with pytest.raises(changes.NeedsConfirmation) as caught:
        changes.Guard(people_share_limit=1.0).check(example_config, new)
    assert caught.value.removal.removed == found.removed
    assert changes.Guard(people_share_limit=1.0, confirmed=True).check(example_config, new) == found


def test_removing_a_team_with_open_incidents_needs_confirmation(example_config: ConfigSet) -> None:
    new = without(
        example_config, "rules", *[r.id for r in example_config.rules if r.team == "vt-zl-samen-op"]
    )
    new = without(new, "rotations", *[r.id for r in new.rotations if r.team == "vt-zl-samen-op"])
    new = without(new, "teams", "vt-zl-samen-op")
    quiet = changes.removals(example_config, new, busy_teams={"vt-gv"}, people_share_limit=0.2)
    assert quiet.reasons == [] and quiet.removed["teams"] == ["vt-zl-samen-op"]
    busy = changes.removals(
        example_config, new, busy_teams={"vt-zl-samen-op", "vt-gv"}, people_share_limit=0.2
    )
    assert busy.reasons == ["teams_with_open_incidents"]
    assert busy.as_dict()["teams_with_open_incidents"] == ["vt-zl-samen-op"]


def test_removing_more_than_the_share_of_people_needs_confirmation(
    example_config: ConfigSet,
) -> None:
    people = example_config.people
    limit = 0.2
    allowed = int(len(people) * limit)  # exactly at the limit: no confirmation
    at_limit = example_config.model_copy(update={"people": people[allowed:]})
    found = changes.removals(example_config, at_limit, busy_teams=(), people_share_limit=limit)
    assert found.reasons == [] and len(found.removed["people"]) == allowed
    over = example_config.model_copy(update={"people": people[allowed + 1 :]})
    found = changes.removals(example_config, over, busy_teams=(), people_share_limit=limit)
    assert found.reasons == ["people_share"]
    assert found.as_dict()["people"] == [p.id for p in people[: allowed + 1]]
    assert found.people_share > limit

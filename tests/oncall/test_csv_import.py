"""A team's roster from CSV: separators, BOM, Dutch and ISO times, every error named by
row, column and field, new people, and a repeated file that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from oncall import changes, edits
from oncall.csv_import import MAX_ROWS, RowError, plan_import
from oncall.schemas import ConfigSet, Layer

TEAM = "vt-gv"


def errors(plan_errors: list[RowError]) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.field) for e in plan_errors]


def test_semicolons_bom_and_dutch_times(example_config: ConfigSet) -> None:
    data = (
        "\ufeffPersoon;Begin;Eind;Laag\n"
        "gv-anouk-de-vries;19-12-2026 09:00;19-12-2026 17:00;primair\n"
        "Bram Visser;2026-12-20T09:00;2026-12-20T17:00;reserve\n"
        "\n"
    ).encode()
    plan = plan_import(example_config, TEAM, data)
    assert plan.errors == []
    assert plan.rows == 2 and plan.added == 2
    shifts = [t.after for t in plan.touched]
    assert [s.person for s in shifts] == ["gv-anouk-de-vries", "gv-bram-visser"]  # type: ignore[union-attr]
    assert shifts[0].start.astimezone(UTC) == datetime(2026, 12, 19, 8, tzinfo=UTC)  # type: ignore[union-attr]
    assert shifts[1].layer == Layer.BACKUP  # type: ignore[union-attr]


def test_commas_and_english_headers(example_config: ConfigSet) -> None:
    data = b"person,start,end,layer\ngv-anouk-de-vries,2026-12-19 09:00,2026-12-19 17:00,backup\n"
    plan = plan_import(example_config, TEAM, data)
    assert plan.errors == [] and plan.added == 1


def test_a_shift_across_the_october_clock_change_is_its_real_length(
    example_config: ConfigSet,
) -> None:
    data = b"persoon;begin;eind\ngv-anouk-de-vries;24-10-2026 22:00;25-10-2026 08:00\n"
    plan = plan_import(example_config, TEAM, data)
    [touched] = plan.touched
    shift = touched.after
    # Same-zone subtraction in Python is wall clock (10 h); the real length is 11 h.
    length = shift.end.astimezone(UTC) - shift.start.astimezone(UTC)  # type: ignore[union-attr]
    assert length.total_seconds() == 11 * 3600


def test_every_error_is_named_by_row_column_and_field(example_config: ConfigSet) -> None:
    data = (
        b"persoon;begin;eind;laag;telefoon\n"
        b"gv-anouk-de-vries;19-12-2026 09:00;19-12-2026 17:00;primair;\n"  # fine
        b"niemand;19-12-2026 09:00;19-12-2026 17:00;;\n"  # unknown, no name/phone
        b"dh-linda-de-graaf;morgen;19-12-2026 17:00;x;\n"  # not a member, bad time, layer
        b"gv-bram-visser;19-12-2026 17:00;19-12-2026 09:00;;\n"  # end before start
        b"gv-bram-visser;01-12-2026 09:00;31-12-2026 09:00;;\n"  # too long
        b"gv-anouk-de-vries;19-12-2026 09:00;19-12-2026 18:00;;\n"  # same start as row 2
        b"gv-carla-mulder;20-12-2026 09:00;20-12-2026 17:00;;0612340999\n"  # other phone
    )
    plan = plan_import(example_config, TEAM, data)
    assert errors(plan.errors) == [
        (3, "persoon", "person"),
        (4, "persoon", "person"),
        (4, "begin", "start"),
        (4, "laag", "layer"),
        (5, "eind", "end"),
        (6, "eind", "end"),
        (7, "begin", "start"),
        (8, "telefoon", "phone"),
    ]
    assert all(e.rule and e.regel for e in plan.errors)
    assert "regel 2" in plan.errors[6].regel
    assert plan.added == 1  # the good row is still shown (the dry run's calendar diff)


def test_the_header_is_checked_first(example_config: ConfigSet) -> None:
    plan = plan_import(example_config, TEAM, b"wie;begin;eind\nx;1-12-2026 08:00;1-12-2026 09:00\n")
    assert errors(plan.errors) == [(1, "header", "header"), (1, "persoon", "person")]
    assert plan_import(example_config, TEAM, b"").errors[0].row == 1
    bad = plan_import(example_config, TEAM, b"persoon;begin;eind\n\xff\xfe;x;y\n")
    assert bad.errors[0].field == "file" and "UTF-8" in bad.errors[0].rule
    many = b"persoon;begin;eind\n" + b"a;b;c\n" * (MAX_ROWS + 1)
    assert "rows" in plan_import(example_config, TEAM, many).errors[0].rule
    assert plan_import(example_config, "geen-team", b"persoon;begin;eind\n").errors[0].field == (
        "team"
    )


def test_a_new_person_needs_a_name_and_a_valid_phone(example_config: ConfigSet) -> None:
    data = (
        b"persoon;begin;eind;telefoon;naam\n"
        b"Fenna Jansen;21-12-2026 09:00;21-12-2026 17:00;06-12340199;Fenna Jansen\n"
        b"Fenna Jansen;22-12-2026 09:00;22-12-2026 17:00;;\n"
        b"gv-nieuw;23-12-2026 09:00;23-12-2026 17:00;12;Nieuw\n"
    )
    plan = plan_import(example_config, TEAM, data)
    assert errors(plan.errors) == [(4, "telefoon", "phone")]
    assert plan.new_people == ["fenna-jansen"]
    person = plan.touched[0].after
    assert person.phones == ("+31612340199",)  # type: ignore[union-attr]
    assert [m.team for m in person.memberships] == [TEAM]  # type: ignore[union-attr]
    assert [t.after.person for t in plan.touched[1:]] == ["fenna-jansen", "fenna-jansen"]  # type: ignore[union-attr]
    applied = edits.applied(example_config, tuple(plan.touched), datetime(2026, 12, 1, tzinfo=UTC))
    assert "fenna-jansen" in {p.id for p in applied.config.people}


def test_the_same_file_twice_changes_nothing(example_config: ConfigSet) -> None:
    data = b"persoon;begin;eind\ngv-anouk-de-vries;19-12-2026 09:00;19-12-2026 17:00\n"
    first = plan_import(example_config, TEAM, data)
    config = edits.applied(example_config, tuple(first.touched), datetime.now(UTC)).config
    again = plan_import(config, TEAM, data)
    assert again.touched == [] and again.unchanged == 1
    # A changed end for the same person and start replaces that shift.
    longer = data.replace(b"17:00", b"18:00")
    changed = plan_import(config, TEAM, longer)
    assert changed.changed == 1
    [t] = changed.touched
    assert t.before is not None and t.key == changes.key_of("shifts", t.before)


def test_an_ambiguous_name_asks_for_the_id(example_config: ConfigSet) -> None:
    [anouk] = [p for p in example_config.people if p.id == "gv-anouk-de-vries"]
    twin = anouk.model_copy(update={"id": "gv-anouk-2"})
    config = example_config.model_copy(update={"people": (*example_config.people, twin)})
    plan = plan_import(
        config, TEAM, b"persoon;begin;eind\nAnouk de Vries;1-12-2026 8:00;1-12-2026 9:00\n"
    )
    assert errors(plan.errors) == [(2, "persoon", "person")]
    assert "id" in plan.errors[0].rule

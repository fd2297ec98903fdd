"""The YAML loader: the shipped regions load cleanly, and every mistake a planner can
make comes back as an issue naming the file, the path inside it and the rule broken."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from core.timeutil import AMS
from oncall.loader import (
    ConfigError,
    ConfigIssue,
    dump_config,
    load_directory,
    load_file,
    load_paths,
    validate_references,
)
from oncall.schemas import (
    ConfigSet,
    Day,
    ExceptionEffect,
    Flag,
    HolidayPolicy,
    Hours,
    Layer,
    Mode,
    PersonRole,
    RuleRole,
    Shift,
    TeamKind,
)

REGIONS = Path(__file__).resolve().parents[2] / "regions"

BASE = """
regions:
  - {id: gooi, name: Gooi en Vechtstreek}
municipalities:
  - {code: GM0402, name: Hilversum}
basisteams:
  - {id: gv-zuid, name: Gooi en Vechtstreek Zuid, region: gooi, municipalities: [GM0402]}
teams:
  - {id: vt-gv, kind: veilig_thuis, name: VT Gooi en Vechtstreek, region: gooi}
  - {id: gw-gv, kind: gedragswetenschapper, name: Gedragswetenschapper, region: gooi}
people:
  - {id: anouk, name: Anouk de Vries, phones: ["06 12340101"], memberships: [{team: vt-gv}]}
  - {id: femke, name: Femke Dekker, phones: ["06 12340102"], memberships: [{team: gw-gv}]}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def issues_of(root: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load_directory(root)
    return list(info.value.issues)


@pytest.fixture(scope="module")
def shipped() -> ConfigSet:
    return load_directory(REGIONS)


# --- the shipped example set --------------------------------------------------------------


def test_shipped_regions_load_without_issues(shipped: ConfigSet) -> None:
    assert {r.id for r in shipped.regions} == {
        "gooi-en-vechtstreek",
        "hart-van-brabant",
        "meierij",
        "noord-en-midden-limburg",
        "zuid-limburg",
        "kennemerland",
        "den-haag",
    }
    assert validate_references(shipped) == []
    basisteams = {b.id: b for b in shipped.basisteams}
    assert {
        "gooi-en-vechtstreek-noord",
        "gooi-en-vechtstreek-zuid",
        "tilburg",
        "meierij",
        "venlo-beesel",
        "weert",
        "westelijke-mijnstreek",
        "ijmond",
        "laak",
        "beresteinlaan",
    } <= set(basisteams)
    assert basisteams["westelijke-mijnstreek"].municipalities == ("GM1883", "GM0971", "GM0888")
    assert basisteams["venlo-beesel"].municipalities == ("GM0983", "GM0889")
    assert set(basisteams["ijmond"].municipalities) == {"GM0375", "GM0396", "GM0453"}


def test_shipped_municipality_codes(shipped: ConfigSet) -> None:
    names = {m.code: m.name for m in shipped.municipalities}
    assert {
        code: names[code]
        for code in (
            "GM0402",
            "GM0855",
            "GM1883",
            "GM0971",
            "GM0888",
            "GM0983",
            "GM0889",
            "GM0988",
            "GM0375",
            "GM0453",
            "GM0396",
            "GM0518",
        )
    } == {
        "GM0402": "Hilversum",
        "GM0855": "Tilburg",
        "GM1883": "Sittard-Geleen",
        "GM0971": "Stein",
        "GM0888": "Beek",
        "GM0983": "Venlo",
        "GM0889": "Beesel",
        "GM0988": "Weert",
        "GM0375": "Beverwijk",
        "GM0453": "Velsen",
        "GM0396": "Heemskerk",
        "GM0518": "'s-Gravenhage",
    }


def test_shipped_rules_express_the_regional_arrangements(shipped: ConfigSet) -> None:
    rules = {r.id: r for r in shipped.rules}
    teams = {t.id: t for t in shipped.teams}

    ijmond = rules["ijmond-crisisdienst"]
    assert teams[ijmond.team].kind == TeamKind.CRISISDIENST and ijmond.hours == Hours.ALWAYS
    assert ijmond.age is not None and (ijmond.age.min, ijmond.age.max) == (0, 23)
    assert ijmond.age.applies_to == (PersonRole.VICTIM, PersonRole.CHILD)
    [exception] = ijmond.exceptions
    assert exception.when.flags == (Flag.HUISVERBOD_CONSIDERED,)
    assert exception.effect == ExceptionEffect.WAIVE_AGE

    zl = rules["zl-vt-samen-op"]
    assert (zl.staff, zl.mode, zl.holidays) == (2, Mode.ON_SCENE, HolidayPolicy.CLOSED)
    [window] = zl.windows
    assert (window.days, window.start, window.end) == (
        (Day.MON, Day.TUE, Day.WED, Day.THU, Day.FRI),
        "13:00",
        "22:00",
    )
    assert rules["zl-vt-spoed"].mode == Mode.PHONE

    piket = rules["gv-vt-piket"]
    assert piket.hours == Hours.AFTER_HOURS and piket.consult is not None
    assert teams[piket.consult.team].kind == TeamKind.GEDRAGSWETENSCHAPPER
    assert any(r.team == piket.consult.team and r.role == RuleRole.CONSULT for r in shipped.rules)
    assert rules["gv-vt-kantoor"].hours == Hours.OFFICE_HOURS
    office = teams[rules["gv-vt-kantoor"].team].office_hours
    assert office is not None and (office[0].start, office[0].end) == ("08:30", "17:00")
    assert rules["gv-va-piket"].role == RuleRole.PARTNER
    assert teams[rules["gv-va-piket"].team].kind == TeamKind.VERTROUWENSARTS

    assert (
        rules["hvb-vt-kantoor"].hours == Hours.OFFICE_HOURS and rules["hvb-vt-kantoor"].age is None
    )
    cit = rules["hvb-cit-buiten-kantoortijd"]
    assert cit.hours == Hours.AFTER_HOURS and teams[cit.team].phone == "+318008013"
    assert rules["mei-vt-interventie"].hours == Hours.OFFICE_HOURS
    assert (rules["mei-vt-telefonisch"].hours, rules["mei-vt-telefonisch"].mode) == (
        Hours.AFTER_HOURS,
        Mode.PHONE,
    )

    nml = rules["nml-vt-ter-plaatse"]
    assert [(w.start, w.end, len(w.days)) for w in nml.windows] == [("09:00", "22:00", 5)]
    assert nml.holidays == HolidayPolicy.CLOSED
    dh = rules["dh-cit-bureau"]
    assert [(w.start, w.end, len(w.days)) for w in dh.windows] == [("11:00", "22:00", 7)]
    assert dh.staff == 2 and rules["dh-cit-telefonisch"].mode == Mode.PHONE


def test_shipped_partners_are_national(shipped: ConfigSet) -> None:
    rules = {r.id: r for r in shipped.rules}
    kinds = {t.id: t.kind for t in shipped.teams}
    partners = [rules[i] for i in ("partner-om-zsm", "partner-3ro-zsm", "partner-rvdk-spoed")]
    assert [kinds[r.team] for r in partners] == [TeamKind.OM, TeamKind.RECLASSERING, TeamKind.RVDK]
    for rule in partners:
        assert (rule.role, rule.mode, rule.area) == (RuleRole.PARTNER, Mode.PHONE, None)
    for rule in partners[:2]:
        assert [(w.start, w.end, len(w.days)) for w in rule.windows] == [("08:00", "22:00", 7)]
    assert partners[2].hours == Hours.AFTER_HOURS and [c.value for c in partners[2].case_types] == [
        "KM"
    ]


def test_shipped_rosters_cover_2026_and_2027(shipped: ConfigSet) -> None:
    """Every team a rule names has an open-ended rotation from early January 2026."""
    early = datetime(2026, 1, 12, tzinfo=AMS)
    for team in {r.team for r in shipped.rules}:
        rotations = [r for r in shipped.rotations if r.team == team and r.layer == Layer.PRIMARY]
        assert any(r.start <= early and r.until is None for r in rotations), team
    assert any(r.layer == Layer.BACKUP for r in shipped.rotations)
    assert any(r.handoff.every == "hours" and r.handoff.hours == 12 for r in shipped.rotations)
    assert {r.handoff.every for r in shipped.rotations} == {"daily", "weekly", "hours"}
    assert shipped.shifts and shipped.overrides
    assert all(o.start >= datetime(2026, 9, 1, tzinfo=AMS) for o in shipped.overrides)
    assert {o.kind.value for o in shipped.overrides} == {"replace", "remove", "add"}
    assert all(p.phones and p.phones[0].startswith("+31612340") for p in shipped.people)


def test_dump_config_round_trips_the_shipped_set(shipped: ConfigSet, tmp_path: Path) -> None:
    text = dump_config(shipped)
    (tmp_path / "all.yaml").write_text(text, encoding="utf-8")
    again, origins = load_file(tmp_path / "all.yaml")
    assert again == shipped
    assert origins[("rules", "ijmond-crisisdienst")][0] == str(tmp_path / "all.yaml")
    assert load_directory(tmp_path) == shipped
    assert dump_config(again) == text


def test_dump_keeps_the_repeated_october_hour(tmp_path: Path) -> None:
    second = datetime(2026, 10, 25, 2, 30, tzinfo=AMS, fold=1)  # 01:30 UTC, not 00:30
    config = ConfigSet(
        shifts=(Shift(team="t", person="p", start=second, end=datetime(2026, 10, 25, 8, 0)),)
    )
    (tmp_path / "dst.yaml").write_text(dump_config(config), encoding="utf-8")
    again, _ = load_file(tmp_path / "dst.yaml")
    # the same instant (Python never calls a fold=1 time equal to one in another zone)
    assert again.shifts[0].start.timestamp() == second.timestamp()
    assert again.shifts[0].end == config.shifts[0].end


def test_load_file_origins_name_file_and_path(tmp_path: Path) -> None:
    write(tmp_path, {"base.yaml": BASE})
    config, origins = load_file(tmp_path / "base.yaml")
    assert [t.id for t in config.teams] == ["vt-gv", "gw-gv"]
    assert origins[("teams", "gw-gv")] == (str(tmp_path / "base.yaml"), "teams[1]")
    assert origins[("municipalities", "GM0402")] == (
        str(tmp_path / "base.yaml"),
        "municipalities[0]",
    )


# --- every class of mistake ---------------------------------------------------------------

CASES = [
    (
        "bad time",
        """
        rules:
          - id: gv-vt-piket
            team: vt-gv
            windows:
              - {days: weekdays, start: "25:00", end: "08:30"}
        """,
        "rules[0].windows[0].start",
        "'25:00' is not a time of day as HH:MM (00:00 to 24:00) [rule gv-vt-piket]",
        5,
    ),
    (
        "bad day",
        """
        rules:
          - id: r1
            team: vt-gv
            windows: [{days: [mon, mnd], start: "09:00", end: "17:00"}]
        """,
        "rules[0].windows[0].days[1]",
        "'mnd' is not a day (use mon, tue, ..., sun, weekdays, weekend or daily) [rule r1]",
        4,
    ),
    (
        "invalid phone",
        """
        people:
          - {id: bram, name: Bram, phones: ["12345"], memberships: [{team: vt-gv}]}
        """,
        "people[0].phones",
        "'12345' is not a valid phone number [person bram]",
        2,
    ),
    (
        "end before start",
        """
        shifts:
          - {team: vt-gv, person: anouk, start: 2026-11-02T17:00, end: 2026-11-02T09:00}
        """,
        "shifts[0]",
        "'end' must be after 'start'",
        2,
    ),
    (
        "unknown team",
        """
        rules:
          - {id: r1, team: vt-gooi}
        """,
        "rules[0].team",
        "unknown team 'vt-gooi' (did you mean 'vt-gv'?) [rule r1]",
        2,
    ),
    (
        "unknown team, no close match",
        """
        rotations:
          - {id: rot, team: crisis, participants: [anouk], start: 2026-01-05T08:00,
             handoff: {every: daily}}
        """,
        "rotations[0].team",
        "unknown team 'crisis' (known: gw-gv, vt-gv) [rotation rot]",
        2,
    ),
    (
        "unknown person",
        """
        rotations:
          - id: rot
            team: vt-gv
            participants: [anouk, nobody]
            start: 2026-01-05T08:00
            handoff: {every: weekly, weekday: mon, at: "17:00"}
        """,
        "rotations[0].participants[1]",
        "unknown person 'nobody' (known: anouk, femke) [rotation rot]",
        4,
    ),
    (
        "person not a member",
        """
        rotations:
          - id: rot
            team: vt-gv
            participants: [femke]
            start: 2026-01-05T08:00
            handoff: {every: daily}
        """,
        "rotations[0].participants[0]",
        "person 'femke' is not a member of team 'vt-gv' (add a membership) [rotation rot]",
        4,
    ),
    (
        "override replaces a non-member",
        """
        overrides:
          - {id: ov, team: vt-gv, kind: replace, person: anouk, replaces: femke,
             start: 2026-11-09T17:00, end: 2026-11-16T17:00}
        """,
        "overrides[0].replaces",
        "person 'femke' is not a member of team 'vt-gv' (add a membership) [override ov]",
        2,
    ),
    (
        "duplicate id across files",
        """
        teams:
          - {id: vt-gv, kind: cit, name: Nog een team}
        """,
        "teams[0].id",
        "duplicate team id 'vt-gv', first defined in regions/common.yaml at teams[0] [team vt-gv]",
        2,
    ),
    (
        "bad CBS code",
        """
        municipalities:
          - {code: GM42, name: Nergens}
        """,
        "municipalities[0].code",
        "'GM42' is not a CBS municipality code (GM and four digits, e.g. GM0402) "
        "[municipality GM42]",
        2,
    ),
    (
        "min age above max age",
        """
        rules:
          - id: r1
            team: vt-gv
            age: {min: 30, max: 20}
        """,
        "rules[0].age",
        "min age 30 is above max age 20 [rule r1]",
        4,
    ),
    (
        "unknown field",
        """
        teams:
          - {id: cit, kind: cit, name: CIT, colour: red}
        """,
        "teams[0].colour",
        "unknown field 'colour' (allowed: escalation, id, kind, mandate, name, office_hours, "
        "phone, planning, providers, region) [team cit]",
        2,
    ),
    (
        "escalation without the people on call",
        """
        teams:
          - id: cit
            kind: cit
            name: CIT
            escalation:
              steps:
                - {target: backup}
        """,
        "teams[0].escalation",
        "the first people to page are those on call: add a step on_call [team cit]",
        5,
    ),
    (
        "unknown field, near miss",
        """
        rules:
          - {id: r1, team: vt-gv, prio: 5}
        """,
        "rules[0].prio",
        "unknown field 'prio' (did you mean 'priority'?) [rule r1]",
        2,
    ),
    (
        "missing field",
        """
        teams:
          - {id: cit, kind: cit}
        """,
        "teams[0].name",
        "required field is missing [team cit]",
        2,
    ),
    (
        "bad enum",
        """
        teams:
          - {id: cit, kind: politie, name: CIT}
        """,
        "teams[0].kind",
        "'politie' is not one of 'veilig_thuis', 'cit', 'crisisdienst', "
        "'gedragswetenschapper', 'vertrouwensarts', 'rvdk', 'om' or 'reclassering' [team cit]",
        2,
    ),
    (
        "bad id",
        """
        teams:
          - {id: VT Gooi, kind: cit, name: CIT}
        """,
        "teams[0].id",
        "'VT Gooi' is not a valid id (a-z, 0-9, '-', '_', '.'; at most 64 "
        "characters) [team VT Gooi]",
        2,
    ),
    (
        "unknown top-level key",
        """
        rule:
          - {id: r1, team: vt-gv}
        """,
        "rule",
        "unknown section 'rule' (did you mean 'rules'?)",
        1,
    ),
    (
        "section not a list",
        """
        teams:
          id: cit
        """,
        "teams",
        "expected a list of teams (entries start with '- '), not a mapping",
        1,
    ),
    (
        "entry not a mapping",
        """
        teams:
          - vt-gv
        """,
        "teams[0]",
        "expected the fields of a team (key: value), not text 'vt-gv'",
        2,
    ),
    (
        "key given twice",
        """
        teams:
          - id: cit
            kind: cit
            name: CIT
            name: CIT Haaglanden
        """,
        "teams[0].name",
        "'name' is given twice here (first on line 4)",
        5,
    ),
    (
        "unknown region",
        """
        basisteams:
          - {id: laak, name: Laak, region: den-haag}
        """,
        "basisteams[0].region",
        "unknown region 'den-haag' (known: gooi) [basisteam laak]",
        2,
    ),
    (
        "unknown municipality",
        """
        basisteams:
          - {id: gv-noord, name: Noord, region: gooi, municipalities: [GM0402, GM0406]}
        """,
        "basisteams[0].municipalities[1]",
        "unknown municipality 'GM0406' (did you mean 'GM0402'?) [basisteam gv-noord]",
        2,
    ),
    (
        "unknown membership team",
        """
        people:
          - {id: bram, name: Bram, memberships: [{team: cit-hvb}]}
        """,
        "people[0].memberships[0].team",
        "unknown team 'cit-hvb' (known: gw-gv, vt-gv) [person bram]",
        2,
    ),
    (
        "unknown area basisteam",
        """
        rules:
          - {id: r1, team: vt-gv, area: {basisteams: [gv-west]}}
        """,
        "rules[0].area.basisteams[0]",
        "unknown basisteam 'gv-west' (known: gv-zuid) [rule r1]",
        2,
    ),
    (
        "consult of its own team",
        """
        rules:
          - {id: r1, team: vt-gv, consult: {team: vt-gv}}
        """,
        "rules[0].consult.team",
        "a rule cannot require a consult of its own team 'vt-gv' [rule r1]",
        2,
    ),
    (
        "consult team without a consult rule",
        """
        rules:
          - {id: r1, team: vt-gv, consult: {team: gw-gv}}
        """,
        "rules[0].consult.team",
        "team 'gw-gv' is asked to consult but has no rule with role: consult [rule r1]",
        2,
    ),
]


@pytest.mark.parametrize(
    ("bad", "path", "message", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_mistake_names_file_path_and_rule(
    tmp_path: Path, bad: str, path: str, message: str, line: int
) -> None:
    root = write(tmp_path / "regions", {"common.yaml": BASE, "gooi.yaml": bad})
    issues = issues_of(root)
    assert [(i.file, i.path, i.message, i.line) for i in issues] == [
        ("regions/gooi.yaml", path, message, line)
    ]
    assert str(issues[0]) == f"regions/gooi.yaml: {path}: {message} (line {line})"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    root = write(
        tmp_path / "regions",
        {
            "common.yaml": BASE,
            "gooi.yaml": """
        teams:
          - id: cit
            kind: cit
           name: badly indented
        """,
        },
    )
    [issue] = issues_of(root)
    assert (issue.file, issue.path, issue.line) == ("regions/gooi.yaml", "", 4)
    assert issue.message.startswith("not valid YAML at line 4, column 4: ")
    assert str(issue).startswith("regions/gooi.yaml: not valid YAML at line 4")


def test_the_file_must_be_a_mapping(tmp_path: Path) -> None:
    root = write(tmp_path / "regions", {"common.yaml": BASE, "gooi.yaml": "- just\n- a list\n"})
    [issue] = issues_of(root)
    assert (issue.file, issue.path) == ("regions/gooi.yaml", "")
    assert issue.message.startswith("the file must be a mapping of sections")


def test_all_issues_of_all_files_at_once_in_file_then_line_order(tmp_path: Path) -> None:
    root = write(
        tmp_path / "regions",
        {
            "a.yaml": BASE
            + """
rules:
  - {id: r1, team: vt-gooi}
  - {id: r2, team: vt-gv, windows: [{start: "07:00", end: "25:00"}]}
""",
            "b.yaml": """
        teams:
          - {id: cit, kind: cit, name: CIT, phone: "12345"}
        rules:
          - {id: r1, team: vt-gv, staff: 3}
        """,
            "c.yaml": "teams: [\n",
        },
    )
    issues = issues_of(root)
    assert [(i.file, i.path) for i in issues] == [
        ("regions/a.yaml", "rules[0].team"),
        ("regions/a.yaml", "rules[1].windows[0].end"),
        ("regions/b.yaml", "teams[0].phone"),
        ("regions/b.yaml", "rules[0].staff"),
        ("regions/c.yaml", ""),
    ]
    assert issues == issues_of(root)  # deterministic
    text = str(ConfigError(issues))
    assert text.splitlines() == [str(i) for i in issues]


def test_an_entry_that_fails_does_not_cause_unknown_reference_noise(tmp_path: Path) -> None:
    root = write(
        tmp_path / "regions",
        {
            "common.yaml": BASE,
            "gooi.yaml": """
        teams:
          - {id: cit, kind: cit, name: CIT, phone: "12345"}
        rules:
          - {id: r1, team: cit}
        """,
        },
    )
    assert [i.path for i in issues_of(root)] == ["teams[0].phone"]


def test_times_and_phone_numbers_may_be_written_unquoted(tmp_path: Path) -> None:
    root = write(
        tmp_path / "regions",
        {
            "common.yaml": BASE,
            "more.yaml": """
        people:
          - {id: bram, name: Bram, phones: [0612340104, +31612340105], memberships: [{team: vt-gv}]}
        rules:
          - {id: r1, team: vt-gv, windows: [{days: weekdays, start: 09:00, end: 17:00}]}
        rotations:
          - {id: rot, team: vt-gv, participants: [bram], start: 2026-01-05 08:00,
             handoff: {every: daily, at: 08:00}}
        """,
        },
    )
    config = load_directory(root)
    assert config.people[-1].phones == ("+31612340104", "+31612340105")
    assert (config.rules[0].windows[0].start, config.rules[0].windows[0].end) == ("09:00", "17:00")
    assert config.rotations[0].start == datetime(2026, 1, 5, 8, 0, tzinfo=AMS)


def test_load_paths_mixes_files_and_directories(tmp_path: Path) -> None:
    base = write(tmp_path / "base", {"base.yaml": BASE})
    extra = tmp_path / "extra.yaml"
    extra.write_text("rules:\n  - {id: r1, team: vt-gv}\n", encoding="utf-8")
    config = load_paths([base, extra])
    assert [r.id for r in config.rules] == ["r1"] and len(config.teams) == 2
    with pytest.raises(ConfigError) as info:
        load_paths([tmp_path / "missing.yaml"])
    [issue] = info.value.issues
    assert issue.file == str(tmp_path / "missing.yaml") and "cannot read it" in issue.message


def test_validate_references_without_origins_uses_section_index() -> None:
    config = load_directory(REGIONS).model_copy(update={"rules": ()})
    broken = config.model_copy(update={"teams": config.teams[1:]})
    issues = validate_references(broken)
    assert issues and all(i.file == "" for i in issues)
    assert issues[0].path.startswith("people[")
    assert str(issues[0]).startswith(issues[0].path + ": unknown team ")

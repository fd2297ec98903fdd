"""The command line (typer) end to end: validate, who is on call, dry-run pairing, and
loading the configuration into a real SQLite database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from core.settings import get_settings
from oncall.schemas import ConfigSet

ROOT = Path(__file__).resolve().parent.parent
REGIONS = str(ROOT / "regions")
runner = CliRunner()

# Hart van Brabant, Tuesday 10 March 2026 23:00 (CET), worked out from hart-van-brabant.yaml:
# hvb-cit-12uur hands off every 12 hours from Mon 5 Jan 08:00 through [olaf, petra, quinten,
# noor]; 10 March 20:00 is 64 days + 12 hours later = shift 129, 129 % 4 = 1 -> Petra Willems
# until Wed 08:00. hvb-cit-achterwacht hands off weekly on Monday 08:00 through [rianne,
# sem]; Mon 9 March is week 9, 9 % 2 = 1 -> Sem van Gils until Mon 16 March 08:00.
NIGHT = "2026-03-10T23:00"

INCIDENT: dict[str, Any] = {
    "source": "meldkamer-test",
    "external_id": "MK-CLI-1",
    "reported_at": "2026-03-10T14:00:00+01:00",
    "basisteam": "tilburg",
    "case_type": "HG",
    "persons": [{"role": "victim", "age": 34}, {"role": "child", "age": 6}],
    "flags": ["children_present"],
    "police_unit": "T-12",
    "police_callback": "06 12345678",
}
PLAN_KEYS = {
    "at",
    "status",
    "region",
    "response",
    "alternatives",
    "partners",
    "expectation",
    "rules",
    "reasons",
    "police_call",
    "mandate",
    "time_read",
}


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Settings from a clean environment; a database that exists only for this test."""
    for name in ("SAMENOP_DATABASE_URL", "SAMENOP_ENVIRONMENT", "SAMENOP_REGIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAMENOP_DATABASE_URL", f"sqlite:///{tmp_path / 'db' / 'cli.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def incident_file(tmp_path: Path, **over: Any) -> Path:
    path = tmp_path / "incident.json"
    path.write_text(json.dumps({**INCIDENT, **over}), encoding="utf-8")
    return path


# --- config validate -----------------------------------------------------------------------


def test_validate_shipped_regions(example_config: ConfigSet) -> None:
    result = run("config", "validate", REGIONS)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid: ")
    for section in ConfigSet.SECTIONS:
        assert f"{len(getattr(example_config, section))} {section}" in result.stdout


BROKEN = """\
regions:
  - {id: test-regio, name: Testregio}
teams:
  - id: vt-test
    kind: veilig_thuis
    name: Veilig Thuis Test
    region: test-regio
rules:
  - id: vt-test-avond
    team: vt-test
    windows:
      - {days: weekdays, start: "25:00", end: "22:00"}
"""


def test_validate_broken_yaml_exits_2_naming_file_path_and_rule(tmp_path: Path) -> None:
    config_dir = tmp_path / "regions"
    config_dir.mkdir()
    (config_dir / "test.yaml").write_text(BROKEN, encoding="utf-8")
    result = run("config", "validate", str(config_dir))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert "regions/test.yaml" in line
    assert "rules[0].windows[0].start" in line
    assert "'25:00' is not a time of day" in line
    assert "(line 12)" in line
    assert "Traceback" not in result.output


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    second_file = "rules:\n  - {id: vt-test-dag, team: vt-tset, hours: office_hours}\n"
    (tmp_path / "a.yaml").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(second_file, encoding="utf-8")
    result = run("config", "validate", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"))
    assert result.exit_code == 2
    first, second = result.stderr.strip().splitlines()
    assert "a.yaml: rules[0].windows[0].start: '25:00'" in first
    assert "b.yaml: rules[0].team: unknown team 'vt-tset' (did you mean 'vt-test'?)" in second


# --- oncall --------------------------------------------------------------------------------


def test_oncall_from_yaml_prints_the_person_on_call() -> None:
    result = run("oncall", "--config", REGIONS, "--team", "cit-hvb", "--at", NIGHT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Crisis Interventie Team Hart van Brabant (cit-hvb) at 2026-03-10 23:00 CET:"
    )
    assert lines[1].split() == [
        "primary",
        "Petra",
        "Willems",
        "(hvb-petra-willems)",
        "via",
        "rotation:hvb-cit-12uur",
        "until",
        "2026-03-11",
        "08:00",
    ]
    assert "backup" in lines[2] and "(hvb-sem-van-gils)" in lines[2]
    assert "until 2026-03-16 08:00" in lines[2]
    assert len(lines) == 3


def test_oncall_override_replaces_a_person() -> None:
    # zuid-limburg.yaml, Wed 9 December 15:00: day 338 after Mon 5 January (daily 13:00
    # handoff), 338 % 3 = 2 -> Ilse Vroemen (rotation a) and Luc Houben (rotation b); Luc
    # is replaced by Nick Custers (zl-2026-12-luc-afwezig, 7-12 December).
    args = ("--config", REGIONS, "--team", "vt-zl-samen-op", "--at", "2026-12-09T15:00")
    result = run("oncall", *args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["primary", "primary", "removed"]
    assert "Ilse Vroemen (zl-ilse-vroemen) via rotation:zl-samen-op-a" in lines[0]
    assert "Nick Custers (zl-nick-custers) via override:zl-2026-12-luc-afwezig" in lines[1]
    assert lines[2].startswith("  removed  zl-luc-houben: ")


def test_oncall_unknown_team_exits_2() -> None:
    result = run("oncall", "--config", REGIONS, "--team", "geen-team", "--at", NIGHT)
    assert result.exit_code == 2
    assert "unknown team 'geen-team'" in result.stderr


def test_oncall_bad_at_is_a_usage_error() -> None:
    result = run("oncall", "--config", REGIONS, "--team", "cit-hvb", "--at", "gisteren")
    assert result.exit_code == 2
    assert "--at" in result.output and "gisteren" in result.output


# --- pair ----------------------------------------------------------------------------------


def test_pair_prints_status_rules_candidates_and_expectation(tmp_path: Path) -> None:
    result = run("pair", str(incident_file(tmp_path)), "--config", REGIONS, "--at", NIGHT)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("status: paired  region: hart-van-brabant  at: 2026-03-10 23:00 CET")
    assert "rules:" in out
    assert "  ✘ hvb-vt-kantoor" in out  # office hours only
    assert "  ✔ hvb-cit-buiten-kantoortijd" in out
    assert "response: Crisis Interventie Team Hart van Brabant — on_scene" in out
    assert "  1. Petra Willems (primary)" in out
    assert "  2. Sem van Gils (backup)" in out
    assert "team line: +318008013" in out
    assert out.rstrip().splitlines()[-1].startswith("if nobody comes: ")


def test_pair_defaults_to_reported_at(tmp_path: Path) -> None:
    result = run("pair", str(incident_file(tmp_path)), "--config", REGIONS)
    assert result.exit_code == 0, result.output
    # 14:00 on a Tuesday: Veilig Thuis in office hours; daily 09:00 handoff, day 64 % 3 = 1.
    assert "  ✔ hvb-vt-kantoor" in result.stdout
    assert "  1. Mohamed el Amrani (primary)" in result.stdout
    assert "partner: Openbaar Ministerie (ZSM)" in result.stdout


def test_pair_json(tmp_path: Path) -> None:
    result = run("pair", str(incident_file(tmp_path)), "--config", REGIONS, "--at", NIGHT, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert set(plan) == PLAN_KEYS
    assert plan["status"] == "paired" and plan["region"] == "hart-van-brabant"
    assert plan["at"] == "2026-03-10T22:00:00+00:00"
    assert plan["response"]["rule"] == "hvb-cit-buiten-kantoortijd"
    assert [c["person"] for c in plan["response"]["candidates"]] == [
        "hvb-petra-willems",
        "hvb-sem-van-gils",
    ]
    assert {r["rule"]: r["matched"] for r in plan["rules"]}["hvb-vt-kantoor"] is False
    assert plan["expectation"]["text"]


def test_pair_candidate_reasons_are_not_repeated(tmp_path: Path) -> None:
    """Each reason once: the backup candidate must not read 'achterwacht; achterwacht'."""
    result = run("pair", str(incident_file(tmp_path)), "--config", REGIONS, "--at", NIGHT, "--json")
    plan = json.loads(result.stdout)
    for candidate in plan["response"]["candidates"]:
        codes = [r["code"] for r in candidate["reasons"]]
        assert len(codes) == len(set(codes)), (candidate["person"], codes)


@pytest.mark.parametrize(
    "over,field",
    [
        ({"case_type": "XX"}, "case_type"),
        ({"reported_at": "gisteren"}, "reported_at"),
        ({"persons": [{"role": "victim", "age": 200}]}, "persons.0.age"),
        ({"police_callback": None}, "police_callback"),
    ],
)
def test_pair_invalid_incident_exits_2_naming_the_field(
    tmp_path: Path, over: dict[str, Any], field: str
) -> None:
    path = incident_file(tmp_path, **over)
    result = run("pair", str(path), "--config", REGIONS)
    assert result.exit_code == 2, result.output
    assert any(line.startswith(f"{path}: {field}: ") for line in result.stderr.splitlines()), (
        result.stderr
    )


def test_pair_missing_field_and_unreadable_file(tmp_path: Path) -> None:
    data = dict(INCIDENT)
    del data["police_unit"]
    path = tmp_path / "incident.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run("pair", str(path), "--config", REGIONS)
    assert result.exit_code == 2
    assert f"{path}: police_unit: " in result.stderr

    missing = run("pair", str(tmp_path / "bestaat-niet.json"), "--config", REGIONS)
    assert missing.exit_code == 2
    assert "bestaat-niet.json" in missing.output


# --- config load: the database as source -------------------------------------------------


def test_config_load_then_oncall_reads_the_database(
    tmp_path: Path, example_config: ConfigSet
) -> None:
    loaded = run("config", "load", REGIONS)
    assert loaded.exit_code == 0, loaded.output
    assert "loaded configuration version 1" in loaded.stdout
    assert (tmp_path / "db" / "cli.db").exists()

    from_db = run("oncall", "--team", "cit-hvb", "--at", NIGHT)
    from_yaml = run("oncall", "--config", REGIONS, "--team", "cit-hvb", "--at", NIGHT)
    assert from_db.exit_code == 0, from_db.output
    assert from_db.stdout == from_yaml.stdout
    assert "Petra Willems (hvb-petra-willems)" in from_db.stdout

    exported = run("config", "export")
    assert exported.exit_code == 0, exported.output
    config = ConfigSet.model_validate_json(exported.stdout)
    for section in ConfigSet.SECTIONS:
        assert set(getattr(config, section)) == set(getattr(example_config, section)), section

    again = run("config", "load", REGIONS)
    assert "loaded configuration version 2" in again.stdout


def test_config_load_refuses_broken_config_and_keeps_database(tmp_path: Path) -> None:
    assert run("config", "load", REGIONS).exit_code == 0
    (tmp_path / "bad.yaml").write_text(BROKEN, encoding="utf-8")
    refused = run("config", "load", str(tmp_path / "bad.yaml"))
    assert refused.exit_code == 2
    assert "'25:00'" in refused.stderr
    still = run("oncall", "--team", "cit-hvb", "--at", NIGHT)
    assert "Petra Willems" in still.stdout
    assert "loaded configuration version 2" in run("config", "load", REGIONS).stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "schema at head" in result.stdout
    assert (tmp_path / "db" / "cli.db").exists()
    empty = run("oncall", "--at", NIGHT)
    assert empty.exit_code == 0, empty.output


def test_gaps_lists_the_meierij_absences_in_december() -> None:
    # Vera is on leave over Christmas with no replacement (regions/meierij.yaml): on her
    # office-rotation days the interventieteam has nobody between 09:00 and 17:00.
    result = runner.invoke(
        app,
        [
            "gaps",
            "--config",
            "regions",
            "--team",
            "vt-nob-interventie",
            "--from",
            "2026-12-21T00:00",
            "--days",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ma 21-12-2026 09:00 - ma 21-12-2026 17:00 (480 min" in result.output
    assert "do 24-12-2026 09:00 - do 24-12-2026 17:00" in result.output
    assert "1 nodig, 0 bereikbaar op piket" in result.output
    assert "2 gat(en) in 4 dag(en) vanaf ma 21-12-2026 00:00" in result.output
    assert "Mon " not in result.output and "Thu " not in result.output

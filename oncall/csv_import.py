"""A team's roster from a CSV file, checked row by row before anything is saved.

Planners keep rosters in spreadsheets; this reads what a spreadsheet exports (``;`` as
Dutch Excel writes it, or ``,``; UTF-8 with or without a byte-order mark) into explicit
shifts of one team. Every problem is reported at once as (row, column, rule), the
column by the Dutch name in the file and the English field it fills, so a planner can
fix the file in one go. The result is a list of ``oncall.edits.Touched`` (new people,
new or changed shifts): the caller shows its calendar diff and saves it as one version.

A row repeated from an earlier import (same person, start, end and layer) changes
nothing, so importing the same file twice does not double the roster.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from oncall import changes
from oncall.edits import Touched
from oncall.phones import normalize_phone
from oncall.schemas import (
    SLUG,
    ConfigSet,
    Layer,
    Membership,
    Person,
    Shift,
    parse_local_datetime,
)

MAX_BYTES = 512 * 1024
MAX_ROWS = 2000
MAX_SHIFT = timedelta(days=14)

# Column names as a planner may write them -> the field they fill.
COLUMNS = {
    "persoon": "person",
    "person": "person",
    "medewerker": "person",
    "begin": "start",
    "start": "start",
    "van": "start",
    "eind": "end",
    "einde": "end",
    "end": "end",
    "tot": "end",
    "laag": "layer",
    "layer": "layer",
    "telefoon": "phone",
    "phone": "phone",
    "naam": "name",
    "name": "name",
}
# The Dutch column name shown for a field (when the file has no such column).
DUTCH = {
    "person": "persoon",
    "start": "begin",
    "end": "eind",
    "layer": "laag",
    "phone": "telefoon",
    "name": "naam",
}
REQUIRED = ("person", "start", "end")
LAYERS = {
    "primary": Layer.PRIMARY,
    "primair": Layer.PRIMARY,
    "p": Layer.PRIMARY,
    "backup": Layer.BACKUP,
    "reserve": Layer.BACKUP,
    "achterwacht": Layer.BACKUP,
    "b": Layer.BACKUP,
    "r": Layer.BACKUP,
}
_DUTCH_DATE = re.compile(
    r"^(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2}))?$"
)
_SLUG = re.compile(SLUG)


@dataclass(frozen=True)
class RowError:
    row: int  # the line in the file (the header is row 1); 0: the file as a whole
    column: str  # as the file names it (Dutch)
    field: str  # the field it fills (English)
    rule: str  # in English, like every API error
    regel: str  # the same in Dutch, for the page

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "rule": self.rule,
            "regel": self.regel,
        }


@dataclass
class ImportPlan:
    team: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    touched: list[Touched] = field(default_factory=list)
    new_people: list[str] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "errors": len(self.errors),
            "new_people": len(self.new_people),
            "shifts_added": self.added,
            "shifts_changed": self.changed,
            "unchanged": self.unchanged,
        }


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def _delimiter(header: str) -> str:
    return ";" if header.count(";") >= header.count(",") and ";" in header else ","


def parse_when(text: str) -> datetime:
    """ISO (2026-12-01T08:00, 2026-12-01 08:00) or Dutch (1-12-2026 8:00) local time."""
    value = text.strip()
    match = _DUTCH_DATE.match(value)
    if match:
        value = (
            f"{int(match['y']):04d}-{int(match['m']):02d}-{int(match['d']):02d}"
            f"T{int(match['H'] or 0):02d}:{match['M'] or '00'}"
        )
    return parse_local_datetime(value)


def slug_of(text: str) -> str:
    """An id from a name: 'Fenna de Jong' -> 'fenna-de-jong'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:64] or "persoon"


class _Rows:
    """Errors of one row, in the file's own column names."""

    def __init__(self, plan: ImportPlan, names: dict[str, str]) -> None:
        self.plan = plan
        self.names = names  # field -> column name in the file

    def error(self, row: int, fld: str, rule: str, regel: str) -> None:
        column = self.names.get(fld, DUTCH.get(fld, fld))
        self.plan.errors.append(RowError(row, column, fld, rule, regel))


def plan_import(config: ConfigSet, team: str, data: bytes) -> ImportPlan:
    """Read ``data`` as ``team``'s roster; every row checked, nothing saved."""
    plan = ImportPlan(team=team)
    whole = _Rows(plan, {})
    if len(data) > MAX_BYTES:
        whole.error(
            0, "file", f"larger than {MAX_BYTES // 1024} KiB", f"groter dan {MAX_BYTES // 1024} KiB"
        )
        return plan
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        whole.error(
            0,
            "file",
            f"not UTF-8 (byte {exc.start})",
            f"geen UTF-8 (byte {exc.start}); sla het bestand op als CSV UTF-8",
        )
        return plan
    if "\x00" in text:
        whole.error(0, "file", "contains NUL characters", "bevat NUL-tekens")
        return plan
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        whole.error(1, "file", "no header row", "geen kopregel")
        return plan
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    try:
        header = next(reader)
    except (csv.Error, StopIteration):
        whole.error(1, "file", "no header row", "geen kopregel")
        return plan
    names: dict[str, str] = {}
    positions: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        fld = COLUMNS.get(name)
        if fld is None:
            whole.error(
                1,
                "header",
                f"unknown column '{raw.strip()[:40]}'",
                f"onbekende kolom '{raw.strip()[:40]}'",
            )
            continue
        if fld in positions:
            whole.error(1, fld, "column appears twice", "kolom staat er twee keer in")
            continue
        positions[fld] = i
        names[fld] = raw.strip()
    rows = _Rows(plan, names)
    for fld in REQUIRED:
        if fld not in positions:
            rows.error(1, fld, f"column missing ({DUTCH[fld]})", f"kolom ontbreekt ({DUTCH[fld]})")
    if plan.errors:
        return plan
    if all(t.id != team for t in config.teams):
        whole.error(0, "team", f"unknown team '{team}'", f"onbekend team '{team}'")
        return plan

    people = {p.id: p for p in config.people}
    members = {p.id for p in config.people if any(ms.team == team for ms in p.memberships)}
    by_name: dict[str, list[str]] = {}
    for p in config.people:
        by_name.setdefault(p.name.casefold(), []).append(p.id)
    shifts = {changes.key_of("shifts", s): s for s in config.shifts}
    new_people: dict[str, Person] = {}
    seen: dict[str, int] = {}

    try:
        records = list(reader)
    except csv.Error as exc:
        whole.error(reader.line_num, "file", f"not CSV: {exc}", f"geen geldige CSV: {exc}")
        return plan
    if len(records) > MAX_ROWS:
        whole.error(0, "file", f"more than {MAX_ROWS} rows", f"meer dan {MAX_ROWS} regels")
        return plan

    for index, record in enumerate(records):
        row = index + 2
        if not any(cell.strip() for cell in record):
            continue
        plan.rows += 1

        def cell(fld: str, record: list[str] = record) -> str:
            at = positions.get(fld)
            return record[at].strip() if at is not None and at < len(record) else ""

        before = len(plan.errors)
        who = cell("person")
        person_id: str | None = None
        if not who:
            rows.error(row, "person", "empty", "leeg")
        elif who in people:
            person_id = who
        elif who.casefold() in by_name:
            found = by_name[who.casefold()]
            if len(found) > 1:
                rows.error(
                    row,
                    "person",
                    f"name '{who[:60]}' fits {len(found)} people: use the id",
                    f"de naam '{who[:60]}' past bij {len(found)} personen: gebruik de id",
                )
            else:
                person_id = found[0]
        elif who in new_people or slug_of(who) in new_people:
            person_id = who if who in new_people else slug_of(who)
        else:
            person_id = _new_person(rows, row, who, cell("name"), cell("phone"), team, new_people)
        if person_id is not None and person_id in people and person_id not in members:
            rows.error(
                row,
                "person",
                f"'{person_id}' is not a member of team '{team}'",
                f"'{person_id}' is geen lid van team '{team}'",
            )
        phone = cell("phone")
        if phone and person_id in people:
            try:
                if normalize_phone(phone) not in people[person_id].phones:
                    rows.error(
                        row,
                        "phone",
                        "differs from the person's numbers (change them in the people editor)",
                        "wijkt af van de nummers van deze persoon (wijzig die bij Personen)",
                    )
            except ValueError as exc:
                rows.error(row, "phone", str(exc), f"geen geldig telefoonnummer: '{phone[:30]}'")
        start = _when(rows, row, "start", cell("start"))
        end = _when(rows, row, "end", cell("end"))
        layer_text = cell("layer").lower() or "primary"
        layer = LAYERS.get(layer_text)
        if layer is None:
            rows.error(
                row,
                "layer",
                f"'{layer_text[:20]}' is not primary/backup",
                f"'{layer_text[:20]}' is geen primair/reserve",
            )
        if start is not None and end is not None:
            if end <= start:
                rows.error(row, "end", "must be after start", "moet na de begintijd liggen")
            elif end - start > MAX_SHIFT:
                rows.error(
                    row,
                    "end",
                    f"a shift lasts at most {MAX_SHIFT.days} days",
                    f"een dienst duurt hoogstens {MAX_SHIFT.days} dagen",
                )
        if len(plan.errors) > before or person_id is None or start is None or end is None:
            continue
        assert layer is not None
        shift = Shift(team=team, person=person_id, start=start, end=end, layer=layer)
        key = changes.key_of("shifts", shift)
        if key in seen:
            rows.error(
                row,
                "start",
                f"the same person and start as row {seen[key]}",
                f"dezelfde persoon en begintijd als regel {seen[key]}",
            )
            continue
        seen[key] = row
        old = shifts.get(key)
        if old == shift:
            plan.unchanged += 1
            continue
        plan.touched.append(Touched("shifts", key, old, shift))
        if old is None:
            plan.added += 1
        else:
            plan.changed += 1

    plan.new_people = sorted(new_people)
    plan.touched[:0] = [Touched("people", pid, None, p) for pid, p in sorted(new_people.items())]
    return plan


def _when(rows: _Rows, row: int, fld: str, text: str) -> datetime | None:
    if not text:
        rows.error(row, fld, "empty", "leeg")
        return None
    try:
        return parse_when(text)
    except ValueError as exc:
        rows.error(
            row,
            fld,
            str(exc),
            f"'{text[:40]}' is geen datum en tijd zoals 1-12-2026 08:00 of 2026-12-01T08:00",
        )
        return None


def _new_person(
    rows: _Rows,
    row: int,
    who: str,
    name: str,
    phone: str,
    team: str,
    new_people: dict[str, Person],
) -> str | None:
    """A person the file introduces: needs a name (or the 'persoon' cell as the name) and
    a valid phone number; the id is the 'persoon' cell when it is an id, else made from
    the name."""
    if not name and not phone:
        rows.error(
            row,
            "person",
            f"unknown person '{who[:60]}' (give naam and telefoon to add someone new)",
            f"onbekende persoon '{who[:60]}' (vul naam en telefoon in voor een nieuwe)",
        )
        return None
    person_id = who if _SLUG.match(who) else slug_of(name or who)
    if not phone:
        rows.error(
            row,
            "phone",
            "a new person needs a phone number",
            "een nieuwe persoon heeft een telefoonnummer nodig",
        )
        return None
    try:
        person = Person(
            id=person_id,
            name=(name or who)[:200],
            phones=(phone,),
            memberships=(Membership(team=team),),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        fld = "phone" if "phones" in str(first.get("loc")) else "name"
        rule = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        regel = (
            f"geen geldig telefoonnummer: '{phone[:30]}'" if fld == "phone" else "ongeldige naam"
        )
        rows.error(row, fld, rule, regel)
        return None
    new_people[person_id] = person
    return person_id

"""Read the configuration YAML under ``regions/`` and say exactly what is wrong with it.

Planners edit these files by hand. A mistake must come back as one line per
problem, all problems at once, each naming the file, the place in the file
(``rules[2].windows[0].start``, plus the line) and the rule broken, in words a
planner understands; never as a traceback or as "the first error only".

The YAML dialect and its bounds (aliases, nesting) are in ``oncall.yamlsafe``; an
upload is also bounded in entries per section (``max_entries``), so that checking it
stays a matter of seconds.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from core.timeutil import AMS
from oncall import schemas as sc
from oncall.schemas import CBS_CODE, SLUG, WEEKDAYS, ConfigSet, RuleRole
from oncall.yamlsafe import ConfigLoader, nul_path, unbounded

SECTIONS = ConfigSet.SECTIONS
_MODELS = (sc.Region, sc.Municipality, sc.Basisteam, sc.Team, sc.Person, sc.Rotation, sc.Shift)
SECTION_MODELS: dict[str, type[BaseModel]] = dict(
    zip(SECTIONS, (*_MODELS, sc.Override, sc.CoverageRule), strict=True)
)
_NAMES = "region municipality basisteam team person rotation shift override rule"
SINGULAR = dict(zip(SECTIONS, _NAMES.split(), strict=True))
Origins = dict[tuple[str, str], tuple[str, str]]
# (section, field, section it names): "[]" marks a list; a "people" reference must be a member
_REFERENCES = (
    ("basisteams", "region", "regions"),
    ("basisteams", "municipalities[]", "municipalities"),
    ("teams", "region", "regions"),
    ("people", "memberships[].team", "teams"),
    ("rotations", "team", "teams"),
    ("rotations", "participants[]", "people"),
    ("shifts", "team", "teams"),
    ("shifts", "person", "people"),
    ("overrides", "team", "teams"),
    ("overrides", "person", "people"),
    ("overrides", "replaces", "people"),
    ("rules", "team", "teams"),
    ("rules", "area.basisteams[]", "basisteams"),
    ("rules", "area.municipalities[]", "municipalities"),
    ("rules", "consult.team", "teams"),
)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where it is (file, path inside the file, line) and what is wrong."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = ": ".join(part for part in (self.file, self.path, self.message) if part)
        return f"{text} (line {self.line})" if self.line and self.path else text


class ConfigError(Exception):
    """The configuration is not usable; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass
class _Parsed:
    """One file read: valid entries per section with their paths, and its problems."""

    file: str
    entries: dict[str, list[tuple[str, BaseModel]]] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    broken: set[tuple[str, str]] = field(default_factory=set)  # ids of entries that failed


def load_file(path: Path) -> tuple[ConfigSet, Origins]:
    """One file as a partial set, and where each entry came from; raises on file-level errors.

    Cross references are not checked here (a file may name teams defined in
    another); ``load_directory`` and ``load_paths`` check them over the whole set.
    """
    return _checked(_read(path, str(path)))


def load_text(
    text: str, *, name: str = "<text>", max_entries: int | None = None, empty_ok: bool = True
) -> tuple[ConfigSet, Origins]:
    """Like ``load_file`` for YAML already in memory (an upload); ``name`` stands for the file.

    A section with more than ``max_entries`` entries is refused without checking them;
    an empty document only when ``empty_ok``.
    """
    return _checked(_parse(text, name, max_entries, empty_ok))


def load_data(
    data: object, *, name: str = "<data>", max_entries: int | None = None, empty_ok: bool = True
) -> tuple[ConfigSet, Origins]:
    """Like ``load_text`` for a document already parsed (JSON): the same paths and rules."""
    parsed = _Parsed(name, {s: [] for s in SECTIONS})
    return _checked(_read_document(data, parsed, max_entries, empty_ok))


def _checked(parsed: _Parsed) -> tuple[ConfigSet, Origins]:
    if parsed.issues:
        raise ConfigError(_ordered([parsed], parsed.issues))
    return _merge([parsed])


def load_directory(directory: Path) -> ConfigSet:
    """Every ``*.yaml`` / ``*.yml`` below ``directory``, sorted by name, merged and checked."""
    return load_paths([directory])


def load_paths(paths: Sequence[Path]) -> ConfigSet:
    """Files and/or directories, merged; raises ``ConfigError`` listing every problem."""
    files: list[tuple[Path, str]] = []
    issues: list[ConfigIssue] = []
    for path in paths:
        if path.is_dir():
            found = _directory_files(path)
            if not found:
                issues.append(ConfigIssue(str(path), "", "no .yaml or .yml files in it"))
            files.extend(found)
        else:
            files.append((path, str(path)))
    seen: set[Path] = set()
    parsed: list[_Parsed] = []
    for path, display in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            parsed.append(_read(path, display))
    config, origins = _merge(parsed)
    issues += [issue for p in parsed for issue in p.issues]
    broken = set().union(*(p.broken for p in parsed))
    issues += validate_references(config, origins, ignore=broken)
    if issues:
        raise ConfigError(_ordered(parsed, issues))
    return config


def validate_references(
    config: ConfigSet,
    origins: Mapping[tuple[str, str], tuple[str, str]] | None = None,
    *,
    ignore: Collection[tuple[str, str]] = (),
) -> list[ConfigIssue]:
    """Check the references between entries (ids unique, every named thing exists).

    ``origins`` maps ``(section, id)`` to ``(file, path)`` as ``load_file`` gives
    it; without it issues name ``section[index]`` in ``config``. ``ignore`` holds
    ``(section, id)`` of entries that failed validation, so that references to
    them do not add a second, misleading "unknown" issue.
    """
    origins = origins or {}
    keys = _entry_keys(config)
    issues: list[ConfigIssue] = []
    ids: dict[str, set[str]] = {s: set() for s in SECTIONS}
    first: dict[tuple[str, str], tuple[str, str]] = {}

    def where(section: str, index: int, suffix: str = "") -> tuple[str, str]:
        file, path = origins.get((section, keys[section][index]), ("", f"{section}[{index}]"))
        return file, path + suffix

    def report(section: str, index: int, suffix: str, message: str) -> None:
        file, path = where(section, index, suffix)
        owner = _ident(section, getattr(config, section)[index])
        tag = f" [{SINGULAR[section]} {owner}]" if owner else ""
        issues.append(ConfigIssue(file, path, message + tag))

    for section in SECTIONS:
        for index, entry in enumerate(getattr(config, section)):
            ident = _ident(section, entry)
            if ident is None:
                continue
            if ident in ids[section]:
                what = "code" if section == "municipalities" else "id"
                suffix = ".code" if section == "municipalities" else ".id"
                file, path = first[(section, ident)]
                place = f"in {file} at {path}" if file else f"at {path}"
                text = f"duplicate {SINGULAR[section]} {what} '{ident}', first defined {place}"
                report(section, index, suffix, text)
            else:
                ids[section].add(ident)
                first[(section, ident)] = where(section, index)
    known = {s: ids[s] | {i for sec, i in ignore if sec == s} for s in SECTIONS}
    members = {p.id: {m.team for m in p.memberships} for p in config.people}
    consulting = {r.team for r in config.rules if r.role == RuleRole.CONSULT}
    for section, spec, target in _REFERENCES:
        for i, entry in enumerate(getattr(config, section)):
            team = getattr(entry, "team", None)
            for suffix, value in _values(entry, spec):
                if suffix == ".consult.team" and value == team:
                    text = f"a rule cannot require a consult of its own team '{value}'"
                elif value not in known[target]:
                    text = f"unknown {SINGULAR[target]} '{value}'" + _hint(value, ids[target])
                elif target == "people" and team in ids["teams"] and value in members:
                    if team in members[value]:
                        continue
                    text = f"person '{value}' is not a member of team '{team}' (add a membership)"
                elif suffix == ".consult.team" and value not in consulting:
                    text = f"team '{value}' is asked to consult but has no rule with role: consult"
                else:
                    continue
                report(section, i, suffix, text)
    lines = {t.id: t.phone for t in config.teams}
    for i, rule in enumerate(config.rules):
        call = rule.police_call
        if call is not None and call.number is None and lines.get(rule.team, "") is None:
            text = (
                f"team '{rule.team}' has no phone of its own: give police_call.number "
                "(the line the police call)"
            )
            report("rules", i, ".police_call", text)
    rank = {s: n for n, s in enumerate(SECTIONS)}
    return sorted(issues, key=lambda issue: (issue.file, *_path_key(issue.path, rank)))


def dump_config(config: ConfigSet) -> str:
    """YAML text of ``config`` that ``load_file`` reads back to an equal set.

    Defaults are left out, times are Amsterdam wall clock without an offset
    (with one only where the local time is ambiguous, in the October DST hour).
    """
    data: dict[str, Any] = {}
    for section in SECTIONS:
        entries = getattr(config, section)
        if entries:
            data[section] = [_plain(e.model_dump(exclude_defaults=True)) for e in entries]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --- reading one file -------------------------------------------------------------------


def _read(path: Path, display: str) -> _Parsed:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return _Parsed(display, issues=[ConfigIssue(display, "", f"cannot read it ({reason})")])
    return _parse(text, display)


def _parse(
    text: str, display: str, max_entries: int | None = None, empty_ok: bool = True
) -> _Parsed:
    parsed = _Parsed(display, {s: [] for s in SECTIONS})
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        refused = unbounded(node) if node is not None else None
        if refused is not None:
            parsed.issues.append(ConfigIssue(display, "", f"refused: {refused}"))
            return parsed
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        spot = f" at line {line}, column {mark.column + 1}" if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        message = f"not valid YAML{spot}: {exc.problem}{context}; check indentation, ':' and quotes"
        parsed.issues.append(ConfigIssue(display, "", message, line))
        return parsed
    except yaml.YAMLError as exc:
        parsed.issues.append(ConfigIssue(display, "", f"not valid YAML: {exc}"))
        return parsed
    finally:
        loader.dispose()
    if node is not None:
        _walk(node, "", parsed)
    return _read_document(data, parsed, max_entries, empty_ok)


def _read_document(
    data: object, parsed: _Parsed, max_entries: int | None, empty_ok: bool = True
) -> _Parsed:
    display = parsed.file
    if data is None and empty_ok:
        return parsed
    nul = nul_path(data)
    if nul is not None:
        parsed.issues.append(ConfigIssue(display, nul, "NUL character (\\0) not allowed in text"))
        return parsed
    if not isinstance(data, dict):
        text = f"the file must be a mapping of sections (teams:, rules:, ...), not {_kind(data)}"
        parsed.issues.append(ConfigIssue(display, "", text))
        return parsed
    for key, value in data.items():
        section = str(key)
        if section not in SECTION_MODELS:
            message = f"unknown section '{section}'" + _hint(section, SECTIONS)
            parsed.issues.append(ConfigIssue(display, section, message))
        elif isinstance(value, list) and max_entries is not None and len(value) > max_entries:
            message = (
                f"{len(value)} entries; at most {max_entries} per section at once "
                "(SAMENOP_MAX_CONFIG_ENTRIES)"
            )
            parsed.issues.append(ConfigIssue(display, section, message))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                _read_entry(parsed, section, index, item)
        elif value is not None:
            text = f"expected a list of {section} (entries start with '- '), not {_kind(value)}"
            parsed.issues.append(ConfigIssue(display, section, text))
    return parsed


def _read_entry(parsed: _Parsed, section: str, index: int, item: object) -> None:
    base, model = f"{section}[{index}]", SECTION_MODELS[section]
    if not isinstance(item, dict):
        message = f"expected the fields of a {SINGULAR[section]} (key: value), not {_kind(item)}"
        parsed.issues.append(ConfigIssue(parsed.file, base, message))
        return
    try:
        entry = model.model_validate(item)
    except ValidationError as exc:
        ident = item.get("code" if section == "municipalities" else "id")
        tag = f" [{SINGULAR[section]} {ident}]" if isinstance(ident, str) else ""
        if isinstance(ident, str):
            parsed.broken.add((section, ident))
        for error in exc.errors():
            loc = error["loc"]
            path = base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
            parsed.issues.append(ConfigIssue(parsed.file, path, _message(model, error) + tag))
        return
    parsed.entries[section].append((base, entry))


def _walk(node: yaml.Node, path: str, parsed: _Parsed) -> None:
    """Record the line of every path; report keys given twice (YAML keeps the last silently)."""
    parsed.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            sub = f"{path}.{name}" if path else name
            if name in seen:
                message = f"'{name}' is given twice here (first on line {seen[name]})"
                parsed.issues.append(ConfigIssue(parsed.file, sub, message, line))
            seen[name] = line
            parsed.lines.setdefault(sub, line)
            _walk(value, sub, parsed)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, f"{path}[{index}]", parsed)


def _message(model: type[BaseModel], error: Any) -> str:
    """Pydantic's message, rephrased for a planner where pydantic speaks programmer."""
    kind, value, loc = error["type"], error.get("input"), error["loc"]
    ctx, msg = error.get("ctx") or {}, str(error["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        owner: Any = model
        for part in (p for p in loc[:-1] if isinstance(p, str)):
            owner = _submodel(owner.model_fields[part].annotation) if owner else None
        allowed = list(owner.model_fields) if owner else []
        return f"unknown field '{loc[-1]}'" + _hint(str(loc[-1]), allowed, "allowed", 99)
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == CBS_CODE:
        return f"'{value}' is not a CBS municipality code (GM and four digits, e.g. GM0402)"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == SLUG:
        return f"'{value}' is not a valid id (a-z, 0-9, '-', '_', '.'; at most 64 characters)"
    if kind == "enum" and "days" in loc:
        return f"'{value}' is not a day (use mon, tue, ..., sun, weekdays, weekend or daily)"
    if kind in ("enum", "literal_error"):
        return f"'{value}' is not one of {ctx.get('expected', '')}"
    if isinstance(value, str | int | float | bool):
        return f"{msg} (got {value!r})"
    return msg


def _submodel(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``tuple[Window, ...] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_submodel, typing.get_args(annotation))), None)


def _values(entry: Any, spec: str, prefix: str = "") -> list[tuple[str, str]]:
    """The ids that ``spec`` (e.g. "area.basisteams[]") picks from ``entry``, with their paths."""
    head, _, rest = spec.partition(".")
    name = head.removesuffix("[]")
    value, path = getattr(entry, name, None), f"{prefix}.{name}"
    if head.endswith("[]"):
        pairs = [(f"{path}[{i}]", item) for i, item in enumerate(value or ())]
    else:
        pairs = [(path, value)]
    if rest:
        return [found for sub, item in pairs for found in _values(item, rest, sub)]
    return [(sub, item) for sub, item in pairs if item is not None]


# --- merging, ordering, helpers ----------------------------------------------------------


def _directory_files(directory: Path) -> list[tuple[Path, str]]:
    prefix = directory.resolve().name
    found = []
    for path in directory.rglob("*"):
        relative = path.relative_to(directory).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(directory).parts)
        if path.suffix in (".yaml", ".yml") and path.is_file() and not hidden:
            found.append((f"{prefix}/{relative}" if prefix else relative, path))
    return [(path, display) for display, path in sorted(found)]


def _merge(parsed: Sequence[_Parsed]) -> tuple[ConfigSet, Origins]:
    sections: dict[str, list[BaseModel]] = {s: [] for s in SECTIONS}
    places: dict[str, list[tuple[str, str]]] = {s: [] for s in SECTIONS}
    for p in parsed:
        for section in SECTIONS:
            for path, entry in p.entries.get(section, []):
                sections[section].append(entry)
                places[section].append((p.file, path))
    config = ConfigSet.model_validate({s: tuple(v) for s, v in sections.items()})
    keys = _entry_keys(config)
    origins = {(s, key): places[s][i] for s in SECTIONS for i, key in enumerate(keys[s])}
    return config, origins


def _entry_keys(config: ConfigSet) -> dict[str, list[str]]:
    """Origin keys: the id (code for municipalities); '@<index>' for shifts and repeated ids."""
    keys: dict[str, list[str]] = {}
    for section in SECTIONS:
        seen: set[str] = set()
        keys[section] = []
        for index, entry in enumerate(getattr(config, section)):
            ident = _ident(section, entry)
            keys[section].append(ident if ident is not None and ident not in seen else f"@{index}")
            if ident is not None:
                seen.add(ident)
    return keys


def _ident(section: str, entry: BaseModel) -> str | None:
    value = getattr(entry, "code" if section == "municipalities" else "id", None)
    return value if isinstance(value, str) else None


def _ordered(parsed: Sequence[_Parsed], issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """Sort by file (in load order), then line; add the line where the path is known."""
    lines = {p.file: p.lines for p in parsed}
    rank = {p.file: n for n, p in enumerate(parsed)}
    located = [_locate(issue, lines.get(issue.file, {})) for issue in issues]
    return sorted(located, key=lambda i: (rank.get(i.file, -1), i.line or 0))


def _locate(issue: ConfigIssue, lines: Mapping[str, int]) -> ConfigIssue:
    path = issue.path
    while issue.line is None and path and lines:
        if path in lines:
            return dataclasses.replace(issue, line=lines[path])
        shorter = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path)
        if shorter == path:
            break
        path = shorter
    return issue


def _path_key(path: str, rank: Mapping[str, int]) -> tuple[int, ...]:
    section = re.match(r"[a-z_]*", path)
    numbers = tuple(int(n) for n in re.findall(r"\[(\d+)\]", path))
    return (rank.get(section.group(0) if section else "", -1), *numbers)


def _hint(word: str, choices: Iterable[str], noun: str = "known", limit: int = 12) -> str:
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if not options:
        return " (none are defined)"
    more = ", ..." if len(options) > limit else ""
    return f" ({noun}: {', '.join(options[:limit])}{more})"


def _kind(value: object) -> str:
    if isinstance(value, str):
        return f"text '{value}'" if len(value) <= 60 else f"text '{value[:60]}…'"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"the number {value}"
    names = {bool: "true/false", list: "a list", dict: "a mapping", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _plain(value: Any) -> Any:
    """model_dump output to what SafeDumper writes: enums as text, local times, lists."""
    if isinstance(value, dict):
        out = {key: _plain(item) for key, item in value.items()}
        if out.get("days") == [d.value for d in WEEKDAYS]:
            out["days"] = "weekdays"
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _local_text(value)
    return value


def _local_text(value: datetime) -> str:
    local = value.astimezone(AMS).replace(tzinfo=None)
    if (
        local.replace(tzinfo=AMS, fold=0).timestamp() != value.timestamp()
    ):  # the repeated hour in October: keep the offset
        return value.astimezone(AMS).isoformat()
    return local.isoformat(timespec="auto" if local.second or local.microsecond else "minutes")

"""The configuration vocabulary: regions, teams, people, rosters and coverage rules.

These models are the contract between the YAML files under ``regions/``, the
database tables and the pure pairing engine. They validate one entity at a
time; cross references (a rule naming an unknown team) are checked by
``oncall.validation`` over the whole set, so every error names where it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.texts import reason
from core.timeutil import AMS
from oncall.phones import normalize_phone

SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
CBS_CODE = r"^GM\d{4}$"

Slug = Annotated[
    str, Field(pattern=SLUG, description="Stable identifier: lower case, digits, '-', '_', '.'")
]
CbsCode = Annotated[str, Field(pattern=CBS_CODE, description="CBS municipality code, e.g. GM0402")]
# Display names fit their columns (200); free text is bounded too.
Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=1000)]
# Instants outside these years are refused (roster arithmetic near year 1 or 9999
# overflows, and no incident or shift of this service lies there).
YEAR_MIN, YEAR_MAX = 2000, 2100


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class TeamKind(StrEnum):
    VEILIG_THUIS = "veilig_thuis"
    CIT = "cit"
    CRISISDIENST = "crisisdienst"
    GEDRAGSWETENSCHAPPER = "gedragswetenschapper"
    VERTROUWENSARTS = "vertrouwensarts"
    RVDK = "rvdk"
    OM = "om"
    RECLASSERING = "reclassering"


class CaseType(StrEnum):
    HG = "HG"  # huiselijk geweld
    KM = "KM"  # kindermishandeling


class Mode(StrEnum):
    ON_SCENE = "on_scene"
    PHONE = "phone"
    VIDEO = "video"


class RuleRole(StrEnum):
    RESPOND = "respond"  # sends (or phones) a worker for the incident
    CONSULT = "consult"  # must agree before a responder goes out (e.g. gedragswetenschapper)
    PARTNER = "partner"  # can be consulted by phone in the first hour (OM, 3RO, RvdK, ...)


class PersonRole(StrEnum):
    VICTIM = "victim"
    SUSPECT = "suspect"
    CHILD = "child"
    WITNESS = "witness"
    OTHER = "other"


class Flag(StrEnum):
    WEAPONS = "weapons"
    CHILDREN_PRESENT = "children_present"
    HUISVERBOD_CONSIDERED = "huisverbod_considered"
    INJURIES = "injuries"


class Day(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as ``date.weekday()``."""
        return list(Day).index(self)


WEEKDAYS = (Day.MON, Day.TUE, Day.WED, Day.THU, Day.FRI)
ALL_DAYS = tuple(Day)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_SHORT_TIME = re.compile(r"^\d:[0-5]\d$")
DAY_ALIASES = {
    "ma": "mon",
    "maandag": "mon",
    "monday": "mon",
    "di": "tue",
    "dinsdag": "tue",
    "tuesday": "tue",
    "wo": "wed",
    "woensdag": "wed",
    "wednesday": "wed",
    "do": "thu",
    "donderdag": "thu",
    "thursday": "thu",
    "vr": "fri",
    "vrijdag": "fri",
    "friday": "fri",
    "za": "sat",
    "zaterdag": "sat",
    "saturday": "sat",
    "zo": "sun",
    "zondag": "sun",
    "sunday": "sun",
}


def normalize_clock(value: object) -> object:
    """'8:30' as '08:30', so planners may write either."""
    if isinstance(value, str) and _SHORT_TIME.match(value.strip()):
        return "0" + value.strip()
    return value


def parse_clock(value: str) -> int:
    """'HH:MM' (or '24:00') to minutes after local midnight."""
    if not isinstance(value, str) or not _TIME.match(value):
        raise ValueError(f"'{value}' is not a time of day as HH:MM (00:00 to 24:00)")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class Window(Frozen):
    """A weekly window in Europe/Amsterdam wall-clock time.

    Start is inclusive, end exclusive. An end at or before the start means the
    window runs past midnight into the next day; the window belongs to the day
    it starts on (so a Friday 17:00-08:30 window covers Saturday 03:00).
    """

    days: tuple[Day, ...] = ALL_DAYS
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("days", mode="before")
    @classmethod
    def _expand_days(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            out: list[str] = []
            for item in value:
                text = str(item).strip().lower()
                if text in ("weekdays", "werkdagen", "mon-fri", "ma-vr"):
                    out.extend(d.value for d in WEEKDAYS)
                elif text in ("weekend", "sat-sun", "za-zo"):
                    out.extend(["sat", "sun"])
                elif text in ("all", "daily", "mon-sun", "dagelijks", "alle", "ma-zo"):
                    out.extend(d.value for d in ALL_DAYS)
                else:
                    out.append(DAY_ALIASES.get(text, text))
            return tuple(dict.fromkeys(out))
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _short_clock(cls, value: object) -> object:
        return normalize_clock(value)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @model_validator(mode="after")
    def _shape(self) -> Window:
        if not self.days:
            raise ValueError("a window needs at least one day")
        if self.start == "24:00":
            raise ValueError("a window cannot start at 24:00; use 00:00")
        if self.start == self.end:
            raise ValueError("start and end are equal; use 00:00-24:00 for a whole day")
        return self

    @cached_property
    def start_min(self) -> int:
        return parse_clock(self.start)

    @cached_property
    def end_min(self) -> int:
        return parse_clock(self.end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_min <= self.start_min


# Lists inside an entry are bounded too: the pairing engine walks them for every incident.
Windows = Annotated[tuple[Window, ...], Field(max_length=50)]


class HolidayPolicy(StrEnum):
    CLOSED = "closed"  # public holidays are outside office hours: windows do not open on them
    OPEN = "open"  # holidays are treated like the weekday they fall on


class Hours(StrEnum):
    ALWAYS = "always"
    OFFICE_HOURS = "office_hours"  # the team's office hours (default Mon-Fri 09:00-17:00)
    AFTER_HOURS = "after_hours"  # everything outside office hours, holidays included
    WINDOWS = "windows"  # the rule's own windows


DEFAULT_OFFICE_HOURS = (Window(days=WEEKDAYS, start="09:00", end="17:00"),)


class Region(Frozen):
    id: Slug
    name: Name
    office_hours: Windows | None = None
    no_accept_alarm_minutes: int | None = Field(
        default=None,
        ge=1,
        le=120,
        description='Minutes after the report until "Nog niemand aangenomen" is raised while '
        "nobody accepted (the service's setting, 3, when absent)",
    )


class Municipality(Frozen):
    code: CbsCode
    name: Name


class Basisteam(Frozen):
    id: Slug
    name: Name
    region: Slug
    municipalities: Annotated[tuple[CbsCode, ...], Field(max_length=500)] = ()


class EscalationTarget(StrEnum):
    ON_CALL = "on_call"  # whoever is on call now (primary layer)
    BACKUP = "backup"  # the backup layer of the roster
    COORDINATOR = "coordinator"  # the team's coordinators (membership role)
    TEAM_LINE = "team_line"  # the team's own 24/7 line


class ChannelStep(Frozen):
    """One way of reaching the target, ``after`` seconds into the step."""

    channel: Literal["voice", "sms"]
    after: int = Field(default=0, ge=0, le=3600, description="seconds after the step starts")


class EscalationStep(Frozen):
    target: EscalationTarget
    channels: tuple[ChannelStep, ...] = (
        ChannelStep(channel="voice", after=0),
        ChannelStep(channel="sms", after=60),
    )
    # Seconds to wait for an answer after the last channel went out.
    wait: int = Field(default=90, ge=15, le=3600)
    # How many more rounds over the same people before the next step.
    repeat: int = Field(default=0, ge=0, le=5)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[ChannelStep, ...]) -> tuple[ChannelStep, ...]:
        if not value:
            raise ValueError("a step needs at least one channel")
        if len({c.channel for c in value}) != len(value):
            raise ValueError("each channel may appear once per step")
        return tuple(sorted(value, key=lambda c: c.after))

    @property
    def span(self) -> int:
        """Seconds from the start of an attempt to its deadline."""
        return max(c.after for c in self.channels) + self.wait


class EscalationPolicy(Frozen):
    """Who to try after whom, by which channel, and how long to wait for an answer.

    A decline moves on at once; a delivery failure moves to the next channel (or, on
    the last channel, the next person); silence until ``wait`` runs out moves on too.
    """

    steps: tuple[EscalationStep, ...] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _targets(self) -> EscalationPolicy:
        targets = [s.target for s in self.steps]
        if EscalationTarget.ON_CALL not in targets:
            raise ValueError("the first people to page are those on call: add a step on_call")
        if len(set(targets)) != len(targets):
            raise ValueError("each target may appear once; use repeat to page it again")
        return self


DEFAULT_ESCALATION = EscalationPolicy(
    steps=(
        EscalationStep(target=EscalationTarget.ON_CALL, repeat=1),
        EscalationStep(target=EscalationTarget.BACKUP),
        EscalationStep(target=EscalationTarget.COORDINATOR),
        EscalationStep(
            target=EscalationTarget.TEAM_LINE,
            channels=(ChannelStep(channel="voice", after=0),),
            wait=60,
        ),
    )
)


class Planning(Frozen):
    """A team's rest and fairness rules, and how its swaps and reminders work.

    Breaking a rest or fairness rule is a warning, not a refusal: a planner may still
    save the change, and that is recorded with the version."""

    max_shifts_4w: int | None = Field(
        default=None, ge=1, le=100, description="Most on-call shifts per person in any 4 weeks"
    )
    max_hours_4w: int | None = Field(
        default=None, ge=1, le=672, description="Most on-call hours per person in any 4 weeks"
    )
    min_rest_hours_after_night: int | None = Field(
        default=None,
        ge=0,
        le=72,
        description="Least rest (hours) after a night call-out before the next shift",
    )
    no_consecutive_weekends: bool = Field(
        default=False, description="Nobody is on call two weekends in a row"
    )
    swap_approval: bool = Field(
        default=False, description="A swap changes the roster only after a planner approves it"
    )
    swap_offer_hours: int = Field(
        default=48,
        ge=1,
        le=24 * 28,
        description="An offer nobody took this long before the shift goes to the planner",
    )
    reminder_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 7,
        description="An SMS this long before a person's piket starts (none when absent)",
    )


class Mandate(StrEnum):
    """What a team's workers may do in the first hour (agreed with the region)."""

    SAFETY_ASSESSMENT = "safety_assessment"  # eerste veiligheidstaxatie
    VT_FILES = "vt_files"  # eerdere VT-dossiers raadplegen
    HUISVERBOD_ADVICE = "huisverbod_advice"  # besluiten over een huisverbodadvies


class TeamMandate(Frozen):
    may: Annotated[tuple[Mandate, ...], Field(max_length=10)] = ()
    note: Note | None = None


class Team(Frozen):
    id: Slug
    kind: TeamKind
    name: Name
    region: Slug | None = None
    phone: str | None = Field(default=None, description="The team's own 24/7 line, if any")
    office_hours: Windows | None = None
    escalation: EscalationPolicy | None = Field(
        default=None, description="How this team is paged; the default policy when absent"
    )
    providers: tuple[Literal["twilio", "vonage"], ...] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="Paging providers for this team, primary first (the service's when absent)",
    )
    planning: Planning | None = Field(
        default=None, description="Rest and fairness rules, swaps and reminders"
    )
    mandate: TeamMandate | None = Field(
        default=None, description="What the team's workers may do in the first hour"
    )

    @field_validator("providers")
    @classmethod
    def _providers(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each provider may appear once")
        return value

    @property
    def policy(self) -> EscalationPolicy:
        return self.escalation or DEFAULT_ESCALATION

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class Membership(Frozen):
    team: Slug
    role: Literal["worker", "coordinator", "backup", "consultant"] = "worker"


class Person(Frozen):
    id: Slug
    name: Name
    phones: Annotated[tuple[str, ...], Field(max_length=10)] = ()
    active: bool = True
    memberships: Annotated[tuple[Membership, ...], Field(max_length=100)] = ()

    @field_validator("phones", mode="before")
    @classmethod
    def _phones(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(normalize_phone(str(v)) for v in value)
        return value


def parse_local_datetime(value: object) -> datetime:
    """ISO text or datetime; naive values are Europe/Amsterdam wall clock."""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise ValueError(f"'{shown}' is not an ISO date-time such as 2026-03-29T17:00") from exc
    if not isinstance(value, datetime):
        raise ValueError("expected a date-time")
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"year {value.year} is outside {YEAR_MIN}..{YEAR_MAX}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=AMS)
    return value


@dataclass(frozen=True)
class TimeRead:
    """How a local time without an offset was read, where the clock change made it unclear.

    ``parse_local_datetime`` reads such a time as it always has (a skipped time as the
    moment the clock shows an hour later, a repeated time as its first occurrence); this
    says so, so that whoever reads the plan knows which moment was meant.
    """

    given: str  # as sent
    read_as: str  # ISO with the Amsterdam offset of the instant used
    why: Literal["nonexistent", "ambiguous"]
    text: str  # Dutch


def read_local_time(value: object) -> TimeRead | None:
    """The ``TimeRead`` for a local time that was skipped or repeated, else None.

    Cheap for the common case (a time with an offset, or any ordinary local time): one
    parse and two offset look-ups; intake calls it for every incident.
    """
    if isinstance(value, str):
        given = value
        try:
            naive = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif isinstance(value, datetime):
        given, naive = value.isoformat(), value
    else:
        return None
    if naive.tzinfo is not None:
        return None
    first = naive.replace(tzinfo=AMS, fold=0)
    offset = first.utcoffset()
    if offset == naive.replace(tzinfo=AMS, fold=1).utcoffset():
        return None  # one offset for this wall time: nothing to explain
    instant = first.astimezone(UTC).astimezone(AMS)
    ambiguous = instant.replace(tzinfo=None) == naive.replace(fold=0)
    clock = "%H:%M:%S" if naive.second or naive.microsecond else "%H:%M"
    params = {
        "clock": naive.strftime(clock),
        "date": naive.strftime("%d-%m-%Y"),
        "read": instant.strftime(clock),
        "offset": instant.strftime("%z")[:3] + ":" + instant.strftime("%z")[3:],
    }
    why: Literal["nonexistent", "ambiguous"] = "ambiguous" if ambiguous else "nonexistent"
    return TimeRead(
        given=given,
        read_as=instant.isoformat(),
        why=why,
        text=reason(f"time_{why}", **params).text,
    )


LocalDateTime = Annotated[
    datetime, Field(description="ISO date-time; without offset it is Amsterdam time")
]


class Handoff(Frozen):
    """When a rotation passes to the next participant.

    ``daily`` and ``weekly`` hand off at a local time (``at``), which stays at that
    local hour across DST; ``hours`` hands off every N wall-clock hours from the
    rotation start (12 keeps 08:00/20:00 shifts at 08:00/20:00 all year).
    """

    every: Literal["daily", "weekly", "hours"]
    at: str = "09:00"
    weekday: Day = Day.MON

    @field_validator("weekday", mode="before")
    @classmethod
    def _dutch_weekday(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip().lower()
            return DAY_ALIASES.get(text, text)
        return value

    hours: int | None = Field(default=None, ge=1, le=24 * 28)

    @field_validator("at", mode="before")
    @classmethod
    def _short_at(cls, value: object) -> object:
        return normalize_clock(value)

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if parse_clock(value) >= 24 * 60:
            raise ValueError("a handoff time must be before 24:00")
        return value

    @model_validator(mode="after")
    def _hours(self) -> Handoff:
        if self.every == "hours" and self.hours is None:
            raise ValueError("every: hours needs 'hours' (the shift length)")
        if self.every != "hours" and self.hours is not None:
            raise ValueError("'hours' only applies to every: hours")
        return self


class Layer(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


class Rotation(Frozen):
    id: Slug
    team: Slug
    layer: Layer = Layer.PRIMARY
    participants: tuple[Slug, ...] = Field(min_length=1, max_length=1000)
    start: LocalDateTime
    until: LocalDateTime | None = None
    handoff: Handoff
    windows: Windows | None = Field(
        default=None, description="Only on call within these windows (e.g. piket after 17:00)"
    )
    holidays: HolidayPolicy = HolidayPolicy.OPEN

    @field_validator("start", "until", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return None if value is None else parse_local_datetime(value)

    @model_validator(mode="after")
    def _order(self) -> Rotation:
        if self.until is not None and self.until <= self.start:
            raise ValueError("'until' must be after 'start'")
        return self


class Shift(Frozen):
    """An explicit, one-off shift (outside any rotation)."""

    team: Slug
    person: Slug
    start: LocalDateTime
    end: LocalDateTime
    layer: Layer = Layer.PRIMARY

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return parse_local_datetime(value)

    @model_validator(mode="after")
    def _order(self) -> Shift:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self


class OverrideKind(StrEnum):
    REPLACE = "replace"  # ``person`` takes the place of ``replaces``
    ADD = "add"  # ``person`` is on call in addition
    REMOVE = "remove"  # ``person`` is not on call (sick, on leave)


class Override(Frozen):
    id: Slug
    team: Slug
    kind: OverrideKind
    person: Slug
    replaces: Slug | None = None
    start: LocalDateTime
    end: LocalDateTime
    layer: Layer = Layer.PRIMARY
    reason: Note | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return parse_local_datetime(value)

    @model_validator(mode="after")
    def _shape(self) -> Override:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        if self.kind == OverrideKind.REPLACE and not self.replaces:
            raise ValueError("kind: replace needs 'replaces' (the person being replaced)")
        if self.kind != OverrideKind.REPLACE and self.replaces:
            raise ValueError("'replaces' only applies to kind: replace")
        if self.replaces == self.person:
            raise ValueError("a person cannot replace themselves")
        return self


class Area(Frozen):
    basisteams: Annotated[tuple[Slug, ...], Field(max_length=500)] = ()
    municipalities: Annotated[tuple[CbsCode, ...], Field(max_length=500)] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> Area:
        if not self.basisteams and not self.municipalities:
            raise ValueError("an area needs at least one basisteam or municipality")
        return self


class AgeLimit(Frozen):
    min: int = Field(default=0, ge=0, le=130)
    max: int = Field(default=130, ge=0, le=130)
    applies_to: tuple[PersonRole, ...] = (PersonRole.VICTIM, PersonRole.CHILD)

    @model_validator(mode="after")
    def _order(self) -> AgeLimit:
        if self.min > self.max:
            raise ValueError(f"min age {self.min} is above max age {self.max}")
        if not self.applies_to:
            raise ValueError("applies_to needs at least one role")
        return self


class Condition(Frozen):
    """All listed facts must hold (flags set, case type among those given)."""

    flags: tuple[Flag, ...] = ()
    case_types: tuple[CaseType, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.flags and not self.case_types:
            raise ValueError("a condition needs flags or case_types")
        return self


class ExceptionEffect(StrEnum):
    WAIVE_AGE = "waive_age"  # e.g. adults too when a huisverbod is considered
    WAIVE_HOURS = "waive_hours"  # e.g. always come when children have injuries
    EXCLUDE = "exclude"  # the rule does not apply (e.g. weapons: police only)


class RuleException(Frozen):
    when: Condition
    effect: ExceptionEffect
    note: Note | None = None


class Consult(Frozen):
    team: Slug
    note: Note | None = None


class PoliceCall(Frozen):
    """In the rule's hours the police phone this line themselves; nobody is paged.

    The Meierij practice in the toolkit: after office hours VT is reachable by phone
    only, and the police call its 24/7 line for advice. ``number`` defaults to the
    rule's team's own line (checked over the whole set: one of them must exist)."""

    number: str | None = Field(
        default=None, description="The line the police call (the team's 24/7 line when absent)"
    )
    note: Note | None = Field(
        default=None, description="What the police can expect when they call (Dutch)"
    )

    @field_validator("number")
    @classmethod
    def _number(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class CoverageRule(Frozen):
    id: Slug
    team: Slug
    role: RuleRole = RuleRole.RESPOND
    priority: int = Field(default=100, ge=0, le=10_000, description="Lower is tried first")
    area: Area | None = Field(default=None, description="None: the whole country (partners)")
    case_types: tuple[CaseType, ...] = (CaseType.HG, CaseType.KM)
    hours: Hours = Hours.ALWAYS
    windows: Windows = ()
    holidays: HolidayPolicy = HolidayPolicy.CLOSED
    age: AgeLimit | None = None
    exceptions: Annotated[tuple[RuleException, ...], Field(max_length=50)] = ()
    mode: Mode = Mode.ON_SCENE
    staff: int = Field(default=1, ge=1, le=2)
    consult: Consult | None = None
    police_call: PoliceCall | None = Field(
        default=None,
        description="In this rule's hours the police call the line themselves; nobody is paged",
    )
    description: Note | None = None

    @model_validator(mode="after")
    def _shape(self) -> CoverageRule:
        if self.windows and self.hours not in (Hours.WINDOWS, Hours.ALWAYS):
            raise ValueError("give either 'windows' or hours: office_hours/after_hours, not both")
        if self.windows and self.hours == Hours.ALWAYS:
            object.__setattr__(self, "hours", Hours.WINDOWS)
        if self.hours == Hours.WINDOWS and not self.windows:
            raise ValueError("hours: windows needs at least one window")
        if not self.case_types:
            raise ValueError("case_types needs at least one of HG, KM")
        if self.role != RuleRole.RESPOND and self.consult is not None:
            raise ValueError("only a respond rule can require a consult")
        if self.police_call is not None:
            if self.role != RuleRole.RESPOND:
                raise ValueError("only a respond rule can say the police call the line")
            if self.consult is not None:
                raise ValueError("police_call pages nobody, so it cannot require a consult")
            if "mode" not in self.model_fields_set:
                object.__setattr__(self, "mode", Mode.PHONE)
            elif self.mode != Mode.PHONE:
                raise ValueError("police_call is a phone call: mode: phone, or leave mode out")
        return self


class ConfigSet(Frozen):
    """Everything the pairing engine needs, as one value."""

    regions: tuple[Region, ...] = ()
    municipalities: tuple[Municipality, ...] = ()
    basisteams: tuple[Basisteam, ...] = ()
    teams: tuple[Team, ...] = ()
    people: tuple[Person, ...] = ()
    rotations: tuple[Rotation, ...] = ()
    shifts: tuple[Shift, ...] = ()
    overrides: tuple[Override, ...] = ()
    rules: tuple[CoverageRule, ...] = ()

    SECTIONS: ClassVar[tuple[str, ...]] = (
        "regions",
        "municipalities",
        "basisteams",
        "teams",
        "people",
        "rotations",
        "shifts",
        "overrides",
        "rules",
    )

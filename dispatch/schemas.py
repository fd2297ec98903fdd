"""What the police feed sends and what it gets back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from dispatch.lifecycle import Outcome
from oncall.phones import normalize_phone
from oncall.schemas import (
    CaseType,
    Flag,
    PersonRole,
    TimeRead,
    parse_local_datetime,
    read_local_time,
)

ROLE_ALIASES = {
    "slachtoffer": "victim",
    "verdachte": "suspect",
    "kind": "child",
    "getuige": "witness",
    "overig": "other",
}
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class PersonIn(BaseModel):
    """A person involved: role and age only. Names and addresses are never accepted."""

    model_config = ConfigDict(extra="forbid")

    role: PersonRole = Field(
        description="victim, suspect, child, witness or other "
        "(Dutch: slachtoffer, verdachte, kind, getuige, overig)"
    )
    # Strict: a number, as the document says ("34" or true are refused, not read as 34 or 1).
    age: StrictInt | None = Field(default=None, ge=0, le=130)

    @field_validator("role", mode="before")
    @classmethod
    def _dutch_role(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower()
            return ROLE_ALIASES.get(text, text)
        return value


class IncidentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "source": "meldkamer-midden-nederland",
                    "external_id": "MK-2026-000123",
                    "reported_at": "2026-11-28T23:40:00+01:00",
                    "basisteam": "gooi-vechtstreek-noord",
                    "municipality": "GM0402",
                    "case_type": "HG",
                    "persons": [
                        {"role": "victim", "age": 34},
                        {"role": "child", "age": 6},
                        {"role": "suspect", "age": 38},
                    ],
                    "flags": ["children_present", "huisverbod_considered"],
                    "police_unit": "GV-21",
                    "police_callback": "06 12345678",
                }
            ]
        },
    )

    source: str = Field(pattern=SOURCE_PATTERN, description="The feed or control room sending it")
    external_id: str = Field(
        min_length=1, max_length=128, description="Its own id for the incident"
    )
    reported_at: datetime = Field(
        description="Time of the report; pairing is computed for this instant. "
        "Without an offset it is read as Europe/Amsterdam time."
    )
    basisteam: str | None = Field(default=None, max_length=64, description="Basisteam id or name")
    municipality: str | None = Field(
        default=None, max_length=100, description="CBS code (GM0402) or municipality name"
    )
    case_type: CaseType = Field(description="HG (huiselijk geweld) or KM (kindermishandeling)")
    persons: list[PersonIn] = Field(default_factory=list, max_length=50)
    flags: list[Flag] = Field(default_factory=list, max_length=16)
    police_unit: str = Field(min_length=1, max_length=64)
    police_callback: str = Field(
        max_length=32, description="Number the worker can call the unit back on"
    )

    # How a local reported_at in the clock change's skipped or repeated hour was read
    # (None for every other time); kept out of the request hash and the stored row.
    _time_read: TimeRead | None = PrivateAttr(default=None)

    @property
    def time_read(self) -> TimeRead | None:
        return self._time_read

    @model_validator(mode="wrap")
    @classmethod
    def _keep_time_read(
        cls, data: Any, handler: ModelWrapValidatorHandler[IncidentCreate]
    ) -> IncidentCreate:
        model = handler(data)
        if isinstance(data, dict):
            model._time_read = read_local_time(data.get("reported_at"))
        return model

    @field_validator("reported_at", mode="before")
    @classmethod
    def _reported_at(cls, value: Any) -> Any:
        # Stored and compared in UTC, so "+01:00" and "Z" spellings are the same request.
        return parse_local_datetime(value).astimezone(UTC)

    @field_validator("case_type", mode="before")
    @classmethod
    def _case_type(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("flags", mode="before")
    @classmethod
    def _flags(cls, value: Any) -> Any:
        if isinstance(value, dict):  # {"weapons": true, "injuries": false}
            return [k for k, v in value.items() if v]
        return value

    @field_validator("flags")
    @classmethod
    def _unique_flags(cls, value: list[Flag]) -> list[Flag]:
        return sorted(set(value), key=lambda f: f.value)

    @field_validator("police_callback")
    @classmethod
    def _callback(cls, value: str) -> str:
        return normalize_phone(value)

    @field_validator("basisteam", "municipality")
    @classmethod
    def _blank(cls, value: str | None) -> str | None:
        return value or None


class DispatchRead(BaseModel):
    id: str
    reference: str
    incident_id: str
    source: str
    external_id: str
    status: str
    region: str | None
    team: str | None
    mode: str | None
    staff_needed: int
    reported_at: datetime
    received_at: datetime
    planned_at: datetime
    config_version: int
    plan: dict[str, Any]
    # Where paging stands: pending, consult, respond, accepted, partial, no_responder,
    # police_call (nobody is paged: the police call the line themselves).
    paging_state: str = "pending"
    assignments: list[dict[str, Any]]
    police_call: dict[str, Any] | None = Field(
        default=None,
        description="When the rule that applies says so: the police call this line "
        "themselves and nobody is paged (team, number, note, rule)",
    )


# --- the joint response: actions on a dispatch (see dispatch.lifecycle) ----------------


class _ActionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _utc(value: Any) -> Any:
    return None if value is None else parse_local_datetime(value).astimezone(UTC)


class InformIn(BaseModel):
    """Who informs whom when things change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    who: str = Field(min_length=1, max_length=200)
    whom: str = Field(min_length=1, max_length=200)


class MeasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    measure: Literal["arrest", "huisverbod", "crisis_placement", "ots_uhp", "other"]
    by: str = Field(min_length=1, max_length=200, description="Who carries the measure out")
    until: datetime | None = Field(default=None, description="Until when (null: open-ended)")
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value: Any) -> Any:
        return _utc(value)


class AgreementsIn(BaseModel):
    """Step 4 (veiligheidsmaatregelen): what was agreed, as the toolkit lists it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_contact: str = Field(min_length=1, max_length=200, description="Who is first contact")
    informs: list[InformIn] = Field(default_factory=list, max_length=50)
    measures: list[MeasureIn] = Field(default_factory=list, max_length=50)
    reassess_at: datetime = Field(description="Moment of re-assessment")

    @field_validator("reassess_at", mode="before")
    @classmethod
    def _reassess_at(cls, value: Any) -> Any:
        return _utc(value)


class HandoverIn(BaseModel):
    """Step 5 (niet meer acuut): to whom the case is handed over."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    target: Literal["actieoverleg", "zsm", "zorg_en_veiligheidshuis", "mda_plus_plus"]
    note: str | None = Field(default=None, max_length=1000)


class OnderwegIn(_ActionBase):
    action: Literal["onderweg"]
    eta_minutes: StrictInt = Field(ge=1, le=600, description="Expected minutes to arrival")


class EtaIn(_ActionBase):
    action: Literal["eta"]
    eta_minutes: StrictInt = Field(
        ge=1, le=600, description="Expected minutes to arrival, from now"
    )


class TerPlaatseIn(_ActionBase):
    action: Literal["ter_plaatse"]


class MotorkapoverlegIn(_ActionBase):
    action: Literal["motorkapoverleg"]


class OnderzoekIn(_ActionBase):
    action: Literal["onderzoek"]


class VeiligheidsmaatregelenIn(_ActionBase):
    action: Literal["veiligheidsmaatregelen"]
    agreements: AgreementsIn


class OvergedragenIn(_ActionBase):
    action: Literal["overgedragen"]
    handover: HandoverIn


class ConsultIn(_ActionBase):
    action: Literal["consult"]
    kind: Literal["phone", "video"]


class EvaluationNoteIn(BaseModel):
    """At closing: which information helped, what was missing (free text; kept on the
    dispatch for the region's planners, never in an event, a message or a log)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    helped: str = Field(default="", max_length=2000, description="Which information helped")
    missing: str = Field(default="", max_length=2000, description="What was missing")


class CloseIn(_ActionBase):
    action: Literal["close"]
    outcome: Outcome
    evaluation_note: EvaluationNoteIn | None = Field(
        default=None, description="Optional: which information helped, what was missing"
    )


class SafeToEnterIn(_ActionBase):
    action: Literal["safe_to_enter"]


class PoliceLeftIn(_ActionBase):
    action: Literal["police_left"]


class CancelIn(_ActionBase):
    action: Literal["cancel"]


class HalfStaffedIn(_ActionBase):
    """The control room's answer to "Half bezet": does the one worker go alone?"""

    action: Literal["half_staffed"]
    decision: Literal["alone", "phone"] = Field(
        description="alone: the worker who accepted goes alone; phone: not alone on scene, "
        "a phone consult instead"
    )


ChecklistItem = Literal[
    "kindcheck",
    "doorvragen",
    "bewijs",
    "registraties",
    "vt_melding",
    "warme_overdracht",
    "veilig_vertrekken",
    "forensisch_arts",
    "forensische_opsporing",
]


class ChecklistIn(_ActionBase):
    """A tick (done true) or untick on the police's pocket card "Veiligheid voorop"."""

    action: Literal["checklist"]
    item: ChecklistItem
    done: StrictBool = Field(description="true: ticked; false: unticked")


ActionIn = Annotated[
    OnderwegIn
    | EtaIn
    | TerPlaatseIn
    | MotorkapoverlegIn
    | OnderzoekIn
    | VeiligheidsmaatregelenIn
    | OvergedragenIn
    | ConsultIn
    | CloseIn
    | SafeToEnterIn
    | PoliceLeftIn
    | CancelIn
    | HalfStaffedIn
    | ChecklistIn,
    Field(discriminator="action"),
]


def action_data(action: BaseModel) -> dict[str, Any]:
    """An action's fields, JSON-ready (datetimes as ISO strings), without ``action``."""
    return action.model_dump(mode="json", exclude={"action"})

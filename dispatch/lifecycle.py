"""The joint response as a state machine: which action is allowed, for whom, and what it changes.

Pure (no database): ``decide`` gets the facts of one dispatch (and of the acting
worker's assignment), the role and the validated data, and returns a ``Change`` to
apply, or raises ``TransitionError`` naming the rule that forbids it. The rules of the
first hour from the toolkit live here, so they are enforced, not only displayed:
"veilig om binnen te komen" only once someone accepted, police leaving the scene only
after the worker arrived or a phone/video consult was recorded, and an outcome only
when the facts support it.

Re-sending the action that produced the current state is not an error: the change
comes back with ``changed=False`` and nothing is written (a retried request never
duplicates work).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from dispatch.states import Stage

STAGES: tuple[str, ...] = tuple(Stage)
Outcome = Literal[
    "joint_on_scene",
    "phone_consult",
    "video_consult",
    "no_consult",
    "cancelled",
    "no_responder",
]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
CONSULT_KINDS = ("phone", "video")
MEASURES = ("arrest", "huisverbod", "crisis_placement", "ots_uhp", "other")
HANDOVER_TARGETS = ("actieoverleg", "zsm", "zorg_en_veiligheidshuis", "mda_plus_plus")
ROLES = ("control_room", "worker", "system")

_BOTH = frozenset({"worker", "control_room"})
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "paging": frozenset({"system"}),
    "accepted": frozenset({"system"}),
    "onderweg": frozenset({"worker"}),
    "eta": frozenset({"worker"}),
    "ter_plaatse": frozenset({"worker"}),
    "motorkapoverleg": _BOTH,
    "onderzoek": _BOTH,
    "veiligheidsmaatregelen": _BOTH,
    "overgedragen": _BOTH,
    "consult": _BOTH,
    "close": _BOTH,
    "safe_to_enter": frozenset({"control_room"}),
    "police_left": frozenset({"control_room"}),
    "cancel": frozenset({"control_room"}),
    "half_staffed": frozenset({"control_room"}),
    "checklist": frozenset({"control_room"}),
}
HALF_STAFFED_DECISIONS = ("alone", "phone")
ACTIONS = tuple(ALLOWED_ROLES)
ETA_MINUTES = (1, 600)
# Two ETAs this close are the same report (a retried request), not a new estimate.
_SAME_ETA = timedelta(seconds=60)
# The police's pocket card "Veiligheid voorop", in its order (Dutch in core.texts), and
# the two steps it asks for when children are present and there are injuries.
CHECKLIST_ITEMS = (
    "kindcheck",
    "doorvragen",
    "bewijs",
    "registraties",
    "vt_melding",
    "warme_overdracht",
    "veilig_vertrekken",
)
FORENSIC_ITEMS = ("forensisch_arts", "forensische_opsporing")
ALL_CHECKLIST_ITEMS = CHECKLIST_ITEMS + FORENSIC_ITEMS
EVALUATION_FIELDS = ("helped", "missing")
EVALUATION_MAX = 2000  # characters per field


class TransitionError(Exception):
    """An action that is not allowed; ``message`` (English) names the rule.

    ``code`` is ``forbidden_role`` (the role may never do this: HTTP 403),
    ``invalid_transition`` (not now, in this stage or with these facts: 409) or
    ``invalid_data`` (the data does not fit the action: 422).
    """

    def __init__(self, code: str, message: str, *, action: str, stage: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action
        self.stage = stage


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the dispatch, and the acting worker's assignment."""

    stage: str
    paging_state: str = "pending"
    outcome: str | None = None
    has_assignments: bool = False
    any_accepted: bool = False  # a responder (not a consult) accepted
    arrived: bool = False  # some worker is ter plaatse
    safe: bool = False
    consult_kind: str | None = None
    police_left: bool = False
    half_staffed_decision: str | None = None  # the control room's answer to "Half bezet"
    agreements: Mapping[str, Any] | None = None
    handover: Mapping[str, Any] | None = None
    checklist: Mapping[str, Any] | None = None  # item -> {"at", "by"}: ticked
    evaluation_note: Mapping[str, Any] | None = None  # role -> note
    # The acting worker's own assignment (role worker).
    assignment_status: str | None = None
    enroute: bool = False
    assignment_arrived: bool = False
    eta_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    """What an allowed action changes; ``changed=False`` means a repeat: write nothing."""

    action: str
    stage: str  # the stage after the action
    changed: bool = True
    dispatch: Mapping[str, Any] = field(default_factory=dict)  # dispatch columns to set
    assignment: Mapping[str, Any] = field(default_factory=dict)  # acting assignment's columns
    record: Mapping[str, Any] = field(default_factory=dict)  # JSON-ready, for the event
    stop_paging: bool = False


def index(stage: str) -> int:
    return STAGES.index(stage)


def forensic_prompt(persons: Sequence[Mapping[str, Any]], flags: Collection[str]) -> bool:
    """Children and injuries: the pocket card asks for a forensic doctor and forensic
    investigation ("bij kinderen ... altijd een forensisch arts en Forensische Opsporing").

    A child is there when the police say so (the flag), or a person is a child by role or
    by age (under 18).
    """
    if "injuries" not in flags:
        return False
    if "children_present" in flags:
        return True
    for person in persons:
        age = person.get("age")
        if person.get("role") == "child" or (isinstance(age, int) and age < 18):
            return True
    return False


def evaluation_note(value: Any) -> dict[str, str] | None:
    """The note's two fields, trimmed and bounded; None when nothing was written."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - set(EVALUATION_FIELDS):
        raise ValueError(f"evaluation_note has the fields {' and '.join(EVALUATION_FIELDS)}")
    note: dict[str, str] = {}
    for key in EVALUATION_FIELDS:
        text = value.get(key)
        if text is None:
            text = ""
        if not isinstance(text, str) or len(text) > EVALUATION_MAX:
            raise ValueError(
                f"evaluation_note.{key} is text of at most {EVALUATION_MAX} characters"
            )
        note[key] = text.strip()
    return note if any(note.values()) else None


def decide(action: str, facts: Facts, role: str, data: Mapping[str, Any], now: datetime) -> Change:
    """The change ``action`` by ``role`` makes, or ``TransitionError`` naming the rule."""
    if action not in ALLOWED_ROLES:
        raise TransitionError(
            "invalid_data",
            f"unknown action '{action}'; known: {', '.join(ACTIONS)}",
            action=action,
            stage=facts.stage,
        )
    rules = _Rules(action, facts, role, data, now)
    rules.check_role()
    return rules.decide()


class _Rules:
    def __init__(
        self, action: str, facts: Facts, role: str, data: Mapping[str, Any], now: datetime
    ) -> None:
        self.action = action
        self.facts = facts
        self.role = role
        self.data = data
        self.now = now

    # --- helpers -----------------------------------------------------------------------

    def error(self, message: str, code: str = "invalid_transition") -> TransitionError:
        return TransitionError(code, message, action=self.action, stage=self.facts.stage)

    def same(self) -> Change:
        return Change(self.action, self.facts.stage, changed=False)

    def change(
        self,
        *,
        to: str | None = None,
        dispatch: Mapping[str, Any] | None = None,
        assignment: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        stop_paging: bool = False,
    ) -> Change:
        """A change; the stage moves to ``to`` only if that is later than where it is."""
        columns = dict(dispatch or {})
        stage = self.facts.stage
        if to is not None and index(to) > index(stage):
            stage = to
            columns.update(stage=to, stage_at=self.now)
        return Change(
            self.action,
            stage,
            dispatch=columns,
            assignment=dict(assignment or {}),
            record=dict(record or {}),
            stop_paging=stop_paging,
        )

    def check_role(self) -> None:
        allowed = ALLOWED_ROLES[self.action]
        if self.role not in allowed:
            who = " or ".join(sorted(allowed))
            raise self.error(
                f"only {who} may record '{self.action}', not {self.role}", "forbidden_role"
            )
        if self.role == "worker" and self.facts.assignment_status != "accepted":
            raise self.error(
                "only a worker whose assignment is accepted may report steps; this assignment "
                f"is {self.facts.assignment_status or 'unknown'}",
                "forbidden_role",
            )

    def open_(self) -> None:
        if self.facts.stage == "closed":
            raise self.error(
                f"the joint response is closed (outcome {self.facts.outcome}); "
                "nothing can change after close"
            )

    def consult_recorded(self) -> bool:
        return self.facts.consult_kind is not None

    def eta(self) -> tuple[int, datetime]:
        minutes = self.data.get("eta_minutes")
        low, high = ETA_MINUTES
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not low <= minutes <= high:
            raise self.error(
                f"eta_minutes is required, a whole number from {low} to {high}", "invalid_data"
            )
        return minutes, self.now + timedelta(minutes=minutes)

    def decide(self) -> Change:
        handler = getattr(self, "_" + self.action)
        change: Change = handler()
        return change

    # --- system ------------------------------------------------------------------------

    def _paging(self) -> Change:
        if self.facts.stage == "paging":
            return self.same()
        if self.facts.stage != "melding":
            raise self.error("paging can only begin from melding")
        return self.change(to="paging")

    def _accepted(self) -> Change:
        # The first acceptance moves the response on; later ones change no stage.
        if self.facts.stage in ("melding", "paging"):
            return self.change(to="accepted")
        return self.same()

    # --- worker ------------------------------------------------------------------------

    def _onderweg(self) -> Change:
        self.open_()
        if self.facts.assignment_arrived:
            raise self.error("onderweg after ter plaatse: this worker already arrived")
        if self.facts.enroute:
            return self.same()
        minutes, eta_at = self.eta()
        return self.change(
            to="onderweg",
            assignment={"eta_at": eta_at, "enroute_at": self.now},
            record={"eta_minutes": minutes, "eta_at": eta_at.isoformat()},
        )

    def _eta(self) -> Change:
        self.open_()
        if not self.facts.enroute or self.facts.assignment_arrived:
            raise self.error("an ETA can only be updated while this worker is onderweg")
        minutes, eta_at = self.eta()
        old = self.facts.eta_at
        if old is not None and abs(eta_at - old) < _SAME_ETA:
            return self.same()
        return self.change(
            assignment={"eta_at": eta_at},
            record={"eta_minutes": minutes, "eta_at": eta_at.isoformat()},
        )

    def _ter_plaatse(self) -> Change:
        self.open_()
        if self.facts.assignment_arrived:
            return self.same()
        if not self.facts.enroute:
            raise self.error("ter plaatse needs this worker onderweg first (report onderweg)")
        dispatch = {} if self.facts.arrived else {"arrived_at": self.now}
        return self.change(
            to="ter_plaatse",
            dispatch=dispatch,
            assignment={"arrived_at": self.now},
            record={"arrived_at": self.now.isoformat(), "first": not self.facts.arrived},
        )

    # --- the five steps (worker or control room) ---------------------------------------

    def _motorkapoverleg(self) -> Change:
        self.open_()
        stage = self.facts.stage
        if stage == "motorkapoverleg":
            return self.same()
        if index(stage) > index("motorkapoverleg"):
            raise self.error(f"motorkapoverleg cannot follow {stage}")
        if stage != "ter_plaatse" and not self.consult_recorded():
            raise self.error(
                "motorkapoverleg needs a worker ter plaatse, or a phone or video consult recorded"
            )
        return self.change(to="motorkapoverleg")

    def _onderzoek(self) -> Change:
        self.open_()
        if self.facts.stage == "onderzoek":
            return self.same()
        if self.facts.stage != "motorkapoverleg":
            raise self.error("onderzoek follows motorkapoverleg")
        return self.change(to="onderzoek")

    def _veiligheidsmaatregelen(self) -> Change:
        self.open_()
        agreements = self.data.get("agreements")
        if not isinstance(agreements, Mapping):
            raise self.error("agreements are required for veiligheidsmaatregelen", "invalid_data")
        stage = self.facts.stage
        if stage == "veiligheidsmaatregelen":
            if dict(agreements) == dict(self.facts.agreements or {}):
                return self.same()
            # Agreements amended while the step is open: recorded as a new version.
        elif stage not in ("motorkapoverleg", "onderzoek"):
            raise self.error("veiligheidsmaatregelen follow motorkapoverleg or onderzoek")
        return self.change(
            to="veiligheidsmaatregelen",
            dispatch={"agreements": dict(agreements)},
            record={"agreements": dict(agreements)},
        )

    def _overgedragen(self) -> Change:
        self.open_()
        handover = self.data.get("handover")
        if not isinstance(handover, Mapping):
            raise self.error("handover is required for overgedragen", "invalid_data")
        stage = self.facts.stage
        if stage == "overgedragen":
            if dict(handover) == dict(self.facts.handover or {}):
                return self.same()
        elif stage not in ("motorkapoverleg", "onderzoek", "veiligheidsmaatregelen"):
            raise self.error(
                "overgedragen follows motorkapoverleg, onderzoek or veiligheidsmaatregelen"
            )
        return self.change(
            to="overgedragen",
            dispatch={"handover": dict(handover)},
            record={"handover": dict(handover)},
        )

    def _consult(self) -> Change:
        self.open_()
        kind = self.data.get("kind")
        if kind not in CONSULT_KINDS:
            raise self.error("kind is required: phone or video", "invalid_data")
        if self.facts.consult_kind == kind:
            return self.same()
        return self.change(
            dispatch={"consult_kind": kind, "consult_at": self.now}, record={"kind": kind}
        )

    def _close(self) -> Change:
        outcome = self.data.get("outcome")
        if outcome not in OUTCOMES:
            raise self.error(f"outcome is required, one of {', '.join(OUTCOMES)}", "invalid_data")
        try:
            note = evaluation_note(self.data.get("evaluation_note"))
        except ValueError as exc:
            raise self.error(str(exc), "invalid_data") from None
        return self.close(str(outcome), note)

    def noted(self, note: Mapping[str, str] | None) -> dict[str, Any] | None:
        """The dispatch's notes with this role's ``note`` in (None: nothing new)."""
        if note is None:
            return None
        notes = dict(self.facts.evaluation_note or {})
        mine = notes.get(self.role) or {}
        if all(mine.get(k) == note[k] for k in EVALUATION_FIELDS):
            return None
        notes[self.role] = {**note, "at": self.now.isoformat()}
        return notes

    def close(self, outcome: str, note: Mapping[str, str] | None = None) -> Change:
        facts = self.facts
        notes = self.noted(note)
        if facts.stage == "closed":
            if facts.outcome != outcome:
                raise self.error(
                    f"the joint response is already closed with outcome {facts.outcome}"
                )
            if notes is None:
                return self.same()
            # The other side closed first: this side's note is still kept (its own event,
            # so the close is counted once).
            return Change(
                "evaluation_note",
                facts.stage,
                dispatch={"evaluation_note": notes},
                record={"outcome": outcome, "evaluation_noted": True},
            )
        if outcome == "cancelled" and self.role != "control_room":
            raise self.error("only the control room may cancel", "forbidden_role")
        dispatch: dict[str, Any] = {
            "outcome": outcome,
            "closed_at": self.now,
            "closed_by": self.role,
        }
        record: dict[str, Any] = {"outcome": outcome}
        if notes is not None:  # the text stays on the dispatch, out of the event
            dispatch["evaluation_note"] = notes
            record["evaluation_noted"] = True
        if outcome == "joint_on_scene" and not facts.arrived:
            raise self.error("outcome joint_on_scene needs a worker who arrived (ter plaatse)")
        if outcome in ("phone_consult", "video_consult"):
            kind = outcome.removesuffix("_consult")
            if facts.consult_kind is not None and facts.consult_kind != kind:
                raise self.error(
                    f"outcome {outcome} does not match the {facts.consult_kind} consult recorded"
                )
            if facts.consult_kind is None:
                if not facts.any_accepted:
                    raise self.error(
                        f"outcome {outcome} needs a consult recorded or an accepted worker"
                    )
                dispatch.update(consult_kind=kind, consult_at=self.now)
                record["consult_kind"] = kind
        if outcome == "no_responder" and facts.paging_state == "police_call":
            raise self.error(
                "outcome no_responder does not apply when the police call the line "
                "themselves (nobody was paged): close as phone_consult or no_consult"
            )
        if outcome == "no_responder" and not (
            facts.paging_state == "no_responder" or not facts.has_assignments
        ):
            raise self.error(
                "outcome no_responder only when paging found no responder or nobody was asked"
            )
        return self.change(to="closed", dispatch=dispatch, record=record, stop_paging=True)

    # --- control room ------------------------------------------------------------------

    def _safe_to_enter(self) -> Change:
        self.open_()
        if self.facts.safe:
            return self.same()
        if index(self.facts.stage) < index("accepted"):
            raise self.error(
                "veilig om binnen te komen can only be signalled once a worker accepted"
            )
        return self.change(dispatch={"safe_at": self.now}, record={"safe_at": self.now.isoformat()})

    def _police_left(self) -> Change:
        self.open_()
        if self.facts.police_left:
            return self.same()
        if not (self.facts.arrived or self.consult_recorded()):
            raise self.error(
                "police cannot leave before the worker arrives unless a phone or video consult "
                "has been recorded"
            )
        return self.change(
            dispatch={"police_left_at": self.now},
            record={"police_left_at": self.now.isoformat()},
        )

    def _cancel(self) -> Change:
        return self.close("cancelled")

    def _half_staffed(self) -> Change:
        """A call-out for two found one: the control room says whether that worker goes
        alone, or advises by phone instead of going on scene alone."""
        self.open_()
        decision = self.data.get("decision")
        if decision not in HALF_STAFFED_DECISIONS:
            raise self.error("decision is required: alone or phone", "invalid_data")
        if self.facts.half_staffed_decision == decision:
            return self.same()
        if self.facts.paging_state != "partial":
            raise self.error(
                "half_staffed is only answered when a call-out found fewer people than it "
                f"needs (paging is {self.facts.paging_state})"
            )
        return self.change(
            dispatch={"half_staffed_decision": decision}, record={"decision": decision}
        )

    def _checklist(self) -> Change:
        """A tick (``done`` true) or untick on the pocket card; the same state twice is a
        repeat. Who ticked is kept with the tick and in the event."""
        self.open_()
        item = self.data.get("item")
        done = self.data.get("done")
        if item not in ALL_CHECKLIST_ITEMS:
            raise self.error(
                f"item is required, one of {', '.join(ALL_CHECKLIST_ITEMS)}", "invalid_data"
            )
        if not isinstance(done, bool):
            raise self.error("done is required: true (ticked) or false", "invalid_data")
        ticks = dict(self.facts.checklist or {})
        if (item in ticks) == done:
            return self.same()
        if done:
            ticks[item] = {"at": self.now.isoformat(), "by": self.data.get("by")}
        else:
            del ticks[item]
        return self.change(dispatch={"checklist": ticks}, record={"item": item, "done": done})

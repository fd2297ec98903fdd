"""The pairing engine: ``pair(incident, snapshot, at) -> Plan``, a pure function.

Same incident, same configuration, same instant: same plan. The plan says which
team comes, how (on scene, phone, video), how many people, who to ask in which
order, which consult must agree first, which partners can be asked now, and what
the police can expect if nobody comes; every rule and every person considered
carries the reasons it was taken or skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

from core.texts import MODE_NL, POLICE_CALL_NOTE_NL, TEAM_KIND_NL, Reason, reason
from core.timeutil import ensure_utc
from oncall.facts import IncidentFacts
from oncall.phones import display_phone
from oncall.schemas import CoverageRule, Mode, RuleRole, Team, TimeRead
from oncall.scope import RuleEvaluation, evaluate_rule
from oncall.snapshot import ConfigSnapshot

STATUS_PAIRED = "paired"  # someone can be asked for the response the rules want
STATUS_NO_CANDIDATES = "no_candidates"  # rules apply, but nobody is on call: use the expectation
STATUS_FALLBACK = "fallback"  # no rule covers this incident: national line
STATUS_POLICE_CALL = "police_call"  # the rule that applies: the police call the line, no page


@dataclass(frozen=True)
class Candidate:
    order: int
    person: str
    name: str
    team: str
    phones: tuple[str, ...]
    layer: str
    source: str
    until: datetime | None
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Skipped:
    person: str
    team: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ConsultPlan:
    team: str
    team_name: str
    team_line: str | None
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class PoliceCallPlan:
    """The police phone this line themselves; nobody is paged (``CoverageRule.police_call``)."""

    team: str
    number: str  # E.164
    note: str  # what to expect, Dutch
    rule: str


@dataclass(frozen=True)
class MandatePlan:
    """What the chosen team's workers may do in the first hour (``Team.mandate``)."""

    may: tuple[str, ...]
    note: str | None


@dataclass(frozen=True)
class ResponsePlan:
    rule: str
    team: str
    team_name: str
    team_kind: str
    mode: str
    staff: int
    team_line: str | None
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]
    consult: ConsultPlan | None
    reasons: tuple[Reason, ...]
    police_call: PoliceCallPlan | None = None


@dataclass(frozen=True)
class PartnerPlan:
    rule: str
    team: str
    name: str
    kind: str
    mode: str
    phone: str | None
    on_call: tuple[Candidate, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Expectation:
    """What the police can count on if nobody comes (or nobody answers)."""

    mode: str
    team: str | None
    name: str
    phone: str | None
    text: str


@dataclass(frozen=True)
class Plan:
    at: datetime
    status: str
    region: str | None
    response: ResponsePlan | None
    alternatives: tuple[ResponsePlan, ...]
    partners: tuple[PartnerPlan, ...]
    expectation: Expectation
    rules: tuple[RuleEvaluation, ...]
    reasons: tuple[Reason, ...] = field(default=())
    police_call: PoliceCallPlan | None = None
    mandate: MandatePlan | None = None
    time_read: TimeRead | None = None

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(self)
        return plain


_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """JSON-ready copy in one pass (reasons as code and text, instants as ISO text)."""
    if isinstance(value, Reason):
        return {"code": value.code, "text": value.text}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    kind = type(value)
    names = _FIELDS.get(kind)
    if names is None and is_dataclass(value):
        names = _FIELDS[kind] = tuple(f.name for f in fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    return value


_Found = tuple[tuple["Candidate", ...], tuple["Skipped", ...], tuple[Reason, ...]]


def _candidates(
    snapshot: ConfigSnapshot, team: str, at: datetime, memo: dict[str, _Found]
) -> _Found:
    """People on call for ``team`` now (primary, then backup) who can be reached.

    ``memo`` holds the answer per team for one pairing: several rules often name
    the same team, and the roster is the expensive part.
    """
    if team in memo:
        return memo[team]
    oncall = snapshot.on_call(team, at)
    members = snapshot.members.get(team, {})
    taken: list[Candidate] = []
    skipped: list[Skipped] = [
        Skipped(person=pid, team=team, reasons=(why,)) for pid, why in oncall.removed
    ]
    for entry in oncall.entries:
        person = snapshot.people.get(entry.person)
        label = person.name if person else entry.person
        why: Reason | None = None
        if person is None or entry.person not in members:
            why = reason("person_not_member", person=label, team=team)
        elif not person.active:
            why = reason("person_inactive", person=label)
        elif not person.phones:
            why = reason("person_no_phone", person=label)
        if why is not None:
            skipped.append(Skipped(person=entry.person, team=team, reasons=(*entry.reasons, why)))
            continue
        assert person is not None
        taken.append(
            Candidate(
                order=len(taken) + 1,
                person=person.id,
                name=person.name,
                team=team,
                phones=person.phones,
                layer=entry.layer.value,
                source=entry.source,
                until=entry.until,
                reasons=entry.reasons,
            )
        )
    team_name = snapshot.teams[team].name if team in snapshot.teams else team
    notes = () if taken else (reason("roster_gap", team=team_name),)
    memo[team] = (tuple(taken), tuple(skipped), notes)
    return memo[team]


def _consult(
    snapshot: ConfigSnapshot, rule: CoverageRule, at: datetime, memo: dict[str, _Found]
) -> ConsultPlan | None:
    if rule.consult is None:
        return None
    team = snapshot.teams[rule.consult.team]
    cands, skipped, notes = _candidates(snapshot, team.id, at, memo)
    reasons = [reason("consult_required", team=team.name)]
    if not cands:
        reasons.append(reason("consult_no_candidates", team=team.name))
    reasons.extend(notes)
    return ConsultPlan(
        team=team.id,
        team_name=team.name,
        team_line=team.phone,
        candidates=cands,
        skipped=skipped,
        reasons=tuple(reasons),
    )


def _response(
    snapshot: ConfigSnapshot,
    rule: CoverageRule,
    evaluation: RuleEvaluation,
    at: datetime,
    memo: dict[str, _Found],
) -> ResponsePlan:
    team = snapshot.teams[rule.team]
    if rule.police_call is not None and (rule.police_call.number or team.phone):
        # (without a number, which the configuration check refuses, it pages as a phone rule)
        return _police_call_response(team, rule, evaluation)
    cands, skipped, notes = _candidates(snapshot, team.id, at, memo)
    line_reason = (
        reason("team_line", team=team.name, phone=display_phone(team.phone))
        if team.phone
        else reason("team_no_line", team=team.name)
    )
    return ResponsePlan(
        rule=rule.id,
        team=team.id,
        team_name=team.name,
        team_kind=team.kind.value,
        mode=rule.mode.value,
        staff=rule.staff,
        team_line=team.phone,
        candidates=cands,
        skipped=skipped,
        consult=_consult(snapshot, rule, at, memo),
        reasons=(
            *evaluation.reasons,
            reason("rule_matched", rule=rule.id, mode=MODE_NL[rule.mode.value], staff=rule.staff),
            *notes,
            *(
                (reason("staff_short", needed=rule.staff, available=len(cands)),)
                if 0 < len(cands) < rule.staff
                else ()
            ),
            line_reason,
        ),
    )


def _police_call_response(
    team: Team, rule: CoverageRule, evaluation: RuleEvaluation
) -> ResponsePlan:
    """A rule under which nobody is paged: the police phone the line themselves. Who is
    on the roster does not matter, so it is not looked up."""
    assert rule.police_call is not None
    number = rule.police_call.number or team.phone
    assert number is not None
    call = PoliceCallPlan(
        team=team.id,
        number=number,
        note=rule.police_call.note or POLICE_CALL_NOTE_NL.format(team=team.name),
        rule=rule.id,
    )
    return ResponsePlan(
        rule=rule.id,
        team=team.id,
        team_name=team.name,
        team_kind=team.kind.value,
        mode=rule.mode.value,
        staff=rule.staff,
        team_line=team.phone,
        candidates=(),
        skipped=(),
        consult=None,
        reasons=(
            *evaluation.reasons,
            reason("rule_matched", rule=rule.id, mode=MODE_NL[rule.mode.value], staff=rule.staff),
            _police_call_reason(team, number),
        ),
        police_call=call,
    )


def _police_call_reason(team: Team | ResponsePlan, number: str) -> Reason:
    kind = team.kind.value if isinstance(team, Team) else team.team_kind
    name = team.name if isinstance(team, Team) else team.team_name
    return reason(
        "police_call", kind=TEAM_KIND_NL.get(kind, kind), phone=display_phone(number), team=name
    )


def _police_call_expectation(plan: ResponsePlan, call: PoliceCallPlan) -> Expectation:
    return Expectation(
        mode="phone",
        team=plan.team,
        name=plan.team_name,
        phone=call.number,
        text=f"{_police_call_reason(plan, call.number).text} {call.note}",
    )


def _mandate(team: Team | None) -> MandatePlan | None:
    mandate = team.mandate if team is not None else None
    if mandate is None or not (mandate.may or mandate.note):
        return None
    return MandatePlan(may=tuple(m.value for m in mandate.may), note=mandate.note)


def _expectation(
    snapshot: ConfigSnapshot,
    responses: list[ResponsePlan],
    national: tuple[str, str],
    region: str | None,
) -> Expectation:
    """The best thing the police can count on when the first choice does not work out."""
    name, phone = national
    for plan in responses[1:] + responses[:1]:
        if plan.police_call is not None:
            return _police_call_expectation(plan, plan.police_call)
        if plan.mode == Mode.VIDEO.value and (plan.candidates or plan.team_line):
            return Expectation(
                mode="video",
                team=plan.team,
                name=plan.team_name,
                phone=plan.team_line,
                text=reason("expect_video", team=plan.team_name).text,
            )
        if plan.mode == Mode.PHONE.value and (plan.candidates or plan.team_line):
            shown = display_phone(plan.team_line) if plan.team_line else "piketnummer"
            return Expectation(
                mode="phone",
                team=plan.team,
                name=plan.team_name,
                phone=plan.team_line,
                text=reason("expect_phone", team=plan.team_name, phone=shown).text,
            )
    for plan in responses:
        if plan.team_line:
            return Expectation(
                mode="phone",
                team=plan.team,
                name=plan.team_name,
                phone=plan.team_line,
                text=reason(
                    "expect_phone", team=plan.team_name, phone=display_phone(plan.team_line)
                ).text,
            )
    team = snapshot.region_line(region)  # the region's own VT line beats the national one
    if team is not None and team.phone:
        return Expectation(
            mode="phone",
            team=team.id,
            name=team.name,
            phone=team.phone,
            text=reason("expect_phone", team=team.name, phone=display_phone(team.phone)).text,
        )
    return Expectation(
        mode="phone",
        team=None,
        name=name,
        phone=phone,
        text=reason("expect_national", name=name, phone=phone).text,
    )


def _settle_area(
    snapshot: ConfigSnapshot, incident: IncidentFacts
) -> tuple[IncidentFacts, list[Reason]]:
    """Drop an area value that is unknown or contradicts the other, and say so.

    The municipality is where the incident is; when the basisteam given does not
    serve it, the municipality decides.
    """
    basisteam, municipality = incident.basisteam, incident.municipality
    notes: list[Reason] = []
    known_b = basisteam in snapshot.basisteams
    known_m = municipality in snapshot.municipalities
    if basisteam and municipality:
        if known_m and not known_b:
            notes.append(reason("area_ignored", value=basisteam, used=municipality))
            basisteam = None
        elif known_b and not known_m:
            notes.append(reason("area_ignored", value=municipality, used=basisteam))
            municipality = None
        elif known_b and known_m:
            serving = snapshot.municipality_basisteams.get(municipality or "", frozenset())
            if serving and basisteam not in serving:
                notes.append(
                    reason("area_conflict", basisteam=basisteam, municipality=municipality)
                )
                basisteam = None
    if (basisteam, municipality) == (incident.basisteam, incident.municipality):
        return incident, notes
    return replace(incident, basisteam=basisteam, municipality=municipality), notes


def pair(
    incident: IncidentFacts,
    snapshot: ConfigSnapshot,
    at: datetime,
    *,
    national: tuple[str, str] = ("Veilig Thuis (landelijk)", "0800-2000"),
    time_read: TimeRead | None = None,
) -> Plan:
    """Decide who to ask for ``incident`` at instant ``at``; never raises for bad luck.

    ``time_read`` (from ``oncall.schemas.read_local_time``) says how a local report time
    in the clock change's skipped or repeated hour was read; the plan carries it.
    """
    at = ensure_utc(at)
    plan = _pair(incident, snapshot, at, national)
    if time_read is None:
        return plan
    said = Reason(code=f"time_{time_read.why}", text=time_read.text)
    return replace(plan, time_read=time_read, reasons=(said, *plan.reasons))


def _pair(
    incident: IncidentFacts,
    snapshot: ConfigSnapshot,
    at: datetime,
    national: tuple[str, str],
) -> Plan:
    fallback = Expectation(
        mode="phone",
        team=None,
        name=national[0],
        phone=national[1],
        text=reason("expect_national", name=national[0], phone=national[1]).text,
    )

    if not incident.basisteam and not incident.municipality:
        return Plan(
            at=at,
            status=STATUS_FALLBACK,
            region=None,
            response=None,
            alternatives=(),
            partners=(),
            expectation=fallback,
            rules=(),
            reasons=(
                reason("area_missing"),
                reason("national_fallback", name=national[0], phone=national[1]),
            ),
        )
    incident, area_notes = _settle_area(snapshot, incident)
    region = snapshot.region_of(incident.basisteam, incident.municipality)
    if not snapshot.knows_area(incident.basisteam, incident.municipality):
        area = " / ".join(x for x in (incident.basisteam, incident.municipality) if x)
        area_notes.append(reason("area_unknown", area=area))

    memo: dict[str, _Found] = {}
    evaluations: list[RuleEvaluation] = []
    matched_respond: list[tuple[CoverageRule, RuleEvaluation]] = []
    partners: list[PartnerPlan] = []
    for rule in sorted(
        snapshot.rules_near(incident.basisteam, incident.municipality),
        key=lambda r: (r.priority, snapshot.rule_position[r.id]),
    ):
        ev = evaluate_rule(
            rule,
            incident,
            at,
            office_hours=snapshot.office_hours(rule.team),
            basisteam_municipalities=snapshot.basisteam_municipalities,
            municipality_basisteams=snapshot.municipality_basisteams,
        )
        evaluations.append(ev)
        if not ev.matched:
            continue
        if rule.role == RuleRole.RESPOND:
            matched_respond.append((rule, ev))
        elif rule.role == RuleRole.PARTNER:
            team = snapshot.teams[rule.team]
            on_call, _, _ = _candidates(snapshot, team.id, at, memo)
            partners.append(
                PartnerPlan(
                    rule=rule.id,
                    team=team.id,
                    name=team.name,
                    kind=team.kind.value,
                    mode=rule.mode.value,
                    phone=team.phone,
                    on_call=on_call,
                    reasons=(
                        *ev.reasons,
                        reason("partner_available", team=TEAM_KIND_NL[team.kind.value]),
                    ),
                )
            )

    responses = [_response(snapshot, rule, ev, at, memo) for rule, ev in matched_respond]
    reasons: list[Reason] = list(area_notes)
    if not responses:
        reasons += [
            reason("no_rule"),
            reason("national_fallback", name=national[0], phone=national[1]),
        ]
        return Plan(
            at=at,
            status=STATUS_FALLBACK,
            region=region,
            response=None,
            alternatives=(),
            partners=tuple(partners),
            expectation=fallback,
            rules=tuple(evaluations),
            reasons=tuple(reasons),
        )

    # The first rule (by priority) that someone can answer: a team with people on call,
    # or a line the police call themselves.
    chosen = next((r for r in responses if r.candidates or r.police_call), None)
    status = STATUS_PAIRED if chosen else STATUS_NO_CANDIDATES
    if chosen is None:
        chosen = responses[0]
    elif chosen.police_call is not None:
        status = STATUS_POLICE_CALL
        reasons.append(_police_call_reason(chosen, chosen.police_call.number))
    others = [r for r in responses if r is not chosen]
    passed = True
    for other in responses:
        if other is chosen:
            passed = False
            continue
        if passed:  # tried first, but nobody of that team can be asked now
            reasons.append(reason("rule_no_candidates", rule=other.rule, team=other.team_name))
        else:
            priority = snapshot.config.rules[snapshot.rule_position[other.rule]].priority
            reasons.append(reason("rule_lower_priority", rule=other.rule, priority=priority))
    expectation = _expectation(snapshot, [chosen, *others], national, region)
    return Plan(
        at=at,
        status=status,
        region=region,
        response=chosen,
        alternatives=tuple(others),
        partners=tuple(partners),
        expectation=expectation,
        rules=tuple(evaluations),
        reasons=tuple(reasons),
        police_call=chosen.police_call,
        mandate=_mandate(snapshot.teams.get(chosen.team)),
    )

"""Every text a user reads, in Dutch, in one place so it can be translated.

Reasons carry a stable English ``code`` (for programs and tests) and a Dutch
``text`` rendered from the catalogue below (for people).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY_NL = {"mon": "ma", "tue": "di", "wed": "wo", "thu": "do", "fri": "vr", "sat": "za", "sun": "zo"}
MODE_NL = {"on_scene": "ter plaatse", "phone": "telefonisch", "video": "beeldbellen"}
CASE_TYPE_NL = {"HG": "huiselijk geweld", "KM": "kindermishandeling"}
ROLE_NL = {
    "victim": "slachtoffer",
    "suspect": "verdachte",
    "child": "kind",
    "witness": "getuige",
    "other": "overig",
}
FLAG_NL = {
    "weapons": "wapens",
    "children_present": "kinderen aanwezig",
    "huisverbod_considered": "huisverbod overwogen",
    "injuries": "letsel",
}
TEAM_KIND_NL = {
    "veilig_thuis": "Veilig Thuis",
    "cit": "CIT",
    "crisisdienst": "crisisdienst",
    "gedragswetenschapper": "gedragswetenschapper",
    "vertrouwensarts": "vertrouwensarts",
    "rvdk": "Raad voor de Kinderbescherming",
    "om": "OM",
    "reclassering": "reclassering",
}

REASONS: dict[str, str] = {
    # --- area ---
    "area_basisteam": "basisteam {basisteam} valt in het werkgebied",
    "area_municipality": "gemeente {municipality} valt in het werkgebied",
    "area_basisteam_of_municipality": "gemeente {municipality} hoort bij basisteam {basisteam}, dat in het werkgebied valt",
    "area_whole_basisteam": "alle gemeenten van basisteam {basisteam} vallen in het werkgebied",
    "area_partial_basisteam": "werkgebied dekt maar een deel van basisteam {basisteam} en de gemeente is onbekend",
    "area_outside": "{area} valt buiten het werkgebied van deze regel",
    "area_national": "regel geldt landelijk",
    "area_unknown": "gebied {area} is niet geconfigureerd",
    "area_ignored": "'{value}' is niet geconfigureerd; {used} gebruikt",
    "area_conflict": "gemeente {municipality} hoort niet bij basisteam {basisteam}; de gemeente (plaats van het incident) is aangehouden",
    "area_missing": "melding noemt geen basisteam of gemeente",
    # --- case type ---
    "case_type_ok": "soort melding {case_type} valt onder de regel",
    "case_type_excluded": "soort melding {case_type} valt niet onder de regel (alleen {allowed})",
    # --- time ---
    "hours_always": "24/7 beschikbaar",
    "in_window": "binnen venster {window}",
    "outside_windows": "buiten de tijden van de regel ({windows})",
    "office_hours": "binnen kantooruren ({windows})",
    "outside_office_hours": "buiten kantooruren ({windows})",
    "after_hours": "buiten kantooruren ({windows})",
    "not_after_hours": "binnen kantooruren; regel geldt alleen buiten kantooruren",
    "holiday_closed": "{date} is een feestdag ({holiday}): geldt als buiten kantooruren",
    "holiday_open": "{date} is een feestdag ({holiday}), maar de regel geldt ook op feestdagen",
    # --- age ---
    "age_ok": "leeftijd {age} ({role}) valt binnen {min}-{max}",
    "age_out": "geen {roles} binnen leeftijd {min}-{max} (leeftijden: {ages})",
    "age_unknown": "geen leeftijd bekend van {roles}; leeftijdsgrens niet toegepast",
    "age_no_persons": "geen {roles} bij de melding; leeftijdsgrens niet toegepast",
    "age_partly_unknown": "leeftijd niet van alle {roles} bekend (bekend: {ages}); leeftijdsgrens niet toegepast",
    # --- exceptions ---
    "exception_waive_age": "uitzondering: leeftijdsgrens vervalt omdat {condition}",
    "exception_waive_hours": "uitzondering: tijden vervallen omdat {condition}",
    "exception_exclude": "uitzondering: regel vervalt omdat {condition}",
    # --- rule outcome ---
    "rule_matched": "regel {rule} van toepassing ({mode}, {staff} pers.)",
    "rule_no_candidates": "regel {rule} geldt ook, maar niemand van {team} kan nu gevraagd worden",
    "rule_lower_priority": "regel {rule} geldt ook, maar heeft lagere prioriteit ({priority})",
    "rule_role_other": "regel {rule} is voor {role}",
    # --- rosters and candidates ---
    "oncall_rotation": "heeft piket volgens rooster {rotation} tot {until}",
    "oncall_shift": "heeft een losse dienst tot {until}",
    "oncall_override_add": "toegevoegd door wijziging {override}",
    "oncall_override_replace": "vervangt {replaced} volgens wijziging {override}",
    "replaced_by_override": "vervangen door {person} volgens wijziging {override}",
    "removed_by_override": "afgemeld volgens wijziging {override}",
    "backup_layer": "achterwacht",
    "person_inactive": "{person} is niet actief",
    "person_no_phone": "{person} heeft geen telefoonnummer",
    "person_not_member": "{person} is geen lid van team {team}",
    "person_duplicate": "{person} staat al eerder in de lijst",
    "staff_short": "{needed} personen nodig, {available} op piket: de tweede moet nog gevonden worden",
    "roster_gap": "niemand heeft piket bij {team} op dit moment",
    "team_line": "24/7-lijn van {team}: {phone}",
    "team_no_line": "{team} heeft geen eigen 24/7-lijn",
    "consult_required": "eerst akkoord van {team} nodig voordat iemand uitrukt",
    "consult_no_candidates": "niemand van {team} heeft piket voor het akkoord",
    "partner_available": "{team} is nu bereikbaar",
    # --- fallback ---
    "no_rule": "geen dekkingsregel van toepassing in dit gebied op dit moment",
    "national_fallback": "neem contact op met {name} via {phone}",
    "expect_phone": "verwacht een telefonisch consult via {team} ({phone})",
    "expect_video": "verwacht beeldbellen met {team}",
    "expect_on_scene": "{team} kan ter plaatse komen",
    "expect_national": "verwacht een telefonisch consult via {name} ({phone})",
}


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text}


def reason(code: str, **params: Any) -> Reason:
    """Render reason ``code`` in Dutch; an unknown code is a programming error."""
    template = REASONS[code]
    return Reason(code=code, text=template.format(**params), params=params)


def days_nl(days: tuple[str, ...] | list[str]) -> str:
    keys = list(DAY_NL)
    idx = sorted(keys.index(d) for d in days)
    if len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{DAY_NL[keys[idx[0]]]}-{DAY_NL[keys[idx[-1]]]}"
    return ",".join(DAY_NL[keys[i]] for i in idx)

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
    # --- paging ---
    "paging_no_responder": "niemand heeft de oproep aangenomen; iedereen is geprobeerd",
    "paging_no_consult": "geen akkoord voor uitruk: niemand van het consult heeft aangenomen",
    "paging_partial": "{accepted} van de {needed} benodigde personen heeft aangenomen; iedereen is geprobeerd",
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


# --- paging: what a page says on a phone (SMS, voice, SMS replies) ---
# Only a reference, its short code, municipality, case type, mode and a link: never a
# name, address, age or phone number of anyone involved. SMS texts stay within GSM-7
# (plain ASCII here) so a message is not split into 70-character UCS-2 segments.
PAGE_PURPOSE_NL = {
    "respond": None,
    "consult": "consult gevraagd",
    "team_line": "oproep 24/7-lijn",
}
PAGE_STAFF_NL = {1: None, 2: "twee personen"}

PAGE_TEXTS: dict[str, str] = {
    # SMS page (one or two segments including the link)
    "sms_page": "Samen op in acuut {reference}: {summary}. Antwoord JA of NEE (bij meer oproepen: JA {code}). Of open: {link}",
    "sms_municipality": "gem. {municipality}",
    # voice page, one sentence each; the reference is spelled out letter by letter
    "voice_intro": "Dit is Samen op in acuut.",
    "voice_reference": "Oproep {spelled}.",
    "voice_consult": "Er wordt om een consult gevraagd.",
    "voice_team_line": "Deze oproep is voor de 24/7-lijn.",
    "voice_case_type": "Soort melding: {case_type}.",
    "voice_municipality": "Gemeente {municipality}.",
    "voice_mode": "Inzet: {mode}.",
    "voice_staff": "Er zijn twee personen nodig.",
    "voice_keys": "Druk 1 om te accepteren, 2 om te weigeren, 9 om te herhalen.",
    # voice answers after a key press, or when nothing was pressed
    "voice_accepted": "Je hebt de oproep geaccepteerd. De meldkamer is op de hoogte. Tot ziens.",
    "voice_declined": "Je hebt de oproep geweigerd. We vragen iemand anders. Tot ziens.",
    "voice_invalid": "Die toets kennen we niet.",
    "voice_closed": "Deze oproep is al afgehandeld. Je hoeft niets te doen. Tot ziens.",
    "voice_no_key": "We hebben geen toets ontvangen. Tot ziens.",
}

# Answers to an SMS reply; ``reply_text(kind, ...)`` in notifications.messages renders them.
REPLY_TEXTS: dict[str, str] = {
    "accepted": "Geaccepteerd: {reference}. De meldkamer is op de hoogte.",
    "declined": "Geweigerd: {reference}. We vragen iemand anders.",
    "already_answered": "Je hebt oproep {reference} al beantwoord.",
    "closed": "Oproep {reference} is niet meer open.",
    "ambiguous": "Je hebt {count} open oproepen: {codes}. Antwoord JA {first} of NEE {first}.",
    "unknown_code": "Geen open oproep met code {code}. Open: {codes}.",
    "no_open": "Er staat geen oproep voor je open.",
    "unknown": "Niet begrepen. Antwoord JA (1) om te accepteren of NEE (2) om te weigeren.",
    "help": "Samen op in acuut: antwoord JA (1) om te accepteren of NEE (2) om te weigeren. Bij meer oproepen de code erachter, bijv. JA {code}.",
    "rate_limited": "Te veel berichten; bel de meldkamer.",
}

# Why an SMS did not arrive, for the event log that planners read (Twilio error codes).
SMS_ERROR_NL: dict[str, str] = {
    "30001": "wachtrij vol bij de provider; bericht niet verstuurd",
    "30002": "account bij de provider opgeschort",
    "30003": "telefoon niet bereikbaar (uit of geen bereik)",
    "30004": "bericht geblokkeerd door de ontvanger of het netwerk",
    "30005": "onbekend nummer of bestaat niet meer",
    "30006": "vast nummer of netwerk niet bereikbaar",
    "30007": "door het netwerk als spam gefilterd",
    "30008": "onbekende fout bij de provider",
    "30034": "afzendernummer niet geregistreerd bij de provider",
}
SMS_ERROR_UNKNOWN_NL = "foutcode {code} van de provider"


# --- paging, as the control room reads it -------------------------------------------
PAGING_NL: dict[str, str] = {
    "pending": "nog niet gestart",
    "consult": "consult wordt opgeroepen",
    "respond": "wordt opgeroepen",
    "accepted": "aangenomen",
    "partial": "deels aangenomen",
    "no_responder": "niemand bereikt",
}
ASSIGNMENT_NL: dict[str, str] = {
    "planned": "nog niet gevraagd",
    "paging": "wordt opgeroepen",
    "accepted": "aangenomen",
    "declined": "geweigerd",
    "unreached": "niet bereikt",
    "cancelled": "niet meer nodig",
}
LAYER_NL: dict[str, str] = {
    "primary": "piket",
    "backup": "achterwacht",
    "coordinator": "coördinator",
    "team_line": "24/7-lijn",
}


# --- contact exchange: what the worker who accepted is told --------------------------
# Once a worker accepts, they get the police unit on the case and the number it is
# called back on (the police's own contact, nothing about the people involved), and
# the link to their step page. Plain ASCII (GSM-7) like the page texts.
CONTACT_TEXTS: dict[str, str] = {
    # the SMS after an accept by voice, link or the control room
    "sms_confirmation": "Samen op in acuut {reference}: je hebt geaccepteerd. Bel politie {unit} op {number}. Je stappen: {link}",
    # the answer to an SMS reply JA (instead of the plain "accepted" reply)
    "reply_accepted": "Geaccepteerd: {reference}. Bel politie {unit} op {number}. Je stappen: {link}",
    # what the call says after key 1; the number is read digit by digit, twice
    "voice_accepted": "Je hebt de oproep geaccepteerd. De meldkamer is op de hoogte.",
    "voice_callback": "Het terugbelnummer van de politie is: {spelled}.",
    "voice_callback_again": "Ik herhaal: {spelled}.",
    "voice_sms_follows": "Je krijgt een sms met dit nummer en een link naar je stappen. Tot ziens.",
    # when the feed's unit name has nothing printable left
    "unit_unknown": "(eenheid onbekend)",
}


# --- the joint response (dispatch.lifecycle, dispatch.live) ---------------------------
STAGE_NL: dict[str, str] = {
    "melding": "melding",
    "paging": "wordt opgeroepen",
    "accepted": "aangenomen",
    "onderweg": "onderweg",
    "ter_plaatse": "ter plaatse",
    "motorkapoverleg": "motorkapoverleg",
    "onderzoek": "(gezamenlijk) onderzoek",
    "veiligheidsmaatregelen": "veiligheidsmaatregelen",
    "overgedragen": "niet meer acuut / overgedragen",
    "closed": "afgesloten",
}
OUTCOME_NL: dict[str, str] = {
    "joint_on_scene": "samen ter plaatse",
    "phone_consult": "telefonisch consult",
    "video_consult": "consult via beeldbellen",
    "no_consult": "geen consult",
    "cancelled": "geannuleerd door de politie",
    "no_responder": "niemand bereikt",
}
ACTION_NL: dict[str, str] = {
    "paging": "oproepen gestart",
    "accepted": "aangenomen",
    "onderweg": "onderweg",
    "eta": "aankomsttijd bijgewerkt",
    "ter_plaatse": "ter plaatse",
    "motorkapoverleg": "motorkapoverleg",
    "onderzoek": "onderzoek",
    "veiligheidsmaatregelen": "afspraken veiligheidsmaatregelen",
    "overgedragen": "overgedragen",
    "consult": "consult vastgelegd",
    "close": "afsluiten",
    "safe_to_enter": "veilig om binnen te komen",
    "police_left": "politie vertrokken",
    "cancel": "annuleren",
}
CONSULT_NL: dict[str, str] = {"phone": "telefonisch", "video": "beeldbellen"}
HANDOVER_NL: dict[str, str] = {
    "actieoverleg": "actieoverleg",
    "zsm": "ZSM",
    "zorg_en_veiligheidshuis": "Zorg- en Veiligheidshuis",
    "mda_plus_plus": "MDA++",
}
MEASURE_NL: dict[str, str] = {
    "arrest": "aanhouding",
    "huisverbod": "tijdelijk huisverbod",
    "crisis_placement": "crisisplaatsing",
    "ots_uhp": "spoedverzoek OTS/UHP",
    "other": "anders",
}
ALARM_NL: dict[str, str] = {
    "no_responder": "Niemand bereikt.",
    "no_responder_expect": "Niemand bereikt: {expectation}",
    "unanswered": "Oproep aan {who} al {minutes} min niet beantwoord.",
    "no_accept": "Nog niemand aangenomen — {minutes} min na de melding.",
    "half_staffed": "Half bezet: {accepted} van de {needed} medewerkers gevonden. Gaat {who} alleen?",
    "send_failing": "Oproepen lukken niet — bel zelf: {numbers}",
    "send_failing_nobody": "Oproepen lukken niet — bel zelf het piketnummer van het team.",
    "sms_limited": "Sms-antwoorden van {phone} worden beperkt (te veel berichten); een JA of NEE komt wel door.",
    "number": "{who} {phone}",
}
# The control room's answer to "Half bezet", as the dashboard and the worker page show it.
HALF_STAFFED_DECISION_NL: dict[str, str] = {
    "alone": "De meldkamer: {who} gaat alleen.",
    "phone": "De meldkamer: {who} gaat niet alleen ter plaatse; overleg telefonisch.",
}


# --- live pages: the control-room dashboard and the worker's step page ----------------
# (api/templates/dashboard.html, worker.html and the scripts in api/static read these)
LIVE_NL: dict[str, str] = {
    "connecting": "Verbinden…",
    "live": "Live",
    "reconnecting": "Verbinding verbroken — opnieuw verbinden…",
    "not_authenticated": "Niet aangemeld — meld je opnieuw aan",
    "forbidden": "Geen toegang tot deze gegevens",
    "expired": "Link verlopen — bel de meldkamer",
}
PAGE_NL: dict[str, str] = {
    "empty": "Geen open meldingen.",
    "empty_filtered": "Geen open meldingen in dit basisteam.",
    "elapsed": "tijd sinds de melding",
    "safe": "veilig om binnen te komen",
    "arrived": "ter plaatse",
    "police_left": "politie vertrokken",
    "handover": "overgedragen aan",
    "eta": "verwacht",
    "consult_prefix": "consult:",
    "police": "Politie",
    "since": "sinds",
    "closed": "Afgesloten",
}
# What the worker page says when the server refuses a step.
ACTION_ERROR_NL: dict[str, str] = {
    "invalid_transition": "'{action}' kan nu niet worden vastgelegd (huidige stap: {stage}).",
    "validation": "Controleer het formulier.",
    "forbidden": "Dit mag alleen de meldkamer doen.",
    "not_found": "Deze oproep is niet gevonden. Bel de meldkamer.",
    "expired": "Je link is verlopen. Bel de meldkamer.",
    "server": "Er ging iets mis bij de server. Probeer het zo opnieuw of bel de meldkamer.",
    "network": "Geen verbinding. Controleer je internet en probeer het opnieuw.",
    "other": "Dit lukte niet. Probeer het opnieuw of bel de meldkamer.",
}
# The control room's action buttons on the dashboard (dashboard.js).
CONTROL_ROOM_NL: dict[str, str] = {
    "heading": "Acties",
    "safe_to_enter": "Veilig om binnen te komen",
    "consult": "Consult vastleggen",
    "consult_kind": "soort consult",
    "police_left": "Politie vertrekt",
    "cancel": "Annuleren",
    "cancel_confirm": "Melding {reference} annuleren? De oproepen stoppen en de melding wordt afgesloten.",
    "close": "Afsluiten",
    "outcome": "afloop",
    "choose_outcome": "kies de afloop…",
    "outcome_missing": "Kies eerst de afloop.",
    "busy": "Bezig…",
    "not_found": "Deze melding is niet gevonden. Ververs de pagina.",
    "failed": "Dit lukte niet. Probeer het opnieuw.",
    "server": "Er ging iets mis bij de server. Probeer het zo opnieuw.",
    "network": "Geen verbinding met de server. Probeer het opnieuw.",
    "half_staffed_alone": "Gaat alleen",
    "half_staffed_phone": "Niet alleen: telefonisch overleg",
    "half_staffed_question": "Half bezet — gaat de medewerker alleen?",
}
# Why the server refuses a control-room action while the incident is open (409), by
# action, or by "close." + outcome; other refusals use ACTION_ERROR_NL.
CONTROL_ROOM_REFUSED_NL: dict[str, str] = {
    "police_left": "De politie kan pas vertrekken als de hulpverlener ter plaatse is of er "
    "telefonisch/beeldbellend overleg is vastgelegd.",
    "safe_to_enter": "Veilig om binnen te komen kan pas als een hulpverlener de oproep heeft "
    "aangenomen.",
    "close.joint_on_scene": "Afsluiten als 'samen ter plaatse' kan pas als de hulpverlener "
    "ter plaatse is geweest.",
    "close.no_responder": "Afsluiten als 'niemand bereikt' kan alleen als niemand de oproep "
    "heeft aangenomen.",
    "close.phone_consult": "Afsluiten als 'telefonisch consult' past niet bij het vastgelegde "
    "consult, of er is nog niemand die heeft aangenomen.",
    "close.video_consult": "Afsluiten als 'consult via beeldbellen' past niet bij het "
    "vastgelegde consult, of er is nog niemand die heeft aangenomen.",
    "half_staffed": "Deze vraag geldt alleen als er minder medewerkers gevonden zijn dan nodig.",
}
# Field names in a refused step, and why a value was refused (pydantic error types).
FIELD_NL: dict[str, str] = {
    "eta_minutes": "aankomst over (minuten)",
    "agreements": "afspraken",
    "first_contact": "eerste contactpersoon",
    "informs": "wie informeert wie",
    "who": "wie",
    "whom": "wie wordt geïnformeerd",
    "measures": "maatregelen",
    "measure": "maatregel",
    "by": "door wie",
    "until": "tot wanneer",
    "note": "toelichting",
    "reassess_at": "moment van herbeoordeling",
    "handover": "overdracht",
    "target": "overgedragen aan",
    "kind": "soort consult",
    "outcome": "afloop",
}
VALIDATION_NL: dict[str, str] = {
    "missing": "verplicht",
    "string_too_short": "verplicht",
    "string_too_long": "te lang",
    "too_long": "te veel regels",
    "int_parsing": "vul een getal in",
    "int_type": "vul een getal in",
    "greater_than_equal": "te klein",
    "less_than_equal": "te groot",
    "literal_error": "kies een waarde uit de lijst",
    "datetime_parsing": "ongeldige datum of tijd",
    "datetime_from_date_parsing": "ongeldige datum of tijd",
    "datetime_type": "ongeldige datum of tijd",
    "value_error": "ongeldige waarde",
    "extra_forbidden": "onbekend veld",
    "invalid": "ongeldige waarde",
}


# Why an SMS sent through Vonage did not arrive (the ``err-code`` of its delivery
# receipt), for the event log that planners read.
VONAGE_SMS_ERROR_NL: dict[str, str] = {
    "1": "onbekende fout bij het netwerk",
    "2": "telefoon tijdelijk niet bereikbaar (uit of geen bereik)",
    "3": "telefoon niet bereikbaar (nummer niet in gebruik)",
    "4": "sms geblokkeerd door de ontvanger",
    "5": "nummer overgezet naar een ander netwerk; niet bezorgd",
    "6": "door het netwerk als spam geweigerd",
    "7": "telefoon bezet; niet bezorgd",
    "8": "netwerkfout",
    "9": "ongeldig of onbekend nummer",
    "10": "bericht door het netwerk geweigerd",
    "11": "nummer niet bereikbaar via dit netwerk",
    "12": "bestemming niet bereikbaar",
    "13": "geweigerd door een leeftijdsbeperking op het nummer",
    "14": "nummer geblokkeerd door het netwerk",
    "15": "prepaidtegoed van de ontvanger op",
    "16": "limiet bij de provider bereikt",
    "50": "door een filter van de provider tegengehouden",
    "51": "afzender door het netwerk gefilterd",
    "52": "inhoud door het netwerk gefilterd",
    "53": "geen toestemming van de ontvanger geregistreerd",
    "54": "geweigerd op grond van regelgeving",
    "99": "algemene fout bij de provider",
}


# --- the worker's step page in the first hour (api/templates/worker.html, worker.js) ---
# The page is split into steps so a phone screen shows one at a time; the points come
# from the toolkit "Samen op in acuut" (stap 1-5), in its own words, shortened.
WORKER_PANEL_NL: dict[str, str] = {
    "onderweg": "Onderweg",
    "motorkapoverleg": "Motorkapoverleg",
    "veiligheid": "Veiligheid",
    "gesprek": "Gesprek en afspraken",
    "overdracht": "Overdracht",
    "afsluiten": "Afsluiten",
}
WORKER_PAGE_NL: dict[str, str] = {
    "household": "Huishouden",
    "household_none": "geen gegevens doorgegeven",
    "age": "{age} jaar",
    "age_unknown": "leeftijd onbekend",
    "flags": "Bijzonderheden",
    "flags_none": "geen doorgegeven",
    "mandate": "Wat je in het eerste uur mag doen",
    "steps": "Stappen",
    "step_of": "Stap {n} van {total}",
    "done": "gedaan",
    "current": "huidige stap",
    "not_now": "Hier is nu niets vast te leggen (huidige stap: {stage}).",
    "arrived_sent": "Ter plaatse doorgegeven.",
    "points_kept": "Afvinken is alleen voor jezelf en blijft op dit toestel.",
    "evaluation": "Evaluatie (optioneel)",
    "evaluation_hint": "Alleen voor de evaluatie van de regio; komt in geen enkel bericht. "
    "Geen namen of adressen.",
    "helped": "Welke informatie hielp?",
    "missing": "Wat ontbrak?",
    "close_intro": "Sluit af als de directe veiligheid is hersteld. Wat je over de "
    "informatie kwijt wilt, helpt de regio de aanpak te verbeteren.",
}
# Household flags on the worker's page, the ones that matter for going in first.
WORKER_FLAG_ORDER: tuple[str, ...] = (
    "weapons",
    "injuries",
    "children_present",
    "huisverbod_considered",
)
# Stap 1 Fysieke veiligheid: what the worker can expect on the way.
WORKER_SAFETY_FIRST_NL: tuple[str, ...] = (
    "De politie gaat voorop en laat je weten wanneer het veilig genoeg is om de woning "
    "binnen te gaan.",
    "Moet de politie weg voordat je er bent, dan is er eerst telefonisch motorkapoverleg.",
    "Politie en Veilig Thuis maken de betrokkenen duidelijk wie hun woning betreden en waarom.",
)
# Stap 2 Motorkapoverleg: information to exchange, each point one a worker can tick.
WORKER_MOTORKAP_NL: dict[str, str] = {
    "police_registrations": "Politie: eerdere relevante registraties, AOL/AOP",
    "police_agreements": "Politie: afspraken met directbetrokkenen of partners (plan van "
    "aanpak) en getroffen beschermingsmaatregelen",
    "police_investigation": "Politie: informatie uit lopend strafrechtelijk onderzoek",
    "probation": "Reclassering (via de politie): eerdere advisering, toezichtsmaatregelen, "
    "afspraken over de verdachte",
    "vt_files": "Veilig Thuis: informatie uit de eigen systemen",
    "rvdk_care": "Veilig Thuis: informatie van de Raad voor de Kinderbescherming of reeds "
    "betrokken hulpverlening",
}
# Veiligheidsbeoordeling (stap 2): the first safety assessment.
WORKER_SAFETY_NL: dict[str, str] = {
    "assess": "Beoordeel ter plaatse de directe veiligheid van directbetrokkenen op basis "
    "van alle beschikbare informatie.",
    "children": "Let op aanwezige kinderen: hun veiligheid en signalen van kindermishandeling.",
    "rvdk_advice": "Vraag zo nodig advies aan de Raad voor de Kinderbescherming (na "
    "kantooruren telefonisch bereikbaar voor spoedverzoeken OTS/UHP).",
    "om": "De politie stemt zo nodig af met het OM over een strafbaar feit, bevoegdheden en "
    "keuzes in de opsporing.",
    "measures": "Maak afspraken over de maatregelen en onderzoekshandelingen en wie ze uitvoert.",
}
# Stap 3 (Gezamenlijk) onderzoek: who talks to whom.
WORKER_CONVERSATION_NL: dict[str, str] = {
    "order": "Spreek af wie welke onderzoekshandelingen doet en in welke volgorde.",
    "once": "Spreek waar mogelijk samen met directbetrokkenen, zodat zij hun verhaal één "
    "keer vertellen.",
    "rights": "Houd rekening met de rechten van slachtoffers en verdachten bij een verhoor "
    "(o.a. recht op bijstand).",
    "children": "Kinderen: niet onnodig uit hun veilige omgeving halen, zorg voor opvang, "
    "niet vaker spreken dan nodig.",
}
# Stap 5 Niet meer acuut?: the handover.
WORKER_HANDOVER_NL: tuple[str, ...] = (
    "Is de directe veiligheid hersteld? Zorg voor (informatie)overdracht, zodat de "
    "afspraken opvolging krijgen.",
    "Iedere partner legt vast in de eigen systemen.",
)


# --- the first hour as the regions arrange it (dispatch.pairing) -----------------------
# "Police call the line": a rule under which nobody is paged and the police phone a
# team's 24/7 line themselves (the Meierij practice); how a local time was read when the
# clock change made it unclear; what a team's workers may do in the first hour.
REASONS.update(
    {
        "police_call": "Politie belt zelf de 24/7-lijn van {kind}: {phone}, {team}. "
        "Niemand wordt opgeroepen.",
        "time_nonexistent": "{clock} bestond niet op {date}: de klok ging om 02:00 een uur "
        "vooruit (zomertijd). Gelezen als {read} zomertijd ({offset}), hetzelfde moment als "
        "{clock} wintertijd.",
        "time_ambiguous": "{clock} kwam op {date} twee keer voor: de klok ging om 03:00 een "
        "uur terug (wintertijd). Gelezen als de eerste keer, {clock} zomertijd ({offset}); "
        "de tweede keer is {clock} wintertijd (+01:00), alleen met die offset te sturen.",
    }
)
POLICE_CALL_NOTE_NL = (
    "Bel zelf de 24/7-lijn van {team} voor advies; er wordt niemand opgeroepen en er komt "
    "niemand ter plaatse."
)
POLICE_CALL_NL: dict[str, str] = {
    "call": "Bel zelf: {number}",
    "paging": "niemand opgeroepen: politie belt zelf",
}
PAGING_NL["police_call"] = POLICE_CALL_NL["paging"]
# A team's first-hour mandate (oncall.schemas.Mandate), as the pages show it.
MANDATE_NL: dict[str, str] = {
    "safety_assessment": "eerste veiligheidsbeoordeling maken",
    "vt_files": "eerdere dossiers van Veilig Thuis raadplegen",
    "huisverbod_advice": "besluiten over een advies tijdelijk huisverbod",
}
MANDATE_HEADING_NL = "Mag in het eerste uur"


# --- planner: rest and fairness warnings, gaps, who could fill a gap (oncall.fairness) ---
BREACH_NL: dict[str, str] = {
    "max_shifts_4w": "{name} heeft {count} piketdiensten in 4 weken (max {limit}), "
    "in de 4 weken vanaf {since}",
    "max_hours_4w": "{name} heeft {hours} uur piket in 4 weken (max {limit}), "
    "in de 4 weken vanaf {since}",
    "min_rest_after_night": "{name} is in de nacht opgeroepen ({callout}) en heeft daarna "
    "{rest} uur rust tot de volgende piketdienst ({next}); minimaal {limit} uur",
    "consecutive_weekends": "{name} heeft piket in twee weekenden achter elkaar "
    "({first} en {second})",
}
BREACH_RULE_NL: dict[str, str] = {
    "max_shifts_4w": "meeste piketdiensten in 4 weken",
    "max_hours_4w": "meeste uren piket in 4 weken",
    "min_rest_after_night": "minste rust na een nachtelijke oproep",
    "consecutive_weekends": "geen twee weekenden achter elkaar",
}
CANDIDATE_NL: dict[str, str] = {
    "hours": "{hours} uur piket dit kwartaal",
    "free": "heeft in deze periode geen piket",
    "reachable": "actief en bereikbaar",
    "rules_ok": "blijft binnen de rust- en eerlijkheidsregels",
}
GAP_NL = "{needed} nodig, {available} bereikbaar op piket"
# Covered, but nobody to spare: one falling out makes a gap.
TIGHT_NL = "krap: {needed} nodig en precies {needed} bereikbaar, niemand achter de hand"
TIGHT_CELL_NL = "krap {hours} u"
# `samenop gaps` (api/cli.py)
CLI_GAP_NL = "{team} ({team_id}): {start} - {end} ({minutes} min; {staffing}; regels {rules})"
CLI_GAPS_TOTAL_NL = "{count} gat(en) in {days} dag(en) vanaf {start}"


# --- calendar feeds (iCal), the planners' daily digest and "Piket nu" (H3b) ------------

ICAL_NL: dict[str, str] = {
    "person_calendar": "Piket {name}",
    "team_calendar": "Piket {team}",
    "person_event": "{layer} {team}",  # "Piket Veilig Thuis Gooi", "Achterwacht CIT"
    "team_event": "{layer}: {person}",  # "Piket: Anna de Vries"
    "team": "Team: {team}",
    "layer": "Laag: {layer}",
    "source_rotation": "Bron: rooster ({id})",
    "source_shift": "Bron: losse dienst",
    "source_override": "Bron: wijziging ({id})",
    "unreachable": "Let op: niet bereikbaar voor oproepen (geen geldig telefoonnummer, "
    "niet actief of geen lid van het team).",
    "description": "Piketrooster van Samen op in acuut. Alleen diensten, geen meldingen.",
}

# Why someone on a roster cannot be paged (codes from oncall.gaps.unreachable).
UNREACHABLE_NL: dict[str, str] = {
    "no_phone": "geen geldig telefoonnummer",
    "inactive": "niet actief",
    "not_member": "geen lid van het team",
    "unknown_person": "onbekende persoon",
}

DIGEST_NL: dict[str, str] = {
    "subject": "Piketoverzicht {region} — {date}",
    "greeting": "Goedemorgen,",
    "intro": "Dit is het dagelijkse overzicht van de piketbezetting in {region} voor de "
    "komende {weeks} weken (van {start} tot {end}).",
    "gaps_heading": "Gaten in de bezetting",
    "gaps_none": "Geen gaten: elke dekkingsregel heeft genoeg bereikbare mensen op piket.",
    "gap_line": "- {team}: {start} tot {end} ({duration}); nodig {needed}, "
    "bereikbaar {available} (regels: {rules})",
    "gaps_more": "... en nog {count} gaten; zie de planningspagina.",
    "unreachable_heading": "Op het rooster zonder bereikbaarheid",
    "unreachable_none": "Iedereen op een rooster is bereikbaar.",
    "unreachable_line": "- {person} ({team}): {why}",
    "swaps_heading": "Ruilen die op de planner wachten",
    "swaps_none": "Geen ruilen die op de planner wachten.",
    "swap_line": "- {label}: {team}, {who} ({layer}), {start} tot {end}",
    "footer": "Dit bericht is automatisch verstuurd door Samen op in acuut. Het bevat geen "
    "gegevens over meldingen. Aanpassen kan op de planningspagina.",
}


def duration_nl(minutes: int) -> str:
    """'45 min', '3 u', '2 u 30 min', '1 d 4 u'."""
    days, rest = divmod(max(0, minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} u")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


# --- the control-room dashboard in the first hour (dashboard.html, dashboard.js) -------
# The police's pocket card "Veiligheid voorop" (toolkit: "Wat doe je bij (een vermoeden
# van) huiselijk geweld of kindermishandeling?"), in its own words, one line per tick
# (dispatch.lifecycle.CHECKLIST_ITEMS), with the card's detail as a hint.
CHECKLIST_NL: dict[str, str] = {
    "kindcheck": "Doe de kindcheck",
    "doorvragen": "Vraag goed door",
    "bewijs": "Verzamel bewijsmateriaal",
    "registraties": "Ga eerdere registraties na over betrokkenen",
    "vt_melding": "Maak altijd een Veilig Thuis-melding op",
    "warme_overdracht": "Draag de zaak warm over",
    "veilig_vertrekken": "Ga pas weg of laat betrokkene pas vertrekken als je weet dat "
    "iedereen veilig is",
    "forensisch_arts": "Forensisch arts ingezet",
    "forensische_opsporing": "Forensische Opsporing ingezet",
}
CHECKLIST_HINT_NL: dict[str, str] = {
    "kindcheck": "Zijn er kinderen in het gezin of in huis, en zijn zij veilig?",
    "doorvragen": "gezinssamenstelling · geschiedenis (is dit de eerste keer dat er geweld "
    "is gebruikt?) · angst betrokkenen · zelfredzaamheid betrokkenen (bijvoorbeeld "
    "financiële afhankelijkheid en sociaal isolement) · middelengebruik · "
    "(vuur)wapengebruik en -bezit",
    "bewijs": "Bijvoorbeeld foto's van letsel en vernielingen in de woning, buurtonderzoek "
    "(zoveel mogelijk samen met Veilig Thuis)",
    "registraties": "Raadpleeg daar de politiesystemen voor",
    "warme_overdracht": "Zorg voor opvolging",
}
# The dashboard's own labels; they reach the page with the control room's (``control``).
DASHBOARD_NL: dict[str, str] = {
    "checklist_title": "Veiligheid voorop",
    "checklist_sub": "zakkaart politie",
    "checklist_done": "{done} van {total}",
    "ticked": "afgevinkt {time}",
    "ticked_by": "afgevinkt {time} door {who}",
    "forensic": "Kinderen en letsel: zet altijd een forensisch arts en Forensische "
    "Opsporing in voor onderzoek en duiding.",
    "household": "Huishouden",
    "household_none": "geen gegevens over het huishouden",
    "planned_mode": "gepland: {mode}",
    "stage_now": "nu",
    "police_call": "Bel zelf: {number}",
    "time_read_short": "tijd bij de klokwissel: zie hieronder",
    "mandate": "Mag in het eerste uur",
    "actions_for": "Acties voor melding {reference}",
    "none_now": "geen actie nu",
    "evaluation": "Evaluatie (optioneel)",
    "evaluation_hint": "Alleen voor de evaluatie van de regio; komt in geen bericht. Geen "
    "namen of adressen.",
    "helped": "Welke informatie hielp?",
    "missing": "Wat ontbrak?",
    "evaluation_noted": "evaluatie vastgelegd",
    "new": "nieuw",
    "settings": "Waarschuwen bij een nieuwe melding of alarm",
    "sound": "Geluid",
    "notify": "Browsermelding",
    "notify_denied": "Browsermeldingen zijn geblokkeerd; sta ze toe in de browser.",
    "notify_unsupported": "Deze browser kent geen meldingen.",
    "notify_new": "Nieuwe melding {reference}",
    "notify_alarm": "Alarm bij {reference}",
}
CONTROL_ROOM_NL.update(DASHBOARD_NL)
CONTROL_ROOM_NL.update({f"checklist.{k}": v for k, v in CHECKLIST_NL.items()})
CONTROL_ROOM_NL.update({f"hint.{k}": v for k, v in CHECKLIST_HINT_NL.items()})


# --- Roster SMS and shift swaps (dispatch.roster_sms, dispatch.swaps, the shifts page) ---
# Never anything about an incident: a period, a team and colleagues' names only. The
# link to the worker's shifts page is added after the text.

_WEEKDAYS_NL = ("ma", "di", "wo", "do", "vr", "za", "zo")


def roster_moment(moment: Any) -> str:
    """'za 05-12 17:00' in Europe/Amsterdam."""
    from core.timeutil import local

    at = local(moment)
    return f"{_WEEKDAYS_NL[at.weekday()]} {at:%d-%m %H:%M}"


def roster_period(start: Any, end: Any) -> str:
    """'za 05-12 17:00 tot zo 06-12 08:00' (the end's day only when it differs)."""
    from core.timeutil import local

    first, last = local(start), local(end)
    until = f"{last:%H:%M}" if first.date() == last.date() else roster_moment(end)
    return f"{roster_moment(start)} tot {until}"


SWAP_SMS_NL: dict[str, str] = {
    "offered": "Je ruilaanbod staat open: piket {team}, {when}. Collega's kunnen het "
    "overnemen; tot dan blijft het jouw dienst.",
    "taken_offerer": "{taker} neemt je piket over: {team}, {when}.",
    "taken_taker": "Je neemt het piket van {offerer} over: {team}, {when}.",
    "taken_planner": "Ruil ter goedkeuring: {taker} neemt piket {team}, {when} over van {offerer}.",
    "done": "Ruil rond: {taker} heeft piket {team}, {when} in plaats van {offerer}. Het "
    "rooster is aangepast.",
    "refused": "De planner heeft de ruil geweigerd: piket {team}, {when} blijft bij {offerer}.",
    "cancelled": "Je ruilaanbod is ingetrokken: piket {team}, {when} blijft jouw dienst.",
    "expired": "Niemand heeft je piket {team}, {when} overgenomen. De planner is ingelicht; "
    "tot er iets geregeld is blijft het jouw dienst.",
    "expired_planner": "Niet overgenomen: niemand neemt het piket van {offerer} over ({team}, "
    "{when}). Regel zo nodig een vervanger.",
}
SWAP_APPROVAL_NOTE_NL = " De planner moet de ruil nog goedkeuren; tot dan blijft het rooster zo."


def swap_sms(template: str, words: dict[str, str], *, approval: bool) -> str:
    text = SWAP_SMS_NL[template].format(**words)
    if approval and template in ("taken_offerer", "taken_taker"):
        text += SWAP_APPROVAL_NOTE_NL
    return text


REMINDER_SMS_NL = "Herinnering: je hebt {layer} bij {team}, {when}. Ruilen of bekijken:"
CHANGE_SMS_NL = "Je piketrooster is gewijzigd. Je diensten de komende 14 dagen: {blocks}."
CHANGE_NONE_NL = "geen"
CHANGE_MORE_NL = " en nog {count}"

SWAP_STATE_NL: dict[str, str] = {
    "offered": "aangeboden",
    "taken": "wacht op goedkeuring",
    "approved": "goedgekeurd",
    "refused": "geweigerd",
    "done": "geruild",
    "cancelled": "ingetrokken",
    "expired": "niet overgenomen",
}

SWAP_REFUSED_NL: dict[str, str] = {
    "own_offer": "Je kunt je eigen aanbod niet overnemen.",
    "not_open": "Dit aanbod staat niet (meer) open.",
    "not_offerer": "Alleen wie het aanbod deed kan het intrekken.",
    "no_approval_needed": "Voor dit team is geen goedkeuring nodig.",
    "not_waiting": "Deze ruil wacht niet op goedkeuring.",
    "not_ready": "Deze ruil is nog niet rond.",
    "not_on_call": "Je hebt in deze periode niet (helemaal) piket in dit team en deze laag.",
    "offerer_not_on_call": "Het rooster is intussen gewijzigd: de aanbieder heeft deze "
    "dienst niet meer.",
    "not_member": "Alleen leden van het team kunnen deze dienst overnemen.",
    "inactive": "Dit account hoort bij iemand die niet actief is in het rooster.",
    "unreachable": "Er staat geen telefoonnummer bij je in het rooster; vraag je planner.",
    "taker_busy": "Je hebt in deze periode zelf al piket (of een andere ruil).",
    "too_late": "Ruilen kan tot {hours} uur voor de dienst; neem contact op met je planner.",
    "overlap": "Je hebt voor (een deel van) deze periode al een ruilaanbod open.",
    "quarter": "Begin en einde liggen op een heel kwartier.",
    "order": "Het einde ligt na het begin.",
    "too_long": "Een aanbod beslaat hoogstens 14 dagen.",
    "past": "Deze dienst is al begonnen of voorbij.",
    "too_far": "Zo ver vooruit kan nog niet geruild worden (hoogstens 90 dagen).",
}

SHIFTS_PAGE_NL: dict[str, str] = {
    "title": "Mijn diensten",
    "mine": "Mijn piketdiensten (komende 28 dagen)",
    "offers": "Open ruilaanbiedingen in mijn team",
    "my_swaps": "Mijn ruilen",
    "offer": "Aanbieden",
    "take": "Overnemen",
    "cancel": "Intrekken",
    "none": "Geen diensten in deze periode.",
    "no_offers": "Er staan geen aanbiedingen open.",
    "no_swaps": "Nog geen ruilen.",
    "done_offer": "Je aanbod staat open.",
    "done_take": "Je hebt de dienst overgenomen.",
    "done_take_approval": "Overgenomen; de planner moet de ruil nog goedkeuren.",
    "done_cancel": "Je aanbod is ingetrokken.",
    "failed": "Dat lukte niet",
    "expired_link": "Deze link werkt niet (meer). Meld je aan om je diensten te zien.",
    "closed": "Te kort dag om te ruilen; bel je planner.",
    "team": "Team",
    "layer": "Laag",
    "period": "Periode",
    "state": "Stand",
    "who": "Van",
}


# --- the evaluation report (dispatch.evaluation, /evaluatie, the CSV export) -----------

EVALUATION_BUCKET_NL: dict[str, str] = {
    "joint_on_scene": "samen ter plaatse",
    "phone_consult": "telefonisch consult",
    "video_consult": "consult via beeldbellen",
    "police_call": "politie belde zelf",
    "no_consult": "geen consult",
    "cancelled": "geannuleerd",
    "no_responder": "niemand bereikt",
    "open": "niet afgesloten",
}
WEEKDAY_NL: dict[str, str] = {
    "mon": "maandag",
    "tue": "dinsdag",
    "wed": "woensdag",
    "thu": "donderdag",
    "fri": "vrijdag",
    "sat": "zaterdag",
    "sun": "zondag",
}
EVALUATION_NL: dict[str, str] = {
    "title": "Evaluatie Samen op in acuut",
    "nav": "Evaluatie",
    "region": "Regio",
    "start": "Van",
    "end": "Tot en met",
    "show": "Toon",
    "period": "{region}, {start} tot en met {end} (Nederlandse tijd)",
    "csv": "Download als CSV (Excel)",
    "summary": "Meldingen en aanpak",
    "incidents": "Politiemeldingen",
    "joint_approach": "Samen op toegepast",
    "consults": "Consulten (telefonisch of beeldbellen)",
    "without_vt": "Zonder VT-consult (geen consult, geannuleerd, niemand bereikt)",
    "declines": "Afwijzingen van oproepen",
    "paging_unanswered": "Meldingen waarbij niemand de oproep aannam",
    "times": "Tijden vanaf de melding",
    "to_accept": "tot de eerste aanname",
    "to_arrival": "tot aankomst ter plaatse",
    "median": "mediaan",
    "p90": "90e percentiel",
    "count": "aantal",
    "minutes": "{value} min",
    "none": "—",
    "outcomes": "Uitkomsten",
    "by_hour": "Per uur van de dag",
    "by_weekday": "Per dag van de week",
    "by_day": "Per dag",
    "teams": "Per team",
    "team": "Team",
    "no_team": "geen team",
    "hour": "Uur",
    "weekday": "Dag",
    "day": "Datum",
    "share": "Aandeel",
    "chart_incidents": "meldingen",
    "chart_applied": "samen op toegepast",
    "hour_desc": "Staafdiagram: meldingen per uur van de dag en hoeveel daarvan met "
    "Samen op. De tabel ernaast geeft dezelfde cijfers.",
    "weekday_desc": "Staafdiagram: meldingen per dag van de week en hoeveel daarvan met "
    "Samen op. De tabel ernaast geeft dezelfde cijfers.",
    "outcome_desc": "Staafdiagram: aantal meldingen per uitkomst. De tabel ernaast geeft "
    "dezelfde cijfers.",
    "day_desc": "Lijndiagram: meldingen per dag in de periode. De tabel eronder geeft "
    "dezelfde cijfers.",
    "definitions": "Samen op toegepast: afgesloten als samen ter plaatse, telefonisch "
    "consult of consult via beeldbellen. Tijden lopen vanaf het binnenkomen van de "
    "melding; uren en dagen in Nederlandse tijd. Cijfers komen uit de vastgelegde "
    "gebeurtenissen en blijven na het opschonen van persoonsgegevens staan.",
    "empty": "Geen meldingen in deze periode.",
}
EVALUATION_CSV_NL: dict[str, str] = {
    "region": "Regio",
    "team": "Team",
    "start": "Van",
    "end": "Tot en met",
    "hour": "Uur",
    "weekday": "Dag van de week",
    "day": "Datum",
    "incidents": "Meldingen",
    "joint_approach": "Samen op toegepast",
    "joint_on_scene": "Samen ter plaatse",
    "consults": "Consulten",
    "phone_consult": "Telefonisch consult",
    "video_consult": "Consult via beeldbellen",
    "police_call": "Politie belde zelf",
    "without_vt": "Zonder VT-consult",
    "no_consult": "Geen consult",
    "cancelled": "Geannuleerd",
    "no_responder": "Niemand bereikt",
    "open": "Niet afgesloten",
    "declines": "Afwijzingen",
    "paging_unanswered": "Oproep niet aangenomen",
    "accept_median": "Mediaan tot aanname (min)",
    "accept_p90": "90e percentiel tot aanname (min)",
    "arrival_median": "Mediaan tot aankomst (min)",
    "arrival_p90": "90e percentiel tot aankomst (min)",
    "total": "Totaal",
}


# --- the planner's pages (/planner, /planner/teams/{team}; planner.js) -----------------

PLANNER_NL: dict[str, str] = {
    "loading": "Bezig met laden…",
    "no_connection": "Geen verbinding met de server. Probeer het opnieuw.",
    "signed_out": "U bent niet meer aangemeld. Herlaad de pagina en meld u opnieuw aan.",
    "refused": "Geweigerd: {detail}",
    "failed": "Niet gelukt: {detail}",
    "gap": "Gat",
    "gap_text": "{needed} nodig, {available} bereikbaar",
    "fill": "Wie kan invallen?",
    "no_candidates": "Niemand uit het team is vrij, bereikbaar en binnen de rusttijden.",
    "choose": "Kiezen",
    "preview": "Voorbeeld",
    "preview_title": "Wat verandert er",
    "added": "Erbij",
    "removed": "Eraf",
    "nothing_changes": "Het rooster verandert niet.",
    "warnings": "Waarschuwingen (rust en eerlijke verdeling)",
    "no_warnings": "Geen waarschuwingen.",
    "accept_warnings": "Toch opslaan; de waarschuwingen worden vastgelegd",
    "save": "Opslaan",
    "cancel": "Annuleren",
    "saved": "Opgeslagen als configuratieversie {version}.",
    "undo": "Ongedaan maken",
    "undone": "Wijziging ongedaan gemaakt (versie {version}).",
    "gaps_before_after": "Gaten in deze periode: {before} → {after}",
    "primary": "piket",
    "backup": "achterwacht",
    "source_rotation": "rooster",
    "source_shift": "losse dienst",
    "source_override": "wijziging",
    "unreachable": "niet bereikbaar",
    "needs": "Regels vragen {staff} persoon/personen",
    "nobody": "niemand",
    "week": "Week",
    "month": "Maand",
    "previous": "Vorige",
    "next": "Volgende",
    "today": "Vandaag",
    "replace_reason": "invallen voor gat",
    "import_errors": "{count} fout(en) in het bestand; er is niets opgeslagen.",
    "import_ok": "Het bestand is in orde: {added} dienst(en) erbij, {changed} gewijzigd, "
    "{people} nieuwe persoon/personen.",
    "import_saved": "Rooster geïmporteerd als configuratieversie {version}.",
    "row": "Regel",
    "column": "Kolom",
    "rule": "Probleem",
    "conflict_warnings": "Er zijn waarschuwingen: vink aan dat u ze accepteert.",
    "changed_since": "Kan niet ongedaan maken: dit is daarna nog gewijzigd.",
    "kind_add": "extra",
    "kind_replace": "valt in",
    "kind_remove": "afwezig",
    "for": "voor",
    "role_worker": "medewerker",
    "role_coordinator": "coördinator",
    "role_backup": "achterwacht",
    "role_consultant": "consulent",
    "yes": "ja",
    "no": "nee",
    "edit": "Wijzigen",
    "delete": "Verwijderen",
    "edit_rotation": "Rooster {id} wijzigen",
    "edit_person": "{name} wijzigen",
    "add_person": "Persoon toevoegen",
    "counts_title": "Verdeling {quarter}",
}

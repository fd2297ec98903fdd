"""A deterministic, national-scale configuration for the benchmarks.

Fictitious but shaped like the real thing: 25 Veilig Thuis regions, about 170
basisteams, 342 municipalities (each served by exactly one basisteam), per region
a VT team with a 24/7 line and in most regions a CIT or crisisdienst team and a
gedragswetenschapper team, three national partners (OM, reclassering, RvdK),
3,000 people, rotations per team, a year (2026) of explicit shifts and a few
thousand overrides, and coverage rules mixing office hours, piket with consult,
windows, age limits with exceptions and phone-only fallbacks.

Everything comes from one seeded ``random.Random``, so the same seed gives the
same ``ConfigSet`` (and the same incidents) on every machine. Building it takes
well under a few seconds; it must not dominate the benchmarks that use it.

    from bench.national import build_national, random_incidents
    config = build_national(seed=7)
    incidents = random_incidents(config, 10_000, seed=11)  # [(IncidentFacts, utc datetime)]
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from core.timeutil import AMS, holiday_name  # noqa: E402
from oncall.facts import IncidentFacts, PersonFacts  # noqa: E402
from oncall.phones import normalize_phone  # noqa: E402
from oncall.schemas import (  # noqa: E402
    AgeLimit,
    Area,
    Basisteam,
    CaseType,
    Condition,
    ConfigSet,
    Consult,
    CoverageRule,
    ExceptionEffect,
    Flag,
    Handoff,
    HolidayPolicy,
    Hours,
    Layer,
    Membership,
    Mode,
    Municipality,
    Override,
    OverrideKind,
    Person,
    PersonRole,
    Region,
    Rotation,
    RuleException,
    RuleRole,
    Shift,
    Team,
    TeamKind,
    Window,
)

N_REGIONS = 25
N_BASISTEAMS = 170
N_MUNICIPALITIES = 342
N_PEOPLE = 3000
N_SHIFTS = 400
N_OVERRIDES = 3000
YEAR = 2026

# DST changes in Europe/Amsterdam in 2026 (see /work/shared/TESTING.md).
DST_DAYS = (date(2026, 3, 29), date(2026, 10, 25))

_PRE = (
    "Ber",
    "Dal",
    "Eik",
    "Hol",
    "Kamp",
    "Lin",
    "Mol",
    "Oos",
    "Ras",
    "Stee",
    "Vlie",
    "Wes",
    "Zand",
    "Bro",
    "Gel",
    "Har",
    "Ley",
    "Mark",
    "Noor",
    "Ooster",
    "Peel",
    "Ree",
    "Sluis",
    "Ter",
    "Uit",
    "Veen",
    "Wou",
    "Ypen",
    "Zui",
    "Aar",
    "Bun",
    "Cuyk",
    "Dor",
    "Ede",
    "Fle",
)
_SUF = (
    "dam",
    "dorp",
    "veen",
    "wijk",
    "hoven",
    "horst",
    "meer",
    "broek",
    "burg",
    "lo",
    "rade",
    "zijl",
    "sum",
    "ingen",
    "heim",
    "kerk",
    "huizen",
    "beek",
    "drecht",
    "oord",
    "stad",
)
_FIRST = (
    "Anna",
    "Bram",
    "Carla",
    "Daan",
    "Eva",
    "Fleur",
    "Gert",
    "Hanna",
    "Iris",
    "Jan",
    "Kim",
    "Lars",
    "Maud",
    "Nina",
    "Olaf",
    "Pim",
    "Roos",
    "Sanne",
    "Tom",
    "Utte",
    "Vera",
    "Wim",
    "Yara",
    "Zoë",
    "Ahmed",
    "Fatima",
    "Mohamed",
    "Sara",
    "Emre",
    "Priya",
)
_LAST = (
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "Kok",
    "Yilmaz",
    "El Amrani",
)

WEEKDAYS = ("weekdays",)
WEEKEND = ("weekend",)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS)


def _split(total: int, parts: int, lo: int, rng: random.Random) -> list[int]:
    """``parts`` counts of at least ``lo`` summing to ``total``."""
    counts = [lo] * parts
    for _ in range(total - lo * parts):
        counts[rng.randrange(parts)] += 1
    return counts


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def place(self) -> str:
        for _ in range(50):
            name = self.rng.choice(_PRE) + self.rng.choice(_SUF)
            if name not in self.used:
                self.used.add(name)
                return name
        name = f"{self.rng.choice(_PRE)}{self.rng.choice(_SUF)}-{len(self.used)}"
        self.used.add(name)
        return name


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(p for p in out.split("-") if p)


class _Phones:
    """Unique, valid Dutch numbers: 06-1xxxxxxx mobiles, 088-xxxxxxx team lines."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _draw(self, prefix: str, digits: int) -> str:
        while True:
            raw = prefix + "".join(str(self.rng.randrange(10)) for _ in range(digits))
            e164 = normalize_phone(raw)  # raises if ever invalid: the generator is wrong
            if e164 not in self.used:
                self.used.add(e164)
                return raw

    def mobile(self) -> str:
        return self._draw("06-1", 7)

    def line(self) -> str:
        return self._draw("088-", 7)


def build_national(seed: int = 7) -> ConfigSet:
    """The national configuration for ``seed``; validated by the pydantic models."""
    rng = random.Random(seed)
    names = _Names(rng)
    phones = _Phones(rng)

    # --- areas ---------------------------------------------------------------
    regions: list[Region] = []
    basisteams: list[Basisteam] = []
    municipalities: list[Municipality] = []
    region_bts: dict[str, list[str]] = {}
    region_munis: dict[str, list[str]] = {}
    bt_counts = _split(N_BASISTEAMS, N_REGIONS, 5, rng)
    muni_counts = _split(N_MUNICIPALITIES, N_BASISTEAMS, 1, rng)
    code = 0
    bt_index = 0
    for r in range(N_REGIONS):
        rname = names.place()
        rid = f"r{r + 1:02d}-{_slug(rname)}"
        office = None
        if r % 5 == 2:  # some regions keep longer office hours
            office = (Window(days=WEEKDAYS, start="08:30", end="17:30"),)
        regions.append(Region(id=rid, name=f"Veilig Thuis {rname}", office_hours=office))
        region_bts[rid], region_munis[rid] = [], []
        for _ in range(bt_counts[r]):
            bname = names.place()
            bid = f"bt-{bt_index + 1:03d}-{_slug(bname)}"
            codes = []
            for _ in range(muni_counts[bt_index]):
                code += 1
                gm = f"GM{code:04d}"
                codes.append(gm)
                municipalities.append(Municipality(code=gm, name=names.place()))
            basisteams.append(
                Basisteam(
                    id=bid, name=f"Basisteam {bname}", region=rid, municipalities=tuple(codes)
                )
            )
            region_bts[rid].append(bid)
            region_munis[rid].extend(codes)
            bt_index += 1

    # --- teams -----------------------------------------------------------------
    teams: list[Team] = []
    vt: dict[str, str] = {}
    crisis: dict[str, tuple[str, TeamKind]] = {}
    gw: dict[str, str] = {}
    for i, region in enumerate(regions):
        rid, short = region.id, region.id.split("-", 1)[0]
        vt[rid] = f"vt-{short}"
        teams.append(
            Team(
                id=vt[rid],
                kind=TeamKind.VEILIG_THUIS,
                region=rid,
                name=f"{region.name} piket",
                phone=phones.line(),
            )
        )
        if i % 5 != 4:  # 20 of 25 regions
            kind = TeamKind.CIT if rng.random() < 0.6 else TeamKind.CRISISDIENST
            crisis[rid] = (f"{kind.value}-{short}", kind)
            teams.append(
                Team(
                    id=crisis[rid][0],
                    kind=kind,
                    region=rid,
                    name=f"{'CIT' if kind is TeamKind.CIT else 'Crisisdienst'} {region.name[13:]}",
                    phone=phones.line() if rng.random() < 0.5 else None,
                    office_hours=(Window(days=WEEKDAYS, start="08:00", end="18:00"),)
                    if rng.random() < 0.3
                    else None,
                )
            )
        if i % 5 != 1:  # 20 of 25 regions
            gw[rid] = f"gw-{short}"
            teams.append(
                Team(
                    id=gw[rid],
                    kind=TeamKind.GEDRAGSWETENSCHAPPER,
                    region=rid,
                    name=f"Gedragswetenschappers {region.name[13:]}",
                )
            )
    partners = {
        "om": Team(
            id="om-landelijk", kind=TeamKind.OM, name="OM piket (landelijk)", phone=phones.line()
        ),
        "reclassering": Team(
            id="reclassering-landelijk",
            kind=TeamKind.RECLASSERING,
            name="Reclassering (3RO)",
            phone=phones.line(),
        ),
        "rvdk": Team(
            id="rvdk-landelijk",
            kind=TeamKind.RVDK,
            name="Raad voor de Kinderbescherming",
            phone=phones.line(),
        ),
    }
    teams.extend(partners.values())

    # --- people and memberships --------------------------------------------------
    sizes: dict[str, int] = {}
    for rid in vt:
        sizes[vt[rid]] = rng.randint(70, 90)
        if rid in crisis:
            sizes[crisis[rid][0]] = rng.randint(18, 26)
        if rid in gw:
            sizes[gw[rid]] = rng.randint(6, 10)
    for team in partners.values():
        sizes[team.id] = 15
    region_of_team = {t.id: t.region for t in teams}
    home: list[str] = []
    for team_id, size in sizes.items():
        home.extend([team_id] * size)
    while len(home) < N_PEOPLE:  # the rest: extra VT staff, spread over the regions
        home.append(vt[regions[len(home) % N_REGIONS].id])
    home = home[:N_PEOPLE]
    rng.shuffle(home)

    members: dict[str, list[str]] = {t.id: [] for t in teams}
    reachable: dict[str, list[str]] = {t.id: [] for t in teams}
    people: list[Person] = []
    for n, team_id in enumerate(home):
        pid = f"p{n + 1:04d}"
        teams_of = [team_id]
        rid = region_of_team[team_id]
        if rid and rng.random() < 0.1:  # some VT workers also do CIT/crisis or GW piket
            other = rng.choice(
                [
                    x
                    for x in (vt[rid], crisis.get(rid, ("",))[0], gw.get(rid, ""))
                    if x and x != team_id
                ]
                or [team_id]
            )
            if other != team_id:
                teams_of.append(other)
        kind_role = {"gw": "consultant"}.get(team_id.split("-", 1)[0], "worker")
        ms = [Membership(team=t, role=kind_role if t == team_id else "worker") for t in teams_of]
        if rng.random() < 0.04:
            ms[0] = Membership(team=team_id, role="coordinator")
        active = rng.random() >= 0.02
        nums = [] if rng.random() < 0.01 else [phones.mobile()]
        if nums and rng.random() < 0.15:
            nums.append(phones.mobile())
        people.append(
            Person(
                id=pid,
                name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                phones=tuple(nums),
                active=active,
                memberships=tuple(ms),
            )
        )
        for t in teams_of:
            members[t].append(pid)
            if active and nums:
                reachable[t].append(pid)

    # --- rotations ---------------------------------------------------------------
    rotations: list[Rotation] = []
    piket_people: dict[str, list[str]] = {}
    start = _local(date(2025, 12, 1), 9)
    for team in teams:
        pool = list(reachable[team.id])
        rng.shuffle(pool)
        everyone = members[team.id]
        n_piket = min(len(pool), rng.randint(7, 14))
        piket = pool[:n_piket]
        if rng.random() < 0.1:  # now and then someone inactive or without phone is rostered
            piket.append(rng.choice(everyone))
        piket = list(dict.fromkeys(piket))
        backup = pool[n_piket : n_piket + rng.randint(3, 6)] or pool[:3]
        office = pool[n_piket + 6 : n_piket + 12] or pool[:4]
        piket_people[team.id] = piket
        rotations.append(
            Rotation(
                id=f"{team.id}-piket",
                team=team.id,
                layer=Layer.PRIMARY,
                participants=tuple(piket),
                start=start,
                handoff=Handoff(every="daily", at="17:00"),
                windows=(
                    Window(days=WEEKDAYS, start="17:00", end="09:00"),
                    Window(days=WEEKEND, start="00:00", end="24:00"),
                ),
                holidays=HolidayPolicy.OPEN,
            )
        )
        rotations.append(
            Rotation(
                id=f"{team.id}-backup",
                team=team.id,
                layer=Layer.BACKUP,
                participants=tuple(backup),
                start=start,
                handoff=Handoff(every="weekly", at="09:00", weekday="mon"),
            )
        )
        rotations.append(
            Rotation(
                id=f"{team.id}-kantoor",
                team=team.id,
                layer=Layer.PRIMARY,
                participants=tuple(office),
                start=_local(date(2026, 1, 1), 8),
                until=_local(date(2027, 1, 1), 8) if rng.random() < 0.5 else None,
                handoff=Handoff(every="hours", hours=12),
                windows=(Window(days=WEEKDAYS, start="08:00", end="20:00"),),
                holidays=HolidayPolicy.CLOSED,
            )
        )

    # --- a year of shifts and overrides -----------------------------------------------
    team_ids = [t.id for t in teams]
    year_days = [date(YEAR, 1, 1) + timedelta(days=d) for d in range(365)]
    shifts: list[Shift] = []
    for _ in range(N_SHIFTS):
        tid = rng.choice(team_ids)
        day = rng.choice(year_days)
        begin = _local(day, rng.choice((8, 9, 13, 17, 22)))
        shifts.append(
            Shift(
                team=tid,
                person=rng.choice(members[tid]),
                start=begin,
                end=begin + timedelta(hours=rng.choice((4, 8, 9, 12, 16))),
                layer=Layer.BACKUP if rng.random() < 0.2 else Layer.PRIMARY,
            )
        )
    shifts.sort(key=lambda s: s.start)

    overrides: list[Override] = []
    spans = ((4, 20), (12, 25), (24, 25), (48, 15), (24 * 7, 10), (24 * 14, 5))
    span_hours = [h for h, _ in spans]
    span_weights = [w for _, w in spans]
    reasons = ("ziek", "verlof", "ruil", "cursus", "extra inzet", None)
    for n in range(N_OVERRIDES):
        tid = rng.choice(team_ids)
        day = rng.choice(year_days)
        begin = _local(day, rng.choice((0, 8, 9, 12, 17, 20)))
        end = begin + timedelta(hours=rng.choices(span_hours, span_weights)[0])
        roll = rng.random()
        rostered = piket_people[tid] or members[tid]
        pool = reachable[tid] or members[tid]
        fields: dict[str, Any] = {
            "id": f"ov-{n + 1:05d}",
            "team": tid,
            "start": begin,
            "end": end,
            "reason": rng.choice(reasons),
            "layer": Layer.BACKUP if rng.random() < 0.1 else Layer.PRIMARY,
        }
        if roll < 0.4:
            fields.update(kind=OverrideKind.REMOVE, person=rng.choice(rostered))
        elif roll < 0.75:
            target = rng.choice(rostered)
            stand_in = rng.choice(pool)
            if stand_in == target:
                fields.update(kind=OverrideKind.REMOVE, person=target)
            else:
                fields.update(kind=OverrideKind.REPLACE, person=stand_in, replaces=target)
        else:
            fields.update(kind=OverrideKind.ADD, person=rng.choice(pool))
        overrides.append(Override(**fields))

    # --- coverage rules ----------------------------------------------------------------
    rules: list[CoverageRule] = []
    weapons_police_only = RuleException(
        when=Condition(flags=(Flag.WEAPONS,)),
        effect=ExceptionEffect.EXCLUDE,
        note="wapens: eerst politie",
    )
    huisverbod = RuleException(
        when=Condition(flags=(Flag.HUISVERBOD_CONSIDERED,)),
        effect=ExceptionEffect.WAIVE_AGE,
        note="bij huisverbod ook volwassenen",
    )
    injured_child = RuleException(
        when=Condition(flags=(Flag.INJURIES,), case_types=(CaseType.KM,)),
        effect=ExceptionEffect.WAIVE_HOURS,
        note="kind met letsel: altijd",
    )
    for i, region in enumerate(regions):
        rid, short = region.id, region.id.split("-", 1)[0]
        bts = region_bts[rid]
        by_municipality = i % 3 == 0  # some regions write their area as municipalities
        area = (
            Area(municipalities=tuple(region_munis[rid]))
            if by_municipality
            else Area(basisteams=tuple(bts))
        )
        consult = (
            Consult(team=gw[rid], note="eerst overleg met gedragswetenschapper")
            if rid in gw
            else None
        )
        if rid in crisis:
            team_id, kind = crisis[rid]
            cover = bts if rng.random() < 0.5 else rng.sample(bts, max(2, len(bts) // 2))
            if kind is TeamKind.CIT:
                rules.append(
                    CoverageRule(
                        id=f"{short}-cit-middag-avond",
                        team=team_id,
                        priority=10,
                        area=Area(basisteams=tuple(cover)),
                        windows=(Window(days=WEEKDAYS, start="13:00", end="22:00"),),
                        age=AgeLimit(max=23, applies_to=(PersonRole.VICTIM, PersonRole.CHILD)),
                        exceptions=(weapons_police_only, huisverbod),
                        staff=2,
                        mode=Mode.ON_SCENE,
                        description="CIT ter plaatse, jongeren tot 23",
                    )
                )
            else:
                rules.append(
                    CoverageRule(
                        id=f"{short}-crisis-nacht",
                        team=team_id,
                        priority=40,
                        area=Area(basisteams=tuple(cover)),
                        windows=(Window(days=("all",), start="22:00", end="08:00"),),
                        holidays=HolidayPolicy.OPEN,
                        mode=Mode.VIDEO,
                        exceptions=(weapons_police_only,),
                        description="crisisdienst 's nachts per beeldbellen",
                    )
                )
        rules.append(
            CoverageRule(
                id=f"{short}-vt-kantoor",
                team=vt[rid],
                priority=20,
                area=area,
                hours=Hours.OFFICE_HOURS,
                mode=Mode.ON_SCENE,
                staff=2 if i % 4 == 0 else 1,
                exceptions=(weapons_police_only,),
            )
        )
        piket_age = AgeLimit(max=17, applies_to=(PersonRole.CHILD,)) if i % 3 == 1 else None
        rules.append(
            CoverageRule(
                id=f"{short}-vt-piket",
                team=vt[rid],
                priority=30,
                area=area,
                hours=Hours.AFTER_HOURS,
                mode=Mode.ON_SCENE,
                consult=consult,
                age=piket_age,
                exceptions=(weapons_police_only, huisverbod, injured_child)
                if piket_age
                else (weapons_police_only, injured_child),
                holidays=HolidayPolicy.CLOSED,
            )
        )
        if i % 2 == 0:
            rules.append(
                CoverageRule(
                    id=f"{short}-vt-km-weekend",
                    team=vt[rid],
                    priority=35,
                    area=Area(basisteams=tuple(rng.sample(bts, max(1, len(bts) // 3)))),
                    case_types=(CaseType.KM,),
                    windows=(Window(days=WEEKEND, start="09:00", end="21:00"),),
                    holidays=HolidayPolicy.OPEN,
                    mode=Mode.VIDEO,
                )
            )
        rules.append(
            CoverageRule(
                id=f"{short}-vt-telefonisch",
                team=vt[rid],
                priority=900,
                area=area,
                mode=Mode.PHONE,
                description="altijd telefonisch consult",
            )
        )
        if rid in gw:
            rules.append(
                CoverageRule(
                    id=f"{short}-gw-consult",
                    team=gw[rid],
                    role=RuleRole.CONSULT,
                    priority=100,
                    area=Area(basisteams=tuple(bts)),
                    mode=Mode.PHONE,
                )
            )
    rules.append(
        CoverageRule(
            id="om-partner",
            team=partners["om"].id,
            role=RuleRole.PARTNER,
            priority=500,
            windows=(Window(days=("all",), start="08:00", end="22:00"),),
            holidays=HolidayPolicy.OPEN,
            mode=Mode.PHONE,
            description="OM piket tot 22:00",
        )
    )
    rules.append(
        CoverageRule(
            id="reclassering-partner",
            team=partners["reclassering"].id,
            role=RuleRole.PARTNER,
            priority=510,
            windows=(Window(days=WEEKDAYS, start="08:00", end="22:00"),),
            mode=Mode.PHONE,
            description="reclassering werkdagen tot 22:00",
        )
    )
    rules.append(
        CoverageRule(
            id="rvdk-partner",
            team=partners["rvdk"].id,
            role=RuleRole.PARTNER,
            priority=520,
            hours=Hours.AFTER_HOURS,
            case_types=(CaseType.KM,),
            mode=Mode.PHONE,
            description="Raad voor de Kinderbescherming buiten kantooruren",
        )
    )

    return ConfigSet(
        regions=tuple(regions),
        municipalities=tuple(municipalities),
        basisteams=tuple(basisteams),
        teams=tuple(teams),
        people=tuple(people),
        rotations=tuple(rotations),
        shifts=tuple(shifts),
        overrides=tuple(overrides),
        rules=tuple(rules),
    )


# --- incidents --------------------------------------------------------------------------


def special_days(year: int = YEAR) -> list[date]:
    """DST days and Dutch public holidays (from the ``holidays`` package)."""
    days = [date(year, 1, 1) + timedelta(days=d) for d in range(366)]
    found = [d for d in days if d.year == year and holiday_name(d)]
    return sorted(set(found) | {d for d in DST_DAYS if d.year == year})


def _instant(day: date, rng: random.Random) -> datetime:
    """A uniform UTC instant within the local day (23 or 25 hours on DST days)."""
    lo = datetime(day.year, day.month, day.day, tzinfo=AMS).astimezone(UTC)
    nxt = day + timedelta(days=1)
    hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=AMS).astimezone(UTC)
    return lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))


def random_incidents(config: ConfigSet, n: int, seed: int) -> list[tuple[IncidentFacts, datetime]]:
    """``n`` incidents with the instant to pair them at (aware UTC), deterministic in ``seed``.

    Areas: basisteam and municipality, either one alone, ~3% unknown (a basisteam
    or CBS code not in the config) and a few with no area at all. Instants: spread
    over the year, with ~15% on DST days and public holidays (around the clock
    changes on the DST days).
    """
    rng = random.Random(seed)
    bts = [b for b in config.basisteams]
    days = [date(YEAR, 1, 1) + timedelta(days=d) for d in range(365)]
    special = special_days()
    out: list[tuple[IncidentFacts, datetime]] = []
    for _ in range(n):
        roll = rng.random()
        b = rng.choice(bts)
        if roll < 0.025:
            basisteam, municipality = rng.choice(
                [
                    (f"bt-onbekend-{rng.randrange(100)}", None),
                    (None, f"GM9{rng.randrange(1000):03d}"),
                    (f"bt-onbekend-{rng.randrange(100)}", f"GM9{rng.randrange(1000):03d}"),
                ]
            )
        elif roll < 0.03:
            basisteam, municipality = b.id, f"GM9{rng.randrange(1000):03d}"  # known + unknown
        elif roll < 0.035:
            basisteam, municipality = None, None
        elif roll < 0.50:
            basisteam, municipality = b.id, rng.choice(b.municipalities)
        elif roll < 0.80:
            basisteam, municipality = None, rng.choice(b.municipalities)
        else:
            basisteam, municipality = b.id, None

        case_type = CaseType.KM if rng.random() < 0.35 else CaseType.HG
        persons: list[PersonFacts] = []

        def age(lo: int, hi: int) -> int | None:
            return None if rng.random() < 0.05 else rng.randint(lo, hi)

        if case_type is CaseType.HG:
            persons.append(PersonFacts(role=PersonRole.VICTIM, age=age(14, 85)))
            persons.append(PersonFacts(role=PersonRole.SUSPECT, age=age(16, 75)))
            if rng.random() < 0.4:
                persons += [
                    PersonFacts(role=PersonRole.CHILD, age=age(0, 17))
                    for _ in range(rng.randint(1, 3))
                ]
        else:
            persons += [
                PersonFacts(role=PersonRole.CHILD, age=age(0, 17)) for _ in range(rng.randint(1, 3))
            ]
            persons.append(PersonFacts(role=PersonRole.SUSPECT, age=age(18, 60)))
        if rng.random() < 0.1:
            persons.append(PersonFacts(role=PersonRole.WITNESS, age=age(10, 80)))
        flags = set()
        if rng.random() < 0.08:
            flags.add(Flag.WEAPONS)
        if any(p.role is PersonRole.CHILD for p in persons) and rng.random() < 0.7:
            flags.add(Flag.CHILDREN_PRESENT)
        if rng.random() < 0.25:
            flags.add(Flag.HUISVERBOD_CONSIDERED)
        if rng.random() < 0.2:
            flags.add(Flag.INJURIES)

        if rng.random() < 0.15:
            day = rng.choice(special)
            at = _instant(day, rng)
            if day in DST_DAYS and rng.random() < 0.5:  # around the clock change (01:00 UTC)
                at = datetime(day.year, day.month, day.day, 1, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(-7200, 7200)
                )
        else:
            at = _instant(rng.choice(days), rng)
        out.append(
            (
                IncidentFacts(
                    case_type=case_type,
                    basisteam=basisteam,
                    municipality=municipality,
                    persons=tuple(persons),
                    flags=frozenset(flags),
                ),
                at,
            )
        )
    return out


def incident_payload(
    facts: IncidentFacts,
    at: datetime,
    *,
    source: str,
    external_id: str,
    callback: str = "06-12345678",
) -> dict[str, Any]:
    """The JSON body ``POST /api/v1/incidents`` takes for these facts."""
    return {
        "source": source,
        "external_id": external_id,
        "reported_at": at.isoformat(),
        "basisteam": facts.basisteam,
        "municipality": facts.municipality,
        "case_type": facts.case_type.value,
        "persons": [{"role": p.role.value, "age": p.age} for p in facts.persons],
        "flags": sorted(f.value for f in facts.flags),
        "police_unit": "BENCH-01",
        "police_callback": callback,
    }


def summary(config: ConfigSet) -> str:
    return ", ".join(f"{len(getattr(config, k))} {k}" for k in config.SECTIONS)


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    cfg = build_national()
    t1 = time.perf_counter()
    incs = random_incidents(cfg, 10_000, seed=11)
    t2 = time.perf_counter()
    print(summary(cfg))
    print(f"build_national {t1 - t0:.2f} s, random_incidents(10000) {t2 - t1:.2f} s")
    try:
        from oncall.loader import validate_references
    except ImportError as exc:  # the loader may be mid-edit by someone else
        print(f"reference check skipped: {exc}")
    else:
        issues = validate_references(cfg)
        print(f"reference check: {len(issues)} issue(s)")
        for issue in issues[:10]:
            print("  ", issue)

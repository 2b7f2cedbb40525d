"""Deterministic sandbox worlds in fixture format v1 (docs/operations.md §3), with the old data problems planted.

Why a generator rather than hand-written fixtures: the sync must be exercised on data that looks
like a property manager's account (portfolios of owners, single-family homes and apartment
blocks, leases with tenants, 18 months of work-order history so daily backfills find data) and
that carries, at a small known rate, the problems the old Lambda bridge tripped over:

* work orders on multi-unit buildings whose ``unitID`` holds the building id (the 40 misrouted jobs);
* enum values outside the spec (a building ``propertyType`` of ``"Du/Fourplex"``, unusual
  work-order statuses), tenants without an email, near-duplicate work orders;
* on the SF side, customers that already exist under slightly different spellings (mapping has
  something to match), jobs already stamped with a work-order id (dedup has something to find),
  one with an older system's bare-id stamp and one job made by hand for a work order (fuzzy
  dedup has something to find);
* messy values a real account holds (issue 16): dates that are not dates and far-future ones,
  other clients' jobs whose PO number looks like a work order id, jobs carrying our ``PW-``
  stamp with another work order's number (foreign stamps), control characters in descriptions.

Every planted problem is listed under the top-level ``"_planted"`` key (kept by `SandboxState`),
so tests assert on exact ids instead of re-deriving them. The same ``(seed, scale)`` always gives
the same fixture: each section draws from its own ``random.Random`` seeded by a string, so
changing one section never reshuffles another.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import count
from typing import Any, TypeVar

from greenlight_dagster.core.idempotency import cross_system_id
from greenlight_dagster.core.statuses import DEFAULT_OPEN_STATUSES, in_open_list
from greenlight_dagster.sandbox.state import (
    DEFAULT_CLOCK,
    DEFAULT_JOB_CATEGORIES,
    DEFAULT_JOB_STATUSES,
    DEFAULT_TECHS,
    PW_ENTITIES,
    SF_ENTITIES,
    format_ts,
    parse_ts,
)

T = TypeVar("T")
Record = dict[str, Any]


@dataclass(frozen=True)
class ScaleSpec:
    """How big a generated world is; units, leases and tenants follow from buildings."""

    portfolios: int
    buildings: int
    units: int
    vendors: int
    work_orders: int
    sf_other_customers: int
    sf_other_jobs: int


#: small: tests (builds in milliseconds). demo: the first `greenlight demo`, whose sync with pushes on
#: finishes in minutes (decision 0006). medium: a real mid-size manager (40 portfolios, 1,500
#: buildings, 6,000 units, ~6,000 leases, 60,000 work orders over 18 months). large: 5x medium, for
#: benchmarks and load rehearsals.
SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(3, 15, 40, 6, 150, 4, 8),
    "demo": ScaleSpec(10, 120, 600, 25, 3_000, 20, 60),
    "medium": ScaleSpec(40, 1_500, 6_000, 150, 60_000, 150, 500),
    "large": ScaleSpec(200, 7_500, 30_000, 300, 300_000, 750, 2_500),
}

HISTORY_DAYS = 548  # ~18 months of work orders before the fixture clock
SINGLE_FAMILY_SHARE = 0.5
OCCUPANCY = 0.85

#: First id of each entity: disjoint ranges, so a unit id can never be mistaken for a building id.
ID_BASE = {"portfolios": 1, "buildings": 10_001, "units": 100_001, "leases": 300_001, "contacts": 500_001,
           "vendors": 700_001, "workOrders": 900_001, "customers": 7_001, "jobs": 8_001}
FIRST_WO_NUMBER = 1_001

# ---- planted-problem rates (each at least one per fixture) ----
UNIT_HOLDS_BUILDING_RATE = 0.015
UNKNOWN_STATUS_RATE = 0.001
NEAR_DUPLICATE_RATE = 1 / 1_500
STAMPED_JOB_RATE = 0.01
MISSING_EMAIL_RATE = 0.0125
UNKNOWN_PROPERTY_TYPE_RATE = 1 / 60
IMPOSSIBLE_DATE_RATE = 1 / 500
FAR_FUTURE_DATE_RATE = 1 / 1_000
CONTROL_CHARACTER_RATE = 1 / 1_000
#: Shares of the service company's other jobs given a look-alike PO number / a foreign stamp.
LOOKALIKE_PO_SHARE = 0.1
FOREIGN_STAMP_SHARE = 0.05
IMPOSSIBLE_DATES = ("2026-02-30", "0000-01-01", "2026-13-01T09:00:00Z", "2026-01-01T25:00:00Z",
                    "2026-01-01 (approx)")
FAR_FUTURE_DATE = "9999-12-31"
#: How an unrelated PO number can look like a work order id (never our ``PW-<id>`` stamp).
LOOKALIKE_PO_FORMS = ("{id}", "PW {id}", "PO-{id}", "PW#{id}")
CONTROL_CHARACTERS = ("\x07", "\x1b[0m", "\x0b")
UNKNOWN_PROPERTY_TYPES = ("Du/Fourplex", "Section 8/Affordable")
UNUSUAL_WO_STATUSES = ("Pending Owner Approval", "Waiting On Tenant")
#: How the SF spelling of a matched PW name differs (cycled over matched portfolios).
NAME_VARIANTS = ("exact", "legal_suffix", "upper_case", "typo")

FIRST_NAMES = ("Ana", "Ben", "Carla", "Diego", "Elena", "Frank", "Grace", "Hector", "Iris", "Jamal", "Kara", "Luis",
               "Maya", "Noah", "Olivia", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wes", "Ximena",
               "Yusuf", "Zoe", "Aaron", "Bianca", "Caleb", "Dana", "Eli", "Fatima", "Gabe", "Hana", "Ivan", "Jade")
LAST_NAMES = ("Ruiz", "Nguyen", "Smith", "Patel", "Johnson", "Garcia", "Kim", "Brown", "Martinez", "Lee", "Walker",
              "Hernandez", "Lopez", "Clark", "Lewis", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Hill",
              "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner", "Phillips",
              "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Delgado", "Okafor", "Reyes")
STREETS = ("Oak St", "Maple Ave", "Cedar Ln", "Pecan St", "Elm Dr", "Willow Way", "Lamar Blvd", "Guadalupe St",
           "Riverside Dr", "Barton Springs Rd", "Congress Ave", "Burnet Rd", "Airport Blvd", "Manor Rd",
           "Cesar Chavez St", "Red River St", "Duval St", "Speedway", "Koenig Ln", "Anderson Ln", "Parmer Ln",
           "Slaughter Ln", "Brodie Ln",
           "William Cannon Dr", "Mopac Blvd", "Pleasant Valley Rd", "Springdale Rd", "Cameron Rd", "Rundberg Ln",
           "Wells Branch Pkwy", "Bluebonnet Ln", "Live Oak St", "Mesquite Trl", "Hackberry Ct", "Sycamore Pl")
CITIES = (("Austin", "787"), ("Round Rock", "786"), ("Pflugerville", "786"), ("Cedar Park", "786"),
          ("Georgetown", "786"), ("Kyle", "786"), ("Buda", "786"), ("Leander", "786"))
PORTFOLIO_WORDS = ("Holdings", "Properties", "Rentals", "Realty", "Capital", "Homes", "Investments", "Property Group")
SF_ONLY_CUSTOMERS = ("Hill Country Dental", "Lakeway Veterinary Clinic", "Bluebonnet Cafe", "Riverside Auto Body",
                     "Capital City Yoga", "Mueller Family Practice", "Eastside Brewing Co", "Zilker Pet Supply")
SF_ONLY_JOBS = ("Annual backflow preventer test", "Commercial kitchen hood cleaning", "Grease trap pumping",
                "Rooftop unit quarterly service", "Walk-in cooler not holding temperature",
                "Estimate for parking lot lighting retrofit", "Fire extinguisher annual inspection")

#: category -> (work-order type, vendor trade, description templates).
CATEGORIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "Plumbing": ("Service Request", "Plumbing", (
        "{fixture} leaking in the {room}", "Clogged drain in the {room}", "No hot water in the {room}",
        "Toilet running constantly in the {room}", "Low water pressure at the {fixture}")),
    "Electrical": ("Service Request", "Electrical", (
        "Outlet not working in the {room}", "Breaker keeps tripping when the {appliance} runs",
        "Light fixture flickering in the {room}", "Smoke detector chirping in the {room}")),
    "HVAC": ("Service Request", "HVAC", (
        "AC not cooling, thermostat set to {temp}", "Heater blowing cold air in the {room}",
        "HVAC making a loud noise at night", "Replace air filter and check the {appliance}")),
    "Appliance": ("Service Request", "Appliance Repair", (
        "{appliance} not working", "{appliance} making a grinding noise", "{appliance} door seal is torn",
        "{appliance} leaking water onto the floor")),
    "General Maintenance": ("General", "Handyman", (
        "Door sticks and will not latch in the {room}", "Window screen torn in the {room}",
        "Cabinet hinge broken in the {room}", "Patch drywall hole in the {room}", "Replace blinds in the {room}")),
    "Turnover": ("Turnover", "Handyman", (
        "Move-out turnover: paint, clean and replace {fixture}", "Make-ready for new tenant, {room} carpet shampoo")),
    "Inspection": ("Inspection", "Handyman", (
        "Annual inspection of the {room}", "Move-in inspection with photos of the {room}")),
    "Pest Control": ("Service Request", "Pest Control", (
        "Ants in the {room}", "Roaches seen near the {appliance}", "Mice droppings in the {room}")),
    "Landscaping": ("General", "Landscaping", (
        "Overgrown hedges along the front walk", "Sprinkler head broken in the {yard}", "Tree limb over the {yard}")),
    "Roofing": ("Service Request", "Roofing", (
        "Roof leak above the {room}", "Missing shingles after the storm", "Gutter pulling away over the {yard}")),
}
CATEGORY_WEIGHTS = {"Plumbing": 24, "Electrical": 12, "HVAC": 16, "Appliance": 14, "General Maintenance": 16,
                    "Turnover": 5, "Inspection": 4, "Pest Control": 4, "Landscaping": 3, "Roofing": 2}
SLOTS = {
    "fixture": ("Kitchen sink", "Bathroom faucet", "Shower valve", "Water heater", "Toilet supply line", "Tub spout"),
    "room": ("kitchen", "master bathroom", "hall bathroom", "living room", "bedroom 2", "laundry room", "garage"),
    "appliance": ("Dishwasher", "Refrigerator", "Washer", "Dryer", "Oven", "Garbage disposal", "Microwave"),
    "temp": ("68F", "70F", "72F", "74F"),
    "yard": ("back yard", "front yard", "side yard", "patio"),
}
#: (max age in days, (status, weight)...): recent work orders are mostly open, old ones mostly closed.
STATUS_BY_AGE: tuple[tuple[int, tuple[tuple[str, int], ...]], ...] = (
    (14, (("Open", 24), ("WO Received", 14), ("Scheduled", 18), ("In Progress", 14), ("Awaiting Parts", 6),
          ("On Hold", 4), ("Completed", 14), ("Closed", 3), ("Cancelled", 3))),
    (60, (("Open", 4), ("Scheduled", 6), ("In Progress", 8), ("Awaiting Parts", 5), ("On Hold", 4),
          ("Completed", 50), ("Closed", 17), ("Cancelled", 6))),
    (HISTORY_DAYS + 1, (("Open", 2), ("Awaiting Parts", 1), ("On Hold", 2), ("Completed", 55), ("Closed", 33),
                        ("Cancelled", 7))),
)
CLOSED_WO_STATUSES = frozenset({"Completed", "Closed", "Cancelled"})
#: The open list the account's history was made under: the old system's, without the "in progress" our
#: push added (core.statuses), so a generated world - which work orders have SF jobs - stays the same.
OLD_SYSTEM_OPEN_STATUSES = tuple(s for s in DEFAULT_OPEN_STATUSES if s != "in progress")
#: Generated statuses the old system treated as open, worked out once: normalising per record would
#: dominate the large scale's run time.
OPEN_WO_STATUSES = frozenset(s for _, table in STATUS_BY_AGE for s, _ in table
                             if in_open_list(s, OLD_SYSTEM_OPEN_STATUSES))
PRIORITIES = (("HIGH", 20), ("MEDIUM", 50), ("LOW", 30))
SOURCES = (("Tenant Portal", 45), ("Telephone", 25), ("Email", 15), ("Internal", 10), ("Inspection", 5))
#: UTC hours when requests come in (US Central business hours, weighted).
HOURS = ((13, 6), (14, 9), (15, 10), (16, 10), (17, 9), (18, 9), (19, 8), (20, 8), (21, 7), (22, 5), (23, 3), (1, 2))
STAMPED_JOB_STATUSES = (("Scheduled", 30), ("Dispatched", 15), ("Started", 20), ("On Site", 10), ("Completed", 25))


class FixtureError(ValueError):
    """A fixture that does not follow docs/operations.md §3; the message names the field and why."""


def weighted(rng: random.Random, pairs: Sequence[tuple[T, int]]) -> T:
    """One value of ``(value, weight)`` pairs."""
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


def planted_count(total: int, rate: float) -> int:
    """How many records carry a planted problem: ``rate`` of ``total``, at least one."""
    return max(1, round(total * rate))


def name_variant(name: str, kind: str) -> str:
    """The SF spelling of a PW name: the same, with a legal suffix, upper-cased, or with a typo."""
    if kind == "legal_suffix":
        return f"{name}, LLC"
    if kind == "upper_case":
        return name.upper()
    if kind == "typo":
        words = name.split()
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[longest]
        words[longest] = word[:2] + word[3] + word[2] + word[4:] if len(word) > 4 else word + word[-1]
        return " ".join(words)
    return name


def street_variant(street: str) -> str:
    """The SF spelling of a PW street line: abbreviations written out ("St" -> "Street")."""
    longhand = {"St": "Street", "Ave": "Avenue", "Ln": "Lane", "Dr": "Drive", "Rd": "Road", "Blvd": "Boulevard",
                "Pkwy": "Parkway", "Trl": "Trail", "Ct": "Court", "Pl": "Place"}
    return " ".join(longhand.get(word, word) for word in street.split())


class _Calendar:
    """Days already holding a work order, per place.

    Two work orders on one place are kept more than 24 h apart (a free day on either side), so
    the only near-duplicates in a fixture are the planted ones.
    """

    def __init__(self) -> None:
        self._days: dict[Any, set[int]] = {}

    def free(self, place: Any, day: int) -> bool:
        taken = self._days.get(place, set())
        return not taken.intersection((day - 1, day, day + 1))

    def take(self, place: Any, day: int) -> None:
        self._days.setdefault(place, set()).add(day)


@dataclass
class _World:
    """Everything generated so far, plus the lookups later sections need."""

    seed: int
    scale: str
    spec: ScaleSpec
    clock: datetime
    pw: dict[str, list[Record]] = field(default_factory=lambda: {e: [] for e in PW_ENTITIES})
    sf: dict[str, list[Record]] = field(default_factory=lambda: {"customers": [], "jobs": []})
    planted: dict[str, list[Record]] = field(default_factory=dict)
    buildings_by_id: dict[int, Record] = field(default_factory=dict)
    home_city: dict[int, str] = field(default_factory=dict)
    sf_customer_of_portfolio: dict[int, Record] = field(default_factory=dict)
    emails: set[str] = field(default_factory=set)
    contact_ids: Iterator[int] = field(default_factory=lambda: count(ID_BASE["contacts"]))

    def rng(self, section: str) -> random.Random:
        """An independent, reproducible random stream per section."""
        return random.Random(f"greenlight-sandbox:{self.seed}:{self.scale}:{section}")

    def plant(self, kind: str, **entry: Any) -> None:
        self.planted.setdefault(kind, []).append(entry)

    def audit(self, rng: random.Random, oldest_days: int, created: str = "createdDateTime",
              modified: str = "lastModifiedDateTime") -> Record:
        """Created/modified stamps: created up to ``oldest_days`` ago, modified since then."""
        made = self.clock - timedelta(days=rng.uniform(30, oldest_days))
        changed = made + (self.clock - made) * rng.random() * 0.9
        return {created: format_ts(made), modified: format_ts(changed)}

    def sf_audit(self, rng: random.Random, oldest_days: int) -> Record:
        return self.audit(rng, oldest_days, "created_at", "updated_at")

    def email(self, first: str, last: str, domain: str = "example.com") -> str:
        """A unique address at a reserved example domain."""
        base = f"{first}.{last}".lower().replace(" ", "")
        for n in count(1):
            candidate = f"{base}@{domain}" if n == 1 else f"{base}{n}@{domain}"
            if candidate not in self.emails:
                self.emails.add(candidate)
                return candidate
        raise AssertionError("unreachable")

    def building(self, building_id: int) -> Record:
        return self.buildings_by_id[building_id]

    def planted_work_orders(self) -> set[int]:
        """Work orders already involved in a planted problem (one problem per work order)."""
        return {e[key] for entries in self.planted.values() for e in entries
                for key in ("workOrderID", "duplicateOf") if key in e}


def _phone(rng: random.Random) -> str:
    return f"512-555-{rng.randrange(100, 10_000):04d}"


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _phrase(fixed: str, choices: Sequence[str], rng: random.Random, *, prefix: bool) -> str:
    """``fixed`` before (or after) one random word of ``choices``: a candidate name for `_unique`."""
    word = rng.choice(choices)
    return f"{fixed} {word}" if prefix else f"{word} {fixed}"


def _unique(rng: random.Random, make: Callable[[random.Random], str], taken: set[str]) -> str:
    """Draw from ``make`` until the value is new (names and addresses must not collide)."""
    for _ in range(10_000):
        value = make(rng)
        if value not in taken:
            taken.add(value)
            return value
    raise RuntimeError(f"generator ran out of distinct values after {len(taken)} (e.g. {value!r})")


# ---------------------------------------------------------------- PropertyWare
def _portfolios(world: _World) -> None:
    """Portfolios grouped under owners (an owner may hold several), each owner an OWNER contact."""
    rng, names = world.rng("portfolios"), set[str]()
    ids = count(ID_BASE["portfolios"])
    owners: list[Record] = []
    for index in range(world.spec.portfolios):
        if not owners or rng.random() < 0.7:
            first, last = _person(rng)
            owners.append({"id": next(world.contact_ids), "type": "OWNER", "firstName": first, "lastName": last,
                           "email": world.email(first, last, "owners.example.com"), "mobilePhone": _phone(rng),
                           **world.audit(rng, 1_000)})
        owner = owners[-1] if index else owners[0]
        # An owner's surname runs out of words at the large scale: then the first name tells them apart.
        stem = owner["lastName"]
        if all(f"{stem} {word}" in names for word in PORTFOLIO_WORDS):
            stem = f"{owner['firstName']} {stem}"
        name = _unique(rng, partial(_phrase, stem, PORTFOLIO_WORDS, prefix=True), names)
        portfolio_id = next(ids)
        world.home_city[portfolio_id] = rng.choice(CITIES)[0]
        world.pw["portfolios"].append({
            "id": portfolio_id, "name": name,
            "abbreviation": "".join(w[0] for w in name.split()).upper() + str(index + 1), "active": True,
            "owners": [{"id": owner["id"], "name": f"{owner['firstName']} {owner['lastName']}",
                        "firstName": owner["firstName"], "lastName": owner["lastName"], "email": owner["email"],
                        "percentageOwnership": 100.0}],
            "maintenanceSpendingLimit": rng.choice((250.0, 500.0, 1000.0)),
            "maintenanceSpendingLimitTime": "DOLLAR_PER_MONTH", **world.audit(rng, 1_100),
        })
    world.pw["contacts"].extend(owners)


def _unit_counts(rng: random.Random, spec: ScaleSpec) -> list[int]:
    """Units per building: about half single-family (1), the rest share the remaining units."""
    singles = round(spec.buildings * SINGLE_FAMILY_SHARE)
    multis = spec.buildings - singles
    extra = max(0, spec.units - singles - 2 * multis)
    weights = [rng.paretovariate(1.6) for _ in range(multis)]
    counts = [2] * multis
    for index in rng.choices(range(multis), weights=weights, k=extra):
        counts[index] += 1
    mixed = [1] * singles + counts
    rng.shuffle(mixed)
    return mixed


def _property_type(rng: random.Random, unit_count: int) -> str:
    if unit_count == 1:
        return weighted(rng, (("SINGLE_FAMILY", 80), ("TOWNHOUSE", 12), ("CONDO", 8)))
    return "DU_FOUR_PLEX" if unit_count <= 4 else weighted(rng, (("APARTMENT", 70), ("MULTI_FAMILY", 30)))


def _buildings(world: _World) -> None:
    rng, addresses, ids = world.rng("buildings"), set[str](), count(ID_BASE["buildings"])
    portfolios = world.pw["portfolios"]
    for index, unit_count in enumerate(_unit_counts(rng, world.spec)):
        portfolio = portfolios[index % len(portfolios)] if index < len(portfolios) else rng.choice(portfolios)
        street = _unique(rng, lambda r: f"{r.randrange(100, 5_000)} {r.choice(STREETS)}", addresses)
        city = world.home_city[portfolio["id"]] if rng.random() < 0.8 else rng.choice(CITIES)[0]
        prefix = dict(CITIES)[city]
        number, *words = street.split()
        building_id = next(ids)
        world.buildings_by_id[building_id] = {
            "id": building_id, "portfolioID": portfolio["id"], "name": street,
            "abbreviation": f"{number}{words[0][:4].upper()}{index}", "multiUnit": unit_count > 1,
            "countUnit": unit_count, "category": "COMMERCIAL" if rng.random() < 0.03 else "RESIDENTIAL",
            "type": "Residential", "propertyType": _property_type(rng, unit_count), "active": True,
            "rentable": True, "address": {"address": street, "city": city, "stateRegion": "TX",
                                          "postalCode": f"{prefix}{rng.randrange(1, 60):02d}", "country": "US"},
            **world.audit(rng, 1_000),
        }
    world.pw["buildings"] = list(world.buildings_by_id.values())
    _plant_property_types(world, rng)


def _plant_property_types(world: _World, rng: random.Random) -> None:
    """Human labels instead of SaveBuilding codes (docs/apis/propertyware.md §3: the API really sends them)."""
    small_multis = [b for b in world.pw["buildings"] if 2 <= b["countUnit"] <= 4] or \
        [b for b in world.pw["buildings"] if b["multiUnit"]]
    chosen = rng.sample(small_multis, min(len(small_multis), planted_count(len(world.pw["buildings"]),
                                                                          UNKNOWN_PROPERTY_TYPE_RATE)))
    for index, building in enumerate(chosen):
        building["propertyType"] = UNKNOWN_PROPERTY_TYPES[index % len(UNKNOWN_PROPERTY_TYPES)]
        world.plant("unknown_property_types", buildingID=building["id"], propertyType=building["propertyType"])


def _unit_suffixes(count_units: int) -> list[str]:
    if count_units <= 6:
        return [chr(ord("A") + i) for i in range(count_units)]
    per_floor = 8
    return [f"{i // per_floor + 1}{i % per_floor + 1:02d}" for i in range(count_units)]


def _units(world: _World) -> None:
    rng, ids = world.rng("units"), count(ID_BASE["units"])
    for building in world.pw["buildings"]:
        names = [building["name"]] if not building["multiUnit"] else \
            [f"Unit {s}" for s in _unit_suffixes(building["countUnit"])]
        suffixes = ["1"] if not building["multiUnit"] else _unit_suffixes(building["countUnit"])
        units = [{"id": next(ids), "buildingID": building["id"], "portfolioID": building["portfolioID"],
                  "name": name, "abbreviation": f"{building['abbreviation']}-{suffix}",
                  "category": building["category"], "type": "Residential", "status": "vacant",
                  "address": dict(building["address"], addressCont="" if not building["multiUnit"] else name),
                  **world.audit(rng, 1_000)}
                 for name, suffix in zip(names, suffixes, strict=True)]
        world.pw["units"].extend(units)


def _lease_dates(rng: random.Random, clock: datetime, current: bool) -> tuple[datetime, datetime]:
    if current:
        start = clock - timedelta(days=rng.randrange(15, 700))
    else:
        start = clock - timedelta(days=rng.randrange(760, 1_400))
    return start, start + timedelta(days=365)


def _tenants(world: _World, rng: random.Random, how_many: int) -> list[Record]:
    people = []
    for _ in range(how_many):
        first, last = _person(rng)
        people.append({"id": next(world.contact_ids), "type": "TENANT", "firstName": first, "lastName": last,
                       "email": world.email(first, last), "mobilePhone": _phone(rng), "namedOnLease": True,
                       **world.audit(rng, 900)})
    world.pw["contacts"].extend(people)
    return people


def _lease(world: _World, rng: random.Random, unit: Record, current: bool, lease_id: int) -> Record:
    """One lease with 1-3 tenants, exactly one of them primary."""
    tenants = _tenants(world, rng, weighted(rng, ((1, 55), (2, 35), (3, 10))))
    start, end = _lease_dates(rng, world.clock, current)
    status = ("Active" if end > world.clock else "Month to Month") if current else "Terminated"
    return {
        "id": lease_id, "unitID": unit["id"], "buildingID": unit["buildingID"], "portfolioID": unit["portfolioID"],
        "leaseName": f"{tenants[0]['lastName']} - {unit['abbreviation']}", "status": status, "active": current,
        "startDate": start.date().isoformat(), "endDate": end.date().isoformat(),
        "moveInDate": start.date().isoformat(), "baseRent": float(rng.randrange(1_100, 2_900, 25)),
        "tenantIDs": [t["id"] for t in tenants], "primaryContactID": tenants[0]["id"],
        "contacts": [{"id": t["id"], "firstName": t["firstName"], "lastName": t["lastName"], "email": t["email"],
                      "primary": i == 0, "namedOnLease": True, "role": "Tenant"} for i, t in enumerate(tenants)],
        **world.audit(rng, 800),
    }


def _leases(world: _World) -> None:
    """A current lease on ~85 % of units, and an earlier, terminated one on some."""
    rng, ids = world.rng("leases"), count(ID_BASE["leases"])
    for unit in world.pw["units"]:
        if rng.random() < 0.15:
            world.pw["leases"].append(_lease(world, rng, unit, False, next(ids)))
        if rng.random() < OCCUPANCY:
            lease = _lease(world, rng, unit, True, next(ids))
            world.pw["leases"].append(lease)
            unit.update(status="occupied", leaseID=lease["id"])
    _plant_missing_emails(world, rng)


def _plant_missing_emails(world: _World, rng: random.Random) -> None:
    leases_of = {tid: lease for lease in world.pw["leases"] for tid in lease["tenantIDs"]}
    tenants = [c for c in world.pw["contacts"] if c["type"] == "TENANT"]
    for tenant in rng.sample(tenants, planted_count(len(tenants), MISSING_EMAIL_RATE)):
        lease = leases_of[tenant["id"]]
        del tenant["email"]
        for entry in lease["contacts"]:
            if entry["id"] == tenant["id"]:
                del entry["email"]
        world.plant("tenants_missing_email", contactID=tenant["id"], leaseID=lease["id"])


def _vendors(world: _World) -> None:
    rng, ids = world.rng("vendors"), count(ID_BASE["vendors"])
    trades = sorted({trade for _, trade, _ in CATEGORIES.values()}, key=lambda t: (t != "Handyman", t))
    brands = ("FastFix", "ProServ", "Lone Star", "Reliable", "Capitol", "Premier", "Ace", "Hometown",
              "Bluebonnet", *LAST_NAMES)
    names = set[str]()
    for index in range(world.spec.vendors):
        trade = trades[index % len(trades)]
        name = _unique(rng, partial(_phrase, trade, brands, prefix=False), names)
        world.pw["vendors"].append({
            "id": next(ids), "name": name, "companyName": f"{name} LLC", "nameOnCheck": f"{name} LLC",
            "type": trade, "active": rng.random() < 0.92, "email": f"office@{name.lower().replace(' ', '')}.example",
            "phone": _phone(rng), "city": "Austin", "state": "TX", **world.audit(rng, 1_200),
        })


# ---------------------------------------------------------------- work orders
def _work_order_slots(world: _World, rng: random.Random) -> list[tuple[datetime, Record]]:
    """(created, unit) for every work order, sorted by creation; more recent days are busier."""
    calendar, units = _Calendar(), world.pw["units"]
    midnight = world.clock.replace(hour=0, minute=0, second=0, microsecond=0)
    slots: list[tuple[datetime, Record]] = []
    while len(slots) < world.spec.work_orders:
        unit = rng.choice(units)
        day = int(HISTORY_DAYS * rng.random() ** 1.25)
        created = midnight - timedelta(days=day, hours=-weighted(rng, HOURS), minutes=-rng.randrange(60))
        if created < world.clock and calendar.free(unit["id"], day):
            calendar.take(unit["id"], day)
            slots.append((created, unit))
    slots.sort(key=lambda slot: (slot[0], slot[1]["id"]))
    return slots


def _description(rng: random.Random, category: str) -> str:
    template = rng.choice(CATEGORIES[category][2])
    text = template.format(**{slot: rng.choice(values) for slot, values in SLOTS.items()})
    return text[0].upper() + text[1:]


def _status_for_age(rng: random.Random, age_days: int) -> str:
    return next(weighted(rng, table) for max_age, table in STATUS_BY_AGE if age_days < max_age)


def _unit_column(rng: random.Random, building: Record, unit: Record) -> int | None:
    """Single-family work orders name the unit, nothing, or (legitimately) the building."""
    if building["multiUnit"]:
        return unit["id"]
    return weighted(rng, ((unit["id"], 70), (None, 20), (building["id"], 10)))


def _work_order(world: _World, rng: random.Random, created: datetime, unit: Record, index: int,
                vendors_by_trade: Mapping[str, list[Record]]) -> Record:
    building = world.building(unit["buildingID"])
    category = weighted(rng, tuple(CATEGORY_WEIGHTS.items()))
    wo_type, trade, _ = CATEGORIES[category]
    status = _status_for_age(rng, (world.clock - created).days)
    closed = status in CLOSED_WO_STATUSES
    span = timedelta(days=rng.uniform(0.2, 20) if closed else rng.uniform(0, 10))
    modified = min(created + span, world.clock - timedelta(minutes=rng.randrange(1, 600)))
    record: Record = {
        "id": ID_BASE["workOrders"] + index, "number": FIRST_WO_NUMBER + index, "portfolioID": unit["portfolioID"],
        "buildingID": building["id"], "status": status, "priority": weighted(rng, PRIORITIES), "type": wo_type,
        "category": category, "source": weighted(rng, SOURCES), "description": _description(rng, category),
        "location": building["name"] if not building["multiUnit"] else f"{building['name']} {unit['name']}",
        "createdBy": "sandbox", "createdDateTime": format_ts(created), "lastModifiedDateTime": format_ts(modified),
    }
    unit_id = _unit_column(rng, building, unit)
    if unit_id is not None:
        record["unitID"] = unit_id
    if closed and status != "Cancelled":
        record["completedDate"] = modified.date().isoformat()
    vendors = vendors_by_trade.get(trade) or vendors_by_trade.get("Handyman") or []
    if status not in ("Open", "WO Received") and vendors:
        vendor = rng.choice(vendors)
        record["assignedVendors"] = [{"id": vendor["id"], "name": vendor["name"]}]
    return record


def _work_orders(world: _World) -> None:
    rng = world.rng("workOrders")
    vendors_by_trade: dict[str, list[Record]] = {}
    for vendor in world.pw["vendors"]:
        vendors_by_trade.setdefault(vendor["type"], []).append(vendor)
    world.pw["workOrders"] = [_work_order(world, rng, created, unit, index, vendors_by_trade)
                              for index, (created, unit) in enumerate(_work_order_slots(world, rng))]
    _plant_unit_holds_building(world, rng)
    _plant_unusual_statuses(world, rng)
    _plant_near_duplicates(world, rng)


def _open_work_orders(world: _World, predicate: Callable[[Record], bool] = lambda wo: True) -> list[Record]:
    return [wo for wo in world.pw["workOrders"] if wo["status"] in OPEN_WO_STATUSES and predicate(wo)]


def _day(world: _World, wo: Record) -> int:
    return (world.clock - parse_ts(wo["createdDateTime"])).days


def _plant_unit_holds_building(world: _World, rng: random.Random) -> None:
    """The old bug: open work orders on multi-unit buildings with the building id as unit."""
    candidates = _open_work_orders(world, lambda wo: world.building(wo["buildingID"])["multiUnit"])
    wanted = planted_count(len(world.pw["workOrders"]), UNIT_HOLDS_BUILDING_RATE)
    calendar = _Calendar()  # keep them apart, so they never look like near-duplicates of each other
    for wo in rng.sample(candidates, len(candidates)):
        if len(world.planted.get("unit_holds_building_id", ())) >= wanted:
            break
        if calendar.free(wo["buildingID"], _day(world, wo)):
            calendar.take(wo["buildingID"], _day(world, wo))
            wo["unitID"] = wo["buildingID"]
            world.plant("unit_holds_building_id", workOrderID=wo["id"], buildingID=wo["buildingID"])


def _plant_unusual_statuses(world: _World, rng: random.Random) -> None:
    """Statuses no mapping knows: they must surface as unmapped, never be guessed open or closed."""
    planted = world.planted_work_orders()
    candidates = _open_work_orders(world, lambda wo: wo["id"] not in planted)
    for index, wo in enumerate(rng.sample(candidates, planted_count(len(world.pw["workOrders"]),
                                                                    UNKNOWN_STATUS_RATE))):
        wo["status"] = UNUSUAL_WO_STATUSES[index % len(UNUSUAL_WO_STATUSES)]
        world.plant("unknown_work_order_statuses", workOrderID=wo["id"], status=wo["status"])


def _twin_description(description: str) -> str:
    """How a tenant reports the same problem twice: same words, no capitals, no articles."""
    return " ".join(w for w in description.lower().split() if w not in ("the", "a", "an"))


def _plant_near_duplicates(world: _World, rng: random.Random) -> None:
    """Recent open work orders reported twice, a few hours apart, on the same unit."""
    planted = world.planted_work_orders()
    candidates = _open_work_orders(world, lambda wo: wo["id"] not in planted and 1 <= _day(world, wo) <= 30)
    wanted = planted_count(len(world.pw["workOrders"]), NEAR_DUPLICATE_RATE)
    next_index = len(world.pw["workOrders"])
    for original in rng.sample(candidates, min(wanted, len(candidates))):
        created = parse_ts(original["createdDateTime"]) + timedelta(hours=rng.uniform(1.5, 5))
        twin = dict(original, id=ID_BASE["workOrders"] + next_index, number=FIRST_WO_NUMBER + next_index,
                    description=_twin_description(original["description"]), status="Open",
                    source="Telephone", createdDateTime=format_ts(created), lastModifiedDateTime=format_ts(created))
        twin.pop("assignedVendors", None)
        original["status"] = "Open"
        next_index += 1
        world.pw["workOrders"].append(twin)
        world.plant("near_duplicate_work_orders", workOrderID=twin["id"], duplicateOf=original["id"])


# ---------------------------------------------------------------- ServiceFusion
def _sf_customer(world: _World, rng: random.Random, name: str, parent: str | None,
                 locations: Iterable[Record] = ()) -> Record:
    customer = {"id": ID_BASE["customers"] + len(world.sf["customers"]), "customer_name": name,
                "fully_qualified_name": f"{parent}:{name}" if parent else name, "parent_customer": parent,
                "account_number": f"A{rng.randrange(10_000, 99_999)}", "contacts": [], "locations": list(locations),
                **world.sf_audit(rng, 900)}
    world.sf["customers"].append(customer)
    return customer


def _sf_location(building: Record) -> Record:
    address = building["address"]
    return {"street_1": street_variant(address["address"]), "city": address["city"], "state_prov": "TX",
            "postal_code": address["postalCode"], "country": "US", "is_primary": True}


def _sf_customers(world: _World) -> None:
    """Two portfolios in three already have an SF customer (spelled differently), and so do
    about a third of their buildings; the service company's other clients come on top."""
    rng = world.rng("customers")
    matched = [p for i, p in enumerate(world.pw["portfolios"]) if i % 3 != 2]
    for index, portfolio in enumerate(matched):
        variant = NAME_VARIANTS[index % len(NAME_VARIANTS)]
        customer = _sf_customer(world, rng, name_variant(portfolio["name"], variant), None)
        world.sf_customer_of_portfolio[portfolio["id"]] = customer
        world.plant("sf_customer_matches", pwEntity="portfolios", pwID=portfolio["id"],
                    sfCustomerID=customer["id"], variant=variant)
    for building in world.pw["buildings"]:
        parent = world.sf_customer_of_portfolio.get(building["portfolioID"])
        if parent is not None and rng.random() < 0.33:
            customer = _sf_customer(world, rng, street_variant(building["name"]), parent["customer_name"],
                                    [_sf_location(building)])
            world.plant("sf_customer_matches", pwEntity="buildings", pwID=building["id"],
                        sfCustomerID=customer["id"], variant="street_suffix")
    for index in range(world.spec.sf_other_customers):
        base = SF_ONLY_CUSTOMERS[index % len(SF_ONLY_CUSTOMERS)]
        name = base if index < len(SF_ONLY_CUSTOMERS) else f"{base} #{index // len(SF_ONLY_CUSTOMERS) + 1}"
        street = f"{rng.randrange(5_000, 9_999)} {rng.choice(STREETS)}"
        _sf_customer(world, rng, name, None, [{"street_1": street, "city": "Austin", "state_prov": "TX",
                                               "postal_code": f"787{rng.randrange(1, 60):02d}", "is_primary": True}])


def _job(world: _World, rng: random.Random, customer: Record, created: datetime, **fields: Any) -> Record:
    """An SF job (id and number are assigned later, in creation order)."""
    status = fields.pop("status", None) or weighted(rng, tuple((s["name"], 1) for s in DEFAULT_JOB_STATUSES))
    updated = min(created + timedelta(days=rng.uniform(0, 6)), world.clock - timedelta(minutes=5))
    tech = rng.choice(DEFAULT_TECHS)
    job = {"customer_id": customer["id"], "customer_name": customer["customer_name"], "status": status,
           "priority": "Normal", "po_number": None, "check_number": None,
           "techs_assigned": [{"id": tech["id"], "first_name": tech["first_name"], "last_name": tech["last_name"]}],
           "created_at": format_ts(created), "updated_at": format_ts(updated), **fields}
    location = (customer["locations"] or [{}])[0]
    job.update({k: location[k] for k in ("street_1", "city", "state_prov", "postal_code") if k in location})
    return job


def _job_for_work_order(world: _World, rng: random.Random, wo: Record, **fields: Any) -> Record:
    building = world.building(wo["buildingID"])
    customer = world.sf_customer_of_portfolio[wo["portfolioID"]]
    created = min(parse_ts(wo["createdDateTime"]) + timedelta(hours=rng.uniform(1, 6)),
                  world.clock - timedelta(minutes=30))
    location = _sf_location(building)
    return _job(world, rng, customer, created, category=wo["category"], description=wo["description"],
                **{k: location[k] for k in ("street_1", "city", "state_prov", "postal_code")}, **fields)


def _pushed_work_orders(world: _World, rng: random.Random) -> tuple[list[Record], list[Record]]:
    """Work orders of portfolios with an SF customer, not otherwise planted, in random order:
    (open ones, closed ones from the last 120 days)."""
    taken = world.planted_work_orders()
    mapped = [wo for wo in world.pw["workOrders"]
              if wo["portfolioID"] in world.sf_customer_of_portfolio and wo["id"] not in taken]
    open_ones = [wo for wo in mapped if wo["status"] in OPEN_WO_STATUSES]
    closed = [wo for wo in mapped if wo["status"] in CLOSED_WO_STATUSES and _day(world, wo) <= 120]
    return rng.sample(open_ones, len(open_ones)), rng.sample(closed, len(closed))


def _stamped_jobs(world: _World, rng: random.Random, orders: list[Record]) -> Iterator[tuple[Record, str, int]]:
    """Jobs the old bridge created: the first with a legacy bare-id stamp (not ours: it never links,
    and dedup holds its work order for a person), the rest with `cross_system_id`, every third also
    with the ``PW Work Order ID`` custom field."""
    for index, wo in enumerate(orders):
        stamp = str(wo["id"]) if index == 0 else cross_system_id(wo["id"])
        extra = {"custom_fields": [{"name": "PW Work Order ID", "value": str(wo["id"])}]} if index % 3 == 1 else {}
        status = weighted(rng, STAMPED_JOB_STATUSES) if wo["status"] in OPEN_WO_STATUSES else "Completed"
        kind = "sf_bare_id_jobs" if index == 0 else "sf_stamped_jobs"
        yield _job_for_work_order(world, rng, wo, po_number=stamp, status=status, **extra), kind, wo["id"]


def _hand_made_job(world: _World, rng: random.Random, wo: Record) -> tuple[Record, str, int]:
    """A job an office user typed in for an open work order: no stamp, reworded description."""
    job = _job_for_work_order(world, rng, wo, status="Unscheduled")
    job["description"] = _twin_description(wo["description"])
    return job, "sf_unstamped_duplicate_jobs", wo["id"]


def _other_jobs(world: _World, rng: random.Random) -> Iterator[tuple[Record, str, int]]:
    """The service company's work for its other clients (never related to a work order)."""
    others = world.sf["customers"][-world.spec.sf_other_customers:] if world.spec.sf_other_customers else []
    for _ in range(world.spec.sf_other_jobs if others else 0):
        created = world.clock - timedelta(days=rng.uniform(0.5, HISTORY_DAYS))
        yield _job(world, rng, rng.choice(others), created, category="General Maintenance",
                   description=rng.choice(SF_ONLY_JOBS)), "", 0


def _sf_jobs(world: _World) -> None:
    """Stamped jobs, one hand-made duplicate and unrelated work; ids and numbers follow creation time."""
    rng = world.rng("jobs")
    open_ones, closed = _pushed_work_orders(world, rng)
    wanted = planted_count(len(world.pw["workOrders"]), STAMPED_JOB_RATE) + 1  # + the legacy stamp
    jobs = [*_stamped_jobs(world, rng, (open_ones[1:] + closed)[:wanted]), *_other_jobs(world, rng)]
    if open_ones:
        jobs.append(_hand_made_job(world, rng, open_ones[0]))
    _number_jobs(world, jobs)


def _number_jobs(world: _World, jobs: list[tuple[Record, str, int]]) -> None:
    jobs.sort(key=lambda item: (item[0]["created_at"], item[2]))
    for index, (job, kind, wo_id) in enumerate(jobs):
        job_id = ID_BASE["jobs"] + index
        world.sf["jobs"].append({"id": job_id, "number": str(index + 1), **job})
        if kind:
            world.plant(kind, jobID=job_id, workOrderID=wo_id, po_number=job["po_number"])


# ---------------------------------------------------------------- messy values (issue 16)
def _messy_values(world: _World) -> None:
    """Values a real account holds that must be flagged or held, never stop a sync or be pushed:
    each on an open work order (or an other client's job) no other problem is planted on, while
    such work orders last (a small world may run out before every kind has one)."""
    rng = world.rng("messy")
    total = len(world.pw["workOrders"])
    free = [wo for wo in _open_work_orders(world, lambda wo: wo["id"] not in world.planted_work_orders())]
    picked = iter(rng.sample(free, len(free)))
    for index, wo in zip(range(planted_count(total, IMPOSSIBLE_DATE_RATE)), picked, strict=False):
        wo["startDate"] = IMPOSSIBLE_DATES[index % len(IMPOSSIBLE_DATES)]
        world.plant("impossible_dates", workOrderID=wo["id"], field="startDate", value=wo["startDate"])
    for _, wo in zip(range(planted_count(total, FAR_FUTURE_DATE_RATE)), picked, strict=False):
        wo["scheduledEndDate"] = FAR_FUTURE_DATE
        world.plant("far_future_dates", workOrderID=wo["id"], field="scheduledEndDate", value=FAR_FUTURE_DATE)
    for index, wo in zip(range(planted_count(total, CONTROL_CHARACTER_RATE)), picked, strict=False):
        wo["description"] = f"{wo['description']}{CONTROL_CHARACTERS[index % len(CONTROL_CHARACTERS)]} (urgent)"
        world.plant("control_characters", workOrderID=wo["id"], field="description")
    others = [job for job in world.sf["jobs"] if not job.get("po_number")
              and job["customer_id"] not in {c["id"] for c in world.sf_customer_of_portfolio.values()}]
    others = rng.sample(others, len(others))
    lookalikes = planted_count(len(others), LOOKALIKE_PO_SHARE) if others else 0
    for index, (job, wo) in enumerate(zip(others[:lookalikes], picked, strict=False)):
        job.update(po_number=LOOKALIKE_PO_FORMS[index % len(LOOKALIKE_PO_FORMS)].format(id=wo["id"]),
                   status="Completed")
        world.plant("lookalike_po_numbers", jobID=job["id"], workOrderID=wo["id"], po_number=job["po_number"])
    foreign = planted_count(len(others), FOREIGN_STAMP_SHARE) if others else 0
    for job, wo in zip(others[lookalikes:lookalikes + foreign], picked, strict=False):
        job.update(po_number=cross_system_id(wo["id"]), check_number=str(wo["number"] + 50_000))
        world.plant("foreign_stamps", jobID=job["id"], workOrderID=wo["id"], po_number=job["po_number"],
                    check_number=job["check_number"])


# ---------------------------------------------------------------- assembly
SECTIONS: tuple[Callable[[_World], None], ...] = (
    _portfolios, _buildings, _units, _leases, _vendors, _work_orders, _sf_customers, _sf_jobs, _messy_values,
)


def generate_fixture(seed: int = 0, scale: str = "small") -> dict[str, Any]:
    """A complete sandbox world in fixture format v1; the same ``(seed, scale)`` gives the same dict."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    world = _World(seed=seed, scale=scale, spec=SCALES[scale], clock=parse_ts(DEFAULT_CLOCK))
    for section in SECTIONS:
        section(world)
    world.pw["workOrders"].sort(key=lambda wo: wo["id"])
    return {
        "version": 1,
        "clock": DEFAULT_CLOCK,
        "_generator": {"seed": seed, "scale": scale},
        "_planted": world.planted,
        "propertyware": world.pw,
        "servicefusion": {**world.sf, "job_statuses": copy.deepcopy(DEFAULT_JOB_STATUSES),
                          "job_categories": copy.deepcopy(DEFAULT_JOB_CATEGORIES),
                          "techs": copy.deepcopy(DEFAULT_TECHS)},
    }


def entity_counts(fixture: Mapping[str, Any]) -> dict[str, int]:
    """Records per entity, ``"propertyware.workOrders": 150`` style (summaries and logs)."""
    return {f"{system}.{entity}": len(records) for system in ("propertyware", "servicefusion")
            for entity, records in (fixture.get(system) or {}).items() if isinstance(records, list)}


# ---------------------------------------------------------------- validation
def validate_fixture(fixture: object) -> dict[str, Any]:
    """Check ``fixture`` against docs/operations.md §3 before anything loads it.

    `SandboxState.load` would fail deep inside with a KeyError or silently merge two records
    with one id; this names the field and the reason instead. Returns the fixture.
    """
    if not isinstance(fixture, dict):
        raise FixtureError(f"a fixture must be a JSON object, got {type(fixture).__name__}")
    if fixture.get("version", 1) != 1:
        raise FixtureError(f"version: unsupported fixture version {fixture.get('version')!r}; expected 1")
    clock = fixture.get("clock")
    if clock is not None:
        try:
            parse_ts(str(clock))
        except ValueError:
            raise FixtureError(f"clock: {clock!r} is not an ISO-8601 timestamp") from None
    for system, entities in (("propertyware", PW_ENTITIES), ("servicefusion", SF_ENTITIES)):
        section = fixture.get(system, {})
        if not isinstance(section, dict):
            raise FixtureError(f"{system}: must be an object of entity lists, got {type(section).__name__}")
        for entity in entities:
            _validate_records(f"{system}.{entity}", section.get(entity, []))
    return fixture


def _validate_records(where: str, records: object) -> None:
    if not isinstance(records, list):
        raise FixtureError(f"{where}: must be a list of records, got {type(records).__name__}")
    seen: set[int] = set()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise FixtureError(f"{where}[{index}]: must be an object, got {type(record).__name__}")
        if "id" not in record:
            raise FixtureError(f"{where}[{index}].id: is missing (every record needs an integer id)")
        record_id = record["id"]
        if isinstance(record_id, bool) or not isinstance(record_id, int | str) or not str(record_id).isdigit():
            raise FixtureError(f"{where}[{index}].id: must be a positive integer, got {record_id!r}")
        if int(record_id) in seen:
            raise FixtureError(f"{where}[{index}].id: {record_id} appears twice")
        seen.add(int(record_id))


def iter_planted(fixture: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """(kind, how many) per planted problem, for summaries."""
    for kind, entries in (fixture.get("_planted") or {}).items():
        yield kind, len(entries)

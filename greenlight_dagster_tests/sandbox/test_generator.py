"""The sandbox data generator: deterministic, consistent worlds whose planted problems are exactly the listed ones.

The planted lists are checked with the project's own rules (`core.routing`, `core.dedup`,
`core.matching`), so "listed in _planted" and "caught by the sync" cannot drift apart.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from greenlight_dagster.core.dedup import detect_duplicate, near_duplicate_work_orders, stamped_work_order_ids
from greenlight_dagster.core.fields import as_timestamp
from greenlight_dagster.core.idempotency import cross_system_id
from greenlight_dagster.core.matching import match_customer
from greenlight_dagster.core.routing import check_unit_routing
from greenlight_dagster.sandbox.generator import NAME_VARIANTS, FixtureError, generate_fixture, validate_fixture
from greenlight_dagster.sandbox.state import DEFAULT_JOB_STATUSES, SandboxState, parse_ts

REGULAR_WO_STATUSES = {"Open", "WO Received", "Scheduled", "In Progress", "Awaiting Parts", "On Hold", "Completed",
                       "Closed", "Cancelled"}
PROPERTY_TYPE_CODES = {"SINGLE_FAMILY", "TOWNHOUSE", "CONDO", "DU_FOUR_PLEX", "APARTMENT", "MULTI_FAMILY"}


@pytest.fixture(scope="module", params=["small", "demo"])
def fixture(request: pytest.FixtureRequest) -> dict[str, Any]:
    return generate_fixture(seed=0, scale=request.param)


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return generate_fixture(seed=0, scale="small")


def pw(fixture: dict[str, Any], entity: str) -> list[dict[str, Any]]:
    return fixture["propertyware"][entity]


def by_id(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in records}


def planted_ids(fixture: dict[str, Any], kind: str, key: str = "workOrderID") -> set[int]:
    return {entry[key] for entry in fixture["_planted"][kind]}


# ---- determinism, format, size ----
def test_same_seed_same_world_other_seed_other_world() -> None:
    assert generate_fixture(3, "small") == generate_fixture(3, "small")
    assert generate_fixture(3, "small") != generate_fixture(4, "small")


def test_fixture_is_valid_json_that_the_sandbox_state_loads_and_keeps(small: dict[str, Any]) -> None:
    text = json.dumps(small)
    assert validate_fixture(json.loads(text)) == small
    snapshot = SandboxState(json.loads(text)).snapshot()
    assert snapshot["_planted"] == small["_planted"]
    assert snapshot["propertyware"] == small["propertyware"]
    assert snapshot["clock"] == small["clock"]


@pytest.mark.parametrize(("scale", "sizes"), [
    ("small", {"portfolios": 3, "buildings": 15, "units": 40, "workOrders": (140, 160)}),
    ("demo", {"portfolios": 10, "buildings": 120, "units": 600, "workOrders": (2_900, 3_100),
                "leases": (450, 700)}),
])
def test_scales_have_the_documented_sizes(scale: str, sizes: dict[str, Any]) -> None:
    fixture = generate_fixture(0, scale)
    for entity, expected in sizes.items():
        low, high = expected if isinstance(expected, tuple) else (expected, expected)
        assert low <= len(pw(fixture, entity)) <= high, entity


@pytest.mark.slow
def test_medium_scale_is_a_real_mid_size_manager() -> None:
    fixture = generate_fixture(0, "medium")
    assert 59_000 <= len(pw(fixture, "workOrders")) <= 61_000
    assert (len(pw(fixture, "portfolios")), len(pw(fixture, "buildings")), len(pw(fixture, "units"))) == (
        40, 1_500, 6_000)
    assert 5_000 <= len(pw(fixture, "leases")) <= 6_500


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        generate_fixture(0, "huge")


# ---- realism and integrity ----
def test_places_link_up_and_units_match_their_building(fixture: dict[str, Any]) -> None:
    portfolios, buildings = by_id(pw(fixture, "portfolios")), by_id(pw(fixture, "buildings"))
    units_per_building = Counter(unit["buildingID"] for unit in pw(fixture, "units"))
    for building in buildings.values():
        assert building["portfolioID"] in portfolios
        assert building["countUnit"] == units_per_building[building["id"]]
        assert building["multiUnit"] is (building["countUnit"] > 1)
    for unit in pw(fixture, "units"):
        assert unit["portfolioID"] == buildings[unit["buildingID"]]["portfolioID"]
    kinds = {b["multiUnit"] for b in buildings.values()}
    assert kinds == {True, False}


def test_leases_have_tenants_and_exactly_one_primary(fixture: dict[str, Any]) -> None:
    contacts, units = by_id(pw(fixture, "contacts")), by_id(pw(fixture, "units"))
    for lease in pw(fixture, "leases"):
        assert lease["unitID"] in units and units[lease["unitID"]]["buildingID"] == lease["buildingID"]
        assert lease["primaryContactID"] in lease["tenantIDs"]
        assert [c["primary"] for c in lease["contacts"]].count(True) == 1
        assert all(contacts[tid]["type"] == "TENANT" for tid in lease["tenantIDs"])
    owners = {o["id"] for p in pw(fixture, "portfolios") for o in p["owners"]}
    assert all(contacts[oid]["type"] == "OWNER" for oid in owners)


def test_work_orders_are_realistic_and_spread_over_eighteen_months(fixture: dict[str, Any]) -> None:
    clock = parse_ts(fixture["clock"])
    orders = pw(fixture, "workOrders")
    unusual = {e["status"] for e in fixture["_planted"]["unknown_work_order_statuses"]}
    assert {wo["status"] for wo in orders} <= REGULAR_WO_STATUSES | unusual
    assert {wo["priority"] for wo in orders} == {"HIGH", "MEDIUM", "LOW"}
    assert len({wo["category"] for wo in orders}) >= 8
    created = [parse_ts(wo["createdDateTime"]) for wo in orders]
    assert all(clock - timedelta(days=550) < c < clock for c in created)
    assert all(c <= parse_ts(wo["lastModifiedDateTime"]) < clock for c, wo in zip(created, orders, strict=True))
    assert min(created) < clock - timedelta(days=500)
    assert len({wo["number"] for wo in orders}) == len(orders)


def test_most_days_of_the_last_year_have_work_orders_at_medium_scale() -> None:
    fixture = generate_fixture(0, "demo")
    clock = parse_ts(fixture["clock"])
    days = {(clock - parse_ts(wo["createdDateTime"])).days for wo in pw(fixture, "workOrders")}
    assert len(days & set(range(365))) >= 360


def test_recent_work_orders_are_mostly_open_old_ones_mostly_closed(fixture: dict[str, Any]) -> None:
    clock = parse_ts(fixture["clock"])
    closed = {"Completed", "Closed", "Cancelled"}

    def closed_share(orders: list[dict[str, Any]]) -> float:
        return sum(wo["status"] in closed for wo in orders) / len(orders)

    age = {wo["id"]: (clock - parse_ts(wo["createdDateTime"])).days for wo in pw(fixture, "workOrders")}
    recent = [wo for wo in pw(fixture, "workOrders") if age[wo["id"]] < 14]
    old = [wo for wo in pw(fixture, "workOrders") if age[wo["id"]] > 90]
    assert closed_share(recent) < 0.5 < closed_share(old)


# ---- planted problems: exactly the listed ones ----
def test_unit_routing_rule_catches_exactly_the_planted_work_orders(fixture: dict[str, Any]) -> None:
    buildings = by_id(pw(fixture, "buildings"))
    units_of: dict[int, list[dict[str, Any]]] = {}
    for unit in pw(fixture, "units"):
        units_of.setdefault(unit["buildingID"], []).append(unit)
    caught = {wo["id"] for wo in pw(fixture, "workOrders")
              if not check_unit_routing(wo, buildings[wo["buildingID"]], units_of[wo["buildingID"]]).ok}
    planted = planted_ids(fixture, "unit_holds_building_id")
    assert caught == planted
    rate = len(planted) / len(pw(fixture, "workOrders"))
    assert len(planted) >= 2 and (rate <= 0.02)


def test_near_duplicate_detection_finds_exactly_the_planted_pairs(fixture: dict[str, Any]) -> None:
    found = {(d.work_order_id, d.duplicate_of) for d in near_duplicate_work_orders(pw(fixture, "workOrders"))}
    planted = {(e["workOrderID"], e["duplicateOf"]) for e in fixture["_planted"]["near_duplicate_work_orders"]}
    assert found == planted and planted


def test_unknown_enums_and_missing_emails_are_exactly_the_listed_ones(fixture: dict[str, Any]) -> None:
    odd_types = {b["id"] for b in pw(fixture, "buildings") if b["propertyType"] not in PROPERTY_TYPE_CODES}
    assert odd_types == planted_ids(fixture, "unknown_property_types", "buildingID")
    assert "Du/Fourplex" in {e["propertyType"] for e in fixture["_planted"]["unknown_property_types"]}
    odd_statuses = {wo["id"] for wo in pw(fixture, "workOrders") if wo["status"] not in REGULAR_WO_STATUSES}
    assert odd_statuses == planted_ids(fixture, "unknown_work_order_statuses")
    no_email = {c["id"] for c in pw(fixture, "contacts") if "email" not in c}
    assert no_email == planted_ids(fixture, "tenants_missing_email", "contactID")
    assert all(c["type"] == "TENANT" for c in pw(fixture, "contacts") if c["id"] in no_email)


def test_existing_sf_customers_match_their_pw_entities_despite_spelling(fixture: dict[str, Any]) -> None:
    customers = fixture["servicefusion"]["customers"]
    places = {"portfolios": by_id(pw(fixture, "portfolios")), "buildings": by_id(pw(fixture, "buildings"))}
    matches = fixture["_planted"]["sf_customer_matches"]
    for entry in matches:
        entity = places[entry["pwEntity"]][entry["pwID"]]
        match = match_customer(entity["name"], entity.get("address"), customers)
        assert match is not None and match.customer_id == entry["sfCustomerID"], entry
    variants = [e["variant"] for e in matches if e["pwEntity"] == "portfolios"]
    assert set(variants) == set(NAME_VARIANTS[:len(variants)])
    assert any(e["pwEntity"] == "buildings" for e in matches)
    unmatched = set(places["portfolios"]) - {e["pwID"] for e in matches if e["pwEntity"] == "portfolios"}
    assert unmatched
    assert all(match_customer(places["portfolios"][pid]["name"], None, customers) is None for pid in unmatched)


def test_stamped_sf_jobs_carry_the_cross_system_id(fixture: dict[str, Any]) -> None:
    jobs = by_id(fixture["servicefusion"]["jobs"])
    planted = fixture["_planted"]["sf_stamped_jobs"]
    stamped = {job_id for job_id, job in jobs.items() if stamped_work_order_ids(job)}
    assert stamped == {e["jobID"] for e in [*planted, *fixture["_planted"]["foreign_stamps"]]}
    for entry in planted:
        assert stamped_work_order_ids(jobs[entry["jobID"]]) == {entry["workOrderID"]}
    stamps = [jobs[e["jobID"]]["po_number"] for e in planted]
    assert all(s == cross_system_id(e["workOrderID"]) for s, e in zip(stamps, planted, strict=True))
    (bare,) = fixture["_planted"]["sf_bare_id_jobs"]  # an older system's stamp: not ours, links nothing
    assert jobs[bare["jobID"]]["po_number"] == str(bare["workOrderID"])


# ---- messy values (issue 16): each planted kind is there and is what the sync's rules say it is ----
MESSY_KINDS = ("impossible_dates", "far_future_dates", "control_characters", "lookalike_po_numbers", "foreign_stamps")


def test_every_messy_kind_is_planted_at_a_small_rate(fixture: dict[str, Any]) -> None:
    counts = {kind: len(fixture["_planted"].get(kind, ())) for kind in MESSY_KINDS}
    assert all(counts.values()), counts
    assert sum(counts.values()) <= max(10, len(pw(fixture, "workOrders")) // 100)
    touched = [e["workOrderID"] for kind in MESSY_KINDS for e in fixture["_planted"][kind]]
    assert len(touched) == len(set(touched)), "one planted problem per work order"


def test_planted_dates_are_no_dates(fixture: dict[str, Any]) -> None:
    orders = by_id(pw(fixture, "workOrders"))
    for kind in ("impossible_dates", "far_future_dates"):
        for entry in fixture["_planted"][kind]:
            assert orders[entry["workOrderID"]][entry["field"]] == entry["value"]
            assert as_timestamp(entry["value"]) is None, entry
    assert {e["value"] for e in fixture["_planted"]["far_future_dates"]} == {"9999-12-31"}


def test_lookalike_po_numbers_and_foreign_stamps_sit_on_other_clients_jobs(fixture: dict[str, Any]) -> None:
    jobs, orders = by_id(fixture["servicefusion"]["jobs"]), by_id(pw(fixture, "workOrders"))
    for entry in fixture["_planted"]["lookalike_po_numbers"]:
        job = jobs[entry["jobID"]]
        assert str(entry["workOrderID"]) in job["po_number"] and stamped_work_order_ids(job) == set()
        assert not detect_duplicate(orders[entry["workOrderID"]], [job], customer_id=-1).is_duplicate
    for entry in fixture["_planted"]["foreign_stamps"]:
        job = jobs[entry["jobID"]]
        assert stamped_work_order_ids(job) == {entry["workOrderID"]}
        assert job["check_number"] != str(orders[entry["workOrderID"]]["number"])


def test_control_characters_are_in_the_descriptions(fixture: dict[str, Any]) -> None:
    orders = by_id(pw(fixture, "workOrders"))
    for entry in fixture["_planted"]["control_characters"]:
        assert any(ord(c) < 0x20 for c in orders[entry["workOrderID"]]["description"])


def test_hand_made_sf_job_is_a_fuzzy_duplicate_of_its_work_order(fixture: dict[str, Any]) -> None:
    jobs, orders = by_id(fixture["servicefusion"]["jobs"]), by_id(pw(fixture, "workOrders"))
    for entry in fixture["_planted"]["sf_unstamped_duplicate_jobs"]:
        job = jobs[entry["jobID"]]
        decision = detect_duplicate(orders[entry["workOrderID"]], [job], customer_id=job["customer_id"])
        assert decision.is_duplicate and decision.criterion == "fuzzy"


def test_sf_defaults_and_job_numbers(small: dict[str, Any]) -> None:
    sf = small["servicefusion"]
    assert sf["job_statuses"] == DEFAULT_JOB_STATUSES
    assert sf["job_categories"] and sf["techs"]
    jobs = sf["jobs"]
    assert [j["number"] for j in jobs] == [str(i) for i in range(1, len(jobs) + 1)]
    assert [j["created_at"] for j in jobs] == sorted(j["created_at"] for j in jobs)
    customers = by_id(sf["customers"])
    assert all(customers[j["customer_id"]]["customer_name"] == j["customer_name"] for j in jobs)


# ---- validation ----
@pytest.mark.parametrize(("fixture", "message"), [
    ([], "must be a JSON object"),
    ({"version": 2}, "version: unsupported fixture version 2"),
    ({"clock": "yesterday"}, "clock: 'yesterday' is not an ISO-8601 timestamp"),
    ({"propertyware": []}, "propertyware: must be an object"),
    ({"propertyware": {"workOrders": {}}}, "propertyware.workOrders: must be a list"),
    ({"propertyware": {"units": [{"id": 1}, "x"]}}, r"propertyware.units\[1\]: must be an object"),
    ({"servicefusion": {"jobs": [{"number": "1"}]}}, r"servicefusion.jobs\[0\].id: is missing"),
    ({"servicefusion": {"jobs": [{"id": "abc"}]}}, r"servicefusion.jobs\[0\].id: must be a positive integer"),
    ({"propertyware": {"buildings": [{"id": 1}, {"id": 1}]}}, r"propertyware.buildings\[1\].id: 1 appears twice"),
])
def test_validate_fixture_names_the_field_and_the_reason(fixture: Any, message: str) -> None:
    with pytest.raises(FixtureError, match=message):
        validate_fixture(fixture)

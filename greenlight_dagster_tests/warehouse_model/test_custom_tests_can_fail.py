"""Every custom dbt test can fail: it passes on a clean world and trips, with the expected count,
on a world built to break it.

A data test that cannot fail proves nothing, so each custom test (the generic tests in
``dbt_warehouse/tests/generic`` and any singular test in ``dbt_warehouse/tests``) is run twice
against one warehouse (a database of its own), in three dbt invocations (dbt costs seconds each):

1. a clean world is landed into ``raw.*`` and ``dbt build`` runs everything: the custom tests pass;
2. the breakage is landed - raw records that violate each data rule (the unit routing rule, an
   unmapped status, two SF jobs stamped with one work order, PW entities no SF customer matches) -
   and the models are rebuilt (tests excluded). Two tests guard a model's own correctness rather
   than the data (``unit_belongs_to_building`` on the routing correction, ``scd2_valid_history``
   on ``fact_work_orders``): no input can make a correct model violate them, so the built
   relation itself is corrupted, as a bug in the model would;
3. ``dbt test`` on the custom tests: each fails (or warns, per its severity) with the expected count.

The broken world also carries the customer-matching edge cases, so the same build checks
``map_customer`` against ``core.matching`` (the SQL and the Python rule must agree) and its
rule that one SF customer is never given to two PW entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from greenlight_dagster.clients.records import SourceRecord
from greenlight_dagster.core.matching import match_customer
from greenlight_dagster.defs.warehouse.resources import make_dbt_resource
from greenlight_dagster.warehouse.loader import load_records
from greenlight_dagster_tests.databases import migrated_database

CLEAN_AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
BROKEN_AT = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)

#: custom test -> (status, failing rows) on the broken world; each one's cause is in `land_breakage`.
EXPECTED_BREAKS = {
    "unit_routing_rule": ("warn", 2),  # 9103 holds the building id, 9104 has no unit
    "unmapped_status": ("warn", 2),  # "Frobnicated" and "Zorched"
    "at_most_one_job_per_work_order": ("warn", 1),  # work order 9101 stamped on jobs 8101 and 8102
    "mapping_coverage": ("warn", 3),  # portfolio, building and tenant coverage all under 95 %
    "scd2_valid_history": ("fail", 3),  # 9102: no current version; 9100: closed and negative validity
    "unit_belongs_to_building": ("fail", 1),  # 9100 routed to unit 200 of building 20
    "no_rows": ("warn", 1),  # bad_source_values: 9107's startDate 2026-02-30
}


def _record(source: str, entity: str, payload: dict[str, Any], at: datetime) -> SourceRecord:
    stamp = "updated_at" if source == "sf" else "lastModifiedDateTime"
    return SourceRecord(entity=entity, source_id=int(payload["id"]), modified_at=at,
                        payload={**payload, stamp: at.isoformat().replace("+00:00", "Z")})


def _land(engine: Engine, world: dict[tuple[str, str], list[dict[str, Any]]], at: datetime) -> None:
    for (source, entity), rows in world.items():
        records = [_record(source, entity, row, at) for row in rows]
        load_records(engine, source, entity, records, run_id=f"can-fail-{at:%d}")


def _work_order(wo_id: int, unit: int | None, status: str, building: int = 10) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": wo_id, "number": wo_id - 8000, "portfolioID": 1, "buildingID": building,
                               "status": status, "priority": "Normal", "category": "Plumbing",
                               "description": f"Work order {wo_id}", "createdDateTime": "2026-02-01T08:00:00Z"}
    if unit is not None:
        payload["unitID"] = unit
    return payload


def _stamped(cid: int, name: str, field: str, pw_id: int, parent: str | None = None) -> dict[str, Any]:
    return {"id": cid, "customer_name": name, "parent_customer": parent, "contacts": [], "locations": [],
            "custom_fields": [{"name": field, "value": str(pw_id)}]}


def _top_level(cid: int, name: str) -> dict[str, Any]:
    return {"id": cid, "customer_name": name, "parent_customer": None, "contacts": [], "locations": []}


#: Every rule holds: units routed, statuses mapped, every PW entity mapped (stamps; the building
#: through its portfolio), one job per work order, clean SCD2 history.
CLEAN = {
    ("pw", "portfolios"): [{"id": 1, "name": "Cedar Holdings", "active": True}],
    ("pw", "buildings"): [{"id": 10, "portfolioID": 1, "name": "10 Cedar St", "multiUnit": True, "countUnit": 2,
                           "address": {"address": "10 Cedar St", "city": "Austin", "postalCode": "78701"}}],
    ("pw", "units"): [{"id": 100, "buildingID": 10, "portfolioID": 1, "name": "Unit A"},
                      {"id": 101, "buildingID": 10, "portfolioID": 1, "name": "Unit B"}],
    ("pw", "tenants"): [{"id": 500, "type": "TENANT", "firstName": "Lia", "lastName": "Moss"}],
    ("pw", "leases"): [{"id": 400, "unitID": 100, "buildingID": 10, "portfolioID": 1, "status": "Active",
                        "active": True, "startDate": "2025-06-01", "endDate": "2026-05-31", "tenantIDs": [500]}],
    ("pw", "work_orders"): [_work_order(9100, 100, "Open"), _work_order(9101, 101, "Scheduled"),
                            _work_order(9102, 100, "Completed")],
    ("sf", "customers"): [_stamped(7100, "Cedar Holdings", "PW Portfolio ID", 1),
                          _stamped(7101, "Lia Moss", "PW Tenant ID", 500, parent="Cedar Holdings")],
    ("sf", "job_statuses"): [
        {"id": 1, "code": "01_UNS", "name": "Unscheduled", "category": "Open Jobs", "is_custom": False},
        {"id": 2, "code": "02_SCH", "name": "Scheduled", "category": "Open Jobs", "is_custom": False},
        {"id": 11, "code": "11_CMP", "name": "Completed", "category": "Closed Jobs", "is_custom": False},
    ],
    ("sf", "jobs"): [{"id": 8100, "number": "1", "customer_id": 7100, "status": "Scheduled", "po_number": "PW-9100"}],
}

#: Top-level SF customers the matcher must place (or refuse) - see `test_map_customer_*`.
MATCHING_CUSTOMERS = [
    _top_level(7200, "Birch Group Inc"),  # portfolios 3 and 4 both normalise to it: a tie, neither gets it
    _top_level(7201, "Alder Properties"),  # portfolio 5 "Alder Propertiess": one typo -> fuzzy
    _top_level(7202, "Hill Country Dental #18"),  # portfolio 6 "... #19": a number never differs by a typo
    _top_level(7203, "Spruce Capital"),  # portfolio 7 exact; portfolio 8 "Spruce Capitol" loses to it
]
MATCHING_PORTFOLIOS = [
    {"id": 3, "name": "Birch Group", "active": True},
    {"id": 4, "name": "Birch Group, LLC", "active": True},
    {"id": 5, "name": "Alder Propertiess", "active": True},
    {"id": 6, "name": "Hill Country Dental #19", "active": True},
    {"id": 7, "name": "Spruce Capital", "active": True},
    {"id": 8, "name": "Spruce Capitol", "active": True},
]


def land_breakage(engine: Engine) -> None:
    """The data half of the breakage (the relation half is `corrupt_built_relations`)."""
    _land(engine, {
        ("pw", "work_orders"): [
            _work_order(9103, 10, "Open"),  # unit routing: the building id in the unit column
            _work_order(9104, None, "Open"),  # unit routing: multi-unit building, no unit
            _work_order(9105, 101, "Frobnicated"),  # unmapped status
            _work_order(9106, 100, "Zorched"),  # unmapped status
            {**_work_order(9107, 100, "Open"), "startDate": "2026-02-30"},  # not a date
        ],
        ("sf", "jobs"): [
            # a second and a third job for work order 9101: po_number, and the custom field
            {"id": 8101, "number": "2", "customer_id": 7100, "status": "Unscheduled", "po_number": "PW-9101"},
            {"id": 8102, "number": "3", "customer_id": 7100, "status": "Unscheduled", "po_number": None,
             "custom_fields": [{"name": "PW Work Order ID", "value": "9101"}]},
        ],
        # coverage: a portfolio SF has never heard of, with its building and tenant (plus the
        # matching cases, mapped or not, which only lower the portfolio share further)
        ("pw", "portfolios"): [{"id": 2, "name": "Unknown Estates", "active": True}, *MATCHING_PORTFOLIOS],
        ("pw", "buildings"): [{"id": 20, "portfolioID": 2, "name": "20 Unknown Rd", "multiUnit": False,
                               "address": {"address": "20 Unknown Rd", "city": "Austin", "postalCode": "78702"}}],
        ("pw", "units"): [{"id": 200, "buildingID": 20, "portfolioID": 2, "name": "Main"}],
        ("pw", "tenants"): [{"id": 501, "type": "TENANT", "firstName": "Ode", "lastName": "Vance"}],
        ("pw", "leases"): [{"id": 401, "unitID": 200, "buildingID": 20, "portfolioID": 2, "status": "Active",
                            "active": True, "startDate": "2025-01-01", "endDate": "2026-12-31", "tenantIDs": [501]}],
        ("sf", "customers"): MATCHING_CUSTOMERS,
    }, BROKEN_AT)


def corrupt_built_relations(engine: Engine) -> None:
    """What a bug in a model would leave behind, for the tests that guard the models themselves."""
    with engine.begin() as conn:
        kind = conn.execute(text(
            "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'intermediate' and c.relname = 'int_pw_work_orders'")).scalar_one()
        if kind == "v":  # a view cannot be edited: put a table with its rows in its place
            conn.execute(text("alter view intermediate.int_pw_work_orders rename to int_pw_work_orders_correct"))
            conn.execute(text("create table intermediate.int_pw_work_orders as "
                              "select * from intermediate.int_pw_work_orders_correct"))
        # a routing correction that picked another building's unit
        conn.execute(text("update intermediate.int_pw_work_orders set unit_id = 200 where work_order_id = 9100"))
        # 9102 loses its current flag; 9100's only version is closed, before it began
        conn.execute(text("update marts.fact_work_orders set is_current = false where work_order_id = 9102"))
        conn.execute(text("update marts.fact_work_orders set valid_to = valid_from - interval '1 day' "
                          "where work_order_id = 9100"))


@dataclass(frozen=True)
class Outcome:
    status: str
    failures: int


@dataclass(frozen=True)
class Outcomes:
    engine: Engine
    custom_tests: frozenset[str]  # custom test names (generic macro or singular test) in the manifest
    clean: dict[str, list[Outcome]]  # per custom test name, one outcome per instance
    clean_build: dict[str, str]  # every node of the clean build -> its status
    broken: dict[str, list[Outcome]]

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql))]


PROJECT = "greenlight_warehouse"
BUILTIN_TESTS = frozenset({"unique", "not_null", "accepted_values", "relationships"})


def _custom_test_names(manifest: dict[str, Any]) -> dict[str, str]:
    """unique_id -> custom test name: project generic tests by macro name, singular tests by name."""
    names = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "test" or node["package_name"] != PROJECT:
            continue
        metadata = node.get("test_metadata")
        if metadata is None:
            names[unique_id] = node["name"]  # singular test
        elif metadata["name"] not in BUILTIN_TESTS and not metadata.get("namespace"):
            names[unique_id] = metadata["name"]
    return names


def _outcomes(run_results: dict[str, Any], names: dict[str, str]) -> dict[str, list[Outcome]]:
    found: dict[str, list[Outcome]] = {}
    for result in run_results["results"]:
        if result["unique_id"] in names:
            found.setdefault(names[result["unique_id"]], []).append(
                Outcome(result["status"], int(result.get("failures") or 0)))
    return found


@pytest.fixture(scope="module")
def outcomes(warehouse_url: URL) -> Iterator[Outcomes]:
    with migrated_database(warehouse_url, "cf") as (url, engine):
        dbt = make_dbt_resource(url.render_as_string(hide_password=False))

        _land(engine, CLEAN, CLEAN_AT)
        clean_run = dbt.cli(["build"], raise_on_error=False).wait()
        names = _custom_test_names(clean_run.get_artifact("manifest.json"))
        clean_results = clean_run.get_artifact("run_results.json")

        land_breakage(engine)
        dbt.cli(["build", "--exclude", "resource_type:test"]).wait()
        corrupt_built_relations(engine)
        selector = " ".join(sorted({f"test_name:{test}" for test in names.values()}))
        broken_run = dbt.cli(["test", "--select", selector], raise_on_error=False).wait()

        yield Outcomes(
            engine=engine,
            custom_tests=frozenset(names.values()),
            clean=_outcomes(clean_results, names),
            clean_build={r["unique_id"]: r["status"] for r in clean_results["results"]},
            broken=_outcomes(broken_run.get_artifact("run_results.json"), names),
        )


def test_every_custom_test_has_a_breaking_fixture(outcomes: Outcomes) -> None:
    assert outcomes.custom_tests == set(EXPECTED_BREAKS), "a custom dbt test without a fixture that breaks it"


def test_the_clean_world_passes_every_test(outcomes: Outcomes) -> None:
    for test in EXPECTED_BREAKS:
        assert outcomes.clean.get(test), f"{test} did not run on the clean world"
        assert outcomes.clean[test] == [Outcome("pass", 0)] * len(outcomes.clean[test]), test
    not_passing = {node: status for node, status in outcomes.clean_build.items()
                   if status not in ("pass", "success")}
    assert not_passing == {}


@pytest.mark.parametrize("test", sorted(EXPECTED_BREAKS))
def test_custom_test_trips_on_its_breaking_fixture(outcomes: Outcomes, test: str) -> None:
    status, failures = EXPECTED_BREAKS[test]
    assert outcomes.broken.get(test) == [Outcome(status, failures)]


# --- map_customer on the matching cases of the broken world --------------------------------------

def test_map_customer_matching_cases(outcomes: Outcomes) -> None:
    rows = {r["pw_entity_id"]: r for r in outcomes.rows(
        "select * from marts.map_customer where pw_entity_type = 'portfolio'")}
    assert (rows[5]["sf_customer_id"], rows[5]["match_method"]) == (7201, "fuzzy")
    assert float(rows[5]["confidence"]) == pytest.approx(0.8 * (1 - 1 / 17), abs=1e-4)
    assert '"alder propertiess" is one typo from "alder properties"' in rows[5]["match_detail"]
    assert (rows[7]["sf_customer_id"], rows[7]["match_method"]) == (7203, "exact")
    for tied in (3, 4):
        assert rows[tied]["sf_customer_id"] is None
        assert rows[tied]["unmapped_reason"].startswith("ambiguous: SF customer 7200 matches 2 PW entities")
    assert rows[8]["sf_customer_id"] is None
    assert rows[8]["unmapped_reason"] == ("ambiguous: SF customer 7203 (fuzzy) is matched more strongly by "
                                          "portfolio 7 (exact)")
    assert rows[6]["sf_customer_id"] is None  # "#19" vs "#18"
    assert rows[6]["unmapped_reason"] == "no SF customer with this stamp, name or address"
    listed = {r["pw_entity_id"] for r in outcomes.rows(
        "select pw_entity_id from marts.map_customer_unmapped where pw_entity_type = 'portfolio'")}
    assert listed == {2, 3, 4, 6, 8}


def test_one_sf_customer_is_never_given_to_two_pw_entities(outcomes: Outcomes) -> None:
    shared = outcomes.rows(
        "select sf_customer_id from marts.map_customer where is_mapped and match_method <> 'portfolio' "
        "group by 1 having count(*) > 1")
    assert shared == []


def test_map_customer_agrees_with_core_matching(outcomes: Outcomes) -> None:
    """The push's matcher (core.matching, over top-level customers as sync_sf_customer_creates
    hands them) finds what SQL found. Where SQL refused a customer only because another PW entity
    claims it (a rule that needs every entity at once), the Python matcher, which sees one entity,
    still finds the customer - and the push then holds the create, which is the safe side."""
    customers = [{"id": c["id"], "customer_name": c["customer_name"]}
                 for c in [*CLEAN[("sf", "customers")], *MATCHING_CUSTOMERS] if c["parent_customer"] is None]
    for row in outcomes.rows("select * from marts.map_customer where pw_entity_type = 'portfolio'"):
        found = match_customer(row["pw_name"], None, customers)
        if row["match_method"] == "stamped_id":
            continue  # stamps are read by the warehouse; the push sees only names
        if row["is_mapped"]:
            assert found is not None, row
            assert (found.customer_id, found.method, found.confidence) == (
                row["sf_customer_id"], row["match_method"], float(row["confidence"])), row
        elif row["unmapped_reason"].startswith("ambiguous: SF customer"):
            assert found is not None, row
        else:
            assert found is None, row

"""The unit routing rule (the 40 jobs the old sync sent to the wrong unit)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.routing import check_unit_routing, is_multi_unit

MULTI = {"id": 10, "multiUnit": True, "countUnit": 3}
SINGLE = {"id": 20, "multiUnit": False, "countUnit": 1}
UNITS = [{"id": 100, "buildingID": 10}, {"id": 101, "buildingID": 10}, {"id": 102, "buildingID": 10}]
SINGLE_UNIT = [{"id": 200, "buildingID": 20}]


def wo(building: int, unit: int | None) -> dict[str, Any]:
    return {"id": 9000, "buildingID": building, "unitID": unit}


def test_multi_unit_with_its_unit_is_ok() -> None:
    verdict = check_unit_routing(wo(10, 101), MULTI, UNITS)
    assert (verdict.ok, verdict.unit_id, verdict.reason) == (True, 101, None)


def test_multi_unit_with_building_id_in_unit_column_is_held() -> None:
    verdict = check_unit_routing(wo(10, 10), MULTI, UNITS)
    assert not verdict.ok and verdict.unit_id is None
    assert "building id 10" in (verdict.reason or "")


def test_multi_unit_without_unit_is_held() -> None:
    verdict = check_unit_routing(wo(10, None), MULTI, UNITS)
    assert not verdict.ok and "has no unit" in (verdict.reason or "")


def test_multi_unit_with_other_buildings_unit_is_held() -> None:
    verdict = check_unit_routing(wo(10, 200), MULTI, UNITS + SINGLE_UNIT)
    assert not verdict.ok and "not a unit of building 10" in (verdict.reason or "")


def test_units_of_other_buildings_in_the_list_do_not_count() -> None:
    verdict = check_unit_routing(wo(10, 200), MULTI, [{"id": 200, "buildingID": 20}])
    assert not verdict.ok


def test_string_ids_are_accepted() -> None:
    verdict = check_unit_routing({"id": 1, "buildingID": "10", "unitID": "101"}, {"id": "10", "multiUnit": True},
                                 [{"id": "101", "buildingID": "10"}])
    assert verdict.ok and verdict.unit_id == 101


@pytest.mark.parametrize("unit", [None, 20])
def test_single_family_may_carry_the_building(unit: int | None) -> None:
    verdict = check_unit_routing(wo(20, unit), SINGLE, SINGLE_UNIT)
    assert verdict.ok and verdict.unit_id == 200  # routed to its one unit


def test_single_family_without_unit_records_routes_to_building() -> None:
    verdict = check_unit_routing(wo(20, 20), SINGLE, [])
    assert verdict == verdict.__class__(True, None, None)


def test_single_family_with_its_unit_is_ok() -> None:
    assert check_unit_routing(wo(20, 200), SINGLE, SINGLE_UNIT).unit_id == 200


def test_single_family_with_foreign_unit_is_held() -> None:
    verdict = check_unit_routing(wo(20, 101), SINGLE, SINGLE_UNIT)
    assert not verdict.ok and "101" in (verdict.reason or "")


def test_missing_or_mismatched_building_is_held() -> None:
    assert not check_unit_routing(wo(10, 101), None, UNITS).ok
    assert not check_unit_routing(wo(10, 101), {"name": "no id"}, UNITS).ok
    verdict = check_unit_routing(wo(11, 101), MULTI, UNITS)
    assert not verdict.ok and "not 10" in (verdict.reason or "")


@pytest.mark.parametrize(
    ("building", "count", "expected"),
    [({"multiUnit": True}, 1, True), ({"multiUnit": False}, 5, False),
     ({"multiUnit": "Multi Family"}, 0, True), ({"multiUnit": "single family"}, 9, False),
     ({"multiUnit": "yes"}, 0, True), ({"multiUnit": "??", "countUnit": 4}, 0, True),
     ({"countUnit": "1"}, 5, False), ({"countUnit": 2}, 0, True), ({}, 2, True), ({}, 1, False), ({}, 0, False)],
)
def test_is_multi_unit(building: dict[str, Any], count: int, expected: bool) -> None:
    assert is_multi_unit(building, count) is expected


@given(unit=st.one_of(st.none(), st.integers(min_value=1, max_value=300)))
def test_multi_unit_verdict_ok_iff_unit_of_building(unit: int | None) -> None:
    verdict = check_unit_routing(wo(10, unit), MULTI, UNITS + SINGLE_UNIT)
    assert verdict.ok == (unit in {100, 101, 102})
    assert (verdict.reason is None) == verdict.ok
    if verdict.ok:
        assert verdict.unit_id == unit

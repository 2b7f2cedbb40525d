"""The unit routing rule: which unit (if any) an SF job for a work order is sent to.

The old sync sent 40 jobs to the wrong place because ``unitID`` held the *building* id on
multi-unit buildings. The rule, applied before any push:

* multi-unit building: the work order must name a unit *of that building*; no unit, the
  building id in the unit column, or another building's unit all hold the work order back;
* single-family building: the building is the rentable place (a PW lease may attach straight
  to it, docs/apis/propertyware.md §4.5), so the work order may carry no unit, the building id, or the
  building's one unit.

Whether a building is multi-unit comes from ``multiUnit`` (a bool in fixtures, a "multi family"
/ "single family" string in REST), falling back to ``countUnit`` and then to how many units it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from greenlight_dagster.core.fields import as_int, record_id
from greenlight_dagster.core.text import normalize_text

_MULTI = {"true", "yes", "y", "1", "multi", "multi family", "multifamily", "multi unit", "multiunit"}
_SINGLE = {"false", "no", "n", "0", "single", "single family", "singlefamily", "single unit"}


@dataclass(frozen=True)
class RoutingVerdict:
    """``ok`` and the unit to route to (None = the building itself), or why it is held back."""

    ok: bool
    unit_id: int | None
    reason: str | None


def is_multi_unit(building: Mapping[str, Any], unit_count: int) -> bool:
    """Multi-unit per ``multiUnit``, else ``countUnit``, else the number of units on record."""
    flag = building.get("multiUnit")
    if isinstance(flag, bool):
        return flag
    if flag is not None:
        key = normalize_text(str(flag))
        if key in _MULTI:
            return True
        if key in _SINGLE:
            return False
    declared = as_int(building.get("countUnit"))
    return (declared if declared is not None else unit_count) > 1


def check_unit_routing(
    work_order: Mapping[str, Any],
    building: Mapping[str, Any] | None,
    units_of_building: Iterable[Mapping[str, Any]],
) -> RoutingVerdict:
    """Apply the unit routing rule to one work order (see the module docstring)."""
    wo_id = work_order.get("id")
    building_id = record_id(building)
    if building is None or building_id is None:
        return RoutingVerdict(False, None, f"work order {wo_id}: building {work_order.get('buildingID')} not found")
    if as_int(work_order.get("buildingID")) != building_id:
        return RoutingVerdict(
            False, None, f"work order {wo_id} is on building {work_order.get('buildingID')}, not {building_id}"
        )
    unit_ids = sorted(
        uid for unit in units_of_building
        if (uid := record_id(unit)) is not None and as_int(unit.get("buildingID")) in (None, building_id)
    )
    unit_id = as_int(work_order.get("unitID"))
    foreign_unit = RoutingVerdict(
        False, None, f"work order {wo_id}: unit {unit_id} is not a unit of building {building_id}"
    )

    if is_multi_unit(building, len(unit_ids)):
        if unit_id is None:
            return RoutingVerdict(False, None, f"work order {wo_id} on multi-unit building {building_id} has no unit")
        if unit_id == building_id:
            return RoutingVerdict(
                False, None, f"work order {wo_id}: unit column holds building id {building_id} (multi-unit building)"
            )
        return RoutingVerdict(True, unit_id, None) if unit_id in unit_ids else foreign_unit

    only_unit = unit_ids[0] if len(unit_ids) == 1 else None
    if unit_id is None or unit_id == building_id:
        return RoutingVerdict(True, only_unit, None)
    return RoutingVerdict(True, unit_id, None) if unit_id in unit_ids else foreign_unit

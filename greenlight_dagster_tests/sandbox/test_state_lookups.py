"""`SandboxState.high_water` / `index`: whole-table answers kept current by each write, not rescanned.

Creates read them on every ``POST`` (the next contact id, the customer named in a job), so
they must agree with a rescan after any mix of writes - and a rescan-free create must not hand
out an id twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from greenlight_dagster.sandbox.sf_create import create_customer, create_job, name_index
from greenlight_dagster.sandbox.sf_errors import Unprocessable
from greenlight_dagster.sandbox.state import SandboxState

SF = "servicefusion"


def _world() -> SandboxState:
    customers = [{"id": 10, "customer_name": "Oak", "contacts": [{"id": 5, "fname": "A", "lname": "B"}]},
                 {"id": 11, "customer_name": "Elm", "contacts": [{"id": 9, "fname": "C", "lname": "D"}]}]
    jobs = [{"id": 1, "number": "41", "customer_name": "Oak", "notes": [{"id": 3, "notes": "n"}]}]
    return SandboxState({"version": 1, "servicefusion": {"customers": customers, "jobs": jobs}})


def _names(state: SandboxState) -> dict[Any, set[int]]:
    return dict(state.index(SF, "customers", "names:customer_name",
                            lambda r: [str(r.get("customer_name") or "").lower()]))


def test_index_follows_inserts_renames_and_deletes() -> None:
    state = _world()
    assert _names(state) == {"oak": {10}, "elm": {11}}
    state.upsert(SF, "customers", {"customer_name": "OAK"})
    state.patch(SF, "customers", 11, {"customer_name": "Birch"})
    state.delete(SF, "customers", 10)
    assert _names(state) == {"oak": {12}, "birch": {11}}
    assert _names(state) == name_index(state.table(SF, "customers"), "customer_name")  # what a rescan finds
    state.load({"version": 1})  # a reload starts the index again from the new world
    assert _names(state) == {}


def test_high_water_never_goes_down_so_ids_are_not_handed_out_twice() -> None:
    state = _world()
    first = create_customer(state, {"customer_name": "Pine", "contacts": [{"fname": "E", "lname": "F"}]})
    assert (first["id"], first["contacts"][0]["id"]) == (12, 10)  # one past the highest id of any customer's contact
    state.delete(SF, "customers", 12)
    second = create_customer(state, {"customer_name": "Ash", "contacts": [{"fname": "G", "lname": "H"}]})
    assert (second["id"], second["contacts"][0]["id"]) == (13, 11)


def test_creates_resolve_names_written_after_the_lookup_was_built() -> None:
    state = _world()
    create_job(state, {"customer_name": "oak"})  # builds the name index and the number high water
    create_customer(state, {"customer_name": "Cedar"})
    state.patch(SF, "customers", 10, {"customer_name": "Cedar"})  # a tie: the lowest id wins, as before
    job = create_job(state, {"customer_name": "CEDAR", "contact_first_name": "I", "contact_last_name": "J",
                             "notes": [{"notes": "x"}]})
    assert (job["customer_id"], job["number"], job["notes"][0]["id"]) == (10, "43", 4)
    assert state.get(SF, "customers", 10)["contacts"][-1]["id"] == 10  # job contact added to the customer
    with pytest.raises(Unprocessable):
        create_job(state, {"customer_name": "oak"})  # renamed away: the old name no longer resolves

"""Status vocabulary, dim_status map and both push directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenlight_dagster.core.statuses import (
    DEFAULT_OPEN_STATUSES,
    DEFAULT_PW_TO_SF,
    DEFAULT_SF_TO_PW,
    DEFAULT_STATUS_RULES,
    PwAction,
    PwUpdate,
    StatusCategory,
    StatusMap,
    StatusRow,
    StatusRules,
    UnmappedStatusError,
    in_open_list,
    normalize_status,
    pw_update_for_sf,
    sf_status_for_pw,
)
from greenlight_dagster.sandbox.state import DEFAULT_JOB_STATUSES

OLD_SYSTEM_OPEN_LIST = [
    "unscheduled", "scheduled", "scheduled outside sf", "dispatched", "delayed", "on the way", "on site", "started",
    "paused", "resumed", "partially completed", "open", "wo received", "awaiting parts",
]


@pytest.mark.parametrize(
    ("a", "b"),
    [("On The Way", "on-the-way"), ("WO Received", "wo_received"), ("  Awaiting  Parts ", "AWAITING PARTS"),
     ("Scheduled Outside SF", "scheduled outside S.F."), ("Partially-Completed", "partially completed")],
)
def test_normalize_status_equates_spellings(a: str, b: str) -> None:
    assert normalize_status(a) == normalize_status(b)


def test_normalize_status_keeps_different_statuses_apart() -> None:
    assert normalize_status("Scheduled") != normalize_status("Unscheduled")
    assert normalize_status("Started") != normalize_status("Restarted")


@given(st.text())
def test_normalize_status_idempotent(s: str) -> None:
    assert normalize_status(normalize_status(s)) == normalize_status(s)


def test_default_open_list_is_the_old_systems_plus_what_the_push_writes() -> None:
    assert list(DEFAULT_OPEN_STATUSES) == [*OLD_SYSTEM_OPEN_LIST, "in progress"]


def test_every_status_the_push_writes_stays_open() -> None:
    """Issue 20: the push wrote "In Progress", which the open list did not hold - our own write dropped out."""
    assert DEFAULT_STATUS_RULES.pw_statuses_written() == ["In Progress", "Scheduled"]
    assert DEFAULT_STATUS_RULES.open_list_gaps(DEFAULT_OPEN_STATUSES) == []
    assert DEFAULT_STATUS_RULES.open_list_gaps(OLD_SYSTEM_OPEN_LIST) == ["In Progress"]


@pytest.mark.parametrize(("pw", "sf", "category", "follows"), [
    ("In Progress", "On Site", None, True),  # what the push wrote for an SF job on site
    ("in-progress", "Started", None, True),
    ("Scheduled", "Dispatched", None, True),
    ("Open", "Unscheduled", None, True),  # nothing to write: the job was created from it
    ("Awaiting Parts", "Paused", None, True),  # the job was created Paused from it (an echo)
    ("Open", "On Site", None, False),  # the push has In Progress to write
    ("Scheduled", "Started", None, False),
    ("In Progress", "Completed", None, False),  # a close is due
    ("In Progress", "Cancelled", None, False),  # needs a person
    ("In Progress", "Waiting On Customer", "Open Jobs That Are In Progress", True),  # custom SF status by category
    ("Open", "No Such Status", None, False),
])
def test_pw_follows_sf(pw: str, sf: str, category: str | None, follows: bool) -> None:
    assert DEFAULT_STATUS_RULES.pw_follows_sf(pw, sf, category) is follows


@pytest.mark.parametrize("status", ["Open", "WO Received", "On-The-Way", "AWAITING PARTS", "scheduled outside sf"])
def test_in_open_list(status: str) -> None:
    assert in_open_list(status)


@pytest.mark.parametrize("status", ["Completed", "Closed", "Cancelled", "On Hold", "", "   "])
def test_not_in_open_list(status: str) -> None:
    assert not in_open_list(status)


def test_in_open_list_uses_the_given_list() -> None:
    assert in_open_list("In Progress", ["in progress"])
    assert not in_open_list("Open", ["in progress"])


ROWS = [
    {"system": "pw", "source_status": "Open", "canonical_status": "open", "category": "open"},
    {"system": "pw", "source_status": "Completed", "canonical_status": "completed", "category": "closed"},
    {"source_system": "sf", "source_status": "On The Way", "canonical_status": "in_progress", "category": "OPEN"},
    {"system": "sf", "source_status": "Paid In Full", "canonical_status": "closed", "category": "closed"},
]


def test_status_map_lookup() -> None:
    status_map = StatusMap.from_rows(ROWS)
    assert status_map.canonical("pw", "OPEN") == "open"
    assert status_map.category("sf", "on-the-way") is StatusCategory.OPEN
    assert status_map.is_open("sf", "On The Way")
    assert not status_map.is_open("pw", "completed")
    assert not status_map.is_open("sf", "paid in full")


def test_unmapped_status_raises_never_closed() -> None:
    status_map = StatusMap.from_rows(ROWS)
    with pytest.raises(UnmappedStatusError) as info:
        status_map.is_open("pw", "Frobnicated")
    assert info.value.system == "pw" and info.value.status == "Frobnicated"
    assert "Frobnicated" in str(info.value)
    with pytest.raises(UnmappedStatusError):
        status_map.canonical("sf", "Open")  # mapped for PW only: systems are separate


def test_unmapped_lists_unknown_statuses() -> None:
    status_map = StatusMap.from_rows(ROWS)
    assert status_map.unmapped("pw", ["open", "Weird", "Completed", "Other", "Weird"]) == ["Other", "Weird"]


def test_status_map_rejects_conflicts_but_allows_agreeing_duplicates() -> None:
    agreeing = StatusRow("pw", "open", "open", StatusCategory.OPEN)
    StatusMap([StatusRow("pw", "Open", "open", StatusCategory.OPEN), agreeing])
    with pytest.raises(ValueError, match="conflicting"):
        StatusMap([StatusRow("pw", "Open", "open", StatusCategory.OPEN),
                   StatusRow("pw", "OPEN", "open", StatusCategory.CLOSED)])


@pytest.mark.parametrize(
    "row",
    [{"system": "xx", "source_status": "Open", "canonical_status": "open", "category": "open"},
     {"system": "pw", "source_status": " ", "canonical_status": "open", "category": "open"},
     {"system": "pw", "source_status": "Open", "canonical_status": "", "category": "open"},
     {"system": "pw", "source_status": "Open", "canonical_status": "open", "category": "maybe"}],
)
def test_status_row_validation(row: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        StatusMap.from_rows([row])


@pytest.mark.parametrize(
    ("pw", "sf"),
    [("Open", "Unscheduled"), ("WO Received", "Unscheduled"), ("Scheduled", "Scheduled"),
     ("Scheduled Outside SF", "Unscheduled"), ("In Progress", "Started"), ("Awaiting Parts", "Paused"),
     ("on hold", "Paused"), ("Dispatched", "Dispatched"), ("partially completed", "Partially Completed")],
)
def test_sf_status_for_pw(pw: str, sf: str) -> None:
    assert sf_status_for_pw(pw) == sf


def test_every_open_status_has_an_sf_status_in_the_sandbox_account() -> None:
    sandbox_names = [s["name"] for s in DEFAULT_JOB_STATUSES]
    for status in DEFAULT_OPEN_STATUSES:
        assert sf_status_for_pw(status) in sandbox_names
    assert DEFAULT_STATUS_RULES.missing_sf_statuses(sandbox_names) == []
    assert DEFAULT_STATUS_RULES.missing_sf_statuses(["Unscheduled"]) == sorted(
        {sf for _, sf in DEFAULT_PW_TO_SF} - {"Unscheduled"})


def test_sf_status_for_unknown_pw_status_raises() -> None:
    with pytest.raises(UnmappedStatusError, match="ServiceFusion job status"):
        sf_status_for_pw("Completed")


@pytest.mark.parametrize(
    ("sf", "expected"),
    [("Unscheduled", None),
     ("Scheduled", PwUpdate(PwAction.UPDATE_STATUS, "Scheduled")),
     ("On The Way", PwUpdate(PwAction.UPDATE_STATUS, "In Progress")),
     ("started", PwUpdate(PwAction.UPDATE_STATUS, "In Progress")),
     ("Completed", PwUpdate(PwAction.CLOSE)),
     ("Paid In Full", PwUpdate(PwAction.CLOSE)),
     ("Cancelled", PwUpdate(PwAction.ATTENTION))],
)
def test_pw_update_for_sf_by_name(sf: str, expected: PwUpdate | None) -> None:
    assert pw_update_for_sf(sf) == expected


def test_every_sandbox_sf_status_has_a_rule() -> None:
    for status in DEFAULT_JOB_STATUSES:
        update = pw_update_for_sf(status["name"], status["category"])
        if status["category"] == "Closed Jobs":
            assert update is not None and update.action in (PwAction.CLOSE, PwAction.ATTENTION)


def test_pw_update_for_custom_status_uses_category() -> None:
    assert pw_update_for_sf("Tech Running Late", "Open Jobs That Are In Progress") == PwUpdate(
        PwAction.UPDATE_STATUS, "In Progress")
    assert pw_update_for_sf("Done & Dusted", "Closed Jobs") == PwUpdate(PwAction.CLOSE)
    assert pw_update_for_sf("Waiting", "open jobs") is None


def test_pw_update_for_unknown_status_and_category_raises() -> None:
    with pytest.raises(UnmappedStatusError):
        pw_update_for_sf("Mystery")
    with pytest.raises(UnmappedStatusError):
        pw_update_for_sf("Mystery", "Unknown Category")


def test_rules_are_data() -> None:
    rules = StatusRules.from_rows(
        pw_to_sf=[("Needs Vendor", "Unscheduled")],
        sf_to_pw=[("Done", PwAction.CLOSE, None)],
        sf_category_to_pw=[],
        pw_terminal=["Archived"],
    )
    assert sf_status_for_pw("needs vendor", rules) == "Unscheduled"
    with pytest.raises(UnmappedStatusError):
        rules.sf_status_for_pw("Open")
    assert pw_update_for_sf("DONE", rules=rules) == PwUpdate(PwAction.CLOSE)
    assert rules.is_pw_terminal("archived") and not rules.is_pw_terminal("Closed")


def test_pw_update_validation() -> None:
    with pytest.raises(ValueError):
        PwUpdate(PwAction.UPDATE_STATUS)
    with pytest.raises(ValueError):
        PwUpdate(PwAction.CLOSE, "Closed")


def test_default_sf_to_pw_covers_closing_statuses() -> None:
    closers = {normalize_status(name) for name, action, _ in DEFAULT_SF_TO_PW if action is PwAction.CLOSE}
    assert closers == {"completed", "invoiced", "paid in full"}
